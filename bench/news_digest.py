"""Benchmark: the news digest for 4,000 readers, 40 feeds × 50 items, 20 % new items on day two.

Everything runs for real on loopback: the feeds are served by an in-process aiohttp server and fetched by the
skill's fetcher; summaries go through the real `openai` client (via services.ai, guard and audit included) to an
in-process zero-latency OpenAI-compatible server; the database is SQLite (or DATABASE_URL). Sends go to an
in-memory sender; the 50 msg/s schedule is computed by the skill's rate limiter on a virtual clock (no waiting).

Prints: LLM calls per day (target: = new unique items), time to build all digests (target ≤ 30 s), the full
delivery pass (claims + build + send + mark), peak RSS (target ≤ 500 MB), the send schedule; and, in the same run,
the baselines: per-user summarisation (call counts computed, not executed) and a full-scan ranking.

    .venv/bin/python bench/news_digest.py [--users 4000] [--feeds 40] [--items 50]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web  # noqa: E402

VOCAB = ["防災", "子育て", "財政", "マイナンバー", "標準化", "介護", "地域交通", "観光", "脱炭素", "教育", "医療", "雇用",
         "住宅", "農業", "選挙", "統計", "税制", "水道", "ごみ", "スポーツ", "文化", "消費者", "デジタル", "人口減少"]
VERBS = ["実証事業の公募を開始しました", "調査結果を公表しました", "検討会の資料を掲載しました", "補助金の交付を決定しました",
         "ガイドラインを改定しました", "意見募集を開始しました", "説明会を開催します", "通知を発出しました"]
TAGS = ["DX", "福祉", "防災", "子育て", "財政", "地方行政", "暮らし", "経済"]


def rss(feed: int, items: list[int]) -> bytes:
    rnd = random.Random(feed)
    out = [f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>省庁{feed}</title>'
           f"<link>https://example{feed}.go.jp/</link><description>d</description>"]
    for n in items:
        r = random.Random(feed * 100_000 + n)
        a, b, c, d = r.sample(VOCAB, 4)
        verb = r.choice(VERBS)
        out.append(f"<item><title>{a}・{b}分野における{c}と{d}の{verb}（{r.randint(1000, 9999)}）</title>"
                   f"<link>https://example{feed}.go.jp/news/{n}.html</link><guid>f{feed}-{n}</guid>"
                   f"<description>{a}と{b}について、省庁{feed}が資料を公表しました。自治体の担当者向けの説明も掲載しています。"
                   f"詳しくはリンク先をご覧ください。</description>"
                   f"<pubDate>Thu, 20 Aug 2026 {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:00 +0900</pubDate></item>")
    del rnd
    out.append("</channel></rss>")
    return "".join(out).encode()


class Servers:
    """Feeds and a zero-latency OpenAI-compatible chat endpoint on one loopback aiohttp server."""

    def __init__(self, feeds: int, per_feed: int) -> None:
        self.feeds, self.per_feed = feeds, per_feed
        self.day = 1
        self.llm_calls = 0
        self.port = 0
        self._cache: dict[tuple[int, int], bytes] = {}

    def items_for(self, feed: int) -> list[int]:
        new = self.per_feed // 5 * (self.day - 1)              # 20 % new per day, oldest fall off
        return list(range(new, new + self.per_feed))

    async def feed(self, request: web.Request) -> web.Response:
        f = int(request.match_info["n"])
        key = (f, self.day)
        if key not in self._cache:
            self._cache[key] = rss(f, self.items_for(f))
        return web.Response(body=self._cache[key], content_type="application/rss+xml", charset="utf-8")

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.llm_calls += 1
        return web.json_response({"id": "c", "object": "chat.completion", "created": int(time.time()),
                                  "model": body.get("model", "bench"),
                                  "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                      "role": "assistant", "content": "資料が公表されました。自治体の担当者は内容をご確認ください。"}}],
                                  "usage": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130}})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}", self.feed)
        app.router.add_post("/v1/chat/completions", self.chat)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def now(self) -> datetime:
        return self.t

    def now_jst(self) -> datetime:
        from core.timeutil import JST

        return self.t.astimezone(JST)


class NullSender:
    def __init__(self) -> None:
        self.sent = 0

    async def send(self, conversation_id, *, text=None, card=None, ai_generated=False):
        from core.services import SendResult

        self.sent += 1
        return SendResult(ok=True, status=200, activity_id=str(self.sent))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(args) -> None:
    from cards.news import digest_card
    from core.ai import AI
    from core.guard.policy import Guard, GuardSettings
    from core.llm import LLMGateway, LLMSettings
    from core.services import Services
    from core.skills import Registry
    from core.store import Database
    from core.store.models import ConversationRef
    from skills.news.digest import Corpus, ProfileView, delivered_recently
    from skills.news.engine import NewsEngine
    from skills.news.models import NewsProfile
    from skills.news.schedule import Deliverer, RateLimiter
    from skills.news.settings import NewsSettings

    srv = Servers(args.feeds, args.items)
    await srv.start()
    tmp = tempfile.mkdtemp(prefix="news-bench-")
    url = os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{tmp}/bench.db"
    db = Database(url, pool_size=20)
    await db.migrate()
    src_file = Path(tmp) / "sources.yaml"
    src_file.write_text("sources:\n" + "".join(
        f"  - {{url: 'http://127.0.0.1:{srv.port}/feed/{i}', title: '省庁{i}', tags: ['{TAGS[i % len(TAGS)]}'],"
        f" weight: {1.0 + (i % 3) * 0.2}}}\n" for i in range(args.feeds)), encoding="utf-8")
    settings = NewsSettings(_env_file=None, NEWS_SOURCES_FILE=str(src_file), NEWS_FETCH_ALLOWLIST="127.0.0.1",
                            NEWS_SEND_CONCURRENCY=50, NEWS_SUMMARY_CONCURRENCY=16, NEWS_FETCH_PER_HOST=8,
                            NEWS_FETCH_CONCURRENCY=16)
    gateway = LLMGateway(LLMSettings(_env_file=None, OPENAI_API_KEY="k",
                                     OPENAI_BASE_URL=f"http://127.0.0.1:{srv.port}/v1"))
    guard = Guard(GuardSettings(_env_file=None), gateway)
    clock = Clock(datetime(2026, 8, 20, 22, 0, tzinfo=timezone.utc))      # 07:00 JST, Friday 21 August 2026
    services = Services(registry=Registry(), db=db, llm=gateway, ai=AI(gateway, guard, db), clock=clock)
    sender = NullSender()
    services.proactive = sender
    engine = NewsEngine(services, settings)
    virtual = RateLimiter(args.rate, clock=lambda: 0.0, sleep=_no_sleep)   # computes the schedule, never waits
    deliverer = Deliverer(services, settings, engine=engine, limiter=virtual)

    rnd = random.Random(7)
    async with db.session() as s:
        for u in range(args.users):
            uid = f"29:user-{u}"
            s.add(ConversationRef(conversation_id=f"a:conv-{u}", user_id=uid, conversation_type="personal",
                                  service_url="http://127.0.0.1:9/", reference={}, installed=True))
            s.add(NewsProfile(user_id=uid, keywords=rnd.sample(VOCAB, 3), tags=rnd.sample(TAGS, 2), sources=[],
                              delivery_time="08:30", department=rnd.choice(["危機管理課", "こども福祉課", "財政課", "DX推進課"]),
                              job_title="主事", term_weights={}, graph_checked=True, mail=False, paused=False,
                              undeliverable=False))
    print(f"news digest benchmark: {args.users} users, {args.feeds} feeds x {args.items} items, "
          f"20% new per day, DB {db.url.split(':')[0]}, zero-latency LLM over loopback\n")

    for day in (1, 2):
        srv.day = day
        calls0 = srv.llm_calls
        t0 = time.perf_counter()
        cycle = await engine.run_cycle(force=True)
        t_cycle = time.perf_counter() - t0
        rss_cycle = rss_mb()
        calls = srv.llm_calls - calls0
        from sqlalchemy import func, select

        from skills.news.models import NewsItem
        async with db.session() as s:
            unique = (await s.execute(select(func.count(func.distinct(NewsItem.content_hash))).where(
                NewsItem.first_seen_at == clock.now(), NewsItem.duplicate_of.is_(None)))).scalar_one()
        # 1) build every digest (what the 30 s target is about): corpus once, then rank + card per user
        clock.t = clock.t + timedelta(hours=1, minutes=30)                  # 08:30 JST
        today = clock.now_jst().date()
        t0 = time.perf_counter()
        corpus: Corpus = await deliverer.corpus()
        async with db.session() as s:
            profiles = list((await s.execute(select(NewsProfile))).scalars())
        seen = await delivered_recently(db, None, today, settings.NEWS_WINDOW_DAYS)
        built = 0
        for p in profiles:
            d = deliverer.build(corpus, p, p.user_id, today, seen.get(p.user_id, set()))
            digest_card(d)
            built += len(d.items) > 0
        t_build = time.perf_counter() - t0
        # baseline ranking: score every item for every user (no inverted index), timed on a sample
        sample = profiles[: max(1, len(profiles) // 10)]
        t0 = time.perf_counter()
        for p in sample:
            view = ProfileView.of(p, p.user_id, deliverer._analyse)
            scored = []
            for it in corpus.items:
                sc = it.base + sum(w for t, w in view.term_weights.items() if t in it.terms)
                sc += 2.0 * len(view.tags.intersection(it.tags))
                scored.append((sc, it.id))
            scored.sort(reverse=True)
        t_full = (time.perf_counter() - t0) * len(profiles) / len(sample)
        # 2) the real delivery pass: claim (INSERT) + build + send + mark sent, for every user
        t0 = time.perf_counter()
        report = await deliverer.tick()
        t_tick = time.perf_counter() - t0
        slots = sorted(report.slots)
        span = (slots[-1] - slots[0]) if slots else 0.0
        busiest, j = 0, 0                     # the most sends in any window [t, t + 1 s)
        for i, s_ in enumerate(slots):
            while slots[j] <= s_ - 1.0 + 1e-9:
                j += 1
            busiest = max(busiest, i - j + 1)
        naive_shown = report.sent * settings.NEWS_TOP_N
        naive_all = args.users * unique
        print(f"day {day}: new items {cycle.new_items} ({cycle.new_items - unique} merged as the same story), "
              f"new unique items {unique}, LLM calls {calls} ({'=' if calls == unique else '!='} new unique items)"
              f"  [fetch+store+summarise {t_cycle:.1f} s, peak RSS after it {rss_cycle:.0f} MB]")
        print(f"  baseline per-user summarisation (computed, not executed): {naive_shown:,} calls "
              f"(users x items shown) / {naive_all:,} calls (users x new items)")
        print(f"  build all digests: {t_build:.2f} s for {len(profiles)} users ({built} non-empty)  [target <= 30 s]"
              f"  vs full-scan ranking baseline ~{t_full:.2f} s (extrapolated from {len(sample)} users)")
        print(f"  delivery pass (claim+build+send+mark): {t_tick:.1f} s, sent {report.sent}, lost {report.lost}, "
              f"empty {report.empty}, failed {report.failed}")
        print(f"  send schedule at {args.rate:g} msg/s: {len(slots)} sends over {span:.1f} s, "
              f"max {busiest} in any 1-second window (Teams limit 50/s)")
        print(f"  peak RSS so far: {rss_mb():.0f} MB  [target <= 500 MB]\n")
        clock.t = clock.t + timedelta(days=1) - timedelta(hours=1, minutes=30) + timedelta(days=2 if day == 1 else 0)

    await gateway.close()
    await db.dispose()
    await srv.runner.cleanup()
    print(f"peak RSS: {rss_mb():.0f} MB")


async def _no_sleep(_s: float) -> None:
    return None


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=4000)
    ap.add_argument("--feeds", type=int, default=40)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--rate", type=float, default=40.0)
    asyncio.run(main(ap.parse_args()))
