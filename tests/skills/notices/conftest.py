"""Fixtures of the notices tests."""
from __future__ import annotations

import pytest


@pytest.fixture
async def lite_db(tmp_path):
    """SQLite only, for behaviour that does not depend on the database back end (storage on both back ends is
    exercised by the tests that take `db`)."""
    from core.store import Database

    database = Database(f"sqlite+aiosqlite:///{tmp_path}/notices.db")
    await database.migrate()
    yield database
    await database.dispose()
