"""Which network tier (internet / LGWAN / マイナンバー利用事務系) a request belongs to.

Order of precedence: the tier chosen on the card that was actioned, the user's own choice (/tier), the
conversation's configuration (CONVERSATION_TIERS), then the guard's default — and the guard's detector still
moves a request containing a My Number to the mynumber tier. An endpoint only ever serves its own tier."""
from __future__ import annotations

import json

from pydantic import field_validator

from core.llm import TIERS
from core.settings import AppSettings
from core.store.models import UserProfile


class TierSettings(AppSettings):
    section = "guard"
    CONVERSATION_TIERS: str = ""
    """JSON {"<conversation id>": "lgwan"}: conversations (e.g. a section's channel) that work in another tier."""

    @field_validator("CONVERSATION_TIERS")
    @classmethod
    def _valid(cls, v: str) -> str:
        if v.strip():
            data = json.loads(v)
            bad = {t for t in data.values() if t not in TIERS} if isinstance(data, dict) else {"(not an object)"}
            if bad:
                raise ValueError(f"CONVERSATION_TIERS: unknown tier(s) {sorted(bad)}; use {TIERS}")
        return v

    def by_conversation(self) -> dict[str, str]:
        return json.loads(self.CONVERSATION_TIERS) if self.CONVERSATION_TIERS.strip() else {}


async def user_tier(services, user_id: str) -> str | None:
    cache = services.caches.user_tiers
    if user_id in cache:
        return cache.get(user_id)
    async with services.db.session() as s:
        prof = await s.get(UserProfile, user_id)
    tier = (prof.prefs or {}).get("tier") if prof else None
    cache.put(user_id, tier)
    return tier


async def set_user_tier(services, user_id: str, tier: str | None) -> None:
    if tier is not None and tier not in TIERS:
        raise ValueError(tier)
    async with services.db.session() as s:
        prof = await s.get(UserProfile, user_id)
        if prof is None:
            prof = UserProfile(user_id=user_id, prefs={})
            s.add(prof)
        prefs = dict(prof.prefs or {})
        if tier is None:
            prefs.pop("tier", None)
        else:
            prefs["tier"] = tier
        prof.prefs = prefs
    services.caches.user_tiers.put(user_id, tier)


async def resolve(services, req) -> str | None:
    chosen = req.data.get("tier") if isinstance(req.data, dict) else None
    if chosen in TIERS:
        return chosen
    mine = await user_tier(services, req.user_id)
    if mine in TIERS:
        return mine
    return services.settings.get(TierSettings).by_conversation().get(req.conversation_id)


def personal_data_tiers(services) -> list[str]:
    """Tiers whose configured endpoint may receive personal data unmasked."""
    return [ep.tier for ep in services.llm.endpoints if ep.personal_data]
