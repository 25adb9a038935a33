"""/law end to end: the real aiohttp app, the stand-in Bot Connector, and the e-Gov stand-in, all over loopback."""
from __future__ import annotations

import json

import aiohttp
import pytest

from tests.harness import make_services, running_bot
from tests.skills.law.cardschema import assert_valid_card
from tests.standins.connector import ConnectorStandIn
from tests.standins.law import LawStandIn


async def post(url: str, activity: dict) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", json=activity) as r:
            return r.status, await r.text()


@pytest.fixture
async def stand_ins(monkeypatch):
    egov = await LawStandIn().start()
    connector = await ConnectorStandIn().start()
    monkeypatch.setenv("EGOV_LAW_API_BASE", egov.base_url)
    yield egov, connector
    await connector.stop()
    await egov.stop()


async def test_law_search_then_article_over_the_wire(db, stand_ins):
    egov, connector = stand_ins
    services = make_services(db)
    try:
        async with running_bot(services) as url:
            status, _ = await post(url, connector.activity("/法令 過失 損害"))
            assert status == 202
            await connector.wait_for(lambda acts: connector.cards())
            card = connector.cards()[-1]
            assert_valid_card(card)
            assert "民法" in json.dumps(card, ensure_ascii=False)
            message = connector.messages()[-1]
            assert not any(e.get("additionalType") for e in message.get("entities") or [])   # no AI label
            button = next(a for c in card["body"] if c["type"] == "Container" for i in c["items"]
                          if i["type"] == "ActionSet" for a in i["actions"] if a.get("verb") == "law.article")
            invoke = connector.activity(None, type="invoke", name="adaptiveCard/action",
                                        value={"action": {"type": "Action.Execute", "verb": button["verb"],
                                                          "data": button["data"]}, "trigger": "manual"})
            status, body = await post(url, invoke)
    finally:
        client = services.law
        if client:
            await client.close()
    assert status == 200
    resp = json.loads(body)
    assert resp["type"] == "application/vnd.microsoft.card.adaptive"
    article = json.dumps(resp["value"], ensure_ascii=False)
    assert "第七百九条" in article and "故意又は過失によって他人の権利" in article
    assert_valid_card(resp["value"])
