"""Approved answers in /ask (issue #15): a staff answer (kintone or the Teams fallback channel) becomes an approved
pair of its knowledge set; a new question close to one is answered from it before retrieval and without the LLM; the
set's writers and the QA administrators list, edit, expire and delete pairs from Teams (`/ask 承認済み`) and import
them from a CSV file sent in personal chat with 「承認済み <セット名>」.

Storage and matching are `core.knowledge.approved` (shared with other front ends); this module is the Teams side."""
from __future__ import annotations

import logging
import math
import re
from datetime import datetime, timedelta
from typing import Any, Callable

from cards import qa as qa_cards
from cards import qa_approved as cards
from core.knowledge.approved import (
    Approved,
    ApprovedAnswers,
    NewApproved,
    expiry_date,
    expiry_from_date,
    parse_date,
    read_csv,
)
from core.search.index import SearchError
from core.skills import ReplyPort, SkillRequest
from core.store.db import unavailable as db_unavailable
from core.timeutil import as_jst, jst_text
from skills.qa import strings as S
from skills.qa.documents import DownloadError, file_bytes
from skills.qa.models import QAQuestion
from skills.qa.service import can_write, settings_of, writable_sets

log = logging.getLogger(__name__)

PAGE_SIZE = 8
_QID = re.compile(r"^q:(\d+)")


def store(services) -> ApprovedAnswers:
    """The approved pairs, compared in the knowledge index's vector space (its embedder, when it has one)."""
    ix = services.knowledge
    return ApprovedAnswers(services.db, embed=getattr(ix, "embed", None), embed_space=getattr(ix, "embed_space", ""))


def default_expiry(services, now: datetime) -> datetime:
    return now + timedelta(days=settings_of(services).QA_APPROVED_DAYS)


def _date(dt: datetime | None) -> str:
    return jst_text(dt, "%Y年%m月%d日")


def _expires_text(a: Approved) -> str:
    day = expiry_date(a.expires_at)
    return f"{day.year}年{day.month:02d}月{day.day:02d}日まで" if day else ""


def _item(a: Approved, now: datetime) -> dict[str, Any]:
    return {"id": a.id, "set": a.set_name, "question": a.question, "answer": a.answer, "owner": a.owner_name,
            "approved": _date(a.updated_at or a.created_at), "expires": _expires_text(a), "state": a.state(now)}


# ------------------------------------------------------------------------------------------------ staff answers

async def approve_staff_answer(services, row: QAQuestion, set_name: str, *, source: str, owner_name: str,
                               owner_id: str | None, source_ref: str) -> Approved | None:
    """The staff answer to question `row`, filed in `set_name`, becomes an approved pair. Never raises: the answer
    has been recorded and is being delivered whatever happens here."""
    now = services.clock.now()
    try:
        return await store(services).add(NewApproved(
            set_name=set_name, question=row.question, answer=row.answer or "", source=source,
            expires_at=default_expiry(services, now), owner_name=owner_name, owner_id=owner_id,
            source_ref=source_ref), now=now)
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("staff answer %s could not be approved", row.id)
        return None


# ------------------------------------------------------------------------------------------------ answering

