"""The answer pipeline over the one knowledge index, shared by every front end that answers from documents (/ask for
staff, the residents' chatbot on the city's website): retrieve, judge whether retrieval is strong enough, and check
the citations of the model's answer. What differs between front ends — their prompts, thresholds, the sets they may
search, how they reply — is passed in; the steps are the same code.

Retrieval (question understanding, issue #15), with an LLM:

1. rewrite: one small LLM call turns the question into up to 2 more search queries (the question itself is always
   searched too); each is searched and the result lists are merged by reciprocal rank fusion, deduplicated by chunk;
2. rerank: the top `candidates` are re-ordered by the rerank endpoint (RERANK_BASE_URL) when one serves the
   question's tier, else by one LLM call returning the numbers of the relevant passages in order.

Every call goes through `services.ai` (guard: 禁止ワード, masking, the question's tier) and is audited as a step of the
use (outcome "step", reason "rewrite" / "rerank", tokens, latency). Any failure keeps what came before (the question as
asked, the fused order): a step never fails the answer. With no LLM configured none of this runs."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from core.ai import AIFailed, AIRefused
from core.search.index import Hit
from core.search.passages import Passage, passage_label
from core.search.rerank import RerankClient, RerankSettings
from core.skills import Citation, SkillRequest

log = logging.getLogger(__name__)

PASSAGE_CHARS = 1200         # per passage given to the model
MAX_EXTRA_QUERIES = 2        # besides the question itself
QUERY_CHARS = 100
RRF_K = 60                   # the usual reciprocal rank fusion constant
ENDPOINT_CHARS = 1000        # per passage sent to a rerank endpoint (cross-encoders read ~512 tokens)
LLM_CHARS = 240              # per passage given to the model for re-ranking (20 x 240 chars ~ 3-4k tokens)
REWRITE_MAX_TOKENS = 200
RERANK_MAX_TOKENS = 200
RERANK_KEY = "qa.rerank"     # the process's rerank client in services.extras (one for every front end)
# With an LLM to judge the passages, how far the weak-retrieval rule is relaxed (`weak_retrieval`, judged=True).
# Chosen on bench/retrieval_eval.py's sets 1-7; on all ten sets (docs/embeddings.md), at the defaults (cosine
# 0.86 - 0.02, lift 0.30 - 0.08), 94.9 % of in-scope questions reach the model and 84.9 % of out-of-scope ones are
# still declined by the rule alone with the in-process model; 88.2 % and 89.4 % with the same model behind an
# endpoint (lift only).
JUDGED_LIFT_MARGIN = 0.08
JUDGED_SIMILARITY_MARGIN = 0.02

_MARKER = re.compile(r"[\[［]\s*([0-9０-９]{1,2}(?:\s*[,，、]\s*[0-9０-９]{1,2})*)\s*[\]］]")
_FW_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_JSON = re.compile(r"\{.*\}", re.S)


# ------------------------------------------------------------------------------------------------ options

@dataclass(frozen=True)
class RetrievalPrompts:
    """The front end's prompts for the two understanding steps: system prompts, and the re-ranking user message
    with {question} and {passages}."""

    rewrite_system: str
    rerank_system: str
    rerank_user: str


@dataclass(frozen=True)
class RetrievalOptions:
    skill: str                     # the audit's skill name for the steps' LLM calls
    top_k: int                     # passages kept for the answer
    rewrite: bool                  # with an LLM: rewrite the question into more search queries
    rerank: bool                   # with an LLM: re-rank the fused candidates
    candidates: int                # passages retrieved per query and re-ranked
    step_timeout: float            # seconds per understanding call
    prompts: RetrievalPrompts


@dataclass
class Retrieval:
    hits: list[Hit]                       # the passages for the answer, best first (at most top_k)
    weak: bool                            # too weak to answer from (every query's own results were weak)
    queries: list[str] = field(default_factory=list)
    reranked_by: str = ""                 # "endpoint" | "llm" | "" (search order)


# ------------------------------------------------------------------------------------------------ retrieval

def rerank_client(services) -> RerankClient:
    """The process's rerank client, its settings read once."""
    return services.extra(RERANK_KEY, lambda: RerankClient(services.settings.get(RerankSettings)))


