"""Seeded audit records with hand-computed KPI figures (NOW = 2026-11-30 09:30 JST, fiscal year 2026)."""
from __future__ import annotations

from datetime import datetime, timezone

from core.store.models import Feedback, UsageEvent
from skills.kpi.models import QuizResult


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


EVENTS = [
    # (UTC time, user, department, skill, outcome)
    (utc(2026, 3, 31, 14, 59), "u9", "企画財政局", "drafting", "ok"),    # 3/31 23:59 JST: previous fiscal year
    (utc(2026, 3, 31, 15, 0), "u1", "企画財政局", "drafting", "ok"),     # 4/1 00:00 JST: first instant of FY2026
    (utc(2026, 6, 15, 3, 0), "u5", "環境部", "news", "ok"),
    (utc(2026, 10, 31, 14, 59), "u2", "市民協働局", "qa", "ok"),         # 10/31 23:59 JST: not this month
    (utc(2026, 10, 31, 15, 0), "u2", "市民協働局", "qa", "ok"),          # 11/1 00:00 JST: this month
    (utc(2026, 11, 10, 3, 0), "u1", "企画財政局", "planning", "stopped"),
    (utc(2026, 11, 20, 3, 0), "u4", "企画財政局", "drafting", "error"),  # not a use
    (utc(2026, 11, 29, 10, 0), "u3", None, "chat", "offline"),           # Sunday 19:00 JST
    (utc(2026, 11, 29, 11, 0), "u3", None, "chat", "refused"),           # not a use
    (utc(2026, 11, 30, 0, 0), "u1", "企画財政局", "drafting", "ok"),     # today 09:00 JST
    (utc(2026, 11, 30, 15, 0), "u1", "企画財政局", "drafting", "ok"),    # 12/1 00:00 JST: after today
]

FEEDBACK = [
    (utc(2026, 3, 1), "like"),          # before the fiscal year
    (utc(2026, 5, 1), "like"), (utc(2026, 9, 1), "like"), (utc(2026, 11, 2), "like"), (utc(2026, 11, 3), "dislike"),
]

QUIZ = [
    (utc(2026, 11, 1), "u1", "企画財政局", 6, 8), (utc(2026, 11, 2), "u1", "企画財政局", 8, 8),
    (utc(2026, 11, 3), "u5", "環境部", 4, 8), (utc(2026, 1, 3), "u5", "環境部", 8, 8),  # the last: previous FY
]


async def seed(db, *, prompt_text: str | None = None) -> None:
    async with db.session() as s:
        for at, user, dept, skill, outcome in EVENTS:
            s.add(UsageEvent(created_at=at, user_id=user, aad_object_id=f"aad-{user}", department=dept, skill=skill,
                             command=skill, outcome=outcome, tier="internet", endpoint="openai", model="gpt-x",
                             prompt_tokens=100, completion_tokens=50, masked={"name": 1} if user == "u1" else {},
                             latency_ms=1234.4, prompt_text=prompt_text, correlation_id=f"c-{user}"))
        for at, reaction in FEEDBACK:
            s.add(Feedback(created_at=at, user_id="u1", reaction=reaction))
        for at, user, dept, sc, total in QUIZ:
            s.add(QuizResult(created_at=at, user_id=user, department=dept, role="general", score=sc, total=total,
                             answers={}))
