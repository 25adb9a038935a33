"""Load test: N concurrent conversations through the stand-in connector against one and two bot processes
sharing one PostgreSQL database (and one SQLite process for comparison).

    .venv/bin/python bench/load.py [--conversations 50] [--turns 10] [--pg postgresql://postgres@127.0.0.1/test]

Each conversation sends `turns` messages one after another (/help, a card), waiting for each reply. Reports
turns/s, p50/p95 latency (POST -> reply at the connector), and CPU seconds used by each bot process, which shows
where the time goes. Bounded in count and time; loopback only."""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.turn_latency import pct, start  # noqa: E402
from tests.standins.connector import ConnectorStandIn  # noqa: E402


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(urls: list[str], conversations: int, turns: int, connector: ConnectorStandIn) -> tuple[list[float], float]:
    latencies: list[float] = []
    pending: dict[str, asyncio.Future] = {}

    def on_post(method, path, body):
        conv = (body.get("conversation") or {}).get("id") if isinstance(body, dict) else None
        fut = pending.pop(conv, None) if conv else None
        if fut and not fut.done() and body.get("type") == "message":
            fut.set_result(time.perf_counter())
        return None

    connector.fail = on_post
    loop = asyncio.get_running_loop()

    async def conversation(i: int, s: aiohttp.ClientSession) -> None:
        conv = f"a:load-{i}"
        url = urls[i % len(urls)]
        for _ in range(turns):
            fut = loop.create_future()
            pending[conv] = fut
            act = connector.activity("/help", user=f"29:load-{i}", conversation=conv)
            t0 = time.perf_counter()
            async with s.post(url + "/api/messages", json=act) as r:
                assert r.status in (200, 201, 202), r.status
            t1 = await asyncio.wait_for(fut, timeout=30)
            latencies.append((t1 - t0) * 1000)

    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        await asyncio.gather(*(conversation(i, s) for i in range(conversations)))
    return latencies, time.perf_counter() - t0


async def scenario(name: str, n_procs: int, db_url: str, args, connector) -> None:
    py = sys.executable
    procs = [await start([py, "-m", "bot"], {"DATABASE_URL": db_url, "BACKGROUND_JOBS": "false"})
             for _ in range(n_procs)]
    try:
        urls = [u for _, u in procs]
        await run(urls, min(5, args.conversations), 2, connector)            # warm-up
        cpu0 = [cpu_seconds(p.pid) for p, _ in procs]
        lat, wall = await run(urls, args.conversations, args.turns, connector)
        cpu = [cpu_seconds(p.pid) - c for (p, _), c in zip(procs, cpu0)]
    finally:
        for p, _ in procs:
            p.terminate()
            p.wait(10)
    n = len(lat)
    print(f"{name:34} {n:6d} {n / wall:9.1f} {statistics.median(lat):8.1f} {pct(lat, 95):8.1f}   "
          f"{' + '.join(f'{c:.1f}' for c in cpu)} s CPU in {wall:.1f} s")


async def main(args) -> None:
    connector = await ConnectorStandIn().start()
    tmp = tempfile.mkdtemp(prefix="load-")
    admin = args.pg.replace("postgresql+asyncpg://", "postgresql://")
    name = "load_" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    pg_url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    print(f"{args.conversations} concurrent conversations x {args.turns} turns of /help, on {os.cpu_count()} cores")
    print(f"{'':34} {'turns':>6} {'turns/s':>9} {'p50 ms':>8} {'p95 ms':>8}   bot CPU")
    try:
        await scenario("1 process, SQLite", 1, f"sqlite+aiosqlite:///{tmp}/load.db", args, connector)
        await scenario("1 process, PostgreSQL", 1, pg_url, args, connector)
        await scenario("2 processes, one PostgreSQL", 2, pg_url, args, connector)
    finally:
        await connector.stop()
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--conversations", type=int, default=50)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    asyncio.run(main(ap.parse_args()))
