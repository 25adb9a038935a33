"""The LLM gateway and the AI-use pipeline through the real openai client against a loopback server:
retries on 429 honouring Retry-After, timeouts, broken answers, tool calls (plain and streamed), Azure OpenAI
paths, and the audit record of every use."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.ai import AIFailed
from core.llm import LLMGateway, LLMSettings
from core.store.models import UsageEvent
from tests.harness import make_request, make_services
from tests.standins.openai_server import OpenAIStandIn

MSG = [{"role": "user", "content": "こんにちは"}]


@pytest.fixture
async def stub():
    s = await OpenAIStandIn().start()
    yield s
    await s.stop()


def env(stub, **extra):
    return {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": stub.base_url, **extra}


async def events(db):
    async with db.session() as s:
        return (await s.execute(select(UsageEvent).order_by(UsageEvent.id))).scalars().all()


async def test_429_is_retried_after_retry_after_and_usage_is_audited(db, stub):
    services = make_services(db, llm_env=env(stub, LLM_MAX_RETRIES="2"))
    stub.script = [{"status": 429, "retry_after": 0}, {"text": "二回目で成功しました。"}]
    answer = await services.ai.chat(make_request(), "chat", MSG)
    assert answer.text == "二回目で成功しました。"
    assert len(stub.chat_requests()) == 2
    [ev] = await events(db)
    assert (ev.outcome, ev.skill, ev.prompt_tokens, ev.completion_tokens, ev.endpoint, ev.tier) == \
        ("ok", "chat", 12, 8, "openai", "internet")
    assert ev.user_id == "29:user-1" and ev.latency_ms > 0


async def test_retries_are_bounded_and_then_a_japanese_error(db, stub):
    services = make_services(db, llm_env=env(stub, LLM_MAX_RETRIES="1"))
    stub.default = {"status": 503}
    with pytest.raises(AIFailed) as e:
        await services.ai.chat(make_request(), "chat", MSG)
    assert len(stub.chat_requests()) == 2 and "AIサービスに接続できませんでした" in e.value.message_ja
    assert [(x.outcome, x.reason) for x in await events(db)] == [("error", "unavailable")]


async def test_timeout_and_broken_answers_map_to_clear_errors(db, stub):
    services = make_services(db, llm_env=env(stub, LLM_MAX_RETRIES="0", LLM_TIMEOUT_SECONDS="0.3"))
    stub.script = [{"delay": 2, "text": "遅すぎる"}, {"broken": True}]
    with pytest.raises(AIFailed) as slow:
        await services.ai.chat(make_request(), "chat", MSG)
    with pytest.raises(AIFailed) as broken:
        await services.ai.chat(make_request(), "chat", MSG)
    assert slow.value.kind == "timeout" and "時間内" in slow.value.message_ja
    assert broken.value.kind == "bad_response"


async def test_tool_calls_plain_and_streamed(db, stub):
    services = make_services(db, llm_env=env(stub))
    tools = [{"type": "function", "function": {"name": "news", "parameters": {"type": "object"}}}]
    stub.script = [{"tool": "news", "args": {"request": "防災の新着"}},
                   {"tool": "news", "args": {"request": "長い引数を分割して送ります"}}]
    plain = await services.ai.chat(make_request(), "chat", MSG, tools=tools)
    stream = await services.ai.stream(make_request(), "chat", MSG, tools=tools)
    text = "".join([d async for d in stream])
    assert [(c.name, c.arguments) for c in plain.tool_calls] == [("news", {"request": "防災の新着"})]
    assert text == "" and [(c.name, c.arguments) for c in stream.answer.tool_calls] == \
        [("news", {"request": "長い引数を分割して送ります"})]
    assert stub.chat_requests()[1]["stream"] is True and stub.chat_requests()[1]["tools"] == tools
    assert stream.answer.usage.prompt_tokens == 12       # usage from the final stream chunk


async def test_azure_openai_uses_deployment_paths_and_api_version(db, stub):
    services = make_services(db, llm_env={"AZURE_OPENAI_ENDPOINT": stub.azure_endpoint, "AZURE_OPENAI_API_KEY": "az",
                                          "AZURE_OPENAI_DEPLOYMENT": "gpt-city", "OPENAI_API_VERSION": "2024-10-21"})
    answer = await services.ai.chat(make_request(), "chat", MSG)
    assert answer.text == "テスト応答です。" and answer.endpoint == "azure"
    assert stub.paths == ["/openai/deployments/gpt-city/chat/completions"]


def test_offline_when_nothing_is_configured_and_tier_endpoints_from_json():
    assert LLMGateway(LLMSettings(_env_file=None)).offline
    gw = LLMGateway(LLMSettings(_env_file=None, OPENAI_API_KEY="k", LLM_ENDPOINTS=(
        '[{"name": "lgwan-llm", "tier": "lgwan", "base_url": "http://127.0.0.1:9/v1", "model": "local",'
        ' "personal_data": true}]')))
    assert not gw.offline
    assert gw.for_tier("internet").name == "openai" and not gw.for_tier("internet").personal_data
    assert gw.for_tier("lgwan").name == "lgwan-llm" and gw.for_tier("lgwan").personal_data
    assert gw.for_tier("mynumber") is None
    with pytest.raises(ValueError):
        LLMGateway(LLMSettings(_env_file=None, LLM_ENDPOINTS='[{"name": "x", "tier": "moon"}]'))
