"""The one skill registry, built from the skills' own declarations (skills/catalog.py lists them in /help order)."""
from __future__ import annotations

from core.skills import Registry
from skills.catalog import SKILLS


def build_registry() -> Registry:
    registry = Registry()
    for skill in SKILLS():
        registry.add(skill)
    return registry
