"""The skill's settings and access to knowledge sets (the index itself is `services.knowledge`, shared)."""
from __future__ import annotations

from dataclasses import dataclass

from core.profiles import group_ids
from core.search.index import SetInfo, readable_sets
from core.services import Services
from skills.qa.settings import QASettings


def settings_of(services: Services) -> QASettings:
    return services.settings.get(QASettings)


def _ids(values) -> set[str]:
    return {str(v).strip().lower() for v in values or [] if str(v).strip()}


def can_write(info: SetInfo, aad_object_id: str | None, settings: QASettings) -> bool:
    """Owner, a listed member, or a QA administrator may register documents in a set."""
    me = (aad_object_id or "").strip().lower()
    if not me:
        return False
    if me in settings.admin_ids:
        return True
    return me == (info.owner or "").strip().lower() or me in _ids(info.members)


@dataclass(frozen=True)
class Scope:
    """The sets a question searches: the channel's default sets when it has readable ones, else all readable."""
    sets: list[str]
    channel_default: bool


async def search_scope(services, aad_object_id: str | None, conversation_id: str) -> Scope:
    readable = await readable_sets(aad_object_id, await group_ids(services, aad_object_id), services.db)
    defaults = [s for s in settings_of(services).channel_sets(conversation_id) if s in readable]
    if defaults:
        return Scope(defaults, True)
    return Scope(readable, False)


async def writable_sets(services, aad_object_id: str | None) -> list[SetInfo]:
    s = settings_of(services)
    return [i for i in await services.knowledge.list_sets() if can_write(i, aad_object_id, s)]