async def retrieve(req: SkillRequest, services, question: str, sets: Sequence[str], *, vectors: bool,
                   rule: WeakRule, options: RetrievalOptions) -> Retrieval:
    """The passages of `sets` (and only those) for `question`, with the understanding steps when an LLM is
    configured and `options` ask for them. With an LLM the model reads the passages and declines itself when they
    do not answer, so `rule` keeps only clearly unrelated passages from it (`WeakRule.weak`, `judged`)."""
    use_llm = not services.ai.offline

    def weak(hits: list[Hit]) -> bool:
        return rule.weak(hits, judged=use_llm)

    do_rewrite, do_rerank = use_llm and options.rewrite, use_llm and options.rerank
    if not (do_rewrite or do_rerank):
        hits = await services.knowledge.search(question, sets, k=options.top_k, vectors=vectors)
        return Retrieval(hits, weak(hits), [question])
    extra = await rewrite(req, services, question, options) if do_rewrite else []
    if extra is None:           # the guard refused (禁止ワード, no endpoint for the tier): so would re-ranking
        do_rerank, extra = False, []
    queries = [question] + extra
    k = max(options.top_k, options.candidates)
    lists = [await services.knowledge.search(q, sets, k=k, vectors=vectors) for q in queries]
    # another wording may find what the question's own words miss (打って → 接種): weak only when every list is
    is_weak = all(weak(hits) for hits in lists)
    fused = fuse(lists)
    if is_weak or not do_rerank or len(fused) < 2:
        return Retrieval(fused[:options.top_k], is_weak, queries)
    ranked, by = await rerank(req, services, question, fused[:options.candidates], options)
    return Retrieval(ranked[:options.top_k], is_weak, queries, by)


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


async def rewrite(req: SkillRequest, services, question: str, options: RetrievalOptions) -> list[str] | None:
    """Up to MAX_EXTRA_QUERIES search queries other than the question; [] on any failure, None when the guard
    refused the call (nothing was sent)."""
    messages = [{"role": "system", "content": options.prompts.rewrite_system},
                {"role": "user", "content": question}]
    try:
        answer = await services.ai.chat(req, options.skill, messages, temperature=0.0, max_tokens=REWRITE_MAX_TOKENS,
                                        timeout=options.step_timeout, step="rewrite")
    except AIRefused as e:
        log.info("%s rewrite refused: %s", options.skill, e.reason)
        return None
    except AIFailed as e:
        log.info("%s rewrite failed: %s", options.skill, e.kind)
        return []
    raw = json_object(answer.text).get("queries")
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
        log.info("%s rewrite gave no usable query", options.skill)
    return out[:MAX_EXTRA_QUERIES]


async def rerank(req: SkillRequest, services, question: str, hits: list[Hit], options: RetrievalOptions
                 ) -> tuple[list[Hit], str]:
    """`hits` re-ordered by the rerank endpoint, else by the LLM, else as they were."""
    client = rerank_client(services)
    if client.configured:
        docs = [passage_text(h, ENDPOINT_CHARS) for h in hits]
        try:
            order = await services.ai.rerank(req, question, docs, client=client, skill=options.skill)
            return apply_order(hits, order), "endpoint"
        except AIRefused as e:
            if e.reason == "forbidden_word":        # the LLM would refuse it too
                return hits, ""
            log.info("%s rerank endpoint not used: %s", options.skill, e.reason)
        except AIFailed as e:
            log.warning("%s rerank endpoint failed (%s): re-ranking with the LLM", options.skill, e.kind)
    blocks = "\n\n".join(f"[{i}] {passage_text(h, LLM_CHARS)}" for i, h in enumerate(hits, start=1))
    messages = [{"role": "system", "content": options.prompts.rerank_system},
                {"role": "user", "content": fill(options.prompts.rerank_user, question=question, passages=blocks)}]
    try:
        answer = await services.ai.chat(req, options.skill, messages, temperature=0.0, max_tokens=RERANK_MAX_TOKENS,
                                        timeout=options.step_timeout, step="rerank")
    except (AIRefused, AIFailed) as e:
        log.info("%s LLM rerank skipped: %s", options.skill, getattr(e, "reason", None) or getattr(e, "kind", ""))
        return hits, ""
    raw = json_object(answer.text).get("ranking")
    order = [n - 1 for n in raw if isinstance(n, int) and not isinstance(n, bool)] if isinstance(raw, list) else []
    if not any(0 <= i < len(hits) for i in order):
        log.info("%s LLM rerank gave no usable ranking: search order kept", options.skill)
        return hits, ""
    return apply_order(hits, order), "llm"


def apply_order(hits: list[Hit], order: list[int]) -> list[Hit]:
    """The hits named by `order` (0-based, best first; invalid and repeated indices ignored), then the others in
    their previous order: a re-ranker that leaves a passage out demotes it, never loses it."""
    picked = [i for i in dict.fromkeys(order) if 0 <= i < len(hits)]
    chosen = set(picked)
    rest = [i for i in range(len(hits)) if i not in chosen]
    return [hits[i] for i in picked + rest]


def passage_text(h: Hit, chars: int) -> str:
    p = Passage.from_hit(h, 1, chars=chars)
    return f"{passage_label(p)}\n{' '.join(p.text.split())}"


