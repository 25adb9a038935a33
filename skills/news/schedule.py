"""Daily delivery: business days only, at each reader's time (Asia/Tokyo), exactly once per reader and day.

Each delivery is claimed first: INSERT INTO news_deliveries (user_id, day, status='claimed') — the UNIQUE(user_id,
day) constraint makes the insert that comes second fail, so of two replicas (or a restarted process) only one
sends. The row is marked 'sent' after the send. A row left 'claimed' by a crashed process is taken over once
its lease (NEWS_CLAIM_LEASE_MINUTES) has expired, by a compare-and-set UPDATE, so nobody is skipped. The one
window that cannot be closed is a crash between the Connector accepting the message and the 'sent' write; that
user may then receive the digest twice. A graceful stop (task cancelled) lets deliveries already started finish.

Bot Connector 429s are retried after Retry-After (bounded); 403/404 (app removed) marks the reader undeliverable."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import jpholiday
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cards.news import day_label, digest_card
from core.store.models import ConversationRef
from skills.news import strings as S
from skills.news.digest import Corpus, Digest, ProfileView, delivered_recently, load_corpus, rank
from skills.news.engine import NewsEngine, engine_of, insert_ignore, terms_of
from skills.news.mail import digest_html
from skills.news.models import NewsDelivery, NewsProfile
from skills.news.settings import NewsSettings

log = logging.getLogger(__name__)
MAX_429_RETRIES = 3
MAX_RETRY_WAIT = 30.0
RETRY_LATER = timedelta(minutes=5)


def is_business_day(d: date) -> bool:
    """Weekdays that are not national holidays (jpholiday) and not the year-end break 12/29–1/3."""
    if d.weekday() >= 5 or jpholiday.is_holiday(d):
        return False
    if (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3):
        return False
    return True


class RateLimiter:
    """Evenly spaced slots: at most `rate` acquisitions per second in this process. `acquire()` returns the slot
    time (handy to report a schedule); clock and sleep are injectable."""

    def __init__(self, rate: float, *, clock=time.monotonic, sleep=asyncio.sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        async with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            await self.sleep(slot - now)
        return slot


@dataclass
class Due:
    user_id: str
    conversation_id: str
    delivery_id: int | None = None           # an existing row to take over (stale claim / retry)
    old_status: str | None = None
    old_claimed_at: datetime | None = None


@dataclass
class TickReport:
    day: date | None = None
    business_day: bool = True
    due: int = 0
    claimed: int = 0
    lost: int = 0
    sent: int = 0
    empty: int = 0
    gone: int = 0
    retry: int = 0
    failed: int = 0
    mails: int = 0
    slots: list[float] = field(default_factory=list)


def analyse(text: str) -> list[str]:
    return terms_of(text) if text.strip() else []


class Deliverer:
    """Builds and sends digests. Shared by the scheduler (many users) and `/news` (one user)."""

    def __init__(self, services, settings: NewsSettings | None = None, *, engine: NewsEngine | None = None,
                 instance_id: str | None = None, limiter: RateLimiter | None = None) -> None:
        self.services = services
        self.s = settings or services.settings.get(NewsSettings)
        self.engine = engine or engine_of(services)
        self.instance = instance_id or uuid.uuid4().hex[:12]
        self.limiter = limiter or RateLimiter(self.s.NEWS_SEND_RATE)
        self._analysed: dict[str, list[str]] = {}

    @property
    def db(self):
        return self.services.db

    def now(self) -> datetime:
        return self.services.clock.now()

    def _analyse(self, text: str) -> list[str]:
        got = self._analysed.get(text)
        if got is None:
            got = analyse(text)
            if len(self._analysed) < 50_000:
                self._analysed[text] = got
        return got

    async def corpus(self) -> Corpus:
        return await load_corpus(self.db, self.now(), self.s.NEWS_WINDOW_DAYS)

    def build(self, corpus: Corpus, profile: NewsProfile | None, user_id: str, day: date,
              exclude: set[int] | None = None) -> Digest:
        view = ProfileView.of(profile, user_id, self._analyse)
        return Digest(day=day, items=rank(corpus, view, top_n=self.s.NEWS_TOP_N, exclude=exclude or set()))

    # -- scheduler pass ------------------------------------------------------------------------------------------
    async def due_users(self, now_jst: datetime) -> list[Due]:
        today = now_jst.date()
        hhmm = now_jst.strftime("%H:%M")
        lease = self.now() - timedelta(minutes=self.s.NEWS_CLAIM_LEASE_MINUTES)
        async with self.db.session() as s:
            refs = (await s.execute(select(ConversationRef.user_id, ConversationRef.conversation_id,
                                           ConversationRef.updated_at)
                                    .where(ConversationRef.conversation_type == "personal",
                                           ConversationRef.installed.is_(True),
                                           ConversationRef.user_id.is_not(None)))).all()
            profiles = {p.user_id: (p.delivery_time, p.paused, p.undeliverable, p.conversation_id)
                        for p in (await s.execute(select(NewsProfile.user_id, NewsProfile.delivery_time,
                                                         NewsProfile.paused, NewsProfile.undeliverable,
                                                         NewsProfile.conversation_id))).all()}
            rows = {r.user_id: r for r in (await s.execute(select(
                NewsDelivery.id, NewsDelivery.user_id, NewsDelivery.status, NewsDelivery.claimed_at,
                NewsDelivery.retry_at, NewsDelivery.attempts).where(NewsDelivery.day == today))).all()}
        convs: dict[str, tuple[str, datetime]] = {}
        for uid, cid, updated in refs:
            cur = convs.get(uid)
            if cur is None or (updated and cur[1] and updated > cur[1]):
                convs[uid] = (cid, updated)
        out: list[Due] = []
        for uid, (cid, _) in convs.items():
            at, paused, gone, pref_cid = profiles.get(uid, (self.s.NEWS_DEFAULT_TIME, False, False, None))
            if paused or gone or hhmm < (at or self.s.NEWS_DEFAULT_TIME):
                continue
            row = rows.get(uid)
            if row is None:
                out.append(Due(uid, pref_cid or cid))
            elif row.status == "claimed" and row.claimed_at < lease and \
                    row.attempts < self.s.NEWS_MAX_ATTEMPTS + 1:
                out.append(Due(uid, pref_cid or cid, row.id, row.status, row.claimed_at))
            elif row.status == "retry" and row.retry_at is not None and row.retry_at <= self.now() \
                    and row.attempts < self.s.NEWS_MAX_ATTEMPTS:
                out.append(Due(uid, pref_cid or cid, row.id, row.status, row.claimed_at))
        return out

    async def claim(self, due: Due, today: date) -> int | None:
        """The claim: an INSERT that only one process can win; or a compare-and-set take-over of a stale row."""
        now = self.now()
        if due.delivery_id is None:
            try:
                async with self.db.session() as s:
                    row = NewsDelivery(user_id=due.user_id, day=today, status="claimed", claimed_by=self.instance,
                                       claimed_at=now, attempts=1, item_ids=[])
                    s.add(row)
                    await s.flush()
                    return row.id
            except IntegrityError:
                return None
        async with self.db.session() as s:
            res = await s.execute(update(NewsDelivery).where(
                NewsDelivery.id == due.delivery_id, NewsDelivery.status == due.old_status,
                NewsDelivery.claimed_at == due.old_claimed_at).values(
                status="claimed", claimed_by=self.instance, claimed_at=now, retry_at=None,
                attempts=NewsDelivery.attempts + 1))
            return due.delivery_id if res.rowcount == 1 else None

    async def _finish(self, delivery_id: int, **values) -> None:
        async with self.db.session() as s:
            await s.execute(update(NewsDelivery).where(NewsDelivery.id == delivery_id,
                                                       NewsDelivery.claimed_by == self.instance).values(**values))

    async def claim_batch(self, dues: list[Due], today: date) -> dict[str, int]:
        """Claim many fresh deliveries at once: INSERT … ON CONFLICT DO NOTHING RETURNING — the rows returned are
        exactly the ones this process won (SQLite ≥ 3.35 and PostgreSQL). Stale rows go through `claim()`."""
        now = self.now()
        won: dict[str, int] = {}
        fresh = [d for d in dues if d.delivery_id is None]
        if fresh:
            rows = [dict(user_id=d.user_id, day=today, status="claimed", claimed_by=self.instance, claimed_at=now,
                         attempts=1, item_ids=[]) for d in fresh]
            async with self.db.session() as s:
                res = await s.execute(insert_ignore(self.db, NewsDelivery).values(rows).returning(
                    NewsDelivery.user_id, NewsDelivery.id))
                won.update({uid: did for uid, did in res.all()})
        for d in dues:
            if d.delivery_id is not None:
                did = await self.claim(d, today)
                if did is not None:
                    won[d.user_id] = did
        return won

    async def tick(self) -> TickReport:
        """One scheduler pass: fetch if due, then deliver to everybody whose time has come today.

        Claims are taken chunk by chunk just before sending (so a claim is never older than the lease while it
        is still legitimately waiting for its turn under the rate limit)."""
        now_jst = self.services.clock.now_jst()
        today = now_jst.date()
        report = TickReport(day=today, business_day=is_business_day(today))
        if not report.business_day:
            return report
        due = await self.due_users(now_jst)
        report.due = len(due)
        if not due:
            return report
        if await self.engine.cycle_due():
            try:
                await self.engine.run_cycle()
            except Exception:  # noqa: BLE001 - deliver what we have
                log.exception("fetch cycle failed before delivery")
        corpus = await self.corpus()
        seen = await delivered_recently(self.db, None, today, self.s.NEWS_WINDOW_DAYS)
        async with self.db.session() as s:
            profiles = {p.user_id: p for p in (await s.execute(select(NewsProfile))).scalars()}
        width = max(1, self.s.NEWS_SEND_CONCURRENCY)
        chunk = width * 2
        inflight: set[asyncio.Task] = set()
        try:
            for i in range(0, len(due), chunk):
                part = due[i:i + chunk]
                won = await self.claim_batch(part, today)
                report.claimed += len(won)
                report.lost += len(part) - len(won)
                queue = [(d, won[d.user_id]) for d in part if d.user_id in won]
                sem = asyncio.Semaphore(width)

                async def one(d: Due, did: int, sem: asyncio.Semaphore = sem) -> None:
                    async with sem:
                        await self._deliver_one(d, did, today, corpus, profiles.get(d.user_id),
                                                seen.get(d.user_id, set()), report)

                tasks = [asyncio.ensure_future(one(d, did)) for d, did in queue]
                inflight.update(tasks)
                for t in tasks:
                    t.add_done_callback(inflight.discard)
                # shielded: a stop lets deliveries already claimed in this chunk finish (send + mark sent)
                await asyncio.shield(asyncio.gather(*tasks))
        except asyncio.CancelledError:
            if inflight:
                await asyncio.gather(*list(inflight), return_exceptions=True)
            raise
        return report

    async def _deliver_one(self, due: Due, delivery_id: int, today: date, corpus: Corpus,
                           profile: NewsProfile | None, exclude: set[int], report: TickReport) -> None:
        try:
            digest = self.build(corpus, profile, due.user_id, today, exclude)
            if not digest.items:
                report.empty += 1
                await self._finish(delivery_id, status="empty", sent_at=self.now())
                return
            card = digest_card(digest)
            result = await self._send(due.conversation_id, card, digest.ai_used, report)
            if result.ok:
                report.sent += 1
                await self._finish(delivery_id, status="sent", sent_at=self.now(), activity_id=result.activity_id,
                                   item_ids=digest.ids)
                if profile is not None and profile.mail:
                    ok = await self.send_mail(profile, digest)
                    report.mails += int(ok)
                    await self._finish(delivery_id, mail_status="sent" if ok else "failed")
            elif result.gone:
                report.gone += 1
                await self._finish(delivery_id, status="gone", error=f"HTTP {result.status}")
                async with self.db.session() as s:
                    p = await s.get(NewsProfile, due.user_id)
                    if p is None:
                        s.add(NewsProfile(user_id=due.user_id, keywords=[], tags=[], sources=[], term_weights={},
                                          delivery_time=self.s.NEWS_DEFAULT_TIME, undeliverable=True))
                    else:
                        p.undeliverable = True
            else:
                await self._retry_or_fail(delivery_id, due, f"HTTP {result.status}", report)
        except Exception as e:  # noqa: BLE001 - one reader never stops the run
            log.exception("delivery failed for one reader")
            await self._retry_or_fail(delivery_id, due, type(e).__name__, report)

    async def _retry_or_fail(self, delivery_id: int, due: Due, error: str, report: TickReport) -> None:
        async with self.db.session() as s:
            row = await s.get(NewsDelivery, delivery_id)
            attempts = row.attempts if row else self.s.NEWS_MAX_ATTEMPTS
        if attempts >= self.s.NEWS_MAX_ATTEMPTS:
            report.failed += 1
            await self._finish(delivery_id, status="failed", error=error[:300])
        else:
            report.retry += 1
            await self._finish(delivery_id, status="retry", retry_at=self.now() + RETRY_LATER, error=error[:300])

    async def _send(self, conversation_id: str, card: dict, ai: bool, report: TickReport):
        from core.services import SendResult

        proactive = self.services.proactive
        if proactive is None:
            return SendResult(ok=False, status=0)
        result = None
        for attempt in range(MAX_429_RETRIES + 1):
            report.slots.append(await self.limiter.acquire())
            result = await proactive.send(conversation_id, card=card, ai_generated=ai)
            if result.ok or result.gone or result.status != 429:
                return result
            if attempt < MAX_429_RETRIES:
                wait = result.retry_after if result.retry_after is not None else 2 ** attempt
                await asyncio.sleep(min(MAX_RETRY_WAIT, max(0.0, wait)))
        return result

    async def send_mail(self, profile: NewsProfile, digest: Digest) -> bool:
        sender = self.s.NEWS_MAIL_SENDER
        graph = self.services.graph
        if not (sender and graph and profile.mail_address):
            return False
        try:
            await graph.send_mail(sender, [profile.mail_address],
                                  S.MAIL_SUBJECT.format(date=day_label(digest.day)), digest_html(digest))
            return True
        except Exception as e:  # noqa: BLE001 - the Teams delivery already happened
            log.warning("digest mail failed: %s", type(e).__name__)
            return False


# -- the loop started with the app ----------------------------------------------------------------------------------
def deliverer_of(services) -> Deliverer:
    """The per-process deliverer (services.extra singleton), shared by the scheduler and /news."""
    return services.extra("news.deliverer", lambda: Deliverer(services, engine=engine_of(services)))


async def run_scheduler(services, *, interval: float = 60.0, deliverer: Deliverer | None = None) -> None:
    """Every `interval` seconds: a fetch cycle when due, then a delivery pass. Survives any error."""
    d = deliverer or deliverer_of(services)
    while True:
        started = time.monotonic()
        try:
            if await d.engine.cycle_due():
                await d.engine.run_cycle()
            await d.tick()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the loop must survive anything
            log.exception("news scheduler pass failed")
        await asyncio.sleep(max(1.0, interval - (time.monotonic() - started)))
