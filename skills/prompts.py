"""Prompt files live beside their skill (skills/<name>/prompts/*.md); this loads and caches them."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def load(skill: str, name: str) -> str:
    """The text of skills/<skill>/prompts/<name>.md."""
    return (ROOT / skill / "prompts" / f"{name}.md").read_text(encoding="utf-8").strip()


def render(skill: str, name: str, **values: str) -> str:
    """A prompt file with {placeholders} filled (other braces are left alone)."""
    text = load(skill, name)
    for k, v in values.items():
        text = text.replace("{" + k + "}", str(v))
    return text