# ------------------------------------------------------------------------------------------------ judging retrieval

def min_similarity(services, configured: float | None) -> float | None:
    """The similarity above which a weak-coverage passage is still answered from: the caller's setting when set;
    else the value measured for the in-process model when it embeds; else off (an endpoint's model has its own
    cosine scale: measure it before setting one)."""
    if configured is not None:
        return configured
    from core import embeddings

    return embeddings.DEFAULT_MIN_SIMILARITY if services.ai.embeds_locally else None


def weak_retrieval(hits: list[Hit], *, min_coverage: float, min_score: float, bm25_only: bool,
                   min_similarity: float | None = None, min_lift: float | None = None, judged: bool = False) -> bool:
    """Too weak to answer from: nothing found, the best passage covers too little of the question, or (BM25 only,
    where the score means something absolute) it scores too low. In hybrid mode a passage whose meaning is close
    enough counts even when few of its words match (「打って」 for 「接種」): its cosine is at least `min_similarity`
    (model-specific), or its lift — how far it stands above the question's average similarity to the passages
    searched, 0–1 (`Hit.lift`) — is at least `min_lift`, which needs no knowledge of the model's cosine scale.

    `judged`: an LLM will read the passages and decline itself when they do not answer, so a borderline passage
    (cosine or lift within JUDGED_SIMILARITY_MARGIN, JUDGED_LIFT_MARGIN of their thresholds) is left to it; only
    clearly unrelated ones are kept from it. bench/retrieval_eval.py measures both errors, for both cases."""
    if not hits:
        return True
    top = hits[0]
    if top.coverage >= min_coverage:
        return bm25_only and top.score < min_score
    if judged:
        min_similarity = None if min_similarity is None else min_similarity - JUDGED_SIMILARITY_MARGIN
        min_lift = None if min_lift is None else min_lift - JUDGED_LIFT_MARGIN
    close = min_similarity is not None and top.similarity is not None and top.similarity >= min_similarity
    lifted = min_lift is not None and top.lift is not None and top.lift >= min_lift
    return not (close or lifted)


@dataclass(frozen=True)
class WeakRule:
    """A front end's weak-retrieval thresholds (its settings), applied by `retrieve` to every query's results."""

    min_coverage: float
    min_score: float
    bm25_only: bool
    min_similarity: float | None = None
    min_lift: float | None = None

    def weak(self, hits: list[Hit], *, judged: bool = False) -> bool:
        return weak_retrieval(hits, min_coverage=self.min_coverage, min_score=self.min_score,
                              bm25_only=self.bm25_only, min_similarity=self.min_similarity, min_lift=self.min_lift,
                              judged=judged)


# ------------------------------------------------------------------------------------------------ the answer

@dataclass(frozen=True)
class Grounded:
    text: str                 # the answer with markers renumbered to the passages actually cited
    used: list[int]           # original passage numbers (1-based) in their new order
    declined: bool            # the model said it cannot answer from the documents


def passages_from_hits(hits: list[Hit], limit: int = PASSAGE_CHARS) -> list[Passage]:
    return [Passage.from_hit(h, i, chars=limit) for i, h in enumerate(hits, start=1)]


def ground(answer: str, n_passages: int, *, decline: str) -> Grounded:
    """Keep only citations of passages that exist, renumber them 1..k in order of first use, drop the others.
    `decline` is the phrase the front end's prompt tells the model to use when the passages do not answer."""
    order: list[int] = []

    def repl(m: re.Match) -> str:
        nums = [int(x) for x in re.split(r"\s*[,，、]\s*", m.group(1).translate(_FW_DIGITS))]
        valid = [n for n in dict.fromkeys(nums) if 1 <= n <= n_passages]
        out = ""
        for n in valid:
            if n not in order:
                order.append(n)
            out += f"[{order.index(n) + 1}]"
        return out

    text = _MARKER.sub(repl, answer or "").strip()
    text = re.sub(r"[ \t]+\n", "\n", text)
    declined = re.sub(r"\s+", "", decline) in re.sub(r"\s+", "", answer or "")
    return Grounded(text=text, used=order, declined=declined)


def citation_for(position: int, p: Passage) -> Citation:
    name = ("【職員回答】" if p.staff_written else "") + passage_label(p)
    excerpt = " ".join(p.text.split())
    return Citation(position=position, name=name[:80], url=p.web_url, abstract=excerpt[:160])


# ------------------------------------------------------------------------------------------------ helpers

def fill(template: str, **values: str) -> str:
    """A prompt with {placeholders} filled (other braces are left alone)."""
    for k, v in values.items():
        template = template.replace("{" + k + "}", str(v))
    return template


def json_object(text: str) -> dict[str, Any]:
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
