"""Reader profiles: created on first use with defaults, pre-filled from Microsoft Graph when it is configured."""
from __future__ import annotations

import logging
import re
import unicodedata

from core.store.db import upsert
from skills.news.models import NewsProfile
from skills.news.settings import NewsSettings

log = logging.getLogger(__name__)

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::\d\d)?$")
_MAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_KEYWORDS = 30
MAX_PERSONAL_SOURCES = 10


def parse_time(value: str | None) -> str | None:
    """'8:30' / '08:30' / '08:30:00' -> '08:30' between 05:00 and 21:59; None when invalid."""
    m = _TIME.match(unicodedata.normalize("NFKC", value or "").strip())
    if not m:
        return None
    h, mi = int(m.group(1)), int(m.group(2))
    if not 5 <= h <= 21:
        return None
    return f"{h:02d}:{mi:02d}"


def parse_keywords(value: str | None) -> list[str]:
    raw = re.split(r"[、,，;；\n\r\t]+", unicodedata.normalize("NFKC", value or ""))
    out: list[str] = []
    for k in raw:
        k = k.strip()[:40]
        if k and k not in out:
            out.append(k)
    return out[:MAX_KEYWORDS]


def valid_mail(value: str) -> bool:
    return bool(_MAIL.match(value.strip()))


async def get_or_create(services, req, settings: NewsSettings) -> NewsProfile:
    """The caller's profile (created with defaults); remembers the personal conversation for deliveries."""
    async with services.db.session() as s:
        p = await s.get(NewsProfile, req.user_id)
        if p is None:
            # INSERT … ON CONFLICT DO NOTHING: two first turns of a new user at once (or on two replicas) both
            # get the one row instead of a UNIQUE violation.
            await upsert(s, NewsProfile, dict(
                user_id=req.user_id, aad_object_id=req.aad_object_id, keywords=[], tags=[], sources=[],
                delivery_time=settings.NEWS_DEFAULT_TIME, mail=False, paused=False, undeliverable=False,
                graph_checked=False, term_weights={}), keys=["user_id"], update=[])
            p = await s.get(NewsProfile, req.user_id)
        if req.personal and req.conversation_id and p.conversation_id != req.conversation_id:
            p.conversation_id = req.conversation_id
            p.undeliverable = False
        if req.aad_object_id and not p.aad_object_id:
            p.aad_object_id = req.aad_object_id
    if not p.graph_checked:
        await prefill_from_graph(services, p.user_id)
        async with services.db.session() as s:
            p = await s.get(NewsProfile, req.user_id)
    return p


async def prefill_from_graph(services, user_id: str) -> bool:
    """Fill department / job title / mail from GET /users/{aad id} once (fields already set are kept)."""
    graph = services.graph
    async with services.db.session() as s:
        p = await s.get(NewsProfile, user_id)
        if p is None or graph is None or not p.aad_object_id:
            return False
        aad = p.aad_object_id
    try:
        u = await graph.get_user(aad)
    except Exception as e:  # noqa: BLE001 - a profile lookup never blocks the digest
        log.warning("graph profile lookup failed: %s", type(e).__name__)
        return False
    async with services.db.session() as s:
        p = await s.get(NewsProfile, user_id)
        p.department = p.department or u.department
        p.job_title = p.job_title or u.job_title
        p.mail_address = p.mail_address or u.mail
        p.graph_checked = True
    return True
