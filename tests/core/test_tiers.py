"""Network tiers end to end: the real app, two loopback OpenAI-compatible servers (internet: masked; LGWAN:
approved for personal data), the user's /tier choice, a conversation's configured tier, and the My Number
detector refusing when no マイナンバー endpoint exists — asserting what each server did and did not receive."""
from __future__ import annotations

import json

import aiohttp
import pytest

from tests.harness import make_services, running_bot
from tests.standins.connector import ConnectorStandIn
from tests.standins.openai_server import OpenAIStandIn

TEXT = "尼崎花子さん（電話090-1234-5678）への回答文の書き方を相談したい"


def valid_my_number() -> str:
    body = "12345678901"
    digits = [int(c) for c in reversed(body)]
    s = sum(d * ((n + 1) if n <= 6 else (n - 5)) for n, d in enumerate(digits, 1))
    r = s % 11
    return body + str(0 if r <= 1 else 11 - r)


@pytest.fixture
async def world(db, monkeypatch):
    monkeypatch.setenv("CONVERSATION_TIERS", json.dumps({"19:juki@thread.tacv2": "lgwan"}))
    internet, lgwan = await OpenAIStandIn({"text": "インターネット側の回答です。"}).start(), \
        await OpenAIStandIn({"text": "LGWAN側の回答です。"}).start()
    connector = await ConnectorStandIn().start()
    services = make_services(db, llm_env={
        "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": internet.base_url,
        "LLM_ENDPOINTS": json.dumps([{"name": "lgwan-llm", "tier": "lgwan", "base_url": lgwan.base_url,
                                      "api_key": "x", "model": "local", "personal_data": True}])})
    async with running_bot(services) as url:
        yield url, connector, internet, lgwan
    for s in (internet, lgwan, connector):
        await s.stop()


async def say(url, connector, text, **kw):
    n = len(connector.messages())
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", json=connector.activity(text, **kw)) as r:
            assert r.status == 202
    await connector.wait_for(lambda acts: len(connector.messages()) > n, timeout=10)
    return connector.messages()[-1]


async def test_default_tier_masks_and_tier_choice_sends_raw_to_lgwan_only(world):
    url, connector, internet, lgwan = world
    first = await say(url, connector, TEXT)
    assert first["text"] == "インターネット側の回答です。"
    note = json.dumps(first["attachments"][0]["content"], ensure_ascii=False)         # what was masked, and /tier
    assert "氏名1件" in note and "電話" in note and "/tier" in note
    assert "尼崎花子" not in internet.seen() and "090-1234-5678" not in internet.seen()
    assert "［氏名1］" in internet.seen() and lgwan.requests == []

    card_msg = await say(url, connector, "/tier lgwan")
    assert "LGWAN接続系に切り替えました" in json.dumps(card_msg, ensure_ascii=False)
    before = len(internet.requests)
    second = await say(url, connector, TEXT)
    assert second["text"] == "LGWAN側の回答です。" and not second.get("attachments")    # nothing was masked
    assert "尼崎花子" in lgwan.seen() and "090-1234-5678" in lgwan.seen()     # approved for personal data
    assert len(internet.requests) == before                                # never reached the internet tier

    async with aiohttp.ClientSession() as s:                               # back to the default from the card
        inv = connector.activity(None, type="invoke", name="adaptiveCard/action",
                                 value={"action": {"type": "Action.Execute", "verb": "tier.set",
                                                   "data": {"verb": "tier.set", "tier": ""}}})
        async with s.post(f"{url}/api/messages", json=inv) as r:
            body = await r.json()
    assert "標準の区分に戻しました" in json.dumps(body, ensure_ascii=False)
    await say(url, connector, TEXT)
    assert len(internet.requests) == before + 1


async def test_a_channel_configured_for_lgwan_uses_it_and_unconfigured_tiers_are_refused(world):
    url, connector, internet, lgwan = world
    mention = [{"type": "mention", "text": "<at>AI Assistant</at>", "mentioned": {"id": "28:bot-1", "name": "AI"}}]
    reply = await say(url, connector, "<at>AI Assistant</at> " + TEXT, conversation="19:juki@thread.tacv2",
                      conv_type="channel", entities=mention)
    assert reply["text"] == "LGWAN側の回答です。" and internet.requests == []
    refusal = await say(url, connector, "/tier mynumber")
    assert "設定されていません" in refusal["text"]


async def test_my_number_moves_the_request_to_a_tier_without_endpoint_and_nothing_is_sent(world):
    url, connector, internet, lgwan = world
    number = valid_my_number()
    reply = await say(url, connector, f"個人番号{number}の方の手続きについて相談です")
    assert "マイナンバー利用事務系" in reply["text"] and "送信しませんでした" in reply["text"]
    assert internet.requests == [] and lgwan.requests == []
