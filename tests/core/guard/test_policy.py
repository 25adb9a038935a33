"""Tier policy: Guard.decide() rules, message masking, and the masked round trip over the wire."""
from __future__ import annotations

import json
import re

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

from core.guard.policy import Decision, Guard, GuardSettings
from core.llm import LLMGateway, LLMSettings

BASE = "http://127.0.0.1:9/v1"  # nothing listens there: decide() must never call out


def mynumber(body: str = "98765432109") -> str:
    total = sum(int(body[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    r = total % 11
    return body + str(0 if r <= 1 else 11 - r)


def gateway(*endpoints: dict, **extra) -> LLMGateway:
    specs = [{"name": e.get("name", e["tier"]), "base_url": e.get("base_url", BASE), "api_key": "k",
              "model": "m", **e} for e in endpoints]
    settings = LLMSettings(_env_file=None, OPENAI_API_KEY=None, OPENAI_BASE_URL=None, AZURE_OPENAI_ENDPOINT=None,
                           LLM_ENDPOINTS=json.dumps(specs) if specs else None, **extra)
    return LLMGateway(settings)


def guard(gw: LLMGateway, **settings) -> Guard:
    return Guard(GuardSettings(_env_file=None, **settings), gw)


TEXT = "山田太郎様（090-1234-5678）から問い合わせがありました。"


def test_requested_tier_uses_only_that_tiers_endpoint():
    gw = gateway({"tier": "internet"}, {"tier": "lgwan", "personal_data": True})
    d = guard(gw).decide([TEXT], "lgwan")
    assert isinstance(d, Decision)
    assert (d.tier, d.endpoint.name, d.refusal, d.reason, d.masking) == ("lgwan", "lgwan", None, None, False)
    assert d.allowed
    # the session was built and counted even though masking is off
    assert d.session.counts == {"phone": 1, "name": 1}


def test_default_tier_and_safe_default_masking():
    gw = gateway({"tier": "internet"}, {"tier": "lgwan"})
    d = guard(gw).decide([TEXT], None)
    assert (d.tier, d.endpoint.name, d.masking) == ("internet", "internet", True)
    d = guard(gw, GUARD_DEFAULT_TIER="lgwan").decide([TEXT], None)
    assert (d.tier, d.endpoint.name, d.masking) == ("lgwan", "lgwan", True)  # personal_data not declared ⇒ mask


def test_fresh_install_with_only_an_api_key_masks_everything():
    gw = LLMGateway(LLMSettings(_env_file=None, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=BASE,
                                AZURE_OPENAI_ENDPOINT=None, LLM_ENDPOINTS=None))
    d = guard(gw).decide([TEXT], None)
    assert (d.tier, d.endpoint.name, d.masking, d.refusal) == ("internet", "openai", True, None)


def test_mynumber_detected_routes_to_mynumber_tier_or_refuses():
    text = f"個人番号{mynumber()}の方の所得照会"
    only_internet = gateway({"tier": "internet", "personal_data": True})
    d = guard(only_internet).decide([text], None)
    assert (d.tier, d.endpoint, d.reason) == ("mynumber", None, "no_endpoint_for_tier")
    assert "マイナンバー利用事務系" in d.refusal and "個人番号" in d.refusal and "送信しませんでした" in d.refusal
    assert not d.allowed

    with_mynumber = gateway({"tier": "internet"}, {"tier": "mynumber", "personal_data": True})
    d = guard(with_mynumber).decide(["前置き", text], None)
    assert (d.tier, d.endpoint.name, d.masking, d.refusal) == ("mynumber", "mynumber", False, None)
    assert d.session.counts == {"mynumber": 1}


def test_no_endpoint_for_requested_tier_is_refused_never_rerouted():
    gw = gateway({"tier": "lgwan", "personal_data": True})
    d = guard(gw).decide(["こんにちは"], "internet")
    assert (d.tier, d.endpoint, d.reason) == ("internet", None, "no_endpoint_for_tier")
    assert "インターネット接続系" in d.refusal and "送信しませんでした" in d.refusal


def test_explicit_tier_with_mynumber_still_masks_the_number_off_the_mynumber_tier():
    gw = gateway({"tier": "lgwan", "personal_data": True})
    d = guard(gw).decide([f"番号 {mynumber()} の件"], "lgwan")
    assert (d.tier, d.endpoint.name, d.masking) == ("lgwan", "lgwan", True)


def test_offline_gateway_is_not_a_refusal():
    d = guard(gateway()).decide([TEXT], None)
    assert (d.endpoint, d.refusal, d.reason) == (None, None, "offline")
    assert d.session.counts == {"phone": 1, "name": 1}


def test_forbidden_word_refuses_before_anything_else():
    gw = gateway({"tier": "internet"})
    g = guard(gw, GUARD_FORBIDDEN_WORDS="極秘, 人事評価、ＳＥＣＲＥＴ")
    d = g.decide(["通常の相談", "この資料は極秘です"], None)
    assert d.refusal == "禁止ワード「極秘」が含まれているため、AIには送信しませんでした。"
    assert (d.reason, d.endpoint) == ("forbidden_word", None)
    assert g.decide(["人事評価の下書き"], "internet").reason == "forbidden_word"
    assert g.decide(["this is secret"], None).refusal == "禁止ワード「ＳＥＣＲＥＴ」が含まれているため、AIには送信しませんでした。"
    assert g.decide(["通常の相談"], None).refusal is None
    assert guard(gateway(), GUARD_FORBIDDEN_WORDS="極秘").decide(["極秘"], None).reason == "forbidden_word"


def test_unknown_tier_is_refused_in_japanese():
    d = guard(gateway({"tier": "internet"})).decide(["x"], "cloud")
    assert d.reason == "unknown_tier" and d.endpoint is None and "送信しませんでした" in d.refusal


def test_settings_validation():
    with pytest.raises(ValidationError, match="GUARD_DEFAULT_TIER"):
        GuardSettings(_env_file=None, GUARD_DEFAULT_TIER="cloud")
    s = GuardSettings(_env_file=None)
    assert (s.GUARD_DEFAULT_TIER, s.AUDIT_KEEP_PROMPTS, s.AUDIT_EXPORT_TOKEN, s.forbidden_words) == \
        ("internet", False, None, [])


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("GUARD_FORBIDDEN_WORDS", "部外秘")
    monkeypatch.setenv("GUARD_DEFAULT_TIER", "LGWAN")
    monkeypatch.setenv("AUDIT_KEEP_PROMPTS", "true")
    s = GuardSettings(_env_file=None)
    assert (s.forbidden_words, s.GUARD_DEFAULT_TIER, s.AUDIT_KEEP_PROMPTS) == (["部外秘"], "lgwan", True)


def test_mask_messages_masks_string_and_text_parts_and_leaves_input_alone():
    g = guard(gateway({"tier": "internet"}))
    d = g.decide([TEXT], None)
    messages = [{"role": "system", "content": "あなたは市役所の職員を支援します。"},
                {"role": "user", "content": TEXT},
                {"role": "user", "content": [{"type": "text", "text": "山田太郎様へ返信"},
                                             {"type": "image_url", "image_url": {"url": "https://x/a.png"}}]},
                {"role": "assistant", "content": None, "tool_calls": []}]
    masked = g.mask_messages(messages, d.session)
    assert masked[0] == messages[0]
    assert masked[1]["content"] == "［氏名1］様（［電話1］）から問い合わせがありました。"
    assert masked[2]["content"][0] == {"type": "text", "text": "［氏名1］様へ返信"}
    assert masked[2]["content"][1] == messages[2]["content"][1]
    assert masked[3] == messages[3]
    assert messages[1]["content"] == TEXT  # the caller's list is not modified
    assert d.session.summary_ja() == "電話番号1件・氏名1件を伏せて送信しました"


# --- over the wire: mask → real openai client → loopback server → restore ---------------------------------------

async def test_masked_round_trip_over_loopback_never_sends_raw_values():
    received: list[dict] = []

    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        received.append(body)
        user = body["messages"][-1]["content"]
        echoed = " ".join(re.findall(r"［[^］]+］", user)).replace("［", "[").replace("］", "]")
        return web.json_response({
            "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": f"承知しました。{echoed} 宛てに回答案を作成します。"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        n = mynumber()
        raw = f"山田太郎様（090-1234-5678、yamada@example.jp、尼崎市南塚口町2丁目3番4号）、個人番号{n}"
        gw = gateway({"tier": "internet", "base_url": str(server.make_url("/v1"))})
        g = guard(gw)
        d = g.decide([raw], "internet")
        assert d.allowed and d.masking
        messages = g.mask_messages([{"role": "user", "content": raw}], d.session)
        result = await d.endpoint.chat(messages)
        answer = d.session.restore(result.text)
        await gw.close()
    finally:
        await server.close()
    wire = json.dumps(received, ensure_ascii=False)
    for value in ("山田", "090-1234-5678", "yamada@example.jp", "南塚口町", n):
        assert value not in wire
    assert "［氏名1］" in wire and "［個人番号1］" in wire
    assert answer == (f"承知しました。山田太郎 090-1234-5678 yamada@example.jp 尼崎市南塚口町2丁目3番4号 {n} "
                      "宛てに回答案を作成します。")
