"""Models for the data cards send back with a verb (Action.Execute / Action.Submit), validated by the router
before a handler runs (see `core.skills.Verb`).

Card data comes from the user's client and is untrusted: an id may arrive as 1e400, 10**30, a list or a lone
surrogate. Each verb declares what it expects with these building blocks; anything else is refused with one clear
Japanese message and never reaches the handler. Form inputs whose ids a card makes up at run time (a quiz's answers,
the news settings' toggles) are allowed as extra fields, each a bounded scalar."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

MAX_ID = 2**53 - 1            # what a JavaScript client can hold exactly
MAX_FIELDS = 200
MAX_TEXT = 20_000

RowId = Annotated[int, Field(ge=1, le=MAX_ID, strict=False)]
"""A database row id: a positive integer (a numeric string is accepted, "1e400" and 10**30 are not)."""
Token = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_\-.:]+$")]
"""An opaque token or key: short, URL-safe characters only."""
Name = Annotated[str, Field(max_length=200)]
"""A short name or label (a category, a role, a set name)."""
Text = Annotated[str, Field(max_length=MAX_TEXT)]
"""Free text typed into a card."""


def _scalar(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float)):
        return not isinstance(value, int) or abs(value) <= MAX_ID
    return isinstance(value, str) and len(value) <= MAX_TEXT


class CardData(BaseModel):
    """Base of every verb's data: declared fields are validated; extra form inputs must be bounded scalars."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=False, coerce_numbers_to_str=False)

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ValueError("card data must be an object")
        if len(data) > MAX_FIELDS:
            raise ValueError("too many fields")
        declared = set(cls.model_fields)
        for key, value in data.items():
            if not isinstance(key, str) or len(key) > 200:
                raise ValueError("bad field name")
            if key not in declared and not _scalar(value):
                raise ValueError(f"field {key[:40]!r} must be a short scalar")
        return data

    def values(self) -> dict[str, Any]:
        """Declared fields and extra inputs as one dict (what handlers read as `req.data`)."""
        return self.model_dump()


class NoData(CardData):
    """A verb that needs nothing from the card (extra inputs are still bounded)."""


__all__ = ["CardData", "NoData", "RowId", "Token", "Name", "Text", "StrictBool", "MAX_ID"]
