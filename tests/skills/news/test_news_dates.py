"""News dates on both back ends: a 政府広報 item dated at JST midnight is shown with its date only, whatever the
database (SQLite keeps no time zone: stored values are UTC)."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from core.timeutil import JST
from skills.news import SKILL
from skills.news.models import NewsItem
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.news.helpers import FixedClock, Route, install, jst, news_settings


async def test_jst_midnight_item_is_shown_as_a_date(db, feeds, testdata, tmp_path):
    feeds.routes["/gov"] = Route(body=(testdata / "feeds/go-jp-rss/www.gov-online.go.jp-info.rss").read_bytes())
    services = make_services(db)
    services.clock = FixedClock(jst(2026, 8, 21, 8, 0))
    install(services, news_settings(tmp_path, [{"url": feeds.url("/gov"), "title": "政府広報オンライン",
                                                "tags": ["DX"], "weight": 1.0}]))
    port = RecorderPort()
    await SKILL.handler(make_request("", command="news"), port, services)

    async with db.session() as s:
        published = (await s.execute(select(NewsItem.published_at).limit(1))).scalar_one()
    assert published == datetime(2026, 8, 21, tzinfo=JST)          # the same instant, aware, on both back ends
    assert published.tzinfo is not None

    card = json.dumps([m.card for m in port.sent if m.kind == "card"][-1], ensure_ascii=False)
    assert "8月21日" in card
    assert "8月21日 9:00" not in card and "9:00" not in card
