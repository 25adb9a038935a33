"""Traces and metrics are recorded for turns and LLM calls, without message text."""
from __future__ import annotations

import json

import aiohttp
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.harness import make_services, running_bot
from tests.standins.connector import ConnectorStandIn
from tests.standins.openai_server import OpenAIStandIn

SPANS = InMemorySpanExporter()
READER = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def providers():
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SPANS))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))
    yield


def metric_points(name):
    data = READER.get_metrics_data()
    out = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == name:
                    out.extend(m.data.data_points)
    return out


async def test_turn_and_llm_spans_and_metrics_carry_no_personal_text(db):
    connector = await ConnectorStandIn().start()
    llm = await OpenAIStandIn({"text": "回答です。"}).start()
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    secret = "尼崎花子さんの電話は090-1234-5678です"
    try:
        async with running_bot(services) as url:
            async with aiohttp.ClientSession() as s:
                await s.post(f"{url}/api/messages", json=connector.activity(secret))
            await connector.wait_for(lambda acts: connector.messages(), timeout=10)
    finally:
        await connector.stop()
        await llm.stop()
    spans = SPANS.get_finished_spans()
    names = [sp.name for sp in spans]
    assert "turn" in names and "llm.chat" not in names      # chat streams: the audit records it instead
    tokens = {dict(p.attributes)["kind"]: p.value for p in metric_points("assistant.llm.tokens")
              if dict(p.attributes).get("skill") == "chat"}
    assert tokens["prompt"] >= 12 and tokens["completion"] >= 8
    assert any(p.count >= 1 for p in metric_points("assistant.turn.duration"))
    uses = [(dict(p.attributes)["outcome"], p.value) for p in metric_points("assistant.ai.uses")]
    assert ("ok", 1) in uses or any(o == "ok" for o, _ in uses)
    dump = json.dumps([dict(sp.attributes) for sp in spans], ensure_ascii=False)
    assert "尼崎花子" not in dump and "090-1234-5678" not in dump
