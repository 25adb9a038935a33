"""Fixtures of the 画像点検 tests."""
from __future__ import annotations

import pytest


@pytest.fixture
async def lite_db(tmp_path):
    from core.store import Database

    database = Database(f"sqlite+aiosqlite:///{tmp_path}/images.db")
    await database.migrate()
    yield database
    await database.dispose()
