"""The database handle: engine, sessions, migrations at start, readiness."""
from __future__ import annotations

import asyncio
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.settings import AppSettings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_LOCK_KEY = 0x414D4741  # "AMGA": advisory lock taken while migrating PostgreSQL


class StoreSettings(AppSettings):
    section = "storage"
    DATABASE_URL: str = "sqlite+aiosqlite:///./var/assistant.db"
    """SQLAlchemy URL. SQLite (default, under ./var/) or postgresql+asyncpg://user@host/db for several replicas."""
    DB_POOL_SIZE: int = 10
    """Connection pool size for PostgreSQL."""
    DB_TIMEOUT_SECONDS: float = 15.0
    """PostgreSQL: longest wait to connect, for a free pooled connection, or for one statement (seconds; migrations
    are not limited). A database that stops answering then gets the user a "send it again" message, not silence."""


def normalize_url(url: str) -> str:
    """Accept the usual spellings (postgres://, postgresql://, sqlite:///) and pick the async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://"):]
    if url.startswith("sqlite:///"):
        url = "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    return url


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False, timeout: float | None = None) -> None:
        self.url = normalize_url(url)
        u = make_url(self.url)
        self.is_sqlite = u.get_backend_name() == "sqlite"
        kwargs: dict = {"echo": echo, "pool_pre_ping": True}
        if self.is_sqlite:
            db = u.database or ""
            if db and db != ":memory:":
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
            if timeout:
                # without these a partitioned database holds a turn for the network's own timeout (minutes)
                kwargs.update(pool_timeout=timeout, connect_args={"timeout": timeout, "command_timeout": timeout})
        self.timeout = timeout
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> "Database":
        return cls(settings.DATABASE_URL, pool_size=settings.DB_POOL_SIZE, timeout=settings.DB_TIMEOUT_SECONDS)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as s:
            async with s.begin():
                yield s

    async def migrate(self, revision: str = "heads") -> None:
        """Apply the Alembic migrations up to `revision` (default: all heads, each skill owns a branch off the
        foundation; tests of a data migration stop at the revision before it)."""
        engine = self.engine
        if not self.is_sqlite and self.timeout:
            # a migration may build an index on a large table, and waits for another replica's: no statement limit
            from sqlalchemy.pool import NullPool

            engine = create_async_engine(self.url, poolclass=NullPool, connect_args={"timeout": self.timeout})
        try:
            async with engine.begin() as conn:
                if not self.is_sqlite:
                    # Several replicas may start at once on one database: one migrates, the others wait here.
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
                await conn.run_sync(_upgrade, revision)
        finally:
            if engine is not self.engine:
                await engine.dispose()

    async def downgrade(self, revision: str) -> None:
        """Revert the migrations above `revision` (tests of a migration's way back)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_downgrade, revision)

    async def ready(self) -> tuple[bool, str]:
        """Database reachable and every migration head applied."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                applied = await conn.run_sync(_applied_heads)
        except Exception as e:  # noqa: BLE001 - readiness reports, never raises
            return False, f"database unreachable: {type(e).__name__}"
        expected = _script_heads()
        missing = expected - applied
        if missing:
            return False, f"migrations not applied: {sorted(missing)}"
        return True, "ok"

    async def dispose(self) -> None:
        await self.engine.dispose()


def unavailable(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says the database cannot be reached right now: refused or reset
    connections, a server shutting down or starting, a pool timeout — as opposed to a bug or a bad statement. A bare
    OSError counts only when it was raised inside the database driver or SQLAlchemy (a failed HTTP call is an
    OSError too, and is not the database's)."""
    import sqlalchemy.exc as sa_exc

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, sa_exc.DBAPIError) and (e.connection_invalidated or _operational(e)):
            return True
        if isinstance(e, sa_exc.TimeoutError):           # no pooled connection became free in time
            return True
        if _asyncpg_connection_error(e):
            return True
        if isinstance(e, (OSError, asyncio.TimeoutError)) and _raised_in_driver(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def _operational(e: BaseException) -> bool:
    """PostgreSQL's OperationalError is about the connection; SQLite's also covers a missing table (a bug): there
    only a locked or unopenable file counts."""
    import sqlalchemy.exc as sa_exc

    if not isinstance(e, sa_exc.OperationalError):
        return False
    orig = getattr(e, "orig", None)
    if orig is not None and type(orig).__module__.split(".")[0] in ("sqlite3", "aiosqlite"):
        msg = str(orig).lower()
        return "locked" in msg or "unable to open" in msg or "disk i/o" in msg
    return True


def _asyncpg_connection_error(e: BaseException) -> bool:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - SQLite-only installs
        return False
    if isinstance(e, (asyncpg.PostgresConnectionError, asyncpg.ConnectionDoesNotExistError,
                      asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError)):
        return True
    return isinstance(e, asyncpg.InterfaceError) and "connection is closed" in str(e)


def _raised_in_driver(e: BaseException) -> bool:
    tb = e.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_globals.get("__name__", "")
        if name.split(".")[0] in ("asyncpg", "aiosqlite") or name.startswith("sqlalchemy.pool"):
            return True
        tb = tb.tb_next
    return False


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection, revision: str = "heads") -> None:
    from alembic import command

    command.upgrade(_alembic_config(connection), revision)


def _downgrade(connection, revision: str) -> None:
    from alembic import command

    command.downgrade(_alembic_config(connection), revision)


def _script_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(_alembic_config()).get_heads())


def _applied_heads(connection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(connection).get_current_heads())


def run_sync(coro):  # small helper for CLI entry points
    return asyncio.run(coro)


def default_url() -> str:
    return os.environ.get("DATABASE_URL", StoreSettings().DATABASE_URL)


async def upsert(session, model, values: dict, *, keys: list[str], update: list[str] | None = None) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE (or DO NOTHING when `update` is empty), on SQLite and PostgreSQL.
    Safe when two turns (or two replicas) write the same row at once."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    from sqlalchemy.dialects import postgresql, sqlite

    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(model).values(**values)
    else:
        stmt = sqlite.insert(model).values(**values)
    cols = update if update is not None else [k for k in values if k not in keys]
    if cols:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in cols})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    await session.execute(stmt)