async def answer_from_approved(req: SkillRequest, reply: ReplyPort, services, question: str, sets: list[str], *,
                               vectors: bool, can_escalate: Callable[[Any, str | None], bool]) -> bool:
    """Answer `question` from the closest active approved pair of `sets` (the sets the asker may search), if one is
    close enough: no retrieval, no LLM. Returns False (nothing sent) when none is."""
    settings = settings_of(services)
    now = services.clock.now()
    found = await store(services).match(question, sets, now=now, min_overlap=settings.QA_APPROVED_MIN_OVERLAP,
                                        min_similarity=settings.QA_APPROVED_MIN_SIMILARITY, vectors=vectors)
    if found is None:
        return False
    a = found.approved
    log.info("qa question answered from approved answer %s (overlap %.2f, similarity %s)", a.id, found.overlap,
             found.similarity)
    async with services.db.session() as s:
        row = QAQuestion(user_id=req.user_id, aad_object_id=req.aad_object_id, user_name=req.user_name,
                         conversation_id=req.conversation_id, question=question, set_names=list(sets),
                         target_set=a.set_name, passages=[], status="approved", answer=a.answer,
                         answered_by=(a.owner_name or "")[:200], created_at=now, answered_at=now)
        s.add(row)
        await s.flush()
        qid = row.id
    info = await services.knowledge.get_set(a.set_name)
    set_label = f"{info.title}（{a.set_name}）" if info and info.title and info.title != a.set_name else a.set_name
    escalate = can_escalate(services, a.set_name)
    activity_id = await reply.send_card(
        cards.approved_answer_card(a.question, a.answer, owner=a.owner_name, approved=_date(a.updated_at),
                                   set_label=set_label, expires=_expires_text(a), question_id=qid,
                                   can_escalate=escalate),
        ai_generated=False, feedback=True)
    try:
        async with services.db.session() as s:
            r = await s.get(QAQuestion, qid)
            if r is not None:
                r.answer_activity_id = activity_id
    except Exception as e:
        if not db_unavailable(e):
            raise
        # the user has the answer: a database gone meanwhile must not add "not processed, send again" after it
        log.warning("approved answer %s sent, its message id not recorded (database unavailable)", qid)
    await services.ai.record_offline(req, "qa", outcome="approved")
    return True


# ------------------------------------------------------------------------------------------------ management

async def _may_manage(services, req: SkillRequest, set_name: str) -> bool:
    settings = settings_of(services)
    info = await services.knowledge.get_set(set_name)
    if info is None:            # the set is gone: only a QA administrator may still tidy its pairs
        return (req.aad_object_id or "").strip().lower() in settings.admin_ids
    return can_write(info, req.aad_object_id, settings)


async def _answer(req: SkillRequest, reply: ReplyPort, message: str) -> None:
    if req.is_invoke:
        await reply.refresh_card(qa_cards.notice_card(message))
    else:
        await reply.send_text(message)


async def _show(req: SkillRequest, reply: ReplyPort, card: dict) -> None:
    if req.is_invoke:
        await reply.refresh_card(card)
    else:
        await reply.send_card(card)


async def _list_card(req: SkillRequest, services, set_filter: str, page: int, message: str = "") -> dict | str:
    """The list card of `set_filter` ("" = every set this user manages), or a refusal message."""
    names = [w.name for w in await writable_sets(services, req.aad_object_id)]
    if set_filter:
        if not await _may_manage(services, req, set_filter):
            return S.APPROVED_NOT_ALLOWED.format(set=set_filter)
        scope = [set_filter]
    elif names:
        scope = names
    else:
        return S.APPROVED_NO_SETS
    st = store(services)
    items, total = await st.page(scope, offset=page * PAGE_SIZE, limit=PAGE_SIZE)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page >= pages and total:
        page = pages - 1
        items, total = await st.page(scope, offset=page * PAGE_SIZE, limit=PAGE_SIZE)
    now = services.clock.now()
    return cards.approved_list_card([_item(a, now) for a in items], set_filter=set_filter,
                                    sets_label="、".join(scope), page=page, pages=pages, total=total,
                                    message=message)


async def list_command(req: SkillRequest, reply: ReplyPort, services, args: str) -> None:
    """`/ask 承認済み [セット名]`."""
    set_name = args.strip()
    if set_name and await services.knowledge.get_set(set_name) is None and \
            not (await store(services).page([set_name], limit=1))[1]:
        await reply.send_text(S.REGISTER_UNKNOWN.format(set=set_name))
        return
    card = await _list_card(req, services, set_name, 0)
    if isinstance(card, str):
        await reply.send_text(card)
    else:
        await reply.send_card(card)


