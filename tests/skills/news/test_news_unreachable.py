"""/news when the sources cannot be reached (e.g. no network: every host name fails to resolve): the user is told
so, with how many, and where to look — not that there is no news."""
from __future__ import annotations

from skills.news import SKILL
from skills.news import strings as S
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.news.helpers import FixedClock, Route, install, jst, news_settings, rss


async def _news(services) -> RecorderPort:
    port = RecorderPort()
    await SKILL.handler(make_request("", command="news"), port, services)
    return port


async def test_every_source_unreachable_is_said_with_the_count(db, tmp_path):
    sources = [{"url": f"https://feed{i}.invalid/rss", "title": f"源{i}", "tags": ["DX"], "weight": 1.0}
               for i in range(3)]
    services = make_services(db)
    services.clock = FixedClock(jst(2026, 8, 21, 8, 0))
    install(services, news_settings(tmp_path, sources, NEWS_FETCH_ALLOWLIST="*.invalid"))
    port = await _news(services)
    texts = [m.text for m in port.sent if m.kind == "text"]
    assert [m.kind for m in port.sent if m.kind != "inform"] == ["text"]
    assert texts[0] == S.ALL_SOURCES_FAILED.format(total=3)
    assert "3件" in texts[0] and "/news sources" in texts[0]
    assert "お届けできる新しいニュースはありません" not in texts[0]


async def test_some_sources_unreachable_and_nothing_new(db, feeds, tmp_path):
    feeds.routes["/a"] = Route(body=rss([{"title": "記事", "guid": "1", "link": "https://e.jp/1"}]))
    sources = [{"url": feeds.url("/a"), "title": "源", "tags": ["DX"], "weight": 1.0},
               {"url": feeds.url("/missing"), "title": "欠", "tags": ["DX"], "weight": 1.0}]
    services = make_services(db)
    services.clock = FixedClock(jst(2026, 8, 21, 8, 0))
    _, deliverer = install(services, news_settings(tmp_path, sources))
    assert [m.kind for m in (await _news(services)).sent if m.kind != "inform"] == ["card"]
    services.clock.advance(days=deliverer.s.NEWS_WINDOW_DAYS + 1)    # the one article is now too old
    port = await _news(services)
    texts = [m.text for m in port.sent if m.kind == "text"]
    assert [m.kind for m in port.sent if m.kind != "inform"] == ["text"]
    assert texts == [S.SOME_SOURCES_FAILED.format(total=2, failed=1)]
    assert "/news sources" in texts[0]


async def test_healthy_sources_with_nothing_new_keep_the_usual_card(db, feeds, tmp_path):
    feeds.routes["/a"] = Route(body=rss([{"title": "記事", "guid": "1", "link": "https://e.jp/1"}]))
    services = make_services(db)
    services.clock = FixedClock(jst(2026, 8, 21, 8, 0))
    install(services, news_settings(tmp_path, [{"url": feeds.url("/a"), "title": "源", "tags": ["DX"],
                                                "weight": 1.0}]))
    port = await _news(services)
    assert [m.kind for m in port.sent if m.kind != "inform"] == ["card"]
