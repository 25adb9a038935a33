"""The one skill registry: every capability declares its commands once in skills/<name>/__init__.py."""
from __future__ import annotations

import importlib

from core.skills import Registry

# Order matters: it is the order of /help and of the manifest's command lists.
SKILL_MODULES = ("help", "news", "drafting", "qa", "planning", "law", "kpi", "tier", "chat")


def build_registry() -> Registry:
    registry = Registry()
    for name in SKILL_MODULES:
        registry.add(importlib.import_module(f"skills.{name}").SKILL)
    return registry
