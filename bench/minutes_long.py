"""What a long meeting costs /minutes: LLM calls and tokens per hour of meeting, and wall time with a zero-latency
model, for meetings of 0.5 to 3 hours — against the naive baseline that sends the whole transcript in one call.

    .venv/bin/python bench/minutes_long.py [--hours 0.5 1 2 3] [--context 32000]

The transcript is synthesised (tests/skills/minutes/samples.long_vtt: four speakers, 12-second cues of about 60
characters, about 300 characters of speech a minute as in a real meeting, agenda items changing every 20 minutes).
The skill's real path runs: VTT parsing and cleaning, the Writer (section summaries, combining, the final minutes)
through services.ai (guard, audit) and the real `openai` client, to the loopback OpenAI stand-in answering
instantly (so wall time is our own overhead; a real model's generation time comes on top, about the completion
tokens divided by its output rate). The stand-in enforces the context window: a request whose estimated tokens
(1 per non-ASCII character, 1 per 4 ASCII ones, plus max_tokens) exceed --context is refused with HTTP 400
context_length_exceeded, as a real server does. Tokens are counted the same way from what the server received and
what it answered."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.ai import AIFailed  # noqa: E402
from core.store import Database  # noqa: E402
from skills.minutes.record import MINUTES  # noqa: E402
from skills.minutes.settings import MinutesSettings  # noqa: E402
from skills.minutes.summarize import PROMPT_OVERHEAD, Meta, Writer  # noqa: E402
from skills.minutes.transcript import estimate_tokens, load, turn_line  # noqa: E402
from tests.harness import make_request, make_services  # noqa: E402
from tests.skills.minutes.model import answer  # noqa: E402
from tests.skills.minutes.samples import long_vtt  # noqa: E402
from tests.standins.openai_server import OpenAIStandIn  # noqa: E402


def request_tokens(body: dict) -> int:
    return sum(estimate_tokens(m["content"]) for m in body["messages"] if isinstance(m.get("content"), str))


class Counter:
    def __init__(self, context: int) -> None:
        self.context = context
        self.calls = self.prompt = self.completion = self.refused = 0
        self.largest = 0

    def __call__(self, body: dict) -> dict:
        need = request_tokens(body) + int(body.get("max_tokens") or 0)
        self.largest = max(self.largest, need)
        if need > self.context:
            self.refused += 1
            return {"status": 400}
        self.calls += 1
        reply = answer(body)
        self.prompt += request_tokens(body)
        self.completion += estimate_tokens(reply["text"])
        return reply


async def run(hours: list[float], context: int) -> None:
    server = await OpenAIStandIn().start()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await db.migrate()
        services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.base_url,
                                              "LLM_PERSONAL_DATA": "true", "LLM_MAX_RETRIES": "0"})
        settings = MinutesSettings(_env_file=None, MINUTES_CONTEXT_TOKENS=context)
        services.settings.put(settings)
        print(f"context window {context:,} tokens; section {settings.section_tokens:,}; answer "
              f"{settings.MINUTES_ANSWER_TOKENS:,}; prompt overhead {PROMPT_OVERHEAD:,}")
        print(f"{'hours':>5} {'turns':>6} {'chars':>8} | {'naive tokens':>12} {'naive':>22} | {'calls':>5} "
              f"{'calls/h':>7} {'prompt tok':>10} {'compl tok':>9} {'tok/h':>8} {'largest':>7} {'wall s':>7}")
        for h in hours:
            tr = load(long_vtt(hours=h), "bench.vtt")
            req = make_request("")
            # the baseline: the whole transcript in one call
            naive = Counter(context)
            server.default = naive
            whole = "\n".join(turn_line(t) for t in tr.turns)
            try:
                await services.ai.chat(req, "minutes", [{"role": "system", "content": "議事録を作成してください。" + "。" * 800},
                                                        {"role": "user", "content": whole}],
                                       max_tokens=settings.MINUTES_ANSWER_TOKENS)
                naive_result = "fits (1 call)"
            except AIFailed as e:
                naive_result = f"REFUSED by server ({e.kind})"
            naive_need = naive.largest
            # the skill
            counter = Counter(context)
            server.default = counter
            start = time.perf_counter()
            written = await Writer(services, req, settings).write(tr, MINUTES, Meta(title="bench"))
            wall = time.perf_counter() - start
            assert counter.refused == 0, "the skill overflowed the context"
            per_h = 1.0 / h
            print(f"{h:>5g} {len(tr.turns):>6,} {tr.chars:>8,} | {naive_need:>12,} {naive_result:>22} | "
                  f"{counter.calls:>5} {counter.calls * per_h:>7.1f} {counter.prompt:>10,} {counter.completion:>9,} "
                  f"{(counter.prompt + counter.completion) * per_h:>8,.0f} {counter.largest:>7,} {wall:>7.2f}")
            lines = len(written.record.proceedings)
            print(f"      minutes: {written.sections} section(s), {lines} 議事の経過 lines from "
                  f"{written.record.proceedings[0].t if lines else '-'} to "
                  f"{written.record.proceedings[-1].t if lines else '-'}; "
                  f"{len(written.record.decisions)} decisions, {len(written.record.actions)} actions")
        await services.llm.close()
        await db.dispose()
    await server.stop()
    print(json.dumps({"note": "tokens estimated: 1 per non-ASCII character, 1 per 4 ASCII characters"},
                     ensure_ascii=False))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, nargs="+", default=[0.5, 1.0, 2.0, 3.0])
    ap.add_argument("--context", type=int, default=32000)
    a = ap.parse_args()
    asyncio.run(run(a.hours, a.context))


if __name__ == "__main__":
    main()
