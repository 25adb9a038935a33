"""The fetch cycle: sources → fetch → parse → store once (with de-duplication) → summarise once.

Everything here is per process and per cycle, never per user: the number of LLM calls is the number of new unique
item contents, whatever the number of readers. With several replicas a lease in the shared `kv` table lets only
one of them run a cycle at a time."""
from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.ai import AIFailed, AIRefused
from core.skills import SkillRequest
from core.store.models import SYSTEM_USER_PREFIX, KeyValue
from skills import prompts
from skills.news.fetch import Fetcher, FetchResult
from skills.news.models import NewsItem, NewsProfile, NewsSource, NewsSummary
from skills.news.parse import (
    ParsedFeed,
    bigrams,
    canonical_url,
    clean_text,
    content_hash,
    jaccard,
    normalize_title,
    parse_feed,
    within,
)
from skills.news.settings import NewsSettings
from skills.news.sources import SourceConfig

log = logging.getLogger(__name__)

SYSTEM_USER = SYSTEM_USER_PREFIX + "news"        # background work: audited, not counted as a staff use
FETCH_LEASE_KEY = "news:fetch-cycle"
DUP_TITLE_JACCARD = 0.8
DUP_DAYS = 3


def system_request(correlation_id: str = "") -> SkillRequest:
    """The request used for summarising public news: a system user, no personal conversation."""
    return SkillRequest(user_id=SYSTEM_USER, aad_object_id=None, user_name="ニュース収集", tenant_id=None,
                        conversation_id=SYSTEM_USER, conversation_type="personal", command="news",
                        correlation_id=correlation_id or uuid.uuid4().hex[:12])


