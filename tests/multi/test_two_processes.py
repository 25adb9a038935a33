"""Two bot processes (`python -m bot`, as deployed) on one PostgreSQL database: both start on a fresh database
(one migrates, the other waits), and the same users talking to both at once leave exactly one conversation
reference and one profile each, with no failed turn."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from core.store import Database
from core.store.models import ConversationRef, UserProfile
from tests.standins.connector import ConnectorStandIn

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def start_bot(db_url: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "AZURE", "Microsoft"))}
    env.update(HOST="127.0.0.1", PORT=str(port), DATABASE_URL=db_url, LOG_LEVEL="INFO")
    proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env, stdout=open(log_path, "w"),
                            stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


async def wait_ready(url: str, proc: subprocess.Popen, log_path: Path) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(300):
            assert proc.poll() is None, log_path.read_text()[-2000:]
            try:
                async with s.get(url + "/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("bot not ready: " + log_path.read_text()[-2000:])


@pytest.mark.postgres
async def test_two_processes_on_one_postgresql(pg_url, tmp_path):
    db_url = pg_url
    connector = await ConnectorStandIn().start()
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [await start_bot(db_url, logs[0]), await start_bot(db_url, logs[1])]   # same fresh database
    try:
        for (proc, url), log in zip(procs, logs):
            await wait_ready(url, proc, log)
        users = [f"29:user-{i}" for i in range(20)]
        async with aiohttp.ClientSession() as s:
            async def say(i: int, user: str) -> int:
                url = procs[i % 2][1]
                act = connector.activity("/help", user=user, conversation=f"a:{user}",
                                         aad=f"00000000-0000-0000-0000-{i:012d}")
                async with s.post(url + "/api/messages", json=act) as r:
                    return r.status
            statuses = await asyncio.gather(*(say(i, u) for i in range(4) for u in users))
        assert set(statuses) == {202}
        await connector.wait_for(lambda acts: len(connector.messages()) >= 80, timeout=60)
        assert not any("申し訳ありません" in (m.get("text") or "") for m in connector.messages())
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(10)
        await connector.stop()
    db = Database(db_url)
    try:
        async with db.session() as s:
            refs = (await s.execute(select(func.count()).select_from(ConversationRef))).scalar_one()
            profiles = (await s.execute(select(func.count()).select_from(UserProfile))).scalar_one()
    finally:
        await db.dispose()
    assert (refs, profiles) == (20, 20)
    for log in logs:
        assert "turn failed" not in log.read_text() and "Traceback" not in log.read_text()
