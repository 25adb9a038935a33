"""What the news skill leaves in the audit: every background summary is audited, but only a staff member reading a
digest is a use in the city's KPI (one per /news)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from core.store.models import UsageEvent
from skills.kpi.report import build_report
from skills.kpi.settings import KpiSettings
from skills.news import SKILL
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.news.helpers import FixedClock, Route, install, jst, news_settings, rss
from tests.standins.openai_server import OpenAIStandIn

ITEMS = [{"title": f"記事{i}の見出し", "link": f"https://e.jp/{i}", "guid": f"g{i}",
          "description": f"記事{i}の本文です。詳しくはリンク先をご覧ください。"} for i in range(4)]


async def test_background_summaries_are_audited_but_only_the_digest_read_counts(db, feeds, tmp_path):
    llm = await OpenAIStandIn(default=lambda body: {"text": "要約です。二文目です。"}).start()
    try:
        feeds.routes["/a"] = Route(body=rss(ITEMS))
        services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
        services.clock = FixedClock(jst(2026, 8, 21, 8, 0))
        engine, _ = install(services, news_settings(tmp_path, [{"url": feeds.url("/a"), "title": "源a",
                                                                "tags": ["DX"], "weight": 1.0}]))
        report = await engine.run_cycle(force=True)
        assert report.summarised == 4
        settings = KpiSettings(_env_file=None)
        now = datetime.now(timezone.utc)                    # the audit stamps records with the real time

        r = await build_report(db, settings, now)          # articles fetched, nobody asked: nothing to count
        assert (r.uses_month, r.active_users_month, r.hours_fytd) == (0, 0, 0)

        port = RecorderPort()
        await SKILL.handler(make_request("", command="news"), port, services)
        assert [m.kind for m in port.sent][-1] == "card"
        r = await build_report(db, settings, now)
        assert (r.uses_month, r.active_users_month) == (1, 1)
        assert {s.skill: s.uses for s in r.skills} == {"news": 1}

        async with db.session() as s:
            audited = (await s.execute(select(UsageEvent.user_id, UsageEvent.outcome)
                                       .where(UsageEvent.skill == "news"))).all()
        assert sorted(audited) == [("29:user-1", "ok")] + [("system:news", "ok")] * 4
    finally:
        await llm.stop()
