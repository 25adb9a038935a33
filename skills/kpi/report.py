"""The KPI numbers, computed in SQL (SQLAlchemy Core) from the audit records.

Portable on SQLite and PostgreSQL: every period is turned into a half-open UTC range [start, end) computed in
Python from Japanese calendar dates (JST, fiscal year from April 1), and time buckets (weeks, months) are a CASE
over those bounds in a subquery, so neither dialect's date functions nor its time-zone handling are involved.
Timestamps are compared as UTC (SQLite stores the UTC wall-clock text written by `utcnow`).

Only staff requests count: background work (user ids starting with SYSTEM_USER_PREFIX, e.g. the news summaries made
by "system:news") stays in the audit but out of every figure here. Residents' questions on the city's website (user
ids starting with CITIZEN_USER_PREFIX) are counted apart, by the outcome of their one record per question
(CITIZEN_OUTCOMES: answered, handed_off, declined)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Sequence

from sqlalchemy import and_, case, distinct, func, literal, or_, select

from core.store import Database
from core.store.models import CITIZEN_OUTCOMES, CITIZEN_USER_PREFIX, SYSTEM_USER_PREFIX, Feedback, UsageEvent
from core.timeutil import JST
from skills.kpi.models import QuizResult
from skills.kpi.settings import KpiSettings

# a use = the assistant answered ("approved": from a staff-approved answer, without the LLM); refused and error
# attempts are not
USE_OUTCOMES = ("ok", "offline", "stopped", "approved")
UNKNOWN_DEPT = "（部署未設定）"
WEEKS = 12

U = UsageEvent.__table__
F = Feedback.__table__
Q = QuizResult.__table__
STAFF = or_(U.c.user_id.is_(None), and_(~U.c.user_id.startswith(SYSTEM_USER_PREFIX, autoescape=True),
                                         ~U.c.user_id.startswith(CITIZEN_USER_PREFIX, autoescape=True)))
"""A staff request, not the assistant's own background work nor a resident's question."""
CITIZEN = and_(U.c.user_id.startswith(CITIZEN_USER_PREFIX, autoescape=True), U.c.outcome.in_(CITIZEN_OUTCOMES))
"""The one record of each resident's question (the AI calls made for it have other outcomes)."""


# -- calendar ---------------------------------------------------------------------------------------------------

FIRST_DATE = date(2000, 1, 1)      # the range of dates the exports accept (the audit log holds nothing outside it;
LAST_DATE = date(2099, 12, 31)     # beyond it, date arithmetic overflows)


def fiscal_year(d: date) -> int:
    """Japanese 年度: April to March, named by the year it starts in."""
    return d.year if d.month >= 4 else d.year - 1


def fiscal_year_start(d: date) -> date:
    return date(fiscal_year(d), 4, 1)


def fiscal_year_label(fy: int) -> str:
    """2026 → 「令和8年度（2026年度）」."""
    return f"令和{fy - 2018}年度（{fy}年度）" if fy >= 2019 else f"{fy}年度"


def jst_midnight_utc(d: date) -> datetime:
    """The UTC instant at which the JST day `d` begins."""
    return datetime.combine(d, time(0), tzinfo=JST).astimezone(timezone.utc)


def prorated(annual: float, today: date) -> float:
    """The annual target pro-rated to the end of `today` (JST) within its fiscal year, by days."""
    start = fiscal_year_start(today)
    days_in_year = (date(start.year + 1, 4, 1) - start).days
    elapsed = (today - start).days + 1
    return annual * elapsed / days_in_year


def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def month_start(d: date) -> date:
    return d.replace(day=1)


def add_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


# -- the report -------------------------------------------------------------------------------------------------

@dataclass
class DeptRow:
    name: str
    users_fytd: int = 0
    users_month: int = 0
    uses_fytd: int = 0
    staff: int | None = None

    @property
    def share(self) -> float | None:
        return self.users_fytd / self.staff if self.staff else None


@dataclass
class SkillRow:
    skill: str
    uses: int
    minutes_per_use: float

    @property
    def hours(self) -> float:
        return self.uses * self.minutes_per_use / 60


@dataclass
class QuizRow:
    department: str
    takers: int
    attempts: int
    average_percent: float


