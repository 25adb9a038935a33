"""Teams meeting transcripts through Microsoft Graph (msgraph-sdk), on `core.graph.GraphService`.

A meeting is found from its join URL: `GET /users/{organizer}/onlineMeetings?$filter=JoinWebUrl eq '<url>'`; the
organizer's Entra object id is the join URL's `context` "Oid", or — in the meeting's own chat — the chat's
`onlineMeetingInfo.organizer` (`GET /chats/{chat-id}`, which also gives the join URL). Then
`GET /users/{organizer}/onlineMeetings/{meeting-id}/transcripts` lists the transcripts and
`GET …/transcripts/{transcript-id}/content` with `Accept: text/vtt` returns the WebVTT (speaker voice tags).

Application permissions: OnlineMeetings.Read.All (the lookup), OnlineMeetingTranscript.Read.All (transcripts),
Chat.ReadBasic.All (the meeting chat), and an application access policy granted to the organizers
(New-CsApplicationAccessPolicy / Grant-CsApplicationAccessPolicy): see docs/deploy.md."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, unquote, urlsplit

from core.graph import GraphError, GraphService, _status_of

log = logging.getLogger(__name__)

JOIN_HOSTS = ("teams.microsoft.com", "teams.microsoft.us", "dod.teams.microsoft.us", "gov.teams.microsoft.us",
              "teams.cloud.microsoft")


@dataclass(frozen=True)
class JoinLink:
    url: str
    organizer_id: str | None         # the context's "Oid"
    tenant_id: str | None            # the context's "Tid"


@dataclass(frozen=True)
class OnlineMeeting:
    id: str
    subject: str
    start: datetime | None
    end: datetime | None
    organizer_id: str
    participants: tuple[str, ...]    # Entra object ids of the organizer and the invited attendees
    join_url: str


@dataclass(frozen=True)
class TranscriptInfo:
    id: str
    created: datetime | None


def parse_join_url(text: str) -> JoinLink | None:
    """The first Teams meeting join link in `text` (…/l/meetup-join/…), with the organizer and tenant of its
    context; None when there is none."""
    for word in (text or "").replace("<", " ").replace(">", " ").split():
        word = word.strip("「」()（）'\"")
        try:
            parts = urlsplit(word)
        except ValueError:
            continue
        if parts.scheme != "https" or (parts.hostname or "") not in JOIN_HOSTS or "/l/meetup-join/" not in parts.path:
            continue
        ctx_raw = (parse_qs(parts.query).get("context") or [""])[0]
        try:
            ctx = json.loads(ctx_raw or unquote(ctx_raw) or "{}")
        except json.JSONDecodeError:
            ctx = {}
        if not isinstance(ctx, dict):
            ctx = {}
        oid, tid = ctx.get("Oid"), ctx.get("Tid")
        return JoinLink(word, oid if isinstance(oid, str) and oid else None, tid if isinstance(tid, str) else None)
    return None


class MeetingTranscripts:
    def __init__(self, graph: GraphService) -> None:
        self.graph = graph
        self.client = graph.client

    async def chat_meeting(self, chat_id: str) -> tuple[str, str] | None:
        """(join URL, organizer id) of a meeting's chat; None when the chat belongs to no meeting."""
        try:
            chat = await self.client.chats.by_chat_id(chat_id).get()
        except Exception as e:  # noqa: BLE001 - mapped for callers
            raise GraphError(f"chat failed: {type(e).__name__}", _status_of(e)) from e
        info = chat.online_meeting_info if chat else None
        if info is None or not info.join_web_url or info.organizer is None or not info.organizer.id:
            return None
        return info.join_web_url, info.organizer.id

    async def meeting_by_join_url(self, organizer_id: str, join_url: str) -> OnlineMeeting | None:
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.users.item.online_meetings.online_meetings_request_builder import (
            OnlineMeetingsRequestBuilder,
        )

        query = OnlineMeetingsRequestBuilder.OnlineMeetingsRequestBuilderGetQueryParameters(
            filter="JoinWebUrl eq '" + join_url.replace("'", "''") + "'")
        try:
            page = await self.client.users.by_user_id(organizer_id).online_meetings.get(
                request_configuration=RequestConfiguration(query_parameters=query))
        except Exception as e:  # noqa: BLE001
            raise GraphError(f"online meeting lookup failed: {type(e).__name__}", _status_of(e)) from e
        found = (page.value if page else None) or []
        if not found:
            return None
        m = found[0]
        people: list[str] = []
        parts = m.participants
        if parts is not None:
            for p in [parts.organizer, *(parts.attendees or [])]:
                uid = p.identity.user.id if p is not None and p.identity and p.identity.user else None
                if uid:
                    people.append(uid)
        return OnlineMeeting(id=m.id or "", subject=m.subject or "", start=m.start_date_time, end=m.end_date_time,
                             organizer_id=organizer_id, participants=tuple(people), join_url=join_url)

    async def transcripts(self, organizer_id: str, meeting_id: str) -> list[TranscriptInfo]:
        try:
            page = await self.client.users.by_user_id(organizer_id).online_meetings.by_online_meeting_id(
                meeting_id).transcripts.get()
        except Exception as e:  # noqa: BLE001
            raise GraphError(f"transcripts failed: {type(e).__name__}", _status_of(e)) from e
        items = [TranscriptInfo(t.id, t.created_date_time) for t in ((page.value if page else None) or []) if t.id]
        return sorted(items, key=lambda t: t.created.timestamp() if t.created else 0.0)

    async def content(self, organizer_id: str, meeting_id: str, transcript_id: str) -> bytes:
        """The transcript as WebVTT (`Accept: text/vtt`: the format with speaker voice tags)."""
        from kiota_abstractions.base_request_configuration import RequestConfiguration

        config: RequestConfiguration = RequestConfiguration()
        config.headers.add("Accept", "text/vtt")
        try:
            data = await self.client.users.by_user_id(organizer_id).online_meetings.by_online_meeting_id(
                meeting_id).transcripts.by_call_transcript_id(transcript_id).content.get(request_configuration=config)
        except Exception as e:  # noqa: BLE001
            raise GraphError(f"transcript content failed: {type(e).__name__}", _status_of(e)) from e
        return data or b""
