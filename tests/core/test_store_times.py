"""Datetimes in the database: stored and compared in UTC, read back aware and equal, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import DateTime, func, select

from core.store.models import KeyValue, UsageEvent
from core.store.types import UTCDateTime
from core.timeutil import JST


async def test_aware_time_comes_back_equal_and_aware(db):
    at = datetime(2026, 8, 21, 0, 0, tzinfo=JST)                 # JST midnight = 15:00 UTC the day before
    async with db.session() as s:
        s.add(UsageEvent(user_id="u1", skill="qa", outcome="ok", created_at=at))
        s.add(KeyValue(key="k", value={}, expires_at=at, updated_at=at))
    async with db.session() as s:
        got = (await s.execute(select(UsageEvent.created_at))).scalar_one()
        kv = await s.get(KeyValue, "k")
    for value in (got, kv.expires_at):
        assert value == at
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        assert value.astimezone(JST).strftime("%m-%d %H:%M") == "08-21 00:00"


async def test_comparisons_are_by_instant_whatever_the_offset(db):
    at = datetime(2026, 8, 21, 0, 0, tzinfo=JST)
    async with db.session() as s:
        s.add(UsageEvent(user_id="u1", skill="qa", outcome="ok", created_at=at))
    async with db.session() as s:
        def count(*where):
            return s.execute(select(func.count()).select_from(UsageEvent).where(*where))
        # the same instant written in UTC and in JST
        assert (await count(UsageEvent.created_at == datetime(2026, 8, 20, 15, 0, tzinfo=timezone.utc))).scalar() == 1
        assert (await count(UsageEvent.created_at >= at)).scalar() == 1
        assert (await count(UsageEvent.created_at < at)).scalar() == 0
        # a minute earlier in UTC is before it, though its UTC wall clock is "later" than the JST one
        assert (await count(UsageEvent.created_at > datetime(2026, 8, 20, 14, 59, tzinfo=timezone.utc))).scalar() == 1
        assert (await count(UsageEvent.created_at > datetime(2026, 8, 20, 15, 1, tzinfo=timezone.utc))).scalar() == 0


def test_every_datetime_column_is_stored_in_utc():
    import importlib
    import pkgutil

    import core
    import skills
    from core.store.models import Base

    for pkg in (core, skills):
        for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if mod.name.endswith(".models"):
                importlib.import_module(mod.name)
    plain = [f"{t.name}.{c.name}" for t in Base.metadata.tables.values() for c in t.columns
             if isinstance(c.type, DateTime) and not isinstance(c.type, UTCDateTime)]
    assert plain == []
