"""Admin-only HTTP export of the audit log: GET /admin/audit.csv (mounted by bot/, which owns the routes).

    Authorization: Bearer <AUDIT_EXPORT_TOKEN>        (core.guard.policy.GuardSettings; empty = endpoint off → 404)
    ?from=YYYY-MM-DD&to=YYYY-MM-DD                    (JST dates, both inclusive; default: this fiscal year to today)

The CSV (UTF-8 with BOM, never the prompt text) is streamed from the database in batches, so a year of records
does not sit in memory."""
from __future__ import annotations

import logging
from datetime import date, timedelta

from aiohttp import web

from core.services import Services
from core.timeutil import JST
from core.tokens import same_secret
from skills.kpi.export import BOM, audit_chunks
from skills.kpi.report import FIRST_DATE, LAST_DATE, fiscal_year_start, jst_midnight_utc

log = logging.getLogger(__name__)

MAX_DAYS = 800


def _token(services: Services) -> str | None:
    guard = getattr(services.ai, "guard", None)
    settings = getattr(guard, "settings", None)
    token = getattr(settings, "AUDIT_EXPORT_TOKEN", None)
    if token is not None and hasattr(token, "get_secret_value"):
        token = token.get_secret_value()
    return token or None


def _date(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise web.HTTPBadRequest(text="from/to must be dates like 2026-04-01") from None
    if not FIRST_DATE <= d <= LAST_DATE:
        raise web.HTTPBadRequest(text=f"from/to must be between {FIRST_DATE} and {LAST_DATE}")
    return d


async def audit_csv(request: web.Request, services: Services) -> web.StreamResponse:
    """GET /admin/audit.csv (declared in the skill's routes)."""
    token = _token(services)
    if not token:
        raise web.HTTPNotFound()
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not same_secret(presented.strip(), token):
        log.warning("audit export refused: bad or missing bearer token")
        raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Bearer realm="audit"'})
    today = services.clock.now().astimezone(JST).date()
    first = _date(request.query.get("from"), fiscal_year_start(today))
    last = _date(request.query.get("to"), today)
    if last < first:
        raise web.HTTPBadRequest(text="to must not be before from")
    if (last - first).days > MAX_DAYS:
        raise web.HTTPBadRequest(text=f"at most {MAX_DAYS} days per export")
    start, end = jst_midnight_utc(first), jst_midnight_utc(last + timedelta(days=1))
    name = f"ai_audit_{first:%Y%m%d}_{last:%Y%m%d}.csv"
    resp = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
    })
    await resp.prepare(request)
    await resp.write(BOM.encode("utf-8"))
    async for chunk in audit_chunks(services.db, start, end):
        await resp.write(chunk.encode("utf-8"))
    await resp.write_eof()
    log.info("audit export served", extra={"from": first.isoformat(), "to": last.isoformat()})
    return resp


