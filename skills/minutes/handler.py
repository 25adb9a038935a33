"""/minutes and files sent in chat: a transcript (VTT/text) or a recording becomes the 議事録 or the 相談記録; in a
meeting chat, or with a meeting link, the Teams transcript comes through Graph."""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path, PurePath

from cards import minutes as cards
from core.ai import AIFailed, AIRefused
from core.chatfiles import DownloadError, attachment_bytes, attachment_to_file
from core.docx import DOCX_CONTENT_TYPE
from core.services import Services
from core.skills import FileAttachment, ReplyPort, SkillRequest, Verb
from skills.minutes import meetings, todo
from skills.minutes import strings as S
from skills.minutes.extract import extract
from skills.minutes.record import CONSULTATION, MINUTES, AnswerError, mask_name
from skills.minutes.settings import MinutesSettings
from skills.minutes.summarize import Meta, Writer, refusal
from skills.minutes.transcript import UNKNOWN_SPEAKER, Transcript, TranscriptError, duration_ja, load, speaking_time
from skills.minutes.word import auto_docx, record_docx

log = logging.getLogger(__name__)
SKILL = "minutes"
TRANSCRIPT_EXTS = (".vtt", ".txt")
AUDIO_EXTS = (".m4a", ".mp3", ".wav", ".mp4", ".webm")
CONSULT_WORDS = ("相談",)


def settings_of(services: Services) -> MinutesSettings:
    return services.settings.get(MinutesSettings)


def kind_of(words: str) -> str:
    return CONSULTATION if any(w in (words or "") for w in CONSULT_WORDS) else MINUTES


