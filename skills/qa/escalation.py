"""The hand-off to staff and the way back.

Escalation: a question the documents could not answer (or whose answer the asker found lacking) goes to kintone
as a record — or, when kintone is not configured, as a card to the set's Teams channel where staff answer in the
card. Staff answers come back by kintone polling (`poll_kintone`, one poller across replicas via a lease), by the
kintone webhook (skills/qa/http.py) or by the channel card; each is delivered once (`deliver_answer` claims the
row atomically), sent to the asker's personal chat, filed in the knowledge set as a staff-written document, and
kept as an approved answer of that set (skills/qa/approved.py), which answers the next close question directly."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select, update

from cards import qa as qa_cards
from core.kintone.client import AnsweredRecord, KintoneError
from core.search.index import SearchError
from core.search.passages import Passage, passages_from_json
from core.skills import ReplyPort, SkillRequest
from core.store.models import ConversationRef
from core.timeutil import jst_text
from skills.qa import strings as S
from skills.qa.approved import approve_staff_answer
from skills.qa.disclosure import shareable
from skills.qa.lease import Lease
from skills.qa.models import QAQuestion
from skills.qa.service import settings_of
from skills.qa.settings import _base_conversation

log = logging.getLogger(__name__)

POLLER_LEASE_KEY = "qa.kintone.poller"
POLLER_KEY = "qa.poller"
MAX_DELIVERY_ATTEMPTS = 5
OPEN = ("unanswered", "answered", "offline", "approved")   # statuses from which a question may be escalated


def _qid(data: dict) -> int | None:
    try:
        return int(data.get("q"))
    except (TypeError, ValueError):
        return None


def passage_lines(passages: list[Passage]) -> list[str]:
    """Candidate passages as plain text for the kintone record."""
    out = []
    for p in passages:
        out.append(f"{qa_cards.passage_label(p)}\n{' '.join(p.text.split())}" + (f"\n{p.url}" if p.url else ""))
    return out


async def _answer(req: SkillRequest, reply: ReplyPort, message: str, detail: str = "") -> None:
    if req.is_invoke:
        await reply.refresh_card(qa_cards.notice_card(message, detail=detail))
    else:
        await reply.send_text(message)


# ------------------------------------------------------------------------------------------------ escalation

async def _question_of(req: SkillRequest, reply: ReplyPort, services) -> QAQuestion | None:
    """The question a card action refers to ({q: id}); tells the user when it no longer exists."""
    qid = _qid(req.data)
    async with services.db.session() as s:
        row = await s.get(QAQuestion, qid) if qid is not None else None
    if row is None:
        await _answer(req, reply, S.QUESTION_GONE)
    return row


async def escalate(req: SkillRequest, reply: ReplyPort, services) -> None:
    """verb qa.escalate {q}: hand the asker's question to staff (kintone, else the set's Teams channel)."""
    row = await _question_of(req, reply, services)
    if row is None:
        return
    if row.user_id != req.user_id:
        await _answer(req, reply, S.NOT_YOURS)
        return
    if row.status == "staff_answered":
        await _answer(req, reply, S.ALREADY_ANSWERED, row.question)
        return
    previous = row.status if row.status in OPEN else "unanswered"
    previous_backend = row.backend if row.status in OPEN else None
    now = services.clock.now()
    client = services.kintone
    # Claim the row so a double click (or two replicas) escalates once. The claim (status 'escalating', its time
    # in escalated_at, the backend) is committed before kintone is called: a claim left by a process that died
    # is taken over once stale (by this verb pressed again, or by the poller: resume_escalations).
    async with services.db.session() as s:
        res = await s.execute(update(QAQuestion).where(QAQuestion.id == row.id, _claimable(services, now))
                              .values(status="escalating", escalated_at=now,
                                      backend="kintone" if client.configured else "teams"))
    if res.rowcount != 1:
        await _answer(req, reply, S.ALREADY_ESCALATED, row.question)
        return

    async def revert() -> None:
        async with services.db.session() as s:     # only while the claim is still ours (not taken over since)
            await s.execute(update(QAQuestion).where(QAQuestion.id == row.id, QAQuestion.status == "escalating",
                                                     QAQuestion.escalated_at == now)
                            .values(status=previous, backend=previous_backend, escalated_at=None))

    try:
        if client.configured:
            record_id = await _find_or_create(services, row, req.user_name or "")
            values = dict(backend="kintone", kintone_record_id=record_id)
            message = S.ESCALATED_KINTONE.format(record_id=record_id)
        else:
            channel = settings_of(services).fallback_channel([row.target_set] if row.target_set else [])
            if not channel:
                await revert()
                await _answer(req, reply, S.ESCALATE_NONE)
                return
            card = qa_cards.staff_question_card(row.id, row.question, row.user_name or req.user_name or "",
                                                jst_text(row.created_at, "%Y年%m月%d日 %H:%M"), row.target_set or "",
                                                (await shareable(services, passages_from_json(row.passages),
                                                                 channel=channel))[:3])
            sent = await services.proactive.send(channel, card=card) if services.proactive else None
            if sent is None or not sent.ok:
                log.warning("question %s could not be posted to the staff channel (status %s)", row.id,
                            getattr(sent, "status", None))
                await revert()
                await _answer(req, reply, S.ESCALATE_FAILED)
                return
            values = dict(backend="teams", staff_conversation_id=channel)
            message = S.ESCALATED_TEAMS
    except KintoneError as e:
        log.warning("kintone escalation failed: %s", e)
        await revert()
        await _answer(req, reply, e.message_ja)
        return
    except BaseException:
        await revert()
        raise
    async with services.db.session() as s:
        await s.execute(update(QAQuestion).where(QAQuestion.id == row.id, QAQuestion.status == "escalating")
                        .values(status="escalated", escalated_at=now, **values))
    await _answer(req, reply, message, row.question)


def stale_after(client) -> timedelta:
    """How long an 'escalating' claim may be in progress: the check and the POST each end within the kintone
    timeout, so a claim older than four timeouts belongs to a process that is gone."""
    return timedelta(seconds=4 * float(client.settings.KINTONE_TIMEOUT_SECONDS))


def _claimable(services, now):
    """An open question, or one whose hand-off claim is stale (its process died between the claim and the end)."""
    cutoff = now - stale_after(services.kintone)
    return or_(QAQuestion.status.in_(OPEN),
               and_(QAQuestion.status == "escalating",
                    or_(QAQuestion.escalated_at.is_(None), QAQuestion.escalated_at < cutoff)))


async def _find_or_create(services, row: QAQuestion, user_name: str = "") -> str:
    """The question's kintone record: the one an earlier attempt created (a crash, or a timeout after kintone
    stored it) if kintone has it, else a new one. Each question is created in kintone once."""
    client = services.kintone
    asked_at = row.created_at or services.clock.now()
    found = await client.find_question(row.question, row.user_id, asked_at)
    if found is not None:
        log.info("question %s was already in kintone as record %s", row.id, found)
        return found
    return await client.create_question(
        row.question, asker_name=row.user_name or user_name, asker_id=row.user_id, asked_at=asked_at,
        knowledge_set=row.target_set or "、".join(row.set_names or []),
        passages=passage_lines(await shareable(services, passages_from_json(row.passages), channel=None)))


async def resume_escalations(services) -> int:
    """Hand-offs to kintone whose process died after the claim (status 'escalating', claim stale): taken over by
    compare-and-set, finished once (found or created), and the asker is told in the personal chat. Run by the
    poller. Returns how many were finished."""
    client = services.kintone
    if not client.configured:
        return 0
    now = services.clock.now()
    cutoff = now - stale_after(client)
    async with services.db.session() as s:
        rows = list(await s.scalars(select(QAQuestion).where(
            QAQuestion.status == "escalating", or_(QAQuestion.backend == "kintone", QAQuestion.backend.is_(None)),
            or_(QAQuestion.escalated_at.is_(None), QAQuestion.escalated_at < cutoff)).order_by(QAQuestion.id)
            .limit(50)))
    done = 0
    for row in rows:
        claimed_at = row.escalated_at
        async with services.db.session() as s:
            res = await s.execute(update(QAQuestion).where(
                QAQuestion.id == row.id, QAQuestion.status == "escalating",
                QAQuestion.escalated_at.is_(None) if claimed_at is None else QAQuestion.escalated_at == claimed_at)
                .values(escalated_at=now, backend="kintone"))
        if res.rowcount != 1:
            continue                                   # another replica took it
        record_id = await _find_or_create(services, row)
        async with services.db.session() as s:
            res = await s.execute(update(QAQuestion).where(QAQuestion.id == row.id, QAQuestion.status == "escalating")
                                  .values(status="escalated", escalated_at=now, backend="kintone",
                                          kintone_record_id=record_id))
        log.info("hand-off of question %s resumed after a restart: kintone record %s", row.id, record_id)
        done += 1
        await _tell_asker(services, row, S.ESCALATION_RESUMED.format(record_id=record_id,
                                                                     question=_excerpt(row.question)))
    return done


def _excerpt(text: str, limit: int = 60) -> str:
    one = " ".join((text or "").split())
    return one if len(one) <= limit else one[:limit - 1] + "…"


async def _asker_conversation(services, row: QAQuestion) -> str:
    """Where to reach the asker: the newest installed personal chat, else the conversation of the question."""
    async with services.db.session() as s:
        newest = await s.scalar(select(ConversationRef.conversation_id).where(
            ConversationRef.user_id == row.user_id, ConversationRef.conversation_type == "personal",
            ConversationRef.installed.is_(True)).order_by(ConversationRef.updated_at.desc()).limit(1))
    return newest or row.conversation_id


async def _tell_asker(services, row: QAQuestion, text: str) -> bool:
    """A plain message to the asker's personal chat (the question's conversation as a fallback)."""
    if services.proactive is None:
        return False
    result = await services.proactive.send(await _asker_conversation(services, row), text=text)
    if not result.ok:
        log.warning("question %s: the asker could not be told (status %s)", row.id, result.status)
    return result.ok


# ------------------------------------------------------------------------------------------------ staff answers

@dataclass
class Delivery:
    claimed: bool                   # False: already answered before (nothing done)
    delivered: bool = False         # the asker received it
    filed_set: str | None = None    # the knowledge set the Q/A pair joined


async def staff_answer(req: SkillRequest, reply: ReplyPort, services) -> None:
    """verb qa.staff_answer {q, answer}: a staff member answered in the channel card."""
    row = await _question_of(req, reply, services)
    if row is None:
        return
    if row.backend != "teams" or _base_conversation(req.conversation_id) != \
            _base_conversation(row.staff_conversation_id or ""):
        await _answer(req, reply, S.STAFF_WRONG_CHANNEL)
        return
    answer = str(req.data.get("answer") or "").strip()[:4000]
    if row.status == "staff_answered":
        await reply.refresh_card(qa_cards.staff_answered_card(row.question, row.answer or "", row.answered_by or "",
                                                              S.ALREADY_ANSWERED))
        return
    if not answer:
        await _answer(req, reply, S.STAFF_ANSWER_EMPTY)
        return
    who = req.user_name or req.user_id
    result = await deliver_answer(services, row.id, answer, answered_by=who, answered_by_id=req.aad_object_id)
    if not result.claimed:
        done = S.ALREADY_ANSWERED
    else:
        done = S.STAFF_CARD_DONE.format(set=result.filed_set) if result.filed_set else S.STAFF_CARD_DONE_NO_SET
        if not result.delivered:
            done += "（質問者へのお届けは再試行します。）"
    await reply.refresh_card(qa_cards.staff_answered_card(row.question, answer, who, done))


async def deliver_answer(services, question_id: int, answer: str, *, answered_by: str = "",
                         answered_by_id: str | None = None, set_name: str | None = None) -> Delivery:
    """Record a staff answer once, file the Q/A pair in the knowledge set (where it also becomes an approved answer,
    owned by `answered_by` / `answered_by_id`), and send it to the asker."""
    now = services.clock.now()
    async with services.db.session() as s:
        res = await s.execute(update(QAQuestion).where(QAQuestion.id == question_id,
                                                       QAQuestion.status != "staff_answered")
                              .values(status="staff_answered", answer=answer, answered_by=answered_by[:200],
                                      answered_at=now))
        if res.rowcount != 1:
            return Delivery(claimed=False)
        row = await s.get(QAQuestion, question_id)
    filed = await file_answer(services, row, set_name)
    if filed:
        ref = f"q:{row.id}" + (f"/kintone:{row.kintone_record_id}" if row.kintone_record_id else "")
        await approve_staff_answer(services, row, filed, source=row.backend or "teams", owner_name=answered_by,
                                   owner_id=answered_by_id, source_ref=ref)
    delivered = await send_to_asker(services, row, filed)
    return Delivery(claimed=True, delivered=delivered, filed_set=filed)


async def file_answer(services, row: QAQuestion, set_name: str | None = None) -> str | None:
    """Add the Q/A pair to the knowledge set as a staff-written document (the set named by staff, if it exists,
    else the question's own)."""
    index = services.knowledge
    candidates = [n.strip() for n in (set_name or "").replace("、", ",").split(",") if n.strip()]
    candidates.append(row.target_set or "")
    for name in candidates:
        if name and await index.get_set(name) is not None:
            markdown = f"# {row.question}\n\n{row.answer}\n"
            try:
                await index.upsert_document(name, "staff", f"qa-{row.id}", row.question[:200], None, markdown,
                                            staff_written=True)
            except SearchError as e:
                log.warning("staff answer %s not filed: %s", row.id, e.message)
                return None
            return name
    return None


async def send_to_asker(services, row: QAQuestion, filed_set: str | None = None) -> bool:
    """Proactively to the asker's personal chat (the conversation of the question as a fallback)."""
    if services.proactive is None:
        return False
    targets = [await _asker_conversation(services, row)]
    card = qa_cards.delivered_answer_card(row.question, row.answer or "", set_name=filed_set or "")
    ok = False
    for conv in targets:
        result = await services.proactive.send(conv, card=card)
        if result.ok:
            ok = True
            break
        log.warning("staff answer %s not delivered (status %s)", row.id, result.status)
    async with services.db.session() as s:
        r = await s.get(QAQuestion, row.id)
        r.delivery_attempts = (r.delivery_attempts or 0) + 1
        if ok:
            r.delivered_at = services.clock.now()
    return ok


async def retry_deliveries(services) -> int:
    """Answers recorded but not yet delivered (the asker's chat was unreachable): try again, a few times."""
    async with services.db.session() as s:
        rows = list(await s.scalars(select(QAQuestion).where(
            QAQuestion.status == "staff_answered", QAQuestion.delivered_at.is_(None),
            QAQuestion.delivery_attempts < MAX_DELIVERY_ATTEMPTS).order_by(QAQuestion.id).limit(50)))
    n = 0
    for row in rows:
        if await send_to_asker(services, row, row.target_set):
            n += 1
    return n


async def deliver_kintone_record(services, record: AnsweredRecord) -> bool:
    """An answered kintone record (from polling or the webhook) → the question it belongs to, answered once."""
    async with services.db.session() as s:
        qid = await s.scalar(select(QAQuestion.id).where(QAQuestion.backend == "kintone",
                                                         QAQuestion.kintone_record_id == record.record_id))
    if qid is None:
        log.info("answered kintone record %s is not one of ours", record.record_id)
        return False
    result = await deliver_answer(services, qid, record.answer, answered_by=f"kintone（受付番号: {record.record_id}）",
                                  set_name=record.knowledge_set)
    return result.claimed


async def poll_kintone(services) -> int:
    """One polling pass: escalated questions whose kintone record is now answered are delivered. Returns how many
    answers were delivered (claimed) in this pass."""
    client = services.kintone
    if not client.configured:
        return 0
    await resume_escalations(services)         # hand-offs cut off by a crash between the claim and kintone
    await retry_deliveries(services)           # answers of earlier passes that could not be delivered
    async with services.db.session() as s:
        ids = list(await s.scalars(select(QAQuestion.kintone_record_id).where(
            QAQuestion.backend == "kintone", QAQuestion.status == "escalated",
            QAQuestion.kintone_record_id.is_not(None))))
    n = 0
    if ids:
        for record in await client.answered_since(record_ids=ids):
            if await deliver_kintone_record(services, record):
                n += 1
    return n


# ------------------------------------------------------------------------------------------------ the poller

class KintonePoller:
    """The skill's background work, done by one replica at a time (the lease): kintone answers every `interval`
    seconds, and the SharePoint libraries every QA_SHAREPOINT_SYNC_MINUTES."""

    def __init__(self, services, interval: float, *, owner: str | None = None, kintone: bool = True,
                 sharepoint_every: float | None = None) -> None:
        self.services = services
        self.interval = interval
        self.kintone = kintone
        self.sharepoint_every = sharepoint_every
        self.lease = Lease(services.db, POLLER_LEASE_KEY, timedelta(seconds=max(3 * interval, 30)), services.clock,
                           owner)
        self.passes = 0          # loop iterations (whether or not this process held the lease)
        self.polls = 0
        self.syncs = 0
        self.errors = 0
        self._last_sync: float | None = None

    async def run_once(self) -> bool:
        self.passes += 1
        if not await self.lease.acquire():
            return False
        if self.kintone:
            await poll_kintone(self.services)
            self.polls += 1
        now = time.monotonic()
        if self.sharepoint_every and (self._last_sync is None or now - self._last_sync >= self.sharepoint_every):
            from skills.qa.sharepoint import sync_sharepoint

            self._last_sync = now
            await sync_sharepoint(self.services)
            self.syncs += 1
        return True

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.run_once()
                except asyncio.CancelledError:
                    raise
                except KintoneError as e:
                    self.errors += 1
                    log.warning("kintone poll failed: %s", e)
                except Exception:  # noqa: BLE001 - keep polling; the next pass retries
                    self.errors += 1
                    log.exception("qa background pass failed")
                await asyncio.sleep(self.interval)
        finally:
            try:
                await asyncio.shield(self.lease.release())
            except Exception:  # noqa: BLE001
                log.warning("could not release the qa poller lease")


async def _disabled() -> None:
    return None


def make_poller(services, *, interval: float | None = None) -> KintonePoller | None:
    """The background poller: kintone answers every KINTONE_POLL_SECONDS and SharePoint sync every
    QA_SHAREPOINT_SYNC_MINUTES, by one replica at a time; None when neither is configured."""
    client = services.kintone
    settings = settings_of(services)
    every = interval if interval is not None else client.settings.KINTONE_POLL_SECONDS
    kintone_on = bool(client.configured and every and every > 0)
    sp_every = settings.QA_SHAREPOINT_SYNC_MINUTES * 60 if (
        settings.QA_SHAREPOINT_DRIVES and services.graph is not None and settings.QA_SHAREPOINT_SYNC_MINUTES > 0) \
        else None
    if not kintone_on and not sp_every:
        return None
    tick = float(every) if kintone_on else min(60.0, float(sp_every))
    return KintonePoller(services, tick, kintone=kintone_on, sharepoint_every=sp_every)


async def run_poller(services) -> None:
    """The skill's background job (Skill.jobs): runs the poller until cancelled; ends at once when disabled."""
    poller = make_poller(services)
    if poller is not None:
        services.extras[POLLER_KEY] = poller
        await poller.run()


def start_poller(services, *, interval: float | None = None) -> asyncio.Task:
    """The poller as a task (tests; the app starts it through the skill's job)."""
    poller = make_poller(services, interval=interval)
    if poller is None:
        return asyncio.create_task(_disabled(), name="qa-poller-disabled")
    services.extras[POLLER_KEY] = poller
    return asyncio.create_task(poller.run(), name="qa-poller")
