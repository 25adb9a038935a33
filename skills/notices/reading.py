"""/notice: a 通知 (PDF or Word sent in chat, or pasted text) read into a card — 要旨, 対応事項 with 期限, the sections
concerned (core.sections), the laws cited (linked through core.law.lookup), attachments — and its deadlines offered
as Outlook reminders (an event in the user's calendar through Microsoft Graph).

Offline the reading is extractive and says so; with an LLM the 要旨 and 対応事項 are the model's (through services.ai:
masked, audited), checked against the text (a 期限 the text does not contain is dropped), and labelled as AI output.
The head, the laws, the attachments and the sections are always read by code."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import unicodedata
from datetime import date, timedelta
from html import escape
from pathlib import PurePath

from cards import notices as cards
from core.ai import AIFailed, AIRefused
from core.carddata import CardData, Name, RowId
from core.graph import GraphError
from core.jdate import dates_in, with_weekday
from core.law.lookup import find_law
from core.search.ingest import IngestError, to_markdown_async
from core.sections import section_profiles
from core.services import Services
from core.skills import FileAttachment, ReplyPort, SkillRequest
from skills import prompts
from skills.notices import strings as S
from skills.notices.files import FileError, fetch
from skills.notices.models import NoticeReading
from skills.notices.notice import Action, Reading, read
from skills.notices.settings import NoticesSettings

log = logging.getLogger(__name__)

SKILL = "notices"
MAX_MODEL_CHARS = 12000
NOTICE_TYPES = (".pdf", ".docx", ".txt", ".md", ".html", ".htm")


def settings_of(services: Services) -> NoticesSettings:
    return services.settings.get(NoticesSettings)


async def notice_text(req: SkillRequest, reply: ReplyPort, services: Services, text: str) -> None:
    text = unicodedata.normalize("NFC", text or "").strip()
    if not text:
        await reply.send_text(S.NOTICE_USAGE)
        return
    if len(text) > settings_of(services).NOTICES_CHECK_MAX_CHARS:
        await reply.send_text(S.CHECK_TOO_LONG.format(n=settings_of(services).NOTICES_CHECK_MAX_CHARS))
        return
    await _read_and_show(req, reply, services, text, name="")


async def notice_file(req: SkillRequest, reply: ReplyPort, services: Services, att: FileAttachment) -> None:
    name = PurePath(att.name or "通知").name
    if not name.lower().endswith(NOTICE_TYPES):
        await reply.send_text(S.NOTICE_TYPES.format(name=name))
        return
    await reply.inform(S.NOTICE_READING)
    try:
        data = await fetch(settings_of(services), att)
        converted = await to_markdown_async(data, name)
    except FileError as e:
        await reply.send_text(e.message)
        return
    except IngestError as e:                 # the extractor's own Japanese line (broken, empty, too large, …)
        await reply.send_text(e.message)
        return
    await _read_and_show(req, reply, services, converted.markdown, name=name, note=converted.truncated_note)


async def _read_and_show(req: SkillRequest, reply: ReplyPort, services: Services, markdown: str, *, name: str,
                         note: str = "") -> None:
    today = services.clock.now_jst().date()
    reading = await asyncio.to_thread(read, markdown, today=today, profiles=section_profiles(services))
    await _link_laws(services, reading)
    masked_note = ""
    if not services.ai.offline:
        try:
            masked_note = await _with_model(req, services, reading, markdown)
        except (AIRefused, AIFailed) as e:
            note = " ".join(x for x in (note, S.NOTICE_MODEL_FAILED.format(reason=e.message_ja)) if x)
    else:
        await services.ai.record_offline(req, SKILL)
    now = services.clock.now()
    row = NoticeReading(user_id=req.user_id, name=name, title=reading.title[:500], issuer=reading.issuer[:200],
                        result={**reading.to_json(), "note": note, "masked_note": masked_note},
                        deadline=date.fromisoformat(reading.deadline) if reading.deadline else None,
                        mode=reading.mode, created_at=now,
                        expires_at=now + timedelta(days=settings_of(services).NOTICES_KEEP_DAYS))
    async with services.db.session() as s:
        s.add(row)
        await s.flush()
        await s.refresh(row)
    await reply.send_card(card_of(row, services), ai_generated=reading.mode == "ai", feedback=reading.mode == "ai")


async def _link_laws(services: Services, reading: Reading) -> None:
    """Each cited law's page on e-Gov (the article when one is named); a law e-Gov does not answer for keeps its
    name without a link."""
    async def one(law) -> None:
        hits = await find_law(services.law, f"{law.name}{law.article}", limit=1)
        if hits:
            law.url = hits[0].url
    await asyncio.gather(*(one(law) for law in reading.laws[:4]))


async def _with_model(req: SkillRequest, services: Services, reading: Reading, markdown: str) -> str:
    text = re.sub(r"<!--.*?-->", "", markdown, flags=re.S).strip()[:MAX_MODEL_CHARS]
    issued = date.fromisoformat(reading.issued) if reading.issued else services.clock.now_jst().date()
    messages = [{"role": "system", "content": prompts.load(SKILL, "notice")},
                {"role": "user", "content": f"【通知の日付】{with_weekday(issued)}\n【通知】\n{text}"}]
    ans = await services.ai.chat(req, SKILL, messages, temperature=0.1)
    try:
        data = json.loads(re.search(r"\{.*\}", ans.text, re.S).group(0))        # type: ignore[union-attr]
    except (AttributeError, ValueError):
        log.info("notice reading: the model's answer was not JSON; the extractive reading stays")
        return ans.masked_note
    allowed = {d.iso() for d in dates_in(text, today=issued)}
    summary = [" ".join(str(x).split())[:120] for x in data.get("summary") or [] if str(x).strip()][:3]
    actions = []
    for a in data.get("actions") or []:
        if not isinstance(a, dict) or not str(a.get("text") or "").strip():
            continue
        due = str(a.get("due") or "") or None
        if due not in allowed:
            due = None                          # a 期限 the text does not contain is not shown
        d = date.fromisoformat(due) if due else None
        actions.append(Action(text=" ".join(str(a["text"]).split())[:200], due=due,
                              due_text=f"{with_weekday(d)}まで" if d else ""))
    if summary:
        reading.summary = summary
        reading.actions = actions[:8] or reading.actions
        reading.mode = "ai"
        dues = sorted(a.due for a in reading.actions if a.due)
        if dues:
            reading.deadline = dues[0]
    return ans.masked_note


def _deadlines(reading: Reading) -> list[str]:
    return sorted({a.due for a in reading.actions if a.due} | ({reading.deadline} if reading.deadline else set()))


def card_of(row: NoticeReading, services: Services) -> dict:
    r = Reading.from_json(row.result)
    today = services.clock.now_jst().date()
    actions = [{"text": a.text, "due": a.due_text,
                "overdue": bool(a.due and date.fromisoformat(a.due) < today)} for a in r.actions]
    done = set((row.result or {}).get("reminders", {}))
    deadlines = [(d, f"{with_weekday(date.fromisoformat(d))}", d in done) for d in _deadlines(r)[:3]]
    return cards.notice_card(
        reading_id=row.id, name=row.name, title=r.title or "（標題を読み取れませんでした）", issuer=r.issuer,
        number=r.number, issued=with_weekday(date.fromisoformat(r.issued)) if r.issued else "", summary=r.summary,
        actions=actions, sections=[(s.name, "、".join(s.words)) for s in r.sections],
        laws=[(f"{law.name}{law.article}", law.url) for law in r.laws],
        attachments=[(label, title) for label, title in r.attachments], deadlines=deadlines,
        warnings=r.weekday_warnings + ([row.result["note"]] if row.result.get("note") else []),
        ai=r.mode == "ai", masked_note=str(row.result.get("masked_note") or ""),
        can_remind=services.graph is not None)


# -- the Outlook reminder ---------------------------------------------------------------------------------------

class RemindData(CardData):
    reading_id: RowId
    due: Name = ""


async def on_remind(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    async with services.db.session() as s:
        row = await s.get(NoticeReading, int(req.data.get("reading_id") or 0))
    if row is None or row.user_id != req.user_id or row.expires_at < services.clock.now():
        await reply.send_text(S.NOTICE_NOT_FOUND)
        return
    r = Reading.from_json(row.result)
    due = str(req.data.get("due") or "")
    if due not in _deadlines(r):
        await reply.send_text(S.NOTICE_NOT_FOUND)
        return
    reminders = dict((row.result or {}).get("reminders") or {})
    day = date.fromisoformat(due)
    if due in reminders:
        await reply.send_text(S.REMIND_ALREADY.format(day=with_weekday(day)))
        return
    if services.graph is None:
        await reply.send_text(S.REMIND_NO_GRAPH)
        return
    if not req.aad_object_id:
        await reply.send_text(S.REMIND_NO_USER)
        return
    before = max(0, settings_of(services).NOTICES_REMINDER_DAYS_BEFORE)
    items = "".join(f"<li>{escape(a.text)}{'（' + escape(a.due_text) + '）' if a.due_text else ''}</li>"
                    for a in r.actions if a.due == due) or "<li>通知の対応事項をご確認ください。</li>"
    html = (f"<p>{escape(r.title)}</p><p>発信：{escape(r.issuer or '（不明）')}　{escape(r.number)}</p>"
            f"<ul>{items}</ul><p>尼崎市AIアシスタントが通知から読み取った期限です。原文で確認してください。</p>")
    try:
        event_id = await services.graph.create_event(req.aad_object_id, f"【期限】{r.title or row.name}"[:250], html,
                                                     day, reminder_minutes=before * 24 * 60,
                                                     categories=["通知の期限"])
    except GraphError as e:
        log.warning("reminder event failed: status %s", e.status)
        await reply.send_text(S.REMIND_FAILED)
        return
    reminders[due] = event_id
    async with services.db.session() as s:
        stored = await s.get(NoticeReading, row.id)
        stored.result = {**(stored.result or {}), "reminders": reminders}
        stored.reminder_id = event_id[:300]
    alert = day - timedelta(days=before)
    await reply.send_text(S.REMIND_DONE.format(day=with_weekday(day), alert=with_weekday(alert) if before else "当日"))
