"""Per-process singletons of the skill (index, settings, kintone client) and access to knowledge sets."""
from __future__ import annotations

from dataclasses import dataclass

from core.kintone.client import KintoneClient, KintoneSettings
from core.profiles import group_ids
from core.search.index import Index, SetInfo, readable_sets
from skills.qa.settings import QASettings

INDEX_KEY = "qa.index"
SETTINGS_KEY = "qa.settings"
KINTONE_KEY = "qa.kintone"


def settings_of(services) -> QASettings:
    return services.extra(SETTINGS_KEY, QASettings)


def kintone_of(services) -> KintoneClient:
    return services.extra(KINTONE_KEY, lambda: KintoneClient(KintoneSettings()))


def index_of(services) -> Index:
    """The process's one search index. Embeddings through services.ai when an embeddings endpoint exists."""
    def build() -> Index:
        if services.ai.can_embed:
            return Index(services.db, embed=services.ai.embed, embed_space=services.ai.embeddings_space)
        return Index(services.db)
    return services.extra(INDEX_KEY, build)


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
    return [i for i in await index_of(services).list_sets() if can_write(i, aad_object_id, s)]
