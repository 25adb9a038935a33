"""The one place where an incoming activity's shape is checked, before the Bot Framework SDK or a skill sees it.

The Bot Connector sends well-formed activities; anything else reaching /api/messages is a client bug or an
attack. A field the bot relies on with the wrong type (a tenant id that is a list, a conversation id that is
null, a service URL that is not a URL) is refused with 400 here, so no turn ever starts on it and no trace
reaches the log. Fields the bot does not read are left alone (the connector adds new ones over time)."""
from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_TEXT = 100_000          # Teams caps a message at about 28 KB; a little room for HTML and entities

Id = Annotated[StrictStr, Field(min_length=1, max_length=1024)]
Short = Annotated[StrictStr, Field(max_length=200)]


def _no_control(value: str | None) -> str | None:
    if value is not None and _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Account(_Lenient):
    id: Id | None = None
    name: Annotated[StrictStr, Field(max_length=1000)] | None = None
    aadObjectId: Short | None = None

    _clean = field_validator("id", "aadObjectId")(_no_control)


class Conversation(_Lenient):
    id: Id
    tenantId: Short | None = None
    conversationType: Short | None = None
    isGroup: bool | None = None

    _clean = field_validator("id", "tenantId")(_no_control)

    @field_validator("id")
    @classmethod
    def _header_safe(cls, v: str) -> str:
        # The connector client sends the id as the x-ms-conversation-id header too, which must be Latin-1
        # (a U+FFFD left by a cleaned lone surrogate would fail every reply with a UnicodeEncodeError).
        try:
            v.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError("conversation id must be Latin-1") from None
        return v


class Tenant(_Lenient):
    id: Short | None = None


class ChannelData(_Lenient):
    tenant: Tenant | None = None


class Activity(_Lenient):
    type: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    id: Id | None = None
    serviceUrl: Annotated[StrictStr, Field(max_length=2048)] | None = None
    channelId: Short | None = None
    conversation: Conversation | None = None
    from_: Account | None = Field(default=None, alias="from")
    recipient: Account | None = None
    replyToId: Id | None = None
    text: Annotated[StrictStr, Field(max_length=MAX_TEXT)] | None = None
    name: Short | None = None
    action: Short | None = None
    locale: Annotated[StrictStr, Field(max_length=50)] | None = None
    channelData: ChannelData | None = None
    attachments: list[dict[str, Any]] | None = None
    entities: list[Any] | None = None

    @field_validator("serviceUrl")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            parts = urlsplit(v)
            _ = parts.port      # raises on a port that is not a number or out of range ("http://h:99999/")
        except ValueError:
            raise ValueError("not a URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or _CONTROL.search(v) or " " in v:
            raise ValueError("not an http(s) URL")
        return v


# Activities the bot answers, and what each needs to be answered at all.
NEEDS_CONVERSATION = {"message", "invoke", "installationUpdate", "conversationUpdate"}


def check_activity(body: dict) -> str | None:
    """None when the activity can be processed; else a short reason for the 400 response."""
    try:
        act = Activity.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "activity"
        return f"activity field {where[:80]} is invalid"
    if act.type in NEEDS_CONVERSATION:
        if act.conversation is None:
            return "activity conversation missing"
        if not act.serviceUrl:
            return "activity serviceUrl missing"
        if act.recipient is None or not act.recipient.id:
            return "activity recipient missing"
    return None
