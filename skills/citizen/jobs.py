"""Background work of the residents' chatbot (Skill.jobs): staff answers come back from kintone and become approved
answers of the public set, and the transcript is deleted after CITIZEN_RETENTION_DAYS.

Residents are anonymous, so a staff answer is not sent to the one who asked: it answers the next resident who asks
a close question (core.knowledge.approved), until it expires (CITIZEN_APPROVED_DAYS) or the set's managers revoke it
(/ask 承認済み <set>, in Teams). The claim on the transcript row (`handoff` escalated → approving) makes one replica
file each answer once, whichever polls first."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from core.kintone.client import AnsweredRecord
from core.knowledge.approved import ApprovedAnswers, NewApproved
from core.ratelimit import RateLimits
from skills.citizen.handler import public_sets, purge_transcripts, settings_of
from skills.citizen.models import CitizenTranscript

log = logging.getLogger(__name__)


def handoff_enabled(services) -> bool:
    return bool(settings_of(services).CITIZEN_HANDOFF and services.kintone.configured
                and services.kintone.settings.KINTONE_POLL_SECONDS > 0)


def handoff_every(services) -> float:
    return float(max(10, services.kintone.settings.KINTONE_POLL_SECONDS))


async def poll_handoffs(services) -> int:
    """One pass: residents' questions whose kintone record staff have answered become approved answers of a public
    set. Returns how many were filed in this pass."""
    client = services.kintone
    if not client.configured:
        return 0
    async with services.db.session() as s:
        waiting = {r.kintone_record_id: r.id for r in (await s.execute(
            select(CitizenTranscript.id, CitizenTranscript.kintone_record_id).where(
                CitizenTranscript.handoff == "escalated", CitizenTranscript.kintone_record_id.is_not(None)))).all()}
    if not waiting:
        return 0
    n = 0
    for record in await client.answered_since(record_ids=list(waiting)):
        row_id = waiting.get(record.record_id)
        if row_id is not None and await file_staff_answer(services, row_id, record):
            n += 1
    return n


async def file_staff_answer(services, row_id: int, record: AnsweredRecord) -> bool:
    """Claim the row, then keep the staff answer as an approved answer of a public set: the set staff named in
    kintone when it is public, else the set the question was searched in, else the only public set."""
    async with services.db.session() as s:
        res = await s.execute(update(CitizenTranscript).where(CitizenTranscript.id == row_id,
                                                              CitizenTranscript.handoff == "escalated")
                              .values(handoff="approving"))
        if res.rowcount != 1:
            return False
        row = await s.get(CitizenTranscript, row_id)
    public = [info.name for info in await public_sets(services)]
    named = [n.strip() for n in (record.knowledge_set or "").replace("、", ",").split(",") if n.strip()]
    target = next((n for n in [*named, row.target_set or ""] if n in public), None)
    if target is None and len(public) == 1:
        target = public[0]
    if target is None:
        log.warning("staff answer to citizen question %s not filed: no public set to file it in", row_id)
        await _set(services, row_id, handoff="unfiled")
        return False
    now = services.clock.now()
    ix = services.knowledge
    store = ApprovedAnswers(services.db, embed=getattr(ix, "embed", None), embed_space=getattr(ix, "embed_space", ""))
    try:
        await store.add(NewApproved(
            set_name=target, question=row.question, answer=record.answer, source="kintone",
            expires_at=now + timedelta(days=max(1, settings_of(services).CITIZEN_APPROVED_DAYS)),
            owner_name=f"kintone（受付番号: {record.record_id}）",
            source_ref=f"citizen:{row_id}/kintone:{record.record_id}"), now=now)
    except Exception:  # noqa: BLE001 - release the claim: the next pass tries again
        log.exception("staff answer to citizen question %s could not be approved", row_id)
        await _set(services, row_id, handoff="escalated")
        return False
    await _set(services, row_id, handoff="approved", answered_at=now, target_set=target)
    log.info("staff answer to citizen question %s is an approved answer of %s", row_id, target)
    return True


async def _set(services, row_id: int, **values) -> None:
    async with services.db.session() as s:
        await s.execute(update(CitizenTranscript).where(CitizenTranscript.id == row_id).values(**values))


async def run_handoffs(services) -> None:
    await poll_handoffs(services)


async def run_retention(services) -> None:
    await purge_transcripts(services)
    await RateLimits(services.db).purge()          # rate-limit windows that ended an hour ago or more
