"""Answering a question from the registered documents: retrieve, decide whether retrieval is strong enough, ask
the model for a cited answer, check the citations, and reply (or decline and offer the hand-off to staff)."""
from __future__ import annotations

import logging
from dataclasses import replace

from cards import qa as qa_cards
from core.ai import AIFailed, AIRefused
from core.knowledge.answer import Grounded, WeakRule, citation_for, passages_from_hits
from core.knowledge.answer import ground as ground_answer
from core.knowledge.answer import min_similarity as configured_or_default_similarity
from core.search.passages import Passage, passage_label
from core.skills import ReplyPort, SkillRequest
from core.store.db import unavailable as db_unavailable
from core.store.models import utcnow
from skills.prompts import load, render
from skills.qa import strings as S
from skills.qa.approved import answer_from_approved
from skills.qa.models import QAQuestion
from skills.qa.service import search_scope, settings_of
from skills.qa.understanding import retrieve

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
STORED_PASSAGE_CHARS = 800    # per candidate passage kept for the hand-off
OFFLINE_PASSAGES = 3


def build_messages(question: str, passages: list[Passage]) -> list[dict]:
    blocks = []
    for p in passages:
        head = f"[{p.n}] {passage_label(p)}" + ("（職員が回答した内容）" if p.staff_written else "")
        blocks.append(f"{head}\n{p.text}")
    user = render("qa", "answer_user", passages="\n\n".join(blocks), question=question)
    return [{"role": "system", "content": load("qa", "answer_system")}, {"role": "user", "content": user}]


def ground(answer: str, n_passages: int) -> Grounded:
    """Keep only citations of passages that exist, renumber them 1..k in order of first use, drop the others."""
    return ground_answer(answer, n_passages, decline=S.DECLINE)


def can_escalate(services, target_set: str | None) -> bool:
    if services.kintone.configured:
        return True
    return settings_of(services).fallback_channel([target_set] if target_set else []) is not None


def min_similarity(services) -> float | None:
    """QA_MIN_SIMILARITY when set; else the value measured for the in-process model when it embeds; else off
    (an endpoint's model has its own cosine scale: measure it before setting QA_MIN_SIMILARITY)."""
    return configured_or_default_similarity(services, settings_of(services).QA_MIN_SIMILARITY)


def weak_rule(services, *, hybrid: bool) -> WeakRule:
    s = settings_of(services)
    return WeakRule(min_coverage=s.QA_MIN_COVERAGE, min_score=s.QA_MIN_SCORE, bm25_only=not hybrid,
                    min_similarity=min_similarity(services), min_lift=s.QA_MIN_LIFT)


async def _save(services, row: QAQuestion) -> QAQuestion:
    async with services.db.session() as s:
        s.add(row)
        await s.flush()
    return row


async def _update(services, qid: int, **values) -> None:
    async with services.db.session() as s:
        row = await s.get(QAQuestion, qid)
        if row is not None:
            for k, v in values.items():
                setattr(row, k, v)


