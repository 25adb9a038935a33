"""Shared fixtures: test data location, databases (SQLite always; PostgreSQL when reachable, required in CI)."""
from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("TESTDATA_DIR", ROOT.parent / "shared" / "testdata"))
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def testdata() -> Path:
    """../shared/testdata beside the clone (CI lays it there). Tests that need it fail loudly when it is absent."""
    if not TESTDATA.is_dir():
        pytest.fail(f"test data not found at {TESTDATA} (set TESTDATA_DIR)")
    return TESTDATA


def _pg_reachable() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


async def _create_pg_database() -> tuple[str, str]:
    import asyncpg

    name = "t_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return name, f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://")


async def _drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_url(request, tmp_path):
    """A fresh, empty database URL on each back end. PostgreSQL is skipped only when unreachable and not required."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/test.db"
        return
    async with _fresh_pg_database() as url:
        yield url


@pytest.fixture
async def pg_url():
    """A fresh PostgreSQL database URL, for tests that are about replicas sharing PostgreSQL."""
    async with _fresh_pg_database() as url:
        yield url


@contextlib.asynccontextmanager
async def _fresh_pg_database():
    """Create an empty database for one test and drop it after; skip (or fail, when required) without PostgreSQL."""
    if not _pg_reachable():
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required (REQUIRE_POSTGRES=1) but 127.0.0.1:5432 is unreachable")
        pytest.skip("PostgreSQL not reachable")
    name, url = await _create_pg_database()
    try:
        yield url
    finally:
        await _drop_pg_database(name)


@pytest.fixture
async def sqlite_db(tmp_path):
    """A migrated `core.store.Database` on SQLite only: for tests whose subject does not depend on the back end
    (the `db` fixture runs a test on both)."""
    from core.store import Database

    database = Database(f"sqlite+aiosqlite:///{tmp_path}/test.db")
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def db(db_url):
    """A migrated `core.store.Database` on each back end."""
    from core.store import Database

    database = Database(db_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def connector():
    """A stand-in Bot Connector on loopback (tests/standins/connector.py)."""
    from tests.standins.connector import ConnectorStandIn

    c = await ConnectorStandIn().start()
    yield c
    await c.stop()


@pytest.fixture
async def llm():
    """A loopback OpenAI-compatible server (tests/standins/openai_server.py)."""
    from tests.standins.openai_server import OpenAIStandIn

    s = await OpenAIStandIn().start()
    yield s
    await s.stop()
