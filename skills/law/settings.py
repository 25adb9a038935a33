"""Settings of the 法令検索 skill (the e-Gov client's own settings are core.law.LawSettings)."""
from __future__ import annotations

from core.settings import AppSettings


class LawSkillSettings(AppSettings):
    section = "law"
    LAW_RESULTS: int = 5
    """How many matching sentences /law shows (1–20)."""
