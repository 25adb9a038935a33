"""Fixtures of the minutes tests."""
from __future__ import annotations

import pytest


@pytest.fixture
async def model():
    from tests.skills.minutes.model import answer
    from tests.standins.openai_server import OpenAIStandIn

    server = await OpenAIStandIn(default=answer).start()
    yield server
    await server.stop()
