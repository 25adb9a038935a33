"""Fixtures of the photo skill's tests: services a test opens are closed after it."""
from __future__ import annotations

import pytest

OPENED: list = []          # services built by a test (its `services_on`); their LLM clients are closed after it


@pytest.fixture(autouse=True)
async def _close_opened_services():
    yield
    while OPENED:
        await OPENED.pop().llm.close()
