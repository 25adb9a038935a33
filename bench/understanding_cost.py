"""What question understanding (#15) adds to one /ask: tokens and milliseconds of the rewrite and the re-ranking.

    .venv/bin/python bench/understanding_cost.py [--questions 20] [--embeddings]

/ask runs for real (skills.qa handler, guard, audit, SQLite) on the Kyoto vaccine FAQ set (shared testdata) with the
first N of its questions from bench/data/municipal_questions.jsonl, against the loopback stand-ins: the OpenAI
stand-in (real `openai` client) and the rerank stand-in (real aiohttp), in three modes: off (the baseline), rewrite +
LLM re-ranking (no RERANK_BASE_URL), rewrite + rerank endpoint. Tokens and ms per step come from the audit records
(UsageEvent, outcome "step"), exactly what an administrator would read.

Tokens: the stand-in counts what it receives like a GPT-4o-class tokeniser would for Japanese (1 token per non-ASCII
character, 1 per 4 ASCII characters: an over-estimate) and answers the rewrite with two queries, the re-ranking with
five numbers; the rerank stand-in reports the query's tokens once per document plus the documents'. ms: loopback, so this is our own overhead (guard, masking, HTTP, the extra searches and embeddings);
a real model's generation time comes on top (~0.5–2 s for a 30-token rewrite on a hosted small model). --embeddings
turns on the in-process embeddings (hybrid search: each extra query is embedded too)."""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.retrieval_eval import municipal_docs, municipal_questions  # noqa: E402
from core.search.rerank import RerankSettings  # noqa: E402
from core.store import Database  # noqa: E402
from core.store.models import UsageEvent  # noqa: E402
from skills.qa.handler import handle  # noqa: E402
from skills.qa.settings import QASettings  # noqa: E402
from tests.harness import RecorderPort, make_request, make_services  # noqa: E402
from tests.standins.openai_server import OpenAIStandIn  # noqa: E402
from tests.standins.rerank import RerankStandIn  # noqa: E402

SET = "kyoto-vaccine"


def approx_tokens(s: str) -> int:
    ascii_chars = sum(1 for ch in s if ord(ch) < 128)
    return (len(s) - ascii_chars) + (ascii_chars + 3) // 4


def brain(body: dict) -> dict:
    msgs = body["messages"]
    prompt = sum(4 + approx_tokens(m["content"]) for m in msgs if isinstance(m.get("content"), str)) + 3
    system = msgs[0]["content"]
    if "検索クエリ" in system:
        text = json.dumps({"queries": ["新型コロナワクチン 接種 費用", "予防接種 回数 間隔"]}, ensure_ascii=False)
    elif "役立つ順" in system:
        text = '{"ranking": [2, 1, 4, 3, 5]}'
    else:
        text = "ワクチンの接種は無料です[1]。"
    return {"text": text, "prompt_tokens": prompt, "completion_tokens": approx_tokens(text)}


async def run_mode(mode: str, questions: list[str], docs, llm: OpenAIStandIn, rr: RerankStandIn,
                   embeddings: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await db.migrate()
        services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url,
                                              "LLM_MAX_RETRIES": "0",
                                              "EMBEDDINGS_LOCAL": "true" if embeddings else "false"})
        on = mode != "off"
        services.settings.put(QASettings(_env_file=None, QA_REWRITE=on, QA_RERANK=on))
        services.settings.put(RerankSettings(_env_file=None, RERANK_BASE_URL=rr.base_url if mode == "endpoint"
                                             else None))
        await services.knowledge.create_set(SET, title="京都市ワクチンFAQ")
        for set_name, key, title, md in docs:
            if set_name == SET:
                await services.knowledge.upsert_document(SET, "folder", key, title, None, md)
        await asks(services, questions[:1])          # warm-up (analyser, model), not counted
        async with services.db.session() as s:
            first = (await s.scalar(select(UsageEvent.id).order_by(UsageEvent.id.desc()).limit(1))) or 0
        walls = await asks(services, questions)
        async with services.db.session() as s:
            rows = list(await s.scalars(select(UsageEvent).where(UsageEvent.id > first,
                                                                 UsageEvent.outcome == "step")))
        await services.llm.close()
        await db.dispose()
    per_step: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        step = (r.reason or "").split(":")[0] + (" (endpoint)" if r.endpoint == "rerank" else "")
        d = per_step.setdefault(step, {"tokens": [], "ms": [], "failed": []})
        d["tokens"].append(r.prompt_tokens + r.completion_tokens)
        d["ms"].append(r.latency_ms)
        d["failed"].append(float(":" in (r.reason or "")))
    return {"wall": walls, "steps": per_step}


async def asks(services, questions: list[str]) -> list[float]:
    walls = []
    for q in questions:
        start = time.perf_counter()
        await handle(make_request(q, command="ask"), RecorderPort(), services)
        walls.append((time.perf_counter() - start) * 1000.0)
    return walls


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else 0.0


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--embeddings", action="store_true", help="in-process embeddings (hybrid search)")
    args = ap.parse_args()
    docs = municipal_docs()
    questions = [q for s, q, _ in municipal_questions(docs) if s == SET][:args.questions]
    llm = await OpenAIStandIn(default=brain).start()
    # a cross-encoder reads the query with each document: that many tokens
    rr = await RerankStandIn(tokens=lambda b: sum(approx_tokens(b["query"]) + approx_tokens(d) + 3
                                                  for d in b["documents"])).start()
    try:
        results = {m: await run_mode(m, questions, docs, llm, rr, args.embeddings) for m in ("off", "llm", "endpoint")}
    finally:
        await llm.stop()
        await rr.stop()
    n = len(questions)
    base = statistics.mean(results["off"]["wall"])
    print(f"{n} questions, set {SET}, search: {'hybrid (in-process embeddings)' if args.embeddings else 'BM25'}; "
          f"loopback stand-ins (ms = our overhead; the model's own time comes on top)")
    print(f"{'mode':<26}{'step':<20}{'calls/q':>8}{'tokens/q':>10}{'p95 tok':>9}{'ms/q':>8}{'p95 ms':>8}")
    for mode, label in (("llm", "rewrite + LLM rerank"), ("endpoint", "rewrite + rerank endpoint")):
        res = results[mode]
        for step, d in sorted(res["steps"].items()):
            print(f"{label:<26}{step:<20}{len(d['tokens']) / n:>8.2f}{sum(d['tokens']) / n:>10.0f}"
                  f"{p(d['tokens'], 0.95):>9.0f}{sum(d['ms']) / n:>8.1f}{p(d['ms'], 0.95):>8.1f}")
        wall = statistics.mean(res["wall"])
        print(f"{label:<26}{'/ask end to end':<20}{'':>8}{'':>10}{'':>9}{wall - base:>+8.1f}"
              f"  (vs {base:.1f} ms with understanding off)")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