def insert_ignore(db, table):
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL."""
    return (sqlite.insert(table) if db.is_sqlite else postgresql.insert(table)).on_conflict_do_nothing()


def terms_of(text: str) -> list[str]:
    """Content words (SudachiPy, normalized forms) — the shared analyser of core/search."""
    from core.search.text import sudachi

    seen: dict[str, None] = {}
    for t in sudachi().terms(text):
        if len(t) > 1 or not t.isascii():
            seen.setdefault(t, None)
    return list(seen)[:200]


@dataclass
class SourceOutcome:
    source_id: int
    url: str
    ok: bool
    new_items: int = 0
    not_modified: bool = False
    reason: str | None = None
    detail: str = ""


@dataclass
class CycleReport:
    ran: bool
    outcomes: list[SourceOutcome] = field(default_factory=list)
    new_items: int = 0
    summarised: int = 0

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if not o.ok]


class NewsEngine:
    def __init__(self, services, settings: NewsSettings | None = None) -> None:
        self.services = services
        self.s = settings or services.settings.get(NewsSettings)
        self.config = SourceConfig(self.s.sources_file())
        self.instance = uuid.uuid4().hex[:12]
        self.last_cycle_at: datetime | None = None
        self._cycle_lock = asyncio.Lock()
        self.llm_calls = 0

    @property
    def db(self):
        return self.services.db

    def now(self) -> datetime:
        return self.services.clock.now()

    # -- sources -------------------------------------------------------------------------------------------------
    async def sync_sources(self) -> None:
        """Mirror the YAML list into news_sources (config origin); sources removed from the file go inactive."""
        specs = {sp.url: sp for sp in self.config.current()}
        async with self.db.session() as s:
            rows = {r.url: r for r in (await s.execute(select(NewsSource))).scalars()}
            for url, sp in specs.items():
                row = rows.get(url)
                if row is None:
                    s.add(NewsSource(url=url, title=sp.title, origin="config", tags=list(sp.tags), weight=sp.weight,
                                     active=True))
                else:
                    row.title, row.tags, row.weight, row.active = sp.title, list(sp.tags), sp.weight, True
                    row.origin = "config"
            for url, row in rows.items():
                if row.origin == "config" and url not in specs:
                    row.active = False

    async def _sources_to_fetch(self) -> list[NewsSource]:
        async with self.db.session() as s:
            followed: set[str] = set()
            for lst in (await s.execute(select(NewsProfile.sources).where(NewsProfile.paused.is_(False)))).scalars():
                followed.update(lst or [])
            rows = (await s.execute(select(NewsSource))).scalars().all()
        return [r for r in rows if (r.origin == "config" and r.active) or (r.origin == "user" and r.url in followed)]

    async def source_health(self) -> tuple[int, int]:
        """(sources fetched, sources whose last fetch failed)."""
        sources = await self._sources_to_fetch()
        return len(sources), sum(1 for src in sources if (src.consecutive_failures or 0) > 0)

    # -- the cycle -----------------------------------------------------------------------------------------------
    async def _take_lease(self, minutes: int = 15) -> bool:
        now = self.now()
        async with self.db.session() as s:
            await s.execute(insert_ignore(self.db, KeyValue).values(
                key=FETCH_LEASE_KEY, value={"owner": None}, expires_at=now - timedelta(seconds=1), updated_at=now))
        async with self.db.session() as s:
            res = await s.execute(update(KeyValue).where(
                KeyValue.key == FETCH_LEASE_KEY,
                or_(KeyValue.expires_at.is_(None), KeyValue.expires_at < now)).values(
                value={"owner": self.instance}, expires_at=now + timedelta(minutes=minutes), updated_at=now))
            return res.rowcount == 1

    async def _release_lease(self) -> None:
        now = self.now()
        async with self.db.session() as s:
            await s.execute(update(KeyValue).where(KeyValue.key == FETCH_LEASE_KEY).values(
                value={"owner": None, "last_cycle": now.isoformat()}, expires_at=now - timedelta(seconds=1),
                updated_at=now))

    async def last_cycle(self) -> datetime | None:
        async with self.db.session() as s:
            row = await s.get(KeyValue, FETCH_LEASE_KEY)
        if row and isinstance(row.value, dict) and row.value.get("last_cycle"):
            return datetime.fromisoformat(row.value["last_cycle"])
        return None

    async def cycle_due(self) -> bool:
        last = await self.last_cycle()
        return last is None or self.now() - last >= timedelta(minutes=self.s.NEWS_FETCH_INTERVAL_MINUTES)

    async def run_cycle(self, *, force: bool = False) -> CycleReport:
        """One fetch cycle for every active source, then summaries for new items. Skipped (ran=False) when another
        process holds the lease or, unless `force`, when the last cycle is recent."""
        async with self._cycle_lock:
            if not force and not await self.cycle_due():
                return CycleReport(ran=False)
            if not await self._take_lease():
                return CycleReport(ran=False)
            try:
                await self.sync_sources()
                sources = await self._sources_to_fetch()
                report = CycleReport(ran=True)
                async with Fetcher(self.s) as fetcher:
                    results = await asyncio.gather(*(self._fetch_one(fetcher, src) for src in sources))
                for src, (res, parsed) in zip(sources, results):
                    report.outcomes.append(await self._record(src, res, parsed))
                report.new_items = sum(o.new_items for o in report.outcomes)
                report.summarised = await self.summarise_pending()
                await self.prune()
                self.last_cycle_at = self.now()
                return report
            finally:
                await self._release_lease()

    async def _fetch_one(self, fetcher: Fetcher, src: NewsSource) -> tuple[FetchResult, ParsedFeed | None]:
        try:
            res = await fetcher.fetch(src.url, etag=src.etag, last_modified=src.last_modified)
            if not res.ok or res.not_modified:
                return res, None
            parsed = await asyncio.to_thread(parse_feed, res.body, res.content_type, src.url)
            return res, parsed
        except Exception as e:  # noqa: BLE001 - one feed never stops the run
            log.exception("feed %s failed unexpectedly", src.url)
            return FetchResult(url=src.url, ok=False, error="connect", detail=type(e).__name__), None

    async def _record(self, src: NewsSource, res: FetchResult, parsed: ParsedFeed | None) -> SourceOutcome:
        now = self.now()
        out = SourceOutcome(source_id=src.id, url=src.url, ok=False)
        if res.ok and res.not_modified:
            out.ok, out.not_modified = True, True
        elif res.ok and parsed is not None and parsed.ok:
            out.ok = True
            out.new_items = await self.store_entries(src, parsed)
        elif res.ok and parsed is not None:
            out.reason, out.detail = ("parse", parsed.reason or "") if parsed.reason != "no entries" else ("empty", "")
        else:
            out.reason, out.detail = res.error, res.detail
        async with self.db.session() as s:
            row = await s.get(NewsSource, src.id)
            row.last_fetched_at = now
            if out.ok:
                row.last_ok_at = now
                row.consecutive_failures = 0
                row.last_error = None
                if not res.not_modified:
                    row.etag, row.last_modified = res.etag, res.last_modified
                if parsed is not None:
                    row.jst_dates = parsed.jst_dates
                    if parsed.title and (row.origin == "user" and not row.title):
                        row.title = parsed.title[:300]
            else:
                row.consecutive_failures = (row.consecutive_failures or 0) + 1
                row.last_error = f"{out.reason}|{out.detail}"[:500]
                row.last_error_at = now
            if out.new_items:
                row.item_count = (row.item_count or 0) + out.new_items
        if not out.ok:
            log.warning("feed unhealthy", extra={"url": src.url, "reason": out.reason, "detail": out.detail})
        return out

    # -- storing -------------------------------------------------------------------------------------------------
    async def store_entries(self, src: NewsSource, parsed: ParsedFeed) -> int:
        """Insert entries not seen before. The same story from another source (same item-specific canonical URL,
        or a near-identical title within a few days) is stored as a duplicate of the first copy."""
        now = self.now()
        ids = [e.identity for e in parsed.entries]
        async with self.db.session() as s:
            known: set[str] = set()
            for i in range(0, len(ids), 500):
                known.update((await s.execute(select(NewsItem.identity).where(
                    NewsItem.identity.in_(ids[i:i + 500])))).scalars())
        fresh = [e for e in parsed.entries if e.identity not in known]
        if not fresh:
            return 0
        since = now - timedelta(days=max(DUP_DAYS, self.s.NEWS_WINDOW_DAYS) + 1)
        async with self.db.session() as s:
            recent = (await s.execute(select(NewsItem.id, NewsItem.source_id, NewsItem.canonical_url,
                                             NewsItem.norm_title, NewsItem.published_at, NewsItem.first_seen_at)
                                      .where(NewsItem.first_seen_at >= since, NewsItem.duplicate_of.is_(None),
                                             NewsItem.source_id != src.id))).all()
        by_url = {r.canonical_url: r.id for r in recent if r.canonical_url}
        titled = [(r.id, bigrams(r.norm_title), r.published_at or r.first_seen_at) for r in recent]
        texts = [f"{e.title}\n{e.summary}" for e in fresh]
        all_terms = await asyncio.to_thread(lambda: [terms_of(t) for t in texts])
        rows = []
        for e, terms in zip(fresh, all_terms):
            canon = canonical_url(e.link)
            if canon in parsed.shared_links:
                canon = None               # a link several entries share says nothing about the item
            norm = normalize_title(e.title)
            dup = by_url.get(canon) if canon else None
            if dup is None and len(norm) >= 6:
                bg = bigrams(norm)
                n = len(bg)
                for iid, obg, when in titled:
                    m = len(obg)
                    if m < n * DUP_TITLE_JACCARD or n < m * DUP_TITLE_JACCARD:
                        continue
                    if jaccard(bg, obg) >= DUP_TITLE_JACCARD and within(e.published or now, when, DUP_DAYS):
                        dup = iid
                        break
            rows.append(dict(identity=e.identity, source_id=src.id, url=e.link, canonical_url=canon, title=e.title
                             or (e.link or ""), norm_title=norm[:1000], feed_summary=e.summary,
                             published_at=e.published, first_seen_at=now,
                             content_hash=content_hash(e.title, e.summary), terms=terms, duplicate_of=dup))
        async with self.db.session() as s:
            for i in range(0, len(rows), 200):
                await s.execute(insert_ignore(self.db, NewsItem), rows[i:i + 200])
        return len(rows)

    # -- summaries -----------------------------------------------------------------------------------------------
    async def summarise_pending(self) -> int:
        """One LLM call per distinct content among recent, non-duplicate items that have no summary yet."""
        ai = self.services.ai
        if ai.offline:
            return 0
        since = self.now() - timedelta(days=self.s.NEWS_WINDOW_DAYS)
        async with self.db.session() as s:
            rows = (await s.execute(
                select(NewsItem.content_hash, NewsItem.title, NewsItem.feed_summary, NewsSource.title)
                .join(NewsSource, NewsSource.id == NewsItem.source_id)
                .outerjoin(NewsSummary, NewsSummary.content_hash == NewsItem.content_hash)
                .where(NewsSummary.content_hash.is_(None), NewsItem.duplicate_of.is_(None),
                       NewsItem.first_seen_at >= since))).all()
        pending: dict[str, tuple[str, str, str]] = {}
        for h, title, body, source in rows:
            pending.setdefault(h, (title, body, source))
        if not pending:
            return 0
        system = prompts.load("news", "summary")
        sem = asyncio.Semaphore(self.s.NEWS_SUMMARY_CONCURRENCY)
        done = 0

        async def one(h: str, title: str, body: str, source: str) -> None:
            nonlocal done
            messages = [{"role": "system", "content": system},
                        {"role": "user", "content": f"情報源: {source}\n見出し: {title}\n本文: {clean_text(body)[:3000]}"}]
            async with sem:
                try:
                    self.llm_calls += 1
                    answer = await ai.chat(system_request(), "news", messages, max_tokens=400, temperature=0.2)
                except (AIRefused, AIFailed) as e:
                    log.warning("summary not made (%s); the feed excerpt is shown instead", type(e).__name__)
                    return
            text = answer.text.strip()
            if not text:
                return
            async with self.db.session() as s:
                await s.execute(insert_ignore(self.db, NewsSummary).values(
                    content_hash=h, text=text[:2000], model=answer.model, created_at=self.now()))
            done += 1

        await asyncio.gather(*(one(h, *v) for h, v in pending.items()))
        return done

    # -- personal sources ----------------------------------------------------------------------------------------
    async def validate_feed(self, url: str) -> tuple[bool, str, int, str | None, str]:
        """Fetch and parse a URL a user wants to follow: (ok, title, entries, reason code, detail)."""
        async with Fetcher(self.s) as fetcher:
            res = await fetcher.fetch(url)
        if not res.ok:
            return False, "", 0, res.error, res.detail
        parsed = await asyncio.to_thread(parse_feed, res.body, res.content_type, url)
        if not parsed.ok:
            return False, "", 0, ("empty" if parsed.reason == "no entries" else "parse"), parsed.reason or ""
        return True, parsed.title, len(parsed.entries), None, ""

    async def add_user_source(self, url: str, title: str) -> None:
        async with self.db.session() as s:
            await s.execute(insert_ignore(self.db, NewsSource).values(
                url=url, title=title[:300], origin="user", tags=["個人登録"], weight=1.0, active=True,
                consecutive_failures=0, jst_dates=False, item_count=0, created_at=self.now()))

    async def prune(self, keep_days: int = 60) -> None:
        """Drop items and summaries older than keep_days (far beyond any digest window; identities of items
        still in a feed after that long would be re-inserted, so keep this generous)."""
        cutoff = self.now() - timedelta(days=max(keep_days, self.s.NEWS_WINDOW_DAYS * 4))
        async with self.db.session() as s:
            await s.execute(delete(NewsItem).where(NewsItem.first_seen_at < cutoff))
            await s.execute(delete(NewsSummary).where(NewsSummary.created_at < cutoff))


def engine_of(services) -> NewsEngine:
    """The per-process engine (services.extra singleton)."""
    return services.extra("news.engine", lambda: NewsEngine(services))
