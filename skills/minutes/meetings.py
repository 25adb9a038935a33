"""The Teams meeting's transcript as a source: `/minutes` in the meeting's chat, or `/minutes <join link>` in
personal chat. With a link, the bot reads with application rights, so the transcript is given only to the
organizer or an invited attendee (the meeting's participants); in the meeting's chat, being in the chat is the
proof. The newest transcript of the meeting is taken."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from core.graph import GraphError
from core.graph_meetings import MeetingTranscripts, OnlineMeeting, parse_join_url
from core.services import Services
from core.skills import ReplyPort, SkillRequest
from core.timeutil import JST
from skills.minutes import strings as S
from skills.minutes.settings import MinutesSettings
from skills.minutes.summarize import Meta
from skills.minutes.transcript import UNKNOWN_SPEAKER, Transcript, TranscriptError, load

log = logging.getLogger(__name__)
WEEKDAYS = "月火水木金土日"


@dataclass(frozen=True)
class Source:
    join_url: str | None          # from the words
    organizer_id: str | None
    chat_id: str | None           # the meeting's chat


def source_of(req: SkillRequest) -> Source | None:
    link = parse_join_url(req.typed_text if req.typed_text is not None else req.text)
    if link is not None:
        return Source(link.url, link.organizer_id, None)
    if req.command == "minutes" and req.conversation_id.startswith("19:meeting_"):
        return Source(None, None, req.conversation_id.split(";")[0])
    if req.command == "minutes" and (req.text or "").strip().startswith("http"):
        return Source("", None, None)          # a link, but no meeting link
    return None


def when_ja(m: OnlineMeeting) -> str:
    if m.start is None:
        return ""
    s = m.start.astimezone(JST)
    out = f"{s.year}年{s.month}月{s.day}日（{WEEKDAYS[s.weekday()]}）{s:%H:%M}"
    if m.end is not None:
        out += f"～{m.end.astimezone(JST):%H:%M}"
    return out


async def fetch(req: SkillRequest, reply: ReplyPort, services: Services,
                source: Source) -> tuple[Transcript, Meta] | None:
    if services.graph is None:
        await reply.send_text(S.NO_GRAPH)
        return None
    if source.join_url == "":
        await reply.send_text(S.BAD_LINK)
        return None
    api = MeetingTranscripts(services.graph)
    await reply.inform(S.FETCHING)
    try:
        join_url, organizer = source.join_url, source.organizer_id
        if source.chat_id:
            found = await api.chat_meeting(source.chat_id)
            if found is None:
                await reply.send_text(S.NO_MEETING)
                return None
            join_url, organizer = found
        if not join_url or not organizer:
            await reply.send_text(S.BAD_LINK)
            return None
        meeting = await api.meeting_by_join_url(organizer, join_url)
        if meeting is None:
            await reply.send_text(S.MEETING_NOT_FOUND)
            return None
        if source.chat_id is None and (not req.aad_object_id or req.aad_object_id not in meeting.participants):
            log.info("minutes: transcript refused to a non-participant of meeting %s", meeting.id[:20])
            await reply.send_text(S.NOT_PARTICIPANT)
            return None
        listed = await api.transcripts(organizer, meeting.id)
        if not listed:
            await reply.send_text(S.NO_TRANSCRIPT)
            return None
        data = await api.content(organizer, meeting.id, listed[-1].id)
    except GraphError as e:
        log.warning("minutes: Graph failed (%s, %s)", e, e.status)
        await reply.send_text(S.GRAPH_DENIED if e.status in (401, 403) else
                              S.MEETING_NOT_FOUND if e.status == 404 else S.GRAPH_FAILED)
        return None
    cap = services.settings.get(MinutesSettings).MINUTES_MAX_TRANSCRIPT_MB * 1024 * 1024
    if len(data) > cap:
        await reply.send_text(S.DOWNLOAD_TOO_LARGE.format(name="会議の文字起こし", mb=cap // 1024 // 1024))
        return None
    try:
        tr = load(data, "transcript.vtt", source="graph")
    except TranscriptError:
        await reply.send_text(S.NO_TRANSCRIPT)
        return None
    names = [s for s in tr.speakers if s and s != UNKNOWN_SPEAKER]
    return tr, Meta(title=meeting.subject, date=when_ja(meeting), place="Teams会議（オンライン）", attendees=names)
