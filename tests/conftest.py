"""Shared fixtures: test data location, databases (SQLite always; PostgreSQL when reachable, required in CI)."""
from __future__ import annotations

import contextlib
import os
import shutil
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


def _need_pg() -> None:
    """Skip without PostgreSQL, or fail when it is required (REQUIRE_POSTGRES=1, as in CI)."""
    if not _pg_reachable():
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required (REQUIRE_POSTGRES=1) but 127.0.0.1:5432 is unreachable")
        pytest.skip("PostgreSQL not reachable")


async def _create_pg_database(template: str | None = None) -> tuple[str, str]:
    import asyncpg

    name = "t_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
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


BACK_ENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACK_ENDS)
async def db_url(request, tmp_path):
    """A fresh database URL on each back end. PostgreSQL is skipped only when unreachable and not required.

    Empty, unless the test also asks for `db`: then the database starts as a copy of the session's migrated template
    (migrating every branch for every test cost one to two seconds each; tests of a migration take `db_url` alone
    and get an empty database)."""
    async with _database_url(request, tmp_path, migrated="db" in request.fixturenames) as url:
        yield url


@pytest.fixture(params=BACK_ENDS)
async def migrated_db_url(request, tmp_path):
    """A fresh database URL on each back end, already migrated (a copy of the session's template)."""
    async with _database_url(request, tmp_path, migrated=True) as url:
        yield url


@contextlib.asynccontextmanager
async def _database_url(request, tmp_path, *, migrated: bool):
    request.node.db_from_template = migrated      # `db` migrates a database that did not come from here
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        if migrated:
            shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("_pg_template") if migrated else None
    async with _fresh_pg_database(template) as url:
        yield url


def _run_apart(make_coro):
    """Run a coroutine to its end on its own loop in a thread: session fixtures are first asked for from inside a
    running test loop (`request.getfixturevalue` in an async fixture), where asyncio.run is not allowed."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make_coro()).result()


def _migrate_once(url: str) -> None:
    from core.store import Database

    async def go():
        database = Database(url)
        try:
            await database.migrate()
        finally:
            await database.dispose()

    _run_apart(go)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file per session, copied by `db` and `sqlite_db`."""
    path = tmp_path_factory.mktemp("db-template") / "template.db"
    _migrate_once(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _pg_template():
    """One migrated PostgreSQL database per session (a template: `CREATE DATABASE … TEMPLATE` copies it), dropped at
    the end. Nothing stays connected to it, as PostgreSQL requires of a template."""
    _need_pg()
    name, url = _run_apart(_create_pg_database)
    try:
        _migrate_once(url)
        yield name
    finally:
        _run_apart(lambda: _drop_pg_database(name))


@pytest.fixture
async def pg_url():
    """A fresh PostgreSQL database URL, for tests that are about replicas sharing PostgreSQL."""
    async with _fresh_pg_database() as url:
        yield url


@contextlib.asynccontextmanager
async def _fresh_pg_database(template: str | None = None):
    """Create a database for one test (empty, or a copy of `template`) and drop it after; skip (or fail, when
    required) without PostgreSQL."""
    _need_pg()
    name, url = await _create_pg_database(template)
    try:
        yield url
    finally:
        await _drop_pg_database(name)


@pytest.fixture
async def sqlite_db(_sqlite_template, tmp_path):
    """A migrated `core.store.Database` on SQLite only (a copy of the session's template): for tests whose subject
    does not depend on the back end (the `db` fixture runs a test on both)."""
    from core.store import Database

    path = tmp_path / "test.db"
    shutil.copy(_sqlite_template, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def db(db_url, request):
    """A migrated `core.store.Database` on each back end (`db_url` made it from the session's template; a suite
    that overrides `db_url` gets its database migrated here)."""
    from core.store import Database

    database = Database(db_url)
    if not getattr(request.node, "db_from_template", False):
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
