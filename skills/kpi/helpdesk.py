"""/helpdesk: a question about using the assistant goes to the DX support channel (a Teams channel the bot is
installed in) or to kintone; the answer comes back to the asker's personal chat and the ticket is closed.

Teams backend: the question is posted proactively to HELPDESK_CONVERSATION_ID as a card with an answer box;
a DX staff member answers in the card (Action.Execute kpi.helpdesk.answer); the ticket is claimed atomically
(open → answered) so two people answering at once never send twice.
kintone backend: the question becomes a kintone record (KintoneClient.create_question); `poll_kintone_answers`
brings answered records back (call it from the scheduler)."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from cards.kpi import helpdesk_answer_card, helpdesk_answered_card, helpdesk_channel_card
from core.profiles import department_of
from core.skills import ReplyPort, SkillRequest
from core.store.models import ConversationRef
from core.timeutil import jst_text
from skills.kpi import strings as S
from skills.kpi.models import HelpdeskTicket
from skills.kpi.settings import settings_of

log = logging.getLogger(__name__)

MAX_QUESTION = 2000
KNOWLEDGE_SET = "ヘルプデスク"      # marks our kintone records (other desks poll the same app)


def kintone_client(services):
    """The app's one kintone client (the Q&A hand-off uses the same app; our records carry KNOWLEDGE_SET)."""
    return services.kintone


def _base_conversation(conversation_id: str | None) -> str:
    """A channel reply's conversation id carries ";messageid=…"; the channel itself is the part before."""
    return (conversation_id or "").split(";", 1)[0]


async def ask(req: SkillRequest, reply: ReplyPort, services) -> None:
    question = (req.text or "").strip()
    if not question:
        await reply.send_text(S.HELPDESK_USAGE)
        return
    if len(question) > MAX_QUESTION:
        await reply.send_text(S.HELPDESK_TOO_LONG)
        return
    settings = settings_of(services)
    backend = settings.HELPDESK_BACKEND
    if backend == "teams" and (not settings.HELPDESK_CONVERSATION_ID or services.proactive is None):
        await reply.send_text(S.HELPDESK_NOT_CONFIGURED)
        return
    if backend == "kintone" and not kintone_client(services).configured:
        await reply.send_text(S.HELPDESK_NOT_CONFIGURED)
        return
    now = services.clock.now()
    department = await department_of(services.db, req.user_id)
    async with services.db.session() as s:
        ticket = HelpdeskTicket(created_at=now, user_id=req.user_id, aad_object_id=req.aad_object_id,
                                user_name=req.user_name, department=department,
                                conversation_id=req.conversation_id, question=question, backend=backend,
                                status="open")
        s.add(ticket)
        await s.flush()
        tid = ticket.id

    ok = await (_post_teams(services, tid, req, department, now, question) if backend == "teams"
                else _post_kintone(services, tid, req, now, question))
    if not ok:
        async with services.db.session() as s:
            await s.execute(update(HelpdeskTicket).where(HelpdeskTicket.id == tid).values(status="failed"))
        await reply.send_text(S.HELPDESK_SEND_FAILED.format(ticket=tid))
        return
    msg = S.HELPDESK_ACCEPTED.format(ticket=tid)
    if not req.personal:
        msg += S.HELPDESK_PERSONAL_HINT
    await reply.send_text(msg)


async def _post_teams(services, tid: int, req: SkillRequest, department: str | None, now: datetime,
                      question: str) -> bool:
    settings = settings_of(services)
    card = helpdesk_channel_card(tid, req.user_name or "", department, jst_text(now), question)
    try:
        result = await services.proactive.send(settings.HELPDESK_CONVERSATION_ID, card=card)
    except Exception:  # noqa: BLE001 - reported to the asker as a failed send
        log.exception("helpdesk post failed (ticket %s)", tid)
        return False
    if not result.ok:
        log.warning("helpdesk post refused with status %s (ticket %s)", result.status, tid)
        return False
    async with services.db.session() as s:
        await s.execute(update(HelpdeskTicket).where(HelpdeskTicket.id == tid)
                        .values(channel_activity_id=result.activity_id))
    return True


async def _post_kintone(services, tid: int, req: SkillRequest, now: datetime, question: str) -> bool:
    from core.kintone.client import KintoneError

    try:
        record_id = await kintone_client(services).create_question(
            question, req.user_name or "", req.user_id, now, KNOWLEDGE_SET, [])
    except KintoneError as e:
        log.warning("helpdesk kintone post failed: %s (ticket %s)", e.kind, tid)
        return False
    async with services.db.session() as s:
        await s.execute(update(HelpdeskTicket).where(HelpdeskTicket.id == tid).values(external_id=record_id))
    return True


