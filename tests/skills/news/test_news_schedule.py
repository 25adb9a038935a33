"""The scheduler with a controlled clock: business days, delivery times, claims (exactly once per user and day),
two instances on one database, a run stopped mid-way then restarted, a crashed claim taken over, 429 and gone."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date

from sqlalchemy import select

from core.services import SendResult
from core.store.models import ConversationRef
from skills.news.models import NewsDelivery, NewsProfile
from skills.news.schedule import Deliverer, is_business_day
from tests.harness import make_services
from tests.skills.news.helpers import FixedClock, add_articles, jst, news_settings


class Sender:
    """Records proactive sends; `script` maps a conversation id to a list of SendResults consumed in order."""

    def __init__(self, delay: float = 0.0) -> None:
        self.sent: list[tuple[str, dict]] = []
        self.calls: list[str] = []
        self.script: dict[str, list[SendResult]] = {}
        self.delay = delay

    async def send(self, conversation_id, *, text=None, card=None, ai_generated=False):
        self.calls.append(conversation_id)
        if self.delay:
            await asyncio.sleep(self.delay)
        scripted = self.script.get(conversation_id)
        if scripted:
            res = scripted.pop(0)
            if not res.ok:
                return res
        self.sent.append((conversation_id, card))
        return SendResult(ok=True, status=200, activity_id=f"act-{len(self.sent)}")


async def seed(db, clock, users: int, *, times: dict[str, str] | None = None, paused: set[str] = frozenset()):
    now = clock.now()
    async with db.session() as s:
        await add_articles(s, now, 12)
        for u in range(users):
            uid = f"29:u{u}"
            s.add(ConversationRef(conversation_id=f"a:conv{u}", user_id=uid, conversation_type="personal",
                                  service_url="http://127.0.0.1:9/", reference={}, installed=True))
            if times and uid in times or uid in paused:
                s.add(NewsProfile(user_id=uid, delivery_time=(times or {}).get(uid, "08:30"), paused=uid in paused,
                                  keywords=[], tags=[], sources=[], term_weights={}, graph_checked=True))


def deliverer(services, tmp_path, **kw):
    from skills.news.engine import NewsEngine

    s = news_settings(tmp_path, [], **kw)
    engine = NewsEngine(services, s)
    engine.cycle_due = _never                      # no feeds in these tests
    return Deliverer(services, s, engine=engine)


async def _never():
    return False


def test_business_days():
    assert is_business_day(date(2026, 8, 21))                       # Friday
    assert not is_business_day(date(2026, 8, 22))                   # Saturday
    assert not is_business_day(date(2026, 9, 21))                   # 敬老の日
    assert not is_business_day(date(2026, 5, 4))                    # みどりの日
    assert not is_business_day(date(2025, 12, 29)) and not is_business_day(date(2025, 12, 30))
    assert not is_business_day(date(2026, 1, 2))
    assert is_business_day(date(2026, 1, 5)) and is_business_day(date(2025, 12, 26))


async def test_delivers_at_each_users_time_on_business_days_only(db, tmp_path):
    clock = FixedClock(jst(2026, 8, 21, 8, 29))
    services = make_services(db)
    services.clock = clock
    services.proactive = sender = Sender()
    await seed(db, clock, 4, times={"29:u1": "09:00"}, paused={"29:u3"})
    d = deliverer(services, tmp_path)
    assert (await d.tick()).sent == 0
    clock.advance(minutes=1)                                        # 08:30
    r = await d.tick()
    assert r.sent == 2 and sorted(c for c, _ in sender.sent) == ["a:conv0", "a:conv2"]
    assert (await d.tick()).sent == 0                               # never twice a day
    clock.advance(minutes=30)                                       # 09:00
    r = await d.tick()
    assert r.sent == 1 and sender.sent[-1][0] == "a:conv1"
    card = sender.sent[0][1]
    assert card["type"] == "AdaptiveCard" and "8月21日" in card["body"][0]["text"]
    # next day (Saturday), a national holiday and the year-end break: nothing
    for when in (jst(2026, 8, 22, 9, 0), jst(2026, 9, 21, 9, 0), jst(2026, 12, 30, 9, 0)):
        clock.t = when
        r = await d.tick()
        assert not r.business_day and r.sent == 0
    clock.t = jst(2026, 8, 24, 8, 30)                               # Monday
    assert (await d.tick()).sent == 2
    async with db.session() as s:
        rows = (await s.execute(select(NewsDelivery))).scalars().all()
    assert Counter((r.user_id, r.day) for r in rows).most_common(1)[0][1] == 1
    assert all(r.status == "sent" and r.item_ids for r in rows)


async def test_a_digest_does_not_repeat_yesterdays_items(db, tmp_path):
    clock = FixedClock(jst(2026, 8, 20, 8, 30))
    services = make_services(db)
    services.clock = clock
    services.proactive = Sender()
    await seed(db, clock, 1)
    d = deliverer(services, tmp_path, NEWS_TOP_N=5)
    await d.tick()
    clock.advance(days=1)
    await d.tick()
    async with db.session() as s:
        rows = (await s.execute(select(NewsDelivery).order_by(NewsDelivery.day))).scalars().all()
    assert len(rows) == 2 and not set(rows[0].item_ids) & set(rows[1].item_ids)


async def test_two_instances_on_one_database_send_exactly_once(db, tmp_path):
    clock = FixedClock(jst(2026, 8, 21, 8, 30))
    services = make_services(db)
    services.clock = clock
    services.proactive = sender = Sender(delay=0.002)
    await seed(db, clock, 40)
    a = deliverer(services, tmp_path, NEWS_SEND_CONCURRENCY=8)
    b = deliverer(services, tmp_path, NEWS_SEND_CONCURRENCY=8)
    ra, rb = await asyncio.gather(a.tick(), b.tick())
    counts = Counter(c for c, _ in sender.sent)
    assert len(counts) == 40 and set(counts.values()) == {1}
    assert ra.sent + rb.sent == 40
    # every user an instance found due was either sent by it or lost to the other (how many each found due
    # depends on timing: the second may start after the first has already sent some)
    assert ra.lost + rb.lost == ra.due + rb.due - 40 and ra.lost + rb.lost > 0


async def test_two_instances_with_separate_engines_on_one_database(db_url, tmp_path):
    """Like two processes: each instance has its own Database (own pool/connections) on the same database."""
    from core.store import Database

    db1, db2 = Database(db_url), Database(db_url)
    await db1.migrate()
    try:
        clock = FixedClock(jst(2026, 8, 21, 8, 30))
        sender = Sender(delay=0.001)
        s1, s2 = make_services(db1), make_services(db2)
        for s in (s1, s2):
            s.clock, s.proactive = clock, sender
        await seed(db1, clock, 30)
        await asyncio.gather(deliverer(s1, tmp_path).tick(), deliverer(s2, tmp_path).tick())
        counts = Counter(c for c, _ in sender.sent)
        assert len(counts) == 30 and set(counts.values()) == {1}
    finally:
        await db1.dispose()
        await db2.dispose()


async def test_stopped_mid_run_then_restarted_no_duplicates_no_gaps(db, tmp_path):
    clock = FixedClock(jst(2026, 8, 21, 8, 30))
    services = make_services(db)
    services.clock = clock
    services.proactive = sender = Sender(delay=0.01)
    await seed(db, clock, 30)
    d1 = deliverer(services, tmp_path, NEWS_SEND_CONCURRENCY=3)
    task = asyncio.create_task(d1.tick())
    while len(sender.sent) < 7:
        await asyncio.sleep(0.005)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    first = len(sender.sent)
    assert 7 <= first < 30
    async with db.session() as s:
        statuses = Counter((await s.execute(select(NewsDelivery.status))).scalars())
    assert statuses == {"sent": first}                               # started deliveries finished, no half rows
    d2 = deliverer(services, tmp_path)                               # "restarted process"
    await d2.tick()
    counts = Counter(c for c, _ in sender.sent)
    assert len(counts) == 30 and set(counts.values()) == {1}


async def test_claim_left_by_a_crash_is_taken_over_after_the_lease(db, tmp_path):
    clock = FixedClock(jst(2026, 8, 21, 8, 30))
    services = make_services(db)
    services.clock = clock
    services.proactive = sender = Sender()
    await seed(db, clock, 2)
    async with db.session() as s:                                    # a process claimed u0 and died
        s.add(NewsDelivery(user_id="29:u0", day=date(2026, 8, 21), status="claimed", claimed_by="dead",
                           claimed_at=clock.now(), attempts=1, item_ids=[]))
    d = deliverer(services, tmp_path, NEWS_CLAIM_LEASE_MINUTES=10)
    clock.advance(minutes=5)
    await d.tick()
    assert [c for c, _ in sender.sent] == ["a:conv1"]
    clock.advance(minutes=6)
    await d.tick()
    assert sorted(c for c, _ in sender.sent) == ["a:conv0", "a:conv1"]
    await d.tick()
    assert len(sender.sent) == 2
    async with db.session() as s:
        row = (await s.execute(select(NewsDelivery).where(NewsDelivery.user_id == "29:u0"))).scalar_one()
    assert row.status == "sent" and row.claimed_by == d.instance and row.attempts == 2


async def test_429_is_retried_and_gone_users_are_marked(db, tmp_path):
    clock = FixedClock(jst(2026, 8, 21, 8, 30))
    services = make_services(db)
    services.clock = clock
    services.proactive = sender = Sender()
    await seed(db, clock, 3)
    sender.script["a:conv0"] = [SendResult(ok=False, status=429, retry_after=0.01)] * 2
    sender.script["a:conv1"] = [SendResult(ok=False, status=403, gone=True)]
    sender.script["a:conv2"] = [SendResult(ok=False, status=500)]
    d = deliverer(services, tmp_path)
    r = await d.tick()
    assert sender.calls.count("a:conv0") == 3 and r.sent == 1 and r.gone == 1 and r.retry == 1
    async with db.session() as s:
        gone = await s.get(NewsProfile, "29:u1")
        rows = {x.user_id: x for x in (await s.execute(select(NewsDelivery))).scalars()}
    assert gone.undeliverable and rows["29:u1"].status == "gone"
    assert rows["29:u2"].status == "retry"
    clock.advance(minutes=6)                                          # the 500 is retried later, once
    r = await d.tick()
    assert r.sent == 1 and [c for c, _ in sender.sent].count("a:conv2") == 1
    clock.t = jst(2026, 8, 24, 8, 30)
    await d.tick()
    assert "a:conv1" not in [c for c, _ in sender.sent]               # removed the app: skipped from now on


async def test_send_rate_is_limited(db, tmp_path):
    clock = FixedClock(jst(2026, 8, 21, 8, 30))
    services = make_services(db)
    services.clock = clock
    services.proactive = Sender()
    await seed(db, clock, 12)
    d = deliverer(services, tmp_path, NEWS_SEND_RATE=40.0)
    r = await d.tick()
    slots = sorted(r.slots)
    assert r.sent == 12
    gaps = [b - a for a, b in zip(slots, slots[1:])]
    assert min(gaps) >= 0.025 - 1e-6
    assert slots[-1] - slots[0] >= 11 * 0.025 - 1e-6