async def _refresh_list(req: SkillRequest, reply: ReplyPort, services, message: str = "") -> None:
    card = await _list_card(req, services, str(req.data.get("set") or ""), int(req.data.get("page") or 0), message)
    if isinstance(card, str):
        await _answer(req, reply, card)
    else:
        await _show(req, reply, card)


async def on_list(req: SkillRequest, reply: ReplyPort, services) -> None:
    """verb qa.approved.list {set, page}: paging and 戻る."""
    await _refresh_list(req, reply, services)


async def _pair(req: SkillRequest, reply: ReplyPort, services) -> Approved | None:
    """The pair a button names, when it exists and this user may manage its set (else says why, returns None)."""
    a = await store(services).get(int(req.data["id"]))
    if a is None:
        await _answer(req, reply, S.APPROVED_GONE)
        return None
    if not await _may_manage(services, req, a.set_name):
        await _answer(req, reply, S.APPROVED_NOT_ALLOWED.format(set=a.set_name))
        return None
    return a


def _document_key(a: Approved) -> str | None:
    """The staff-written document the pair was filed as (kintone and Teams answers), if any."""
    m = _QID.match(a.source_ref or "")
    return f"qa-{m.group(1)}" if m and a.source in ("kintone", "teams") else None


async def on_edit(req: SkillRequest, reply: ReplyPort, services) -> None:
    """verb qa.approved.edit {id, set, page[, question, answer, expires]}: without the inputs, the form; with them,
    save (which approves the pair again until the date given, or for QA_APPROVED_DAYS)."""
    a = await _pair(req, reply, services)
    if a is None:
        return
    set_filter, page = str(req.data.get("set") or ""), int(req.data.get("page") or 0)
    now = services.clock.now()
    question, answer = req.data.get("question"), req.data.get("answer")
    day = expiry_date(a.expires_at)
    shown = day.isoformat() if day else ""
    if question is None and answer is None:
        await _show(req, reply, cards.approved_edit_card(_item(a, now), set_filter=set_filter, page=page,
                                                         expires_value=shown))
        return
    question, answer = " ".join(str(question or "").split()), str(answer or "").strip()
    raw = str(req.data.get("expires") or "")
    error = ""
    expires: datetime | None = None
    if not question or not answer:
        error = S.APPROVED_EMPTY
    else:
        try:
            chosen = parse_date(raw)
        except ValueError:
            chosen, error = None, S.APPROVED_BAD_DATE
        if not error:
            today = (as_jst(now) or now).date()
            if chosen is not None and chosen < today:
                error = S.APPROVED_PAST_DATE
            expires = expiry_from_date(chosen) if chosen is not None else default_expiry(services, now)
    if error:
        item = {**_item(a, now), "question": question or a.question, "answer": answer or a.answer}
        await _show(req, reply, cards.approved_edit_card(item, set_filter=set_filter, page=page,
                                                         expires_value=raw or shown, error=error))
        return
    saved = await store(services).update(a.id, now=now, question=question, answer=answer, expires_at=expires)
    if saved is None:
        await _answer(req, reply, S.APPROVED_GONE)
        return
    key = _document_key(saved)
    if key and key in await _documents(services, saved.set_name):
        try:
            await services.knowledge.upsert_document(saved.set_name, "staff", key, saved.question[:200], None,
                                                     f"# {saved.question}\n\n{saved.answer}\n", staff_written=True)
        except SearchError as e:
            log.warning("approved answer %s: document %s not updated: %s", saved.id, key, e.message)
    await _refresh_list(req, reply, services, S.APPROVED_SAVED.format(expires=_expires_text(saved)))


async def _documents(services, set_name: str) -> dict:
    try:
        return await services.knowledge.list_documents(set_name)
    except SearchError:
        return {}


