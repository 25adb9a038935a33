"""Fixtures of the news tests: the loopback feed server and fast copies of a migrated database."""
from __future__ import annotations

import pytest

from tests.skills.news.helpers import FeedServer


@pytest.fixture
async def feeds():
    srv = await FeedServer().start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
def db_url(migrated_db_url):
    """The news tests start every database migrated (a copy of tests/conftest.py's session template), also those
    that take `db_url` alone to start the bot on it."""
    return migrated_db_url
