"""The morning digest across real OS processes on one PostgreSQL database, sending through the bot's proactive
path to a stand-in Bot Connector: two processes deliver exactly once per user; a process killed with SIGKILL in
the middle of a run, then restarted after the claim lease, leaves no user without a digest, and duplicates are
bounded by what was in flight at the moment of the kill."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.skills.news.helpers import jst, seed_readers, write_sources
from tests.standins.connector import ConnectorStandIn

ROOT = Path(__file__).resolve().parents[2]
USERS = 30


def worker(db_url: str, tmp: Path, minutes: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "AZURE", "Microsoft"))}
    return subprocess.Popen([sys.executable, "-m", "tests.multi.digest_worker", db_url, str(tmp), str(minutes)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def delivered(connector: ConnectorStandIn) -> Counter:
    return Counter(p["path"].split("/")[3] for p in connector.posts
                   if p["status"] == 200 and p["method"] == "POST" and (p["body"] or {}).get("type") == "message")


async def wait(proc: subprocess.Popen, timeout: float = 120) -> str:
    for _ in range(int(timeout * 10)):
        if proc.poll() is not None:
            return proc.stdout.read()
        await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("worker did not finish: " + proc.stdout.read())


@pytest.mark.postgres
async def test_two_processes_deliver_exactly_once(pg_url, tmp_path):
    write_sources(tmp_path, [])
    connector = await ConnectorStandIn().start()
    connector.delay = 0.01
    try:
        await seed_readers(pg_url, connector.url, jst(2026, 8, 21, 8, 30), USERS)
        a, b = worker(pg_url, tmp_path, 0), worker(pg_url, tmp_path, 0)
        out = [await wait(a), await wait(b)]
    finally:
        await connector.stop()
    counts = delivered(connector)
    assert len(counts) == USERS and set(counts.values()) == {1}, (counts, out)
    assert all("sent=" in o for o in out) and sum(int(o.split("sent=")[1].split()[0]) for o in out) == USERS


@pytest.mark.postgres
async def test_killed_mid_run_then_restarted_leaves_no_gap(pg_url, tmp_path):
    write_sources(tmp_path, [])
    connector = await ConnectorStandIn().start()
    connector.delay = 0.15
    try:
        await seed_readers(pg_url, connector.url, jst(2026, 8, 21, 8, 30), USERS)
        first = worker(pg_url, tmp_path, 0)
        for _ in range(600):
            if sum(delivered(connector).values()) >= 6:
                break
            await asyncio.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        before = sum(delivered(connector).values())
        assert 6 <= before < USERS
        same_time = await wait(worker(pg_url, tmp_path, 1))           # within the lease: claims are respected
        after_lease = await wait(worker(pg_url, tmp_path, 11))        # the killed process's claims are taken over
    finally:
        await connector.stop()
    counts = delivered(connector)
    assert len(counts) == USERS, (same_time, after_lease)             # nobody left without a digest
    duplicates = sum(n - 1 for n in counts.values())
    print(f"delivered before SIGKILL: {before}; after restart: {sum(counts.values())}; duplicates: {duplicates}")
    assert duplicates <= 2, counts                                    # at most what was in flight (concurrency 2)
