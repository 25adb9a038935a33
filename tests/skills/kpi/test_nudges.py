"""Weekly tips to inactive staff: who gets one, at most once a week, off by default, with a controlled clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from core.services import SendResult
from core.store.models import ConversationRef, UsageEvent, UserProfile
from skills.kpi.models import NudgeLog
from skills.kpi.nudges import nudge_due, nudge_tick, run_nudges, week_key
from tests.harness import make_services
from tests.skills.kpi.conftest import FixedClock, kpi_settings

MONDAY_10 = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)       # Monday 10:00 JST


class FakeProactive:
    def __init__(self):
        self.sent: list[tuple[str, dict]] = []
        self.results: dict[str, SendResult] = {}

    async def send(self, conversation_id, *, text=None, card=None, ai_generated=False):
        self.sent.append((conversation_id, card))
        return self.results.get(conversation_id, SendResult(ok=True, status=200, activity_id="x"))


async def _people(db):
    async with db.session() as s:
        for user, dept, conv, ctype, installed in [
            ("u1", "企画財政局", "a:u1", "personal", True),
            ("u2", "企画財政局", "a:u2", "personal", True),
            ("u3", "市民協働局", "a:u3", "personal", True),
            ("u4", "企画財政局", "a:u4", "personal", False),
            ("u5", None, "a:u5", "personal", True),
            ("u6", "企画財政局", "19:team@thread.tacv2", "channel", True),
        ]:
            if dept or user != "u5":
                s.add(UserProfile(user_id=user, department=dept, prefs={}))
            s.add(ConversationRef(conversation_id=conv, user_id=user, conversation_type=ctype,
                                  service_url="http://127.0.0.1:1/", reference={}, installed=installed))
        s.add(UsageEvent(user_id="u1", skill="qa", outcome="ok", created_at=MONDAY_10 - timedelta(days=3)))
        s.add(UsageEvent(user_id="u2", skill="qa", outcome="ok", created_at=MONDAY_10 - timedelta(days=20)))


def _svc(make_svc, now=MONDAY_10, **kw):
    svc = make_svc(now=now, **kw)
    svc.proactive = FakeProactive()
    return svc


async def test_off_by_default(make_svc, sqlite_db):
    await _people(sqlite_db)
    svc = _svc(make_svc)
    assert await run_nudges(svc, MONDAY_10) == 0 and svc.proactive.sent == []


async def test_only_inactive_users_of_listed_departments_once_a_week(make_svc, sqlite_db):
    await _people(sqlite_db)
    svc = _svc(make_svc, NUDGE_DEPARTMENTS="企画財政局")
    assert await run_nudges(svc, MONDAY_10) == 1
    [(conv, card)] = svc.proactive.sent
    assert conv == "a:u2" and card["body"][0]["text"] == "今週のAI活用のヒント"
    assert [a["verb"] for a in card["actions"]][-2:] == ["kpi.examples.browse", "kpi.skillcheck.roles"]

    later = MONDAY_10 + timedelta(hours=5)                    # same week, another replica or a restart
    assert await run_nudges(svc, later) == 0 and len(svc.proactive.sent) == 1
    next_week = MONDAY_10 + timedelta(days=7)
    assert await run_nudges(svc, next_week) == 1 and svc.proactive.sent[-1][0] == "a:u2"
    async with sqlite_db.session() as s:
        rows = (await s.execute(select(NudgeLog.user_id, NudgeLog.week, NudgeLog.status)
                                .order_by(NudgeLog.week))).all()
    assert rows == [("u2", "2026-11-30", "sent"), ("u2", "2026-12-07", "sent")]


async def test_inactivity_window_is_14_days(make_svc, sqlite_db):
    await _people(sqlite_db)
    svc = _svc(make_svc, NUDGE_DEPARTMENTS="企画財政局")
    # u2's last use was 20 days ago; 7 days earlier it was 13 days ago: not yet inactive
    assert await run_nudges(svc, MONDAY_10 - timedelta(days=7)) == 0


async def test_all_departments_and_failures(make_svc, sqlite_db):
    await _people(sqlite_db)
    svc = _svc(make_svc, NUDGE_DEPARTMENTS="*")
    svc.proactive.results = {"a:u3": SendResult(ok=False, status=500),
                             "a:u5": SendResult(ok=False, status=403, gone=True)}
    assert await run_nudges(svc, MONDAY_10) == 1
    assert sorted(c for c, _ in svc.proactive.sent) == ["a:u2", "a:u3", "a:u5"]
    async with sqlite_db.session() as s:
        log = dict((await s.execute(select(NudgeLog.user_id, NudgeLog.status))).all())
    assert log == {"u2": "sent", "u5": "gone"}                # u3's transient failure released its claim
    svc.proactive.results = {}
    svc.proactive.sent.clear()
    assert await run_nudges(svc, MONDAY_10 + timedelta(hours=1)) == 1
    assert [c for c, _ in svc.proactive.sent] == ["a:u3"]


async def test_schedule_monday_ten_jst(make_svc, sqlite_db):
    await _people(sqlite_db)
    svc = _svc(make_svc, NUDGE_DEPARTMENTS="企画財政局")
    assert not nudge_due(MONDAY_10 - timedelta(minutes=1))
    assert nudge_due(MONDAY_10) and not nudge_due(MONDAY_10 + timedelta(days=1))
    assert week_key(MONDAY_10 - timedelta(minutes=1)) == "2026-11-30"
    assert week_key(datetime(2026, 11, 29, 14, 59, tzinfo=timezone.utc)) == "2026-11-23"   # Sunday 23:59 JST
    assert await nudge_tick(svc, MONDAY_10 - timedelta(minutes=1)) == 0
    assert await nudge_tick(svc, MONDAY_10) == 1
    assert await nudge_tick(svc, MONDAY_10 + timedelta(minutes=5)) == 0


async def test_two_replicas_at_once_send_one_tip(db):
    """The (user, week) claim is a unique row: concurrent runs on either back end never double-send."""
    import asyncio

    await _people(db)
    replicas = []
    for _ in range(2):
        svc = make_services(db)
        svc.clock = FixedClock(MONDAY_10)
        svc.settings.put(kpi_settings(NUDGE_DEPARTMENTS="企画財政局"))
        svc.proactive = FakeProactive()
        replicas.append(svc)
    results = await asyncio.gather(*(run_nudges(r, MONDAY_10) for r in replicas))
    assert sorted(results) == [0, 1]
    assert sum(len(r.proactive.sent) for r in replicas) == 1
