"""Fixtures of the minutes tests."""
from __future__ import annotations

import pytest


@pytest.fixture
async def lite_db(tmp_path):
    """SQLite only: the skill stores nothing of its own; the audit records go to the database."""
    from core.store import Database

    database = Database(f"sqlite+aiosqlite:///{tmp_path}/minutes.db")
    await database.migrate()
    yield database
    await database.dispose()


@pytest.fixture
async def model():
    from tests.skills.minutes.model import answer
    from tests.standins.openai_server import OpenAIStandIn

    server = await OpenAIStandIn(default=answer).start()
    yield server
    await server.stop()
