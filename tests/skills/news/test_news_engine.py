"""The fetch cycle on a real database: health per source, items stored once, cross-source merging, summaries made
once per new unique item through the real openai client against a loopback server."""
from __future__ import annotations

import asyncio
import os
import time

from sqlalchemy import func, select

from skills.news.models import NewsItem, NewsSource, NewsSummary
from tests.harness import make_services
from tests.skills.news.helpers import FixedClock, Route, install, jst, news_settings, rss
from tests.standins.openai_server import OpenAIStandIn


def _sources(feeds, names):
    return [{"url": feeds.url(f"/{n}"), "title": f"源{n}", "tags": ["DX"] if i % 2 == 0 else ["防災"], "weight": 1.0}
            for i, n in enumerate(names)]


async def _count(db, model, *where):
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_cycle_marks_bad_feeds_unhealthy_and_keeps_going(db, feeds, testdata, tmp_path):
    fd = testdata / "feeds"
    feeds.routes["/gov"] = Route(body=(fd / "go-jp-rss/www.gov-online.go.jp-info.rss").read_bytes())
    feeds.routes["/rdf"] = Route(body=(fd / "thunderbird-newsblog/rss_7_1_BORKED.rdf").read_bytes(),
                                 content_type="application/rdf+xml")
    feeds.routes["/euc"] = Route(body=(fd / "feedparser/illformed/chardet/eucjp.xml").read_bytes(),
                                 content_type="application/xml")
    feeds.routes["/broken"] = Route(body=(fd / "feedparser/illformed/aaa_illformed.xml").read_bytes())
    feeds.routes["/empty"] = Route(body=(fd / "feedparser/illformed/rss_empty_document.xml").read_bytes())
    feeds.routes["/slow"] = Route(body=rss([{"title": "遅い"}]), delay=1.2)
    feeds.routes["/huge"] = Route(stream_forever=True)
    names = ["gov", "rdf", "euc", "broken", "empty", "slow", "huge", "missing"]
    settings = news_settings(tmp_path, _sources(feeds, names), NEWS_FETCH_READ_TIMEOUT=0.5,
                             NEWS_FETCH_TOTAL_TIMEOUT=1.0, NEWS_FETCH_MAX_BYTES=300_000)
    services = make_services(db)
    services.clock = FixedClock(jst(2026, 8, 21, 7, 0))
    engine, _ = install(services, settings)
    t0 = time.monotonic()
    report = await engine.run_cycle(force=True)
    assert time.monotonic() - t0 < 5
    assert report.ran
    by = {o.url.rsplit("/", 1)[1]: o for o in report.outcomes}
    assert {k for k, o in by.items() if o.ok} == {"gov", "rdf", "euc"}
    assert by["broken"].reason == "parse" and by["empty"].reason in ("parse", "empty")
    assert by["slow"].reason == "timeout" and by["huge"].reason == "too_large" and by["missing"].reason == "http"
    assert by["gov"].new_items == 40 and by["rdf"].new_items == 2 and by["euc"].new_items == 1
    async with db.session() as s:
        rows = {r.url.rsplit("/", 1)[1]: r for r in (await s.execute(select(NewsSource))).scalars()}
        euc_title = (await s.execute(select(NewsItem.title).where(NewsItem.source_id == rows["euc"].id))).scalar_one()
    assert euc_title == "ゲーム三昧な正月"
    assert rows["gov"].jst_dates and rows["gov"].consecutive_failures == 0 and rows["gov"].last_ok_at
    assert rows["slow"].consecutive_failures == 1 and rows["slow"].last_error.startswith("timeout")
    # a second cycle stores nothing new and counts failures up
    await engine.run_cycle(force=True)
    assert await _count(db, NewsItem) == 43
    async with db.session() as s:
        assert (await s.get(NewsSource, rows["slow"].id)).consecutive_failures == 2


