"""KPI aggregates computed in SQL from seeded audit records, on SQLite and PostgreSQL, against hand-computed figures."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from skills.kpi.report import (
    UNKNOWN_DEPT,
    build_report,
    fiscal_year,
    fiscal_year_label,
    fiscal_year_start,
    jst_midnight_utc,
    monthly_rows,
    monthly_totals,
    prorated,
)
from tests.skills.kpi.conftest import NOW, kpi_settings


def test_fiscal_year_starts_on_april_first_jst():
    assert fiscal_year(date(2026, 3, 31)) == 2025
    assert fiscal_year(date(2026, 4, 1)) == 2026
    assert fiscal_year_start(date(2027, 2, 10)) == date(2026, 4, 1)
    assert fiscal_year_label(2026) == "令和8年度（2026年度）"
    assert jst_midnight_utc(date(2026, 4, 1)) == datetime(2026, 3, 31, 15, 0, tzinfo=timezone.utc)


def test_prorating_by_days_of_the_fiscal_year():
    assert prorated(365, date(2026, 4, 1)) == pytest.approx(1)
    assert prorated(700_000, date(2026, 11, 30)) == pytest.approx(700_000 * 244 / 365)
    assert prorated(700_000, date(2027, 3, 31)) == pytest.approx(700_000)
    # FY2027 contains 29 February 2028: 366 days.
    assert prorated(366, date(2028, 2, 29)) == pytest.approx(335)
    assert prorated(366, date(2028, 3, 31)) == pytest.approx(366)


async def test_report_from_seeded_audit_records(seeded_db):
    db = seeded_db
    settings = kpi_settings(KPI_STAFF_BY_DEPT={"企画財政局": 10, "市民協働局": 4, "環境部": 5, "消防局": 8})
    r = await build_report(db, settings, NOW)

    assert r.today == date(2026, 11, 30) and r.fiscal_year == 2026
    assert (r.uses_fytd, r.uses_month) == (7, 4)
    assert (r.active_users_fytd, r.active_users_month) == (4, 3)
    assert r.target_uses_fytd == pytest.approx(700_000 * 244 / 365)
    assert r.share_fytd == pytest.approx(4 / 3000)

    by = {d.name: d for d in r.departments}
    assert [d.name for d in r.departments] == ["消防局", "企画財政局", "環境部", "市民協働局", UNKNOWN_DEPT]
    assert (by["企画財政局"].uses_fytd, by["企画財政局"].users_fytd, by["企画財政局"].users_month) == (3, 1, 1)
    assert by["企画財政局"].share == pytest.approx(0.1)
    assert (by["市民協働局"].uses_fytd, by["市民協働局"].users_month, by["市民協働局"].share) == (2, 1, 0.25)
    assert (by["環境部"].users_fytd, by["環境部"].users_month) == (1, 0)
    assert (by["消防局"].users_fytd, by["消防局"].staff, by["消防局"].share) == (0, 8, 0)
    assert (by[UNKNOWN_DEPT].uses_fytd, by[UNKNOWN_DEPT].staff, by[UNKNOWN_DEPT].share) == (1, None, None)

    assert {s.skill: s.uses for s in r.skills} == {"drafting": 2, "qa": 2, "planning": 1, "news": 1, "chat": 1}
    assert {s.skill: round(s.hours, 4) for s in r.skills} == {
        "drafting": 1.0, "planning": 1.0, "qa": round(20 / 60, 4), "news": 0.25, "chat": round(5 / 60, 4)}
    assert r.hours_fytd == pytest.approx(160 / 60)
    assert r.target_hours_fytd == pytest.approx(20_000 * 244 / 365)

    assert (r.likes, r.dislikes, r.like_ratio) == (3, 1, 0.75)

    assert [d for d, _ in r.weeks][0] == date(2026, 9, 14) and r.weeks[-1][0] == date(2026, 11, 30)
    assert [n for _, n in r.weeks] == [0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 1, 1]

    assert [(q.department, q.takers, q.attempts, round(q.average_percent, 2)) for q in r.quiz] == [
        ("企画財政局", 1, 2, 87.5), ("環境部", 1, 1, 50.0)]


async def test_minutes_saved_are_configurable_per_skill(seeded_db):
    db = seeded_db
    r = await build_report(db, kpi_settings(KPI_MINUTES_SAVED={"drafting": 45}, KPI_MINUTES_SAVED_DEFAULT=3), NOW)
    minutes = {s.skill: s.minutes_per_use for s in r.skills}
    assert minutes["drafting"] == 45 and minutes["qa"] == 10      # overridden / default kept
    assert r.hours_fytd == pytest.approx((2 * 45 + 2 * 10 + 60 + 15 + 5) / 60)


async def test_empty_database_gives_zeros(sqlite_db):
    db = sqlite_db
    r = await build_report(db, kpi_settings(KPI_STAFF_BY_DEPT={}), NOW)
    assert (r.uses_fytd, r.active_users_fytd, r.hours_fytd, r.like_ratio) == (0, 0, 0, None)
    assert r.departments == [] and [n for _, n in r.weeks] == [0] * 12


async def test_monthly_aggregates(seeded_db):
    db = seeded_db
    totals = await monthly_totals(db, 2026, NOW)
    assert [m for m, *_ in totals] == [date(2026, m, 1) for m in range(4, 12)]
    got = {m.month: (uses, users, refused, errors) for m, uses, users, refused, errors in totals}
    assert got[4] == (1, 1, 0, 0) and got[6] == (1, 1, 0, 0) and got[10] == (1, 1, 0, 0)
    assert got[11] == (4, 3, 1, 1)
    assert got[5] == (0, 0, 0, 0)

    rows = await monthly_rows(db, kpi_settings(), 2026, NOW)
    assert [(r.month.month, r.department, r.skill, r.uses, r.users) for r in rows] == [
        (4, "企画財政局", "drafting", 1, 1),
        (6, "環境部", "news", 1, 1),
        (10, "市民協働局", "qa", 1, 1),
        (11, "企画財政局", "drafting", 1, 1),
        (11, "企画財政局", "planning", 1, 1),
        (11, "市民協働局", "qa", 1, 1),
        (11, UNKNOWN_DEPT, "chat", 1, 1),
    ]
