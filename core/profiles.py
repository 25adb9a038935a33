"""Staff profiles: department and job title from Microsoft Graph, for the audit record and the city's KPI."""
from __future__ import annotations

import logging

from sqlalchemy import select

from core.store.models import UserProfile

log = logging.getLogger(__name__)


async def department_of(db, user_id: str) -> str | None:
    """The user's department as stored in their profile (None when unknown). Never raises: a lookup must not
    break a turn."""
    try:
        async with db.session() as s:
            return await s.scalar(select(UserProfile.department).where(UserProfile.user_id == user_id))
    except Exception as e:  # noqa: BLE001
        log.warning("department lookup failed: %s", type(e).__name__)
        return None


async def enrich_from_graph(services, user_id: str) -> bool:
    """Fill department and job title from GET /users/{aad id} once per user (values already set are kept).
    Returns True when Graph was asked. Never raises: a lookup must not break a turn."""
    graph = services.graph
    if graph is None:
        return False
    async with services.db.session() as s:
        prof = await s.get(UserProfile, user_id)
        if prof is None or not prof.aad_object_id or (prof.prefs or {}).get("graph_checked"):
            return False
        aad = prof.aad_object_id
    try:
        user = await graph.get_user(aad)
    except Exception as e:  # noqa: BLE001
        log.warning("graph profile lookup failed: %s", type(e).__name__)
        return False
    async with services.db.session() as s:
        prof = await s.get(UserProfile, user_id)
        prof.department = prof.department or user.department
        prof.job_title = prof.job_title or user.job_title
        prof.prefs = {**(prof.prefs or {}), "graph_checked": True}
    return True


async def group_ids(services, aad_object_id: str | None) -> list[str]:
    """The Entra ID groups of a user (transitive), from Graph, cached 15 minutes per process. Empty without Graph
    or on a Graph error (access then falls back to what is granted to the user or to everyone)."""
    if not aad_object_id or services.graph is None:
        return []
    cache = services.caches.groups
    hit = cache.get(aad_object_id)
    if hit is not None:
        return hit
    try:
        groups = await services.graph.member_groups(aad_object_id)
    except Exception as e:  # noqa: BLE001
        log.warning("graph group lookup failed: %s", type(e).__name__)
        return []
    cache.put(aad_object_id, groups)
    return groups
