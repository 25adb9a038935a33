"""Storage: migrations apply on both back ends, readiness reflects them, rows round-trip."""
from sqlalchemy import select

from core.store import Database
from core.store.models import ConversationRef, UsageEvent


async def test_fresh_database_is_not_ready_until_migrated(db_url):
    database = Database(db_url)
    try:
        ok, why = await database.ready()
        assert not ok and "migrations not applied" in why
        await database.migrate()
        assert await database.ready() == (True, "ok")
        await database.migrate()  # idempotent: a second start applies nothing and stays ready
        assert (await database.ready())[0]
    finally:
        await database.dispose()


async def test_rows_round_trip_with_json(db):
    async with db.session() as s:
        s.add(ConversationRef(conversation_id="a:1", user_id="29:u", service_url="http://x/",
                              reference={"conversation": {"id": "a:1"}, "bot": {"id": "28:b"}}))
        s.add(UsageEvent(skill="help", outcome="ok", masked={"name": 2}, prompt_tokens=3))
    async with db.session() as s:
        ref = (await s.execute(select(ConversationRef))).scalar_one()
        ev = (await s.execute(select(UsageEvent))).scalar_one()
    assert ref.reference["bot"]["id"] == "28:b"
    assert ev.masked == {"name": 2} and ev.prompt_tokens == 3 and ev.created_at is not None


async def test_unreachable_database_reports_not_ready(tmp_path):
    database = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        ok, why = await database.ready()
        assert not ok and why.startswith("database unreachable")
    finally:
        await database.dispose()
