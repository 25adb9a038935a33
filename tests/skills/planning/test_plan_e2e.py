"""/plan end to end: the real aiohttp app, the stand-in Bot Connector, the loopback LLM and the e-Gov stand-in."""
from __future__ import annotations

import json

import aiohttp
import pytest

from tests.harness import make_services, running_bot
from tests.skills.law.cardschema import assert_valid_card
from tests.skills.planning.plan_helpers import RESEARCH_NOTES, START_DATA, load_knowledge, outline_json, write_profiles
from tests.standins.connector import ConnectorStandIn
from tests.standins.law import LawStandIn
from tests.standins.openai_server import OpenAIStandIn


async def post(url: str, activity: dict) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", json=activity) as r:
            return r.status, await r.text()


@pytest.fixture
async def wire(monkeypatch, tmp_path):
    egov = await LawStandIn().start()
    llm = await OpenAIStandIn().start()
    connector = await ConnectorStandIn().start()
    monkeypatch.setenv("EGOV_LAW_API_BASE", egov.base_url)
    monkeypatch.setenv("PLANNING_PROFILES_FILE", str(write_profiles(tmp_path)))
    yield egov, llm, connector
    await connector.stop()
    await llm.stop()
    await egov.stop()


def streaminfo(activity: dict) -> dict | None:
    return next((e for e in activity.get("entities") or [] if e.get("type") == "streaminfo"), None)


async def test_plan_from_command_to_outline_over_the_wire(db, wire):
    egov, llm, connector = wire
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    try:
        await load_knowledge(services)
        async with running_bot(services) as url:
            assert (await post(url, connector.activity("/企画 子育て支援アプリの導入")))[0] == 202
            await connector.wait_for(lambda acts: connector.cards())
            form = connector.cards()[-1]
            assert_valid_card(form)
            start = form["actions"][0]
            assert start["verb"] == "plan.start"

            llm.script = [{"text": RESEARCH_NOTES}, {"text": outline_json()}]
            inputs = {k: v for k, v in START_DATA.items()}
            invoke = connector.activity(None, type="invoke", name="adaptiveCard/action",
                                        value={"action": {"type": "Action.Execute", "verb": "plan.start",
                                                          "data": {**start["data"], **inputs}},
                                               "trigger": "manual"})
            status, body = await post(url, invoke)
            await connector.wait_for(lambda acts: len(connector.cards()) >= 2)
    finally:
        client = services.law
        if client:
            await client.close()
    assert status == 200
    accepted = json.loads(body)
    assert accepted["type"] == "application/vnd.microsoft.card.adaptive"
    assert "受け付けました" in json.dumps(accepted["value"], ensure_ascii=False)

    acts = connector.activities()
    updates = [a for a in acts if a.get("type") == "typing" and (streaminfo(a) or {}).get("streamType") ==
               "informative"]
    assert [u["text"] for u in updates] == ["調査中…（庁内資料・法令・他都市事例を検索しています）",
                                            "調査中…（調査メモを作成しています）", "構成案を作成中…"]
    assert [streaminfo(u)["streamSequence"] for u in updates] == [1, 2, 3]
    final = connector.messages()[-1]
    closing = streaminfo(final)
    assert closing and closing["streamType"] == "final" and closing["streamId"]
    outline = final["attachments"][0]["content"]
    assert_valid_card(outline)
    assert "KPI" in json.dumps(outline, ensure_ascii=False)
    ai = next(e for e in final["entities"] if e.get("type") == "https://schema.org/Message")
    assert ai["additionalType"] == ["AIGeneratedContent"]
    assert [c["position"] for c in ai["citation"]] == list(range(1, len(ai["citation"]) + 1))
    assert any("地方自治法" in c["appearance"]["name"] for c in ai["citation"])
