"""Two bot processes (`python -m bot`, as deployed) on one PostgreSQL database: both start on a fresh database
(one migrates, the other waits), and the same users talking to both at once leave exactly one conversation
reference and one profile each, with no failed turn."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sqlalchemy import func, select

from core.store import Database
from core.store.models import ConversationRef, UserProfile
from tests.reliability.botproc import start_bot, wait_ready
from tests.standins.connector import ConnectorStandIn


@pytest.mark.postgres
async def test_two_processes_on_one_postgresql(pg_url, tmp_path):
    db_url = pg_url
    connector = await ConnectorStandIn().start()
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    bots = [start_bot(logs[0], DATABASE_URL=db_url), start_bot(logs[1], DATABASE_URL=db_url)]   # same fresh database
    try:
        for bot in bots:
            await wait_ready(bot)
        users = [f"29:user-{i}" for i in range(20)]
        async with aiohttp.ClientSession() as s:
            async def say(i: int, user: str) -> int:
                url = bots[i % 2].url
                act = connector.activity("/help", user=user, conversation=f"a:{user}",
                                         aad=f"00000000-0000-0000-0000-{i:012d}")
                async with s.post(url + "/api/messages", json=act) as r:
                    return r.status
            statuses = await asyncio.gather(*(say(i, u) for i in range(4) for u in users))
        assert set(statuses) == {202}
        await connector.wait_for(lambda acts: len(connector.messages()) >= 80, timeout=60)
        assert not any("申し訳ありません" in (m.get("text") or "") for m in connector.messages())
    finally:
        for bot in bots:
            bot.stop()
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
