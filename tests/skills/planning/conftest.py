"""Fixtures shared by the /plan tests."""
from __future__ import annotations

import pytest

from tests.skills.planning.plan_helpers import write_profiles
from tests.standins.law import LawStandIn


@pytest.fixture
async def egov(monkeypatch, tmp_path):
    """The e-Gov stand-in, and the planning profiles file, both through the environment."""
    stand_in = await LawStandIn().start()
    monkeypatch.setenv("EGOV_LAW_API_BASE", stand_in.base_url)
    monkeypatch.setenv("PLANNING_PROFILES_FILE", str(write_profiles(tmp_path)))
    yield stand_in
    await stand_in.stop()
