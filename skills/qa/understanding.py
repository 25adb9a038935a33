"""Question understanding with an LLM (issue #15): the retrieval step of /ask.

1. rewrite: one small LLM call turns the question into up to 2 more search queries (the question itself is always
   searched too); each is searched and the result lists are merged by reciprocal rank fusion, deduplicated by chunk;
2. rerank: the top QA_RERANK_CANDIDATES are re-ordered by the rerank endpoint (RERANK_BASE_URL) when one serves the
   question's tier, else by one LLM call returning the numbers of the relevant passages in order.

Every call goes through `services.ai` (guard: 禁止ワード, masking, the question's tier) and is audited as a step of the
use (outcome "step", reason "rewrite" / "rerank", tokens, latency). Any failure keeps what came before (the question as
asked, the fused order): a step never fails the answer. With no LLM configured none of this runs."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from cards import qa as qa_cards
from core.ai import AIFailed, AIRefused
from core.search.index import Hit
from core.search.passages import Passage
from core.search.rerank import RerankClient, RerankSettings
from core.skills import SkillRequest
from skills.prompts import load, render
from skills.qa.service import settings_of

log = logging.getLogger(__name__)

MAX_EXTRA_QUERIES = 2        # besides the question itself
QUERY_CHARS = 100
RRF_K = 60                   # the usual reciprocal rank fusion constant
ENDPOINT_CHARS = 1000        # per passage sent to a rerank endpoint (cross-encoders read ~512 tokens)
LLM_CHARS = 240              # per passage given to the model for re-ranking (20 x 240 chars ~ 3-4k tokens)
REWRITE_MAX_TOKENS = 200
RERANK_MAX_TOKENS = 200

_JSON = re.compile(r"\{.*\}", re.S)


@dataclass
class Retrieval:
    hits: list[Hit]                       # the passages for the answer, best first (at most QA_TOP_K)
    weak: bool                            # too weak to answer from (every query's own results were weak)
    queries: list[str] = field(default_factory=list)
    reranked_by: str = ""                 # "endpoint" | "llm" | "" (search order)


def rerank_client(services) -> RerankClient:
    """The process's rerank client, its settings read once."""
    return services.extra("qa.rerank", lambda: RerankClient(services.settings.get(RerankSettings)))


async def retrieve(req: SkillRequest, services, question: str, sets: Sequence[str], *, vectors: bool,
                   weak: Callable[[list[Hit]], bool]) -> Retrieval:
    s = settings_of(services)
    use_llm = not services.ai.offline
    do_rewrite, do_rerank = use_llm and s.QA_REWRITE, use_llm and s.QA_RERANK
    if not (do_rewrite or do_rerank):
        hits = await services.knowledge.search(question, sets, k=s.QA_TOP_K, vectors=vectors)
        return Retrieval(hits, weak(hits), [question])
    extra = await rewrite(req, services, question) if do_rewrite else []
    if extra is None:           # the guard refused (禁止ワード, no endpoint for the tier): so would re-ranking
        do_rerank, extra = False, []
    queries = [question] + extra
    k = max(s.QA_TOP_K, s.QA_RERANK_CANDIDATES)
    lists = [await services.knowledge.search(q, sets, k=k, vectors=vectors) for q in queries]
    # another wording may find what the question's own words miss (打って → 接種): weak only when every list is
    is_weak = all(weak(hits) for hits in lists)
    fused = fuse(lists)
    if is_weak or not do_rerank or len(fused) < 2:
        return Retrieval(fused[:s.QA_TOP_K], is_weak, queries)
    ranked, by = await rerank(req, services, question, fused[:s.QA_RERANK_CANDIDATES])
    return Retrieval(ranked[:s.QA_TOP_K], is_weak, queries, by)