async def handle(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    kind = kind_of(req.text)
    if req.attachments:
        await _file(req, reply, services, req.attachments[0], kind)
        return
    source = meetings.source_of(req)
    if source is None:
        await reply.send_text(S.USAGE)
        return
    got = await meetings.fetch(req, reply, services, source)
    if got is not None:
        tr, meta = got
        await produce(req, reply, services, tr, kind, meta, meta.title or "Teams会議")


async def _file(req: SkillRequest, reply: ReplyPort, services: Services, att: FileAttachment, kind: str) -> None:
    name = PurePath(att.name or "file").name
    ext = PurePath(name).suffix.lower()
    if ext not in TRANSCRIPT_EXTS + AUDIO_EXTS:
        await reply.send_text(S.FILE_TYPES.format(name=name))
        return
    settings = settings_of(services)
    mb = settings.MINUTES_MAX_AUDIO_MB if ext in AUDIO_EXTS else settings.MINUTES_MAX_TRANSCRIPT_MB
    limits = dict(max_bytes=mb * 1024 * 1024, timeout=settings.MINUTES_DOWNLOAD_TIMEOUT_SECONDS,
                  hosts=settings.download_hosts, allowlist=settings.download_allowlist)
    stem = PurePath(name).stem
    if ext in AUDIO_EXTS:
        from skills.minutes import audio

        # a recording (up to MINUTES_MAX_AUDIO_MB, 500 MB by default) goes to disk as it arrives, never into memory
        with tempfile.TemporaryDirectory(prefix="minutes-recording-") as tmp:
            path = Path(tmp) / f"recording{ext}"
            try:
                await attachment_to_file(att.download_url, att.content, path, **limits)
            except DownloadError as e:
                await reply.send_text(_download_line(e, name, mb))
                return
            tr = await audio.transcript_of(req, reply, services, path, name)
        if tr is None:
            return
    else:
        try:
            data = await attachment_bytes(att.download_url, att.content, **limits)
        except DownloadError as e:
            await reply.send_text(_download_line(e, name, mb))
            return
        try:
            tr = load(data, name)
        except TranscriptError as e:
            await reply.send_text(S.TRANSCRIPT_UNREADABLE.get(e.reason, S.TRANSCRIPT_UNREADABLE["empty"])
                                  .format(name=name))
            return
    await produce(req, reply, services, tr, kind, Meta(title=stem, attendees=_named(tr)), stem)


def _download_line(e: DownloadError, name: str, mb: int) -> str:
    line = {"too_large": S.DOWNLOAD_TOO_LARGE, "refused": S.DOWNLOAD_REFUSED}.get(e.message, S.DOWNLOAD_FAILED)
    return line.format(name=name, mb=mb)


def _named(tr: Transcript) -> list[str]:
    return [s for s in tr.speakers if s and s != UNKNOWN_SPEAKER]


async def produce(req: SkillRequest, reply: ReplyPort, services: Services, tr: Transcript, kind: str, meta: Meta,
                  name: str) -> None:
    """The minutes of a transcript: with the model when the tier allows it, else the automatic (extractive) ones."""
    settings = settings_of(services)
    if services.ai.offline:
        await _automatic(req, reply, services, tr, name, meta, "")
        return
    why = refusal(services, req, kind)
    if why:
        log.info("minutes: transcript not sent (tier %s has no endpoint for personal data)", req.tier)
        await services.ai.record_offline(req, SKILL, outcome="refused", reason="personal_data_tier")
        await _automatic(req, reply, services, tr, name, meta, why, record=False)
        return
    await reply.inform(S.WRITING.format(what="相談記録" if kind == CONSULTATION else "議事録"))
    writer = Writer(services, req, settings, progress=reply.inform)
    try:
        written = await writer.write(tr, kind, meta)
    except AnswerError:
        await _automatic(req, reply, services, tr, name, meta, S.ANSWER_BAD, record=False)
        return
    except AIRefused as e:
        await _automatic(req, reply, services, tr, name, meta, e.message_ja, record=False)
        return
    except AIFailed as e:
        await _automatic(req, reply, services, tr, name, meta, S.AI_FAILED.format(reason=e.message_ja), record=False)
        return
    record = written.record
    if kind == CONSULTATION:
        record.client = mask_name(record.client) if record.client else ""
    speaking = speaking_time(tr)
    shown = [{"speaker": s.speaker, "time": duration_ja(s.seconds), "share": s.share} for s in speaking]
    to_do = services.graph is not None and bool(req.aad_object_id)
    await reply.send_card(cards.record_card(record.to_json(), speaking=shown, todo=to_do,
                                            masked_note=written.masked_note, sections=written.sections),
                          ai_generated=True, feedback=True)
    what = "相談記録" if kind == CONSULTATION else "議事録"
    try:
        data = record_docx(record, speaking)
    except Exception:  # noqa: BLE001 - the card already carries the minutes
        log.exception("minutes: Word file failed")
        await reply.send_text(S.DOCX_FAILED)
        return
    await reply.send_file(f"{what}_{_safe(record.title or name)}.docx", data, DOCX_CONTENT_TYPE,
                          description=S.DOCX_DESCRIPTION.format(title=record.title or name, what=what))


async def _automatic(req: SkillRequest, reply: ReplyPort, services: Services, tr: Transcript, name: str,
                     meta: Meta, message: str, *, record: bool = True) -> None:
    settings = settings_of(services)
    speaking = speaking_time(tr)
    ex = extract(tr, max_lines=settings.MINUTES_SUMMARY_LINES)
    facts = [("会議名", meta.title or name), ("日時", meta.date), ("記録時間", duration_ja(tr.duration)),
             ("出席者", "、".join(meta.attendees))]
    card = cards.auto_card(
        name=meta.title or name, meta=facts, message=message, turns=len(tr.turns),
        speaking=[{"speaker": s.speaker, "time": duration_ja(s.seconds), "share": s.share} for s in speaking],
        summary=[{"t": ln.at, "speaker": ln.speaker, "text": ln.text} for ln in ex.summary],
        decisions=[{"t": ln.at, "speaker": ln.speaker, "text": ln.text} for ln in ex.decisions],
        actions=[{"t": a.at, "speaker": a.owner, "text": a.text, "due": a.due} for a in ex.actions])
    await reply.send_card(card, ai_generated=False)
    if record:
        await services.ai.record_offline(req, SKILL)
    await reply.send_file(f"会議録（自動抽出）_{_safe(name)}.docx", auto_docx(name, tr, speaking, ex),
                          DOCX_CONTENT_TYPE, description=S.DOCX_DESCRIPTION.format(title=name, what="会議録（自動抽出）"))


def _safe(name: str) -> str:
    keep = "".join(ch for ch in (name or "") if ch not in '\\/:*?"<>|\r\n\t')
    return keep.strip()[:60] or "会議"


VERBS = {cards.TODO_VERB: Verb(todo.add, todo.TodoData)}