async def on_expire(req: SkillRequest, reply: ReplyPort, services) -> None:
    """verb qa.approved.expire {id, set, page}: the pair stops answering now (its document stays in the set)."""
    a = await _pair(req, reply, services)
    if a is None:
        return
    await store(services).revoke(a.id, now=services.clock.now())
    await _refresh_list(req, reply, services, S.APPROVED_EXPIRED)


async def on_delete(req: SkillRequest, reply: ReplyPort, services) -> None:
    """verb qa.approved.delete {id, set, page[, confirm]}: asks first; confirmed, removes the pair and the
    staff-written document it was filed as."""
    a = await _pair(req, reply, services)
    if a is None:
        return
    set_filter, page = str(req.data.get("set") or ""), int(req.data.get("page") or 0)
    if req.data.get("confirm") is not True:
        await _show(req, reply, cards.approved_delete_card(_item(a, services.clock.now()), set_filter=set_filter,
                                                           page=page))
        return
    await store(services).delete(a.id)
    key = _document_key(a)
    if key:
        try:
            await services.knowledge.delete_document(a.set_name, key)
        except SearchError as e:
            log.warning("approved answer %s: document %s not deleted: %s", a.id, key, e.message)
    await _refresh_list(req, reply, services, S.APPROVED_DELETED)


# ------------------------------------------------------------------------------------------------ CSV import

def wants_import(req: SkillRequest) -> bool:
    """A CSV file sent in chat (the only CSV /ask takes)."""
    return bool(req.attachments) and all(a.name.lower().endswith(".csv") for a in req.attachments)


async def import_csv(req: SkillRequest, reply: ReplyPort, services) -> None:
    """A CSV (質問,回答[,有効期限]) sent with 「承認済み <セット名>」: every row becomes an approved pair of the set,
    owned by the sender — or, when any row has a problem, none does and each problem is listed."""
    text = (req.text or "").replace("　", " ")
    words = text.split()
    if not any(w in S.APPROVED_WORDS for w in words):
        await reply.send_text(S.APPROVED_CSV_WORDS)
        return
    if not req.personal:
        await reply.send_text(S.UPLOAD_PERSONAL_ONLY)
        return
    if len(req.attachments) != 1:
        await reply.send_text(S.APPROVED_CSV_ONE)
        return
    writable = [w.name for w in await writable_sets(services, req.aad_object_id)]
    named = [w for w in words if w not in S.APPROVED_WORDS and not w.startswith("/")]
    if named:
        target = named[0]
        if target not in writable:
            unknown = await services.knowledge.get_set(target) is None
            await reply.send_text(S.REGISTER_UNKNOWN.format(set=target) if unknown
                                  else S.APPROVED_NOT_ALLOWED.format(set=target))
            return
    elif len(writable) == 1:
        target = writable[0]
    elif not writable:
        await reply.send_text(S.APPROVED_NO_SETS)
        return
    else:
        await reply.send_text(S.APPROVED_CSV_WHICH.format(example=writable[0], sets="、".join(writable)))
        return
    f = req.attachments[0]
    settings = settings_of(services)
    try:
        data = await file_bytes(settings, f.name, f.download_url, f.content)
    except DownloadError as e:
        await reply.send_text(e.message)
        return
    now = services.clock.now()
    rows, errors = read_csv(data, today=(as_jst(now) or now).date())
    if errors:
        shown = errors[:20] + ([f"ほか{len(errors) - 20}件"] if len(errors) > 20 else [])
        await reply.send_text(S.APPROVED_CSV_FAILED + "\n" + "\n".join(f"・{e}" for e in shown))
        return
    default = default_expiry(services, now)
    items = [NewApproved(set_name=target, question=r.question, answer=r.answer, source="csv",
                         expires_at=expiry_from_date(r.expires) if r.expires else default,
                         owner_name=req.user_name or "", owner_id=req.aad_object_id,
                         source_ref=f"{f.name[:150]}:{r.line}") for r in rows]
    await store(services).add_many(items, now=now)
    await reply.send_text(S.APPROVED_CSV_DONE.format(set=target, n=len(items)))