def fuse(lists: list[list[Hit]]) -> list[Hit]:
    """Reciprocal rank fusion of result lists, one entry per chunk (the first list's hit object is kept, so its
    coverage and similarity are those of the earliest query that found it)."""
    scores: dict[int, float] = {}
    first: dict[int, Hit] = {}
    for hits in lists:
        for rank, h in enumerate(hits, start=1):
            scores[h.chunk_id] = scores.get(h.chunk_id, 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(h.chunk_id, h)
    order = sorted(first, key=lambda cid: -scores[cid])       # stable: ties keep first-seen order
    return [first[cid] for cid in order]


async def rewrite(req: SkillRequest, services, question: str) -> list[str] | None:
    """Up to MAX_EXTRA_QUERIES search queries other than the question; [] on any failure, None when the guard
    refused the call (nothing was sent)."""
    messages = [{"role": "system", "content": load("qa", "rewrite_system")},
                {"role": "user", "content": question}]
    try:
        answer = await services.ai.chat(req, "qa", messages, temperature=0.0, max_tokens=REWRITE_MAX_TOKENS,
                                        timeout=settings_of(services).QA_STEP_TIMEOUT_SECONDS, step="rewrite")
    except AIRefused as e:
        log.info("qa rewrite refused: %s", e.reason)
        return None
    except AIFailed as e:
        log.info("qa rewrite failed: %s", e.kind)
        return []
    raw = _json_object(answer.text).get("queries")
    out: list[str] = []
    seen = {_norm(question)}
    for q in raw if isinstance(raw, list) else []:
        if not isinstance(q, str):
            continue
        q = " ".join(q.split())[:QUERY_CHARS]
        if q and _norm(q) not in seen:
            seen.add(_norm(q))
            out.append(q)
    if not out:
        log.info("qa rewrite gave no usable query")
    return out[:MAX_EXTRA_QUERIES]


async def rerank(req: SkillRequest, services, question: str, hits: list[Hit]) -> tuple[list[Hit], str]:
    """`hits` re-ordered by the rerank endpoint, else by the LLM, else as they were."""
    client = rerank_client(services)
    if client.configured:
        docs = [_passage_text(h, ENDPOINT_CHARS) for h in hits]
        try:
            order = await services.ai.rerank(req, question, docs, client=client)
            return apply_order(hits, order), "endpoint"
        except AIRefused as e:
            if e.reason == "forbidden_word":        # the LLM would refuse it too
                return hits, ""
            log.info("qa rerank endpoint not used: %s", e.reason)
        except AIFailed as e:
            log.warning("qa rerank endpoint failed (%s): re-ranking with the LLM", e.kind)
    blocks = "\n\n".join(f"[{i}] {_passage_text(h, LLM_CHARS)}" for i, h in enumerate(hits, start=1))
    messages = [{"role": "system", "content": load("qa", "rerank_system")},
                {"role": "user", "content": render("qa", "rerank_user", question=question, passages=blocks)}]
    try:
        answer = await services.ai.chat(req, "qa", messages, temperature=0.0, max_tokens=RERANK_MAX_TOKENS,
                                        timeout=settings_of(services).QA_STEP_TIMEOUT_SECONDS, step="rerank")
    except (AIRefused, AIFailed) as e:
        log.info("qa LLM rerank skipped: %s", getattr(e, "reason", None) or getattr(e, "kind", ""))
        return hits, ""
    raw = _json_object(answer.text).get("ranking")
    order = [n - 1 for n in raw if isinstance(n, int) and not isinstance(n, bool)] if isinstance(raw, list) else []
    if not any(0 <= i < len(hits) for i in order):
        log.info("qa LLM rerank gave no usable ranking: search order kept")
        return hits, ""
    return apply_order(hits, order), "llm"


def apply_order(hits: list[Hit], order: list[int]) -> list[Hit]:
    """The hits named by `order` (0-based, best first; invalid and repeated indices ignored), then the others in
    their previous order: a re-ranker that leaves a passage out demotes it, never loses it."""
    picked = [i for i in dict.fromkeys(order) if 0 <= i < len(hits)]
    chosen = set(picked)
    rest = [i for i in range(len(hits)) if i not in chosen]
    return [hits[i] for i in picked + rest]


def _passage_text(h: Hit, chars: int) -> str:
    p = Passage.from_hit(h, 1, chars=chars)
    return f"{qa_cards.passage_label(p)}\n{' '.join(p.text.split())}"


def _json_object(text: str) -> dict[str, Any]:
    m = _JSON.search(text or "")
    if not m:
        return {}
    try:
        value = json.loads(m.group(0))
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _norm(q: str) -> str:
    return re.sub(r"[\s？?。、,．.！!]", "", q).casefold()
