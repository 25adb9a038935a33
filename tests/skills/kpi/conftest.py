"""Fixtures of the kpi skill's tests: services on the real database with a controlled clock and settings."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from core.services import Clock
from skills.kpi.settings import KpiSettings
from tests.harness import make_services

ADMIN_AAD = "aaaaaaaa-0000-0000-0000-00000000ad01"
# 2026-11-30 09:30 JST (a Monday), the same instant as the connector stand-in's activity timestamps.
NOW = datetime(2026, 11, 30, 0, 30, tzinfo=timezone.utc)


class FixedClock(Clock):
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def kpi_settings(**kw) -> KpiSettings:
    values = dict(KPI_ADMIN_IDS=ADMIN_AAD.upper(), KPI_STAFF_BY_DEPT={"企画財政局": 10, "市民協働局": 4, "環境部": 5})
    values.update(kw)
    return KpiSettings(_env_file=None, **values)


@pytest.fixture
def make_svc(sqlite_db):
    def make(now: datetime = NOW, guard_env: dict | None = None, **settings_kw):
        services = make_services(sqlite_db, guard_env=guard_env)
        services.clock = FixedClock(now)
        services.settings.put(kpi_settings(**settings_kw))
        return services
    return make


@pytest.fixture
def svc(make_svc):
    return make_svc()


@pytest.fixture(scope="session")
def card_schema(testdata: Path):
    schema = json.loads((testdata / "schemas" / "adaptive-cards" / "1.5.0" / "adaptive-card.json")
                        .read_text(encoding="utf-8"))
    return jsonschema.Draft6Validator(schema)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded_url(request, tmp_path_factory):
    """A database on each back end, migrated and seeded once per module (tests only read it)."""
    import asyncio

    from core.store import Database
    from tests import conftest as root
    from tests.skills.kpi.seed import seed

    name = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('kpi-seeded')}/seeded.db"
    else:
        root._need_pg()
        name, url = asyncio.run(root._create_pg_database())

    async def prepare():
        database = Database(url)
        await database.migrate()
        await seed(database)
        await database.dispose()

    asyncio.run(prepare())
    try:
        yield url
    finally:
        if name:
            asyncio.run(root._drop_pg_database(name))


@pytest.fixture
async def seeded_db(seeded_url):
    from core.store import Database

    database = Database(seeded_url)
    try:
        yield database
    finally:
        await database.dispose()
