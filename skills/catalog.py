"""Every skill of the assistant, in the order of /help and of the Teams manifest's command lists.

Adding a skill: create skills/<name>/ with its `SKILL` (see README "Adding a skill") and add the name here."""
from __future__ import annotations

import importlib

from core.skills import Skill

NAMES = ("help", "news", "drafting", "qa", "planning", "law", "kpi", "tier", "chat", "citizen", "notices", "analysis",
         "minutes", "images")


def SKILLS() -> list[Skill]:  # noqa: N802 - reads as the constant list it returns
    return [importlib.import_module(f"skills.{name}").SKILL for name in NAMES]


def model_modules() -> list[str]:
    """The skills' table modules (skills/<name>/models.py), for migrations' autogenerate."""
    import importlib.util

    return [f"skills.{n}.models" for n in NAMES if importlib.util.find_spec(f"skills.{n}.models") is not None]