async def test_same_story_from_two_sources_is_merged(db, feeds, tmp_path):
    feeds.routes["/a"] = Route(body=rss([
        {"title": "【報道発表】自治体DX推進計画の改定について", "link": "https://www.soumu.go.jp/news/123.html?utm_source=rss",
         "guid": "a1", "pubDate": "Thu, 20 Aug 2026 10:00:00 +0900"},
        {"title": "防災訓練の実施について", "link": "https://www.bousai.go.jp/kunren/1", "guid": "a2"}]))
    feeds.routes["/b"] = Route(body=rss([
        {"title": "自治体DX推進計画の改定について", "link": "http://soumu.go.jp/news/123.html#main", "guid": "b1"},
        {"title": "防災訓練の実施について（第2報）", "link": "https://www.cao.go.jp/other/9", "guid": "b2",
         "pubDate": "Thu, 20 Aug 2026 12:00:00 +0900"},
        {"title": "全く別の記事です", "link": "https://www.cao.go.jp/other/10", "guid": "b3"}]))
    services = make_services(db)
    services.clock = FixedClock(jst(2026, 8, 21, 7, 0))
    engine, _ = install(services, news_settings(tmp_path, _sources(feeds, ["a", "b"])))
    await engine.run_cycle(force=True)
    async with db.session() as s:
        items = {i.title: i for i in (await s.execute(select(NewsItem))).scalars()}
    assert len(items) == 5
    dx_b = items["自治体DX推進計画の改定について"]
    assert dx_b.duplicate_of == items["【報道発表】自治体DX推進計画の改定について"].id       # same canonical URL
    assert items["防災訓練の実施について（第2報）"].duplicate_of == items["防災訓練の実施について"].id  # near title
    assert items["全く別の記事です"].duplicate_of is None


async def test_summaries_once_per_new_unique_item(db, feeds, tmp_path):
    llm = await OpenAIStandIn(default=lambda body: {"text": "要約です。二文目です。"}).start()
    try:
        items = [{"title": f"記事{i}の見出し", "link": f"https://e.jp/{i}", "guid": f"g{i}",
                  "description": f"記事{i}の本文です。詳しくはリンク先をご覧ください。"} for i in range(6)]
        feeds.routes["/a"] = Route(body=rss(items[:4]))
        services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
        services.clock = FixedClock(jst(2026, 8, 21, 6, 0))
        engine, _ = install(services, news_settings(tmp_path, _sources(feeds, ["a"])))
        r1 = await engine.run_cycle(force=True)
        assert r1.summarised == 4 and len(llm.chat_requests()) == 4
        # the system user made the calls; the prompt file is the system message
        sys_msg = llm.chat_requests()[0]["messages"][0]["content"]
        assert "2〜3文" in sys_msg
        feeds.routes["/a"] = Route(body=rss(items))          # two new items
        services.clock.advance(hours=1)
        r2 = await engine.run_cycle(force=True)
        assert r2.new_items == 2 and r2.summarised == 2 and len(llm.chat_requests()) == 6
        await engine.run_cycle(force=True)
        assert len(llm.chat_requests()) == 6
        assert await _count(db, NewsSummary) == 6
        from core.store.models import UsageEvent
        async with db.session() as s:
            users = set((await s.execute(select(UsageEvent.user_id).where(UsageEvent.skill == "news"))).scalars())
        assert users == {"system:news"}
    finally:
        await llm.stop()


async def test_sources_file_reloads_on_change(db, feeds, tmp_path):
    feeds.routes["/a"] = Route(body=rss([{"title": "A", "guid": "1"}]))
    feeds.routes["/b"] = Route(body=rss([{"title": "B", "guid": "1"}]))
    services = make_services(db)
    services.clock = FixedClock(jst(2026, 8, 21, 6, 0))
    settings = news_settings(tmp_path, _sources(feeds, ["a"]))
    engine, _ = install(services, settings)
    await engine.run_cycle(force=True)
    assert await _count(db, NewsSource, NewsSource.active.is_(True)) == 1
    from tests.skills.news.helpers import write_sources
    path = write_sources(tmp_path, _sources(feeds, ["b"]))
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + 5))
    report = await engine.run_cycle(force=True)
    assert [o.url for o in report.outcomes] == [feeds.url("/b")]
    # a broken edit keeps the last good list
    path.write_text("sources: [ {url: ", encoding="utf-8")
    os.utime(path, (st.st_atime, st.st_mtime + 10))
    report = await engine.run_cycle(force=True)
    assert [o.url for o in report.outcomes] == [feeds.url("/b")] and engine.config.error


async def test_only_one_process_runs_a_cycle_at_a_time(db, feeds, tmp_path):
    feeds.routes["/a"] = Route(body=rss([{"title": "A", "guid": "1"}]), delay=0.3)
    services = make_services(db)
    services.clock = FixedClock(jst(2026, 8, 21, 6, 0))
    settings = news_settings(tmp_path, _sources(feeds, ["a"]))
    from skills.news.engine import NewsEngine
    e1, e2 = NewsEngine(services, settings), NewsEngine(services, settings)
    r1, r2 = await asyncio.gather(e1.run_cycle(force=True), e2.run_cycle(force=True))
    assert sorted([r1.ran, r2.ran]) == [False, True]
    assert len(feeds.requests) == 1
