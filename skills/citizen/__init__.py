"""市民向けチャットボット: residents ask on the city's website (Web Chat over Direct Line) and get answers from the
public knowledge sets only, with the city page cited and the 窓口 to contact. Every activity of the citizen channels
(CITIZEN_CHANNELS) comes here and nowhere else; staff commands are refused."""
from __future__ import annotations

import importlib
import importlib.util

from core.skills import Job, Route, Skill
from skills.citizen.handler import handle, welcome
from skills.citizen.jobs import handoff_enabled, handoff_every, run_handoffs, run_retention
from skills.citizen.settings import CitizenSettings


def _routes() -> list[Route]:
    """The citizen page and its token endpoint (skills/citizen/web.py), once that module exists."""
    if importlib.util.find_spec("skills.citizen.web") is None:
        return []
    return list(importlib.import_module("skills.citizen.web").ROUTES)


def _channels(services) -> tuple[str, ...]:
    return services.settings.get(CitizenSettings).channels


SKILL = Skill(
    name="citizen", title="市民向けチャットボット",
    description="市のウェブサイトで、公開している情報から住民の質問に出典付きで回答します。",
    commands=[], handler=handle, on_join=welcome, free_text=False,     # no staff command, never chosen for free text in Teams
    channels=_channels,
    routes=_routes(),
    jobs=[Job("citizen-handoff", run_handoffs, every=handoff_every, enabled=handoff_enabled),
          Job("citizen-retention", run_retention, every=3600.0)],
)