@dataclass
class KpiReport:
    today: date
    fiscal_year: int
    uses_month: int = 0
    uses_fytd: int = 0
    target_uses_year: int = 0
    target_uses_fytd: float = 0.0
    active_users_month: int = 0
    active_users_fytd: int = 0
    staff_total: int = 0
    departments: list[DeptRow] = field(default_factory=list)
    skills: list[SkillRow] = field(default_factory=list)
    target_hours_year: float = 0.0
    target_hours_fytd: float = 0.0
    likes: int = 0
    dislikes: int = 0
    weeks: list[tuple[date, int]] = field(default_factory=list)
    quiz: list[QuizRow] = field(default_factory=list)
    citizen_month: dict[str, int] = field(default_factory=dict)    # outcome → residents' questions this month
    citizen_fytd: dict[str, int] = field(default_factory=dict)     # the same, this fiscal year

    @property
    def fy_label(self) -> str:
        return fiscal_year_label(self.fiscal_year)

    @property
    def hours_fytd(self) -> float:
        return sum(s.hours for s in self.skills)

    @property
    def like_ratio(self) -> float | None:
        n = self.likes + self.dislikes
        return self.likes / n if n else None

    @property
    def uses_progress(self) -> float | None:
        return self.uses_fytd / self.target_uses_fytd if self.target_uses_fytd else None

    @property
    def hours_progress(self) -> float | None:
        return self.hours_fytd / self.target_hours_fytd if self.target_hours_fytd else None

    @property
    def share_fytd(self) -> float | None:
        return self.active_users_fytd / self.staff_total if self.staff_total else None


def _uses(start: datetime, end: datetime):
    return and_(U.c.created_at >= start, U.c.created_at < end, U.c.outcome.in_(USE_OUTCOMES), STAFF)


def bucket_subquery(bounds: Sequence[datetime], *columns, where=None):
    """SELECT <bucket index>, columns FROM usage_events for rows inside the bounds (bucket i = [b[i], b[i+1]))."""
    whens = [(and_(U.c.created_at >= bounds[i], U.c.created_at < bounds[i + 1]), literal(i))
             for i in range(len(bounds) - 1)]
    bucket = case(*whens, else_=literal(-1)).label("bucket")
    q = select(bucket, *columns).where(U.c.created_at >= bounds[0], U.c.created_at < bounds[-1],
                                       U.c.outcome.in_(USE_OUTCOMES), STAFF)
    if where is not None:
        q = q.where(where)
    return q.subquery()


async def build_report(db: Database, settings: KpiSettings, now: datetime) -> KpiReport:
    today = now.astimezone(JST).date()
    fy_start = fiscal_year_start(today)
    start_fy = jst_midnight_utc(fy_start)
    start_month = jst_midnight_utc(month_start(today))
    end = jst_midnight_utc(today + timedelta(days=1))
    r = KpiReport(today=today, fiscal_year=fiscal_year(today), target_uses_year=settings.KPI_ANNUAL_TARGET_USES,
                  target_uses_fytd=prorated(settings.KPI_ANNUAL_TARGET_USES, today),
                  target_hours_year=settings.KPI_ANNUAL_TARGET_HOURS,
                  target_hours_fytd=prorated(settings.KPI_ANNUAL_TARGET_HOURS, today),
                  staff_total=settings.KPI_STAFF_TOTAL)
    dept = func.coalesce(U.c.department, literal(UNKNOWN_DEPT)).label("dept")
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(func.count(), func.count(distinct(U.c.user_id)))
                                  .where(_uses(start_fy, end)))).one()
        r.uses_fytd, r.active_users_fytd = int(row[0]), int(row[1])
        row = (await conn.execute(select(func.count(), func.count(distinct(U.c.user_id)))
                                  .where(_uses(start_month, end)))).one()
        r.uses_month, r.active_users_month = int(row[0]), int(row[1])

        depts: dict[str, DeptRow] = {}
        for name, uses, users in await conn.execute(
                select(dept, func.count(), func.count(distinct(U.c.user_id))).where(_uses(start_fy, end))
                .group_by(dept)):
            depts[name] = DeptRow(name, users_fytd=int(users), uses_fytd=int(uses))
        for name, users in await conn.execute(
                select(dept, func.count(distinct(U.c.user_id))).where(_uses(start_month, end)).group_by(dept)):
            depts.setdefault(name, DeptRow(name)).users_month = int(users)
        for name, staff in settings.KPI_STAFF_BY_DEPT.items():
            depts.setdefault(name, DeptRow(name)).staff = int(staff)
        # Lowest share first (who is not using it yet), departments without a staff count last.
        r.departments = sorted(depts.values(), key=lambda d: (d.share is None, d.share or 0, -d.users_fytd, d.name))

        for skill, uses in await conn.execute(
                select(U.c.skill, func.count()).where(_uses(start_fy, end)).group_by(U.c.skill)):
            r.skills.append(SkillRow(skill, int(uses), settings.minutes_for(skill)))
        r.skills.sort(key=lambda s: (-s.hours, s.skill))

        for reaction, n in await conn.execute(
                select(F.c.reaction, func.count()).where(F.c.created_at >= start_fy, F.c.created_at < end)
                .group_by(F.c.reaction)):
            if reaction == "like":
                r.likes = int(n)
            elif reaction == "dislike":
                r.dislikes = int(n)

        first_week = week_start(today) - timedelta(weeks=WEEKS - 1)
        week_days = [first_week + timedelta(weeks=i) for i in range(WEEKS + 1)]
        bounds = [jst_midnight_utc(d) for d in week_days]
        bounds[-1] = min(bounds[-1], end)          # the current week counts up to the end of today
        sub = bucket_subquery(bounds)
        counts = {int(b): int(n) for b, n in await conn.execute(
            select(sub.c.bucket, func.count()).group_by(sub.c.bucket))}
        r.weeks = [(week_days[i], counts.get(i, 0)) for i in range(WEEKS)]

        r.citizen_fytd = await citizen_counts(conn, start_fy, end)
        r.citizen_month = await citizen_counts(conn, start_month, end)

        qdept = func.coalesce(Q.c.department, literal(UNKNOWN_DEPT)).label("dept")
        for name, takers, attempts, pct in await conn.execute(
                select(qdept, func.count(distinct(Q.c.user_id)), func.count(),
                       func.avg(Q.c.score * 100.0 / Q.c.total))
                .where(Q.c.created_at >= start_fy, Q.c.created_at < end, Q.c.total > 0).group_by(qdept)):
            r.quiz.append(QuizRow(name, int(takers), int(attempts), float(pct or 0)))
        r.quiz.sort(key=lambda q: q.department)
    return r


