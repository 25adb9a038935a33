"""End to end over loopback: the real aiohttp app and Bot Connector stand-in, feeds served over HTTP, summaries
from a loopback OpenAI-compatible server through the real openai client, and the scheduled proactive delivery
through the bot's own sender (429 with Retry-After, then 403 for a user who removed the app)."""
from __future__ import annotations

import json

import aiohttp

from skills.news.models import NewsDelivery, NewsProfile
from tests.harness import make_services, running_bot
from tests.skills.news.helpers import FixedClock, Route, install, jst, news_settings, rss
from tests.standins.connector import ConnectorStandIn
from tests.standins.openai_server import OpenAIStandIn


async def post(url: str, activity: dict) -> int:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", json=activity) as r:
            return r.status


async def test_news_command_then_scheduled_delivery_over_the_wire(db, feeds, tmp_path):
    items = [{"title": f"地方財政の動向その{i}", "link": f"https://www.soumu.go.jp/{i}", "guid": f"g{i}",
              "description": f"地方財政に関する資料その{i}を公表しました。"} for i in range(3)]
    feeds.routes["/soumu"] = Route(body=rss(items))
    llm = await OpenAIStandIn(default={"text": "総務省が地方財政の資料を公表しました。自治体の予算編成の参考になります。"}).start()
    connector = await ConnectorStandIn().start()
    try:
        services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
        services.clock = FixedClock(jst(2026, 8, 21, 8, 0))
        engine, deliverer = install(services, news_settings(
            tmp_path, [{"url": feeds.url("/soumu"), "title": "総務省", "tags": ["財政"], "weight": 1.2}]))
        async with running_bot(services) as url:
            assert await post(url, connector.activity("/news")) == 202
            await connector.wait_for(lambda acts: connector.cards())
            card = connector.cards()[-1]
            dump = json.dumps(card, ensure_ascii=False)
            assert "総務省が地方財政の資料を公表しました" in dump and "AI要約ではありません" not in dump
            msg = connector.messages()[-1]
            assert any("AIGeneratedContent" in (e.get("additionalType") or []) for e in msg.get("entities") or [])
            assert len(llm.chat_requests()) == 3

            # a second user talks to the bot (so a conversation reference exists), then the morning run
            assert await post(url, connector.activity("こんにちは", conversation="a:personal-2",
                                                      user="29:user-2", aad="aad-2")) == 202
            await connector.wait_for(lambda acts: any(a.get("conversation", {}).get("id") == "a:personal-2"
                                                      for a in connector.messages()))
            before = len(connector.posts)
            hits: dict[str, int] = {}

            def script(method, path, body):
                if method == "POST" and "/a:personal-1/" in path:
                    hits["u1"] = hits.get("u1", 0) + 1
                    if hits["u1"] == 1:
                        return 429, {"error": {"code": "Throttled", "message": "slow down"}}
                if method == "POST" and "/a:personal-2/" in path:
                    return 403, {"error": {"code": "BotNotInConversationRoster", "message": "removed"}}
                return None

            connector.fail = script
            services.clock.t = jst(2026, 8, 21, 8, 30)
            report = await deliverer.tick()
            assert report.sent == 1 and report.gone == 1
            assert hits["u1"] == 2                                   # the 429 was retried after Retry-After
            delivered = [p for p in connector.posts[before:] if p["status"] == 200]
            assert len(delivered) == 1 and "/a:personal-1/" in delivered[0]["path"]
            assert "本日のニュース" in json.dumps(delivered[0]["body"], ensure_ascii=False)
            summaries = [r for r in llm.chat_requests() if "2〜3文" in r["messages"][0]["content"]]
            assert len(summaries) == 3                               # no summaries per user
            async with db.session() as s:
                gone = await s.get(NewsProfile, "29:user-2")
                rows = {r.user_id: r.status for r in (await s.execute(
                    __import__("sqlalchemy").select(NewsDelivery))).scalars()}
            assert gone is not None and gone.undeliverable
            assert rows == {"29:user-1": "sent", "29:user-2": "gone"}
    finally:
        await connector.stop()
        await llm.stop()
