"""Turn latency of the assistant vs a bare botbuilder echo bot, measured in the same run.

    .venv/bin/python bench/turn_latency.py [--turns 200]

Each bot runs as its own process (`python -m bot` as a user would start it; bench/echo_bot.py for the baseline).
A stand-in Bot Connector in this process posts activities and times until the reply arrives back. The LLM turn
uses a zero-latency loopback OpenAI-compatible server (streaming). Targets: /help <= 1.3x echo p50, LLM <= 2x."""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.standins.connector import ConnectorStandIn  # noqa: E402
from tests.standins.openai_server import OpenAIStandIn  # noqa: E402


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def start(cmd: list[str], env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "AZURE", "Microsoft"))},
           **env, "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as s:
        for _ in range(200):
            try:
                async with s.get(url + "/healthz") as r:
                    if r.status == 200:
                        return proc, url
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start")


async def measure(connector: ConnectorStandIn, url: str, text: str, turns: int, expect: str) -> list[float]:
    out = []
    async with aiohttp.ClientSession() as s:
        for i in range(turns + 10):
            n = len(connector.messages())
            t0 = time.perf_counter()
            async with s.post(url + "/api/messages", json=connector.activity(text)) as r:
                assert r.status in (200, 201, 202), r.status
            await connector.wait_for(lambda acts: len(connector.messages()) > n, timeout=10)  # noqa: B023 - awaited in this iteration
            dt = (time.perf_counter() - t0) * 1000
            msg = connector.messages()[-1]
            assert expect in str(msg), msg
            if i >= 10:                     # warm-up excluded
                out.append(dt)
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def main(turns: int) -> None:
    connector = await ConnectorStandIn().start()
    llm = await OpenAIStandIn({"text": "ゼロ遅延の応答です。"}).start()
    tmp = tempfile.mkdtemp(prefix="bench-")
    py = sys.executable
    echo, echo_url = await start([py, "bench/echo_bot.py"], {})
    bot, bot_url = await start([py, "-m", "bot"], {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/off.db"})
    bot_llm, llm_url = await start([py, "-m", "bot"], {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/llm.db",
                                                       "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    try:
        results = {
            "echo bot (baseline)": await measure(connector, echo_url, "hello", turns, "echo: hello"),
            "/help": await measure(connector, bot_url, "/help", turns, "AdaptiveCard"),
            "free text + LLM": await measure(connector, llm_url, "会議の進め方を相談したい", turns, "ゼロ遅延"),
        }
    finally:
        for p in (echo, bot, bot_llm):
            p.terminate()
        await connector.stop()
        await llm.stop()
    base = statistics.median(results["echo bot (baseline)"])
    print(f"turn latency over {turns} turns each (ms; POST -> reply received at the stand-in connector)")
    print(f"{'':22} {'p50':>8} {'p95':>8} {'p50 / echo p50':>16}")
    for name, xs in results.items():
        print(f"{name:22} {statistics.median(xs):8.2f} {pct(xs, 95):8.2f} {statistics.median(xs) / base:16.2f}")
    print("targets: /help <= 1.3x, free text + LLM <= 2.0x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=200)
    asyncio.run(main(ap.parse_args().turns))
