"""Past 議会答弁 and plans for answer drafts, from the one knowledge index (`services.knowledge`, hybrid when
embeddings are configured, the same index /ask searches).

`find_references(...)` returns [] when no set is configured (DRAFT_REFERENCE_SETS); it raises
ReferencesUnavailable when the search fails (the draft is then written without references and says so)."""
from __future__ import annotations

import logging

from core.profiles import group_ids
from core.search.index import readable_sets
from core.skills import SkillRequest
from skills.drafting.compose import Reference, budget_references
from skills.drafting.settings import DraftingSettings

log = logging.getLogger(__name__)

class ReferencesUnavailable(Exception):
    pass


async def find_references(services, req: SkillRequest, query: str, settings: DraftingSettings) -> list[Reference]:
    sets = settings.reference_sets
    if not sets or not query.strip():
        return []
    try:
        index = services.knowledge
        allowed = set(await readable_sets(req.aad_object_id, await group_ids(services, req.aad_object_id),
                                              services.db))
        names = [n for n in sets if n in allowed]
        if not names:
            return []
        hits = await index.search(query, names, k=max(1, settings.DRAFT_REFERENCE_K))
    except Exception as e:  # noqa: BLE001 - a broken index must not stop the draft
        log.warning("reference search failed: %s", type(e).__name__)
        raise ReferencesUnavailable() from e
    out = []
    for i, h in enumerate(hits, 1):
        name = h.title + (f"（{h.section}）" if h.section and h.section != h.title else "")
        out.append(Reference(position=i, title=name[:80], text=h.text, url=h.url))
    return budget_references(out, settings.DRAFT_REFERENCE_CHARS)
