"""Fixtures of the news tests: the loopback feed server and fast copies of a migrated database."""
from __future__ import annotations

import asyncio

import pytest

from tests.skills.news.helpers import FeedServer


@pytest.fixture
async def feeds():
    srv = await FeedServer().start()
    try:
        yield srv
    finally:
        await srv.stop()


# -- faster databases: migrate once per session, copy per test (same back ends as tests/conftest.py's `db`) ---------
def _run(coro):
    """Run a coroutine to completion on a fresh loop in another thread (fixtures may be set up inside a loop)."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, coro).result()


def _migrate(url: str) -> None:
    from core.store import Database

    async def go():
        d = Database(url)
        await d.migrate()
        await d.dispose()

    _run(go())


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("news_tpl") / "template.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _pg_template():
    import uuid

    from tests.conftest import PG_ADMIN_URL, REQUIRE_PG, _pg_reachable

    if not _pg_reachable():
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required but unreachable")
        pytest.skip("PostgreSQL not reachable")
    import asyncpg

    name = "news_tpl_" + uuid.uuid4().hex[:8]

    async def admin(sql):
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    _run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    _migrate(f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://"))
    yield name, admin, base
    _run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_url(request, tmp_path):
    """Overrides tests/conftest.py's db_url for the news tests: a copy of a database migrated once."""
    import shutil
    import uuid

    if request.param == "sqlite":
        tpl = request.getfixturevalue("_sqlite_template")
        dst = tmp_path / "test.db"
        shutil.copy(tpl, dst)
        yield f"sqlite+aiosqlite:///{dst}"
        return
    tpl, admin, base = request.getfixturevalue("_pg_template")
    name = "t_" + uuid.uuid4().hex[:12]
    await admin(f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"')
    try:
        yield f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://")
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(db_url):
    """A migrated `core.store.Database` (from the template; migrate() is then a no-op check)."""
    from core.store import Database

    database = Database(db_url)
    try:
        yield database
    finally:
        await database.dispose()
