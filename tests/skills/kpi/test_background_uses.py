"""Background work (news summaries made by the `system:news` pseudo-user) is audited but is no staff use: the KPI
card, the weekly figures, the nudges and the monthly CSVs count staff requests only. Both back ends."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from core.store.models import ConversationRef, UsageEvent, UserProfile
from skills.kpi.export import audit_csv, monthly_csv, monthly_detail_csv
from skills.kpi.nudges import run_nudges
from skills.kpi.report import build_report, jst_midnight_utc
from tests.harness import make_services
from tests.skills.kpi.conftest import NOW, FixedClock, kpi_settings
from tests.skills.kpi.test_nudges import FakeProactive


def _rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


async def _background_summaries(db, n: int = 5) -> None:
    """What the news fetch cycle writes for each article summarised (and one failed call)."""
    async with db.session() as s:
        for i in range(n):
            s.add(UsageEvent(user_id="system:news", conversation_id="system:news", skill="news", command="news",
                             outcome="ok", created_at=NOW - timedelta(hours=i + 1)))
        s.add(UsageEvent(user_id="system:news", conversation_id="system:news", skill="news", command="news",
                         outcome="error", reason="timeout", created_at=NOW - timedelta(hours=1)))


async def test_background_summaries_are_no_staff_use(db):
    await _background_summaries(db)
    settings = kpi_settings()

    r = await build_report(db, settings, NOW)
    assert (r.uses_fytd, r.uses_month) == (0, 0)
    assert (r.active_users_fytd, r.active_users_month) == (0, 0)
    assert r.skills == [] and r.hours_fytd == 0
    assert all(n == 0 for _, n in r.weeks)
    assert all(d.users_fytd == 0 and d.uses_fytd == 0 for d in r.departments)

    monthly = _rows(await monthly_csv(db, settings, 2026, NOW))
    assert monthly[-1] == ["2026-11", "0", "0", "0.0", "0", "0"]
    assert _rows(await monthly_detail_csv(db, settings, 2026, NOW))[1:] == []

    # The audit still records every AI call.
    audit = _rows(await audit_csv(db, jst_midnight_utc(NOW.date().replace(month=4, day=1)), NOW + timedelta(days=1)))
    assert [row[2] for row in audit[1:]].count("system:news") == 6


async def test_staff_use_still_counts_beside_background_work(db):
    await _background_summaries(db)
    async with db.session() as s:
        s.add(UsageEvent(user_id="u1", department="企画財政局", skill="news", outcome="ok",
                         created_at=NOW - timedelta(minutes=5)))
    r = await build_report(db, kpi_settings(), NOW)
    assert (r.uses_month, r.active_users_month) == (1, 1)
    assert r.weeks[-1][1] == 1


async def test_weekly_tip_still_goes_to_staff_who_did_not_use_it(db):
    await _background_summaries(db)
    async with db.session() as s:
        s.add(UserProfile(user_id="u1", department="企画財政局", prefs={}))
        s.add(ConversationRef(conversation_id="a:u1", user_id="u1", conversation_type="personal",
                              service_url="http://127.0.0.1:1/", reference={}, installed=True))
    services = make_services(db)
    services.clock = FixedClock(NOW)
    services.settings.put(kpi_settings(NUDGE_DEPARTMENTS="*"))
    services.proactive = FakeProactive()
    assert await run_nudges(services, NOW) == 1
    assert [conv for conv, _ in services.proactive.sent] == ["a:u1"]