async def ask(req: SkillRequest, reply: ReplyPort, services, question: str) -> None:
    question = " ".join(question.split())[:MAX_QUESTION_CHARS]
    scope = await search_scope(services, req.aad_object_id, req.conversation_id)
    if not scope.sets:
        await reply.send_text(S.NO_SETS)
        return
    # The question is embedded by the default tier's endpoint only: one the user chose another tier for stays off it.
    # The in-process model sends nothing anywhere, so it embeds every question.
    same_tier = req.tier in (None, services.ai.embeddings_tier) or services.ai.embeds_locally
    # a question close to a staff-approved answer gets that answer: no retrieval, no LLM
    if await answer_from_approved(req, reply, services, question, scope.sets, vectors=same_tier,
                                  can_escalate=can_escalate):
        return
    # with an LLM the question is also rewritten into search queries and the candidates re-ranked (understanding.py)
    hybrid = same_tier and services.knowledge.embed is not None
    found = await retrieve(req, services, question, scope.sets, vectors=same_tier,
                           rule=weak_rule(services, hybrid=hybrid))
    hits = found.hits
    # no question vector (BM25 mode, another tier, the embedder failed): the results card says キーワード検索のみ
    keyword_only = all(h.similarity is None for h in hits)
    passages = passages_from_hits(hits)
    target = hits[0].set_name if hits else (scope.sets[0] if len(scope.sets) == 1 else None)
    row = await _save(services, QAQuestion(
        user_id=req.user_id, aad_object_id=req.aad_object_id, user_name=req.user_name,
        conversation_id=req.conversation_id, question=question, set_names=list(scope.sets), target_set=target,
        passages=[replace(p, text=p.text[:STORED_PASSAGE_CHARS]).to_json() for p in passages], status="unanswered",
        created_at=services.clock.now()))
    escalate = can_escalate(services, target)

    if found.weak:
        await reply.send_card(qa_cards.declined_card(
            S.NOT_FOUND, row.id, offer=S.ESCALATE_OFFER if escalate else S.ESCALATE_NONE, can_escalate=escalate,
            show_message=False),
            text=S.NOT_FOUND)
        return

    if services.ai.offline:
        await services.ai.record_offline(req, "qa")
        await _search_results(reply, services, row.id, passages, escalate, keyword_only)
        return

    await reply.inform("登録文書を確認して回答を作成しています…")
    try:
        answer = await services.ai.chat(req, "qa", build_messages(question, passages), temperature=0.1)
    except (AIRefused, AIFailed) as e:
        await reply.send_text(e.message_ja + "\n" + S.AI_BUSY_FALLBACK)
        await _search_results(reply, services, row.id, passages, escalate, keyword_only)
        return

    g = ground(answer.text, len(passages))
    if g.declined or not g.used:
        log.info("qa answer declined (model said so: %s, citations: %s)", g.declined, len(g.used))
        message = S.NOT_FOUND if g.declined else S.UNGROUNDED
        await reply.send_card(qa_cards.declined_card(
            message, row.id, offer=S.ESCALATE_OFFER if escalate else S.ESCALATE_NONE, can_escalate=escalate,
            show_message=False),
            text=message)
        return
    cited = [passages[n - 1] for n in g.used]
    citations = [citation_for(i, p) for i, p in enumerate(cited, start=1)]
    staff = any(p.staff_written for p in cited)
    activity_id = await reply.send_card(
        qa_cards.answer_card(row.id, staff_written=staff, masked_note=answer.masked_note, can_escalate=escalate),
        text=g.text, ai_generated=True, citations=citations, feedback=True)
    await _update_after_reply(services, row.id, status="answered", answer=g.text, answer_activity_id=activity_id,
                              answered_at=utcnow(), target_set=cited[0].set_name or target)


async def _update_after_reply(services, qid: int, **values) -> None:
    """Record what was sent. The user already has the answer: a database that went away meanwhile must not turn it
    into a message saying it was not processed (they would ask again). The row keeps its earlier state."""
    try:
        await _update(services, qid, **values)
    except Exception as e:
        if not db_unavailable(e):
            raise
        log.warning("qa question %s: answer sent, its record not updated (database unavailable)", qid)


async def _search_results(reply: ReplyPort, services, qid: int, passages: list[Passage], escalate: bool,
                          keyword_only: bool) -> None:
    """One message: the card carries the label, the lead and the passages (no text list repeating them)."""
    shown = passages[:OFFLINE_PASSAGES]
    activity_id = await reply.send_card(
        qa_cards.search_results_card(shown, qid, lead=S.OFFLINE_LEAD, can_escalate=escalate,
                                     offline=services.ai.offline, keyword_only=keyword_only),
        ai_generated=False, citations=[citation_for(p.n, p) for p in shown], feedback=False)
    await _update_after_reply(services, qid, status="offline", answer_activity_id=activity_id)