async def citizen_counts(conn, start: datetime, end: datetime) -> dict[str, int]:
    """Residents' questions in [start, end) by outcome (every outcome of CITIZEN_OUTCOMES present, 0 when none)."""
    out = dict.fromkeys(CITIZEN_OUTCOMES, 0)
    for outcome, n in await conn.execute(
            select(U.c.outcome, func.count()).where(U.c.created_at >= start, U.c.created_at < end, CITIZEN)
            .group_by(U.c.outcome)):
        out[outcome] = int(n)
    return out


# -- monthly aggregates (CSV) -------------------------------------------------------------------------------------

@dataclass
class MonthRow:
    month: date
    department: str
    skill: str
    uses: int
    users: int
    hours: float


async def monthly_rows(db: Database, settings: KpiSettings, fy: int, now: datetime) -> list[MonthRow]:
    """Uses, distinct users and estimated hours per month × department × skill for fiscal year `fy` (to today)."""
    months = [date(fy, 4, 1)]
    while len(months) < 13:
        months.append(add_month(months[-1]))
    bounds = [jst_midnight_utc(m) for m in months]
    end = min(bounds[-1], jst_midnight_utc(now.astimezone(JST).date() + timedelta(days=1)))
    bounds = [b for b in bounds if b < end] + [end]
    if len(bounds) < 2:
        return []
    dept = func.coalesce(U.c.department, literal(UNKNOWN_DEPT)).label("dept")
    sub = bucket_subquery(bounds, dept, U.c.skill.label("skill"), U.c.user_id.label("user_id"))
    out: list[MonthRow] = []
    async with db.engine.connect() as conn:
        for b, d, skill, uses, users in await conn.execute(
                select(sub.c.bucket, sub.c.dept, sub.c.skill, func.count(), func.count(distinct(sub.c.user_id)))
                .group_by(sub.c.bucket, sub.c.dept, sub.c.skill)
                .order_by(sub.c.bucket, sub.c.dept, sub.c.skill)):
            out.append(MonthRow(months[int(b)], d, skill, int(uses), int(users),
                                int(uses) * settings.minutes_for(skill) / 60))
    return out


async def monthly_totals(db: Database, fy: int, now: datetime) -> list[tuple[date, int, int, int, int]]:
    """Per month of fiscal year `fy`: (month, uses, distinct users, refused, errors), of staff requests."""
    months = [date(fy, 4, 1)]
    while len(months) < 13:
        months.append(add_month(months[-1]))
    end = min(jst_midnight_utc(months[-1]), jst_midnight_utc(now.astimezone(JST).date() + timedelta(days=1)))
    bounds = [b for b in (jst_midnight_utc(m) for m in months) if b < end] + [end]
    if len(bounds) < 2:
        return []
    whens = [(and_(U.c.created_at >= bounds[i], U.c.created_at < bounds[i + 1]), literal(i))
             for i in range(len(bounds) - 1)]
    bucket = case(*whens, else_=literal(-1)).label("bucket")
    sub = select(bucket, U.c.user_id, U.c.outcome).where(U.c.created_at >= bounds[0],
                                                         U.c.created_at < bounds[-1], STAFF).subquery()
    is_use = sub.c.outcome.in_(USE_OUTCOMES)
    q = (select(sub.c.bucket,
                func.sum(case((is_use, 1), else_=0)),
                func.count(distinct(case((is_use, sub.c.user_id), else_=None))),
                func.sum(case((sub.c.outcome == "refused", 1), else_=0)),
                func.sum(case((sub.c.outcome == "error", 1), else_=0)))
         .group_by(sub.c.bucket))
    got: dict[int, tuple[int, int, int, int]] = {}
    async with db.engine.connect() as conn:
        for b, uses, users, refused, errors in await conn.execute(q):
            got[int(b)] = (int(uses or 0), int(users or 0), int(refused or 0), int(errors or 0))
    return [(months[i], *got.get(i, (0, 0, 0, 0))) for i in range(len(bounds) - 1)]