async def answer(req: SkillRequest, reply: ReplyPort, services) -> None:
    """kpi.helpdesk.answer: a DX staff member answered in the channel card."""
    settings = settings_of(services)
    tid = req.data.get("ticket")
    if not isinstance(tid, int):
        await reply.send_text(S.HELPDESK_NO_TICKET)
        return
    async with services.db.session() as s:
        ticket = await s.get(HelpdeskTicket, tid)
    if ticket is None or ticket.backend != "teams":
        await reply.send_text(S.HELPDESK_NO_TICKET)
        return
    if _base_conversation(req.conversation_id) != _base_conversation(settings.HELPDESK_CONVERSATION_ID):
        await reply.send_text(S.HELPDESK_WRONG_PLACE)
        return
    if ticket.status == "answered":      # someone else was quicker: show the answered card, send nothing
        await reply.refresh_card(helpdesk_answered_card(tid, ticket.user_name or "", ticket.question,
                                                        ticket.answer or "", ticket.answered_by or "",
                                                        jst_text(ticket.answered_at), ticket.delivered))
        return
    text = str(req.data.get("answer") or "").strip()
    if not text:
        await reply.refresh_card(helpdesk_channel_card(tid, ticket.user_name or "", ticket.department,
                                                       jst_text(ticket.created_at), ticket.question,
                                                       error=S.HELPDESK_ANSWER_EMPTY))
        return
    now = services.clock.now()
    by = req.user_name or ""
    if not await _claim(services, tid, text[:4000], by, now):
        async with services.db.session() as s:
            ticket = await s.get(HelpdeskTicket, tid)
        await reply.refresh_card(helpdesk_answered_card(tid, ticket.user_name or "", ticket.question,
                                                        ticket.answer or "", ticket.answered_by or "",
                                                        jst_text(ticket.answered_at), ticket.delivered))
        return
    delivered = await deliver(services, tid)
    await reply.refresh_card(helpdesk_answered_card(tid, ticket.user_name or "", ticket.question, text[:4000], by,
                                                    jst_text(now), delivered))


async def _claim(services, tid: int, text: str, by: str, now: datetime) -> bool:
    """open → answered, at most once (several replicas, two staff clicking at once)."""
    async with services.db.session() as s:
        res = await s.execute(update(HelpdeskTicket)
                              .where(HelpdeskTicket.id == tid, HelpdeskTicket.status == "open")
                              .values(status="answered", answer=text, answered_by=by, answered_at=now))
        return res.rowcount == 1


async def personal_conversation(services, user_id: str) -> str | None:
    """The asker's personal chat with the bot (most recently updated, still installed)."""
    async with services.db.session() as s:
        return (await s.execute(
            select(ConversationRef.conversation_id)
            .where(ConversationRef.user_id == user_id, ConversationRef.conversation_type == "personal",
                   ConversationRef.installed.is_(True))
            .order_by(ConversationRef.updated_at.desc()).limit(1))).scalar_one_or_none()


async def deliver(services, tid: int) -> bool:
    """Send an answered ticket's answer to the asker's personal chat (else where they asked). Marks it delivered."""
    async with services.db.session() as s:
        t = await s.get(HelpdeskTicket, tid)
    if t is None or t.status != "answered" or services.proactive is None:
        return False
    if t.delivered:
        return True
    card = helpdesk_answer_card(t.id, t.question, t.answer or "", t.answered_by or "")
    targets = [c for c in (await personal_conversation(services, t.user_id), t.conversation_id) if c]
    for conv in dict.fromkeys(targets):
        try:
            result = await services.proactive.send(conv, card=card)
        except Exception:  # noqa: BLE001 - try the next place, then report
            log.exception("helpdesk answer delivery failed (ticket %s)", tid)
            continue
        if result.ok:
            async with services.db.session() as s:
                await s.execute(update(HelpdeskTicket).where(HelpdeskTicket.id == tid).values(delivered=True))
            return True
    return False


async def poll_kintone_answers(services) -> int:
    """kintone backend: fetch answers to open tickets, close and deliver them. Returns how many were delivered.
    For the scheduler (e.g. every KINTONE_POLL_SECONDS)."""
    from core.kintone.client import KintoneError

    async with services.db.session() as s:
        rows = (await s.execute(select(HelpdeskTicket.id, HelpdeskTicket.external_id)
                                .where(HelpdeskTicket.backend == "kintone", HelpdeskTicket.status == "open",
                                       HelpdeskTicket.external_id.is_not(None)))).all()
    if not rows:
        return 0
    by_record = {str(ext): tid for tid, ext in rows}
    client = kintone_client(services)
    try:
        answered = await client.answered_since(record_ids=list(by_record))
    except KintoneError as e:
        log.warning("helpdesk kintone poll failed: %s", e.kind)
        return 0
    delivered = 0
    now = services.clock.now()
    for rec in answered:
        tid = by_record.get(rec.record_id)
        if tid is None:
            continue
        if await _claim(services, tid, rec.answer[:4000], "DX推進担当", now) and await deliver(services, tid):
            delivered += 1
    return delivered
