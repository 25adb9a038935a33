"""Dependencies failing (issue #21): the model (chat and streaming), Microsoft Graph, kintone and the e-Gov law API
answering 500, 429 with Retry-After, not answering in time, dropping the connection, or cutting the body mid-way.

Each dependency's real client library (openai, msgraph-sdk, aiohttp) talks to its loopback stand-in through
tests/standins/faulthttp.FaultHTTP, which injects the fault. Per case: how many requests the client made (1 + its
retries), the error kind and the Japanese message the user is shown, and what was kept: the audit record of the
failed model use (core.ai), no kintone record created twice. A 429 that clears is retried to success. The printed
table (`-s`) is the one in docs/reliability.md."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from core.ai import AIFailed
from core.graph import GraphError, GraphService
from core.kintone.client import KintoneClient, KintoneError, KintoneSettings
from core.law.client import LawClient, LawError, LawSettings
from core.store.models import UsageEvent
from tests.harness import make_request, make_services
from tests.standins.faulthttp import FaultHTTP
from tests.standins.graph import FixedCredential, GraphStandIn
from tests.standins.kintone import KintoneStandIn
from tests.standins.law import LawStandIn
from tests.standins.openai_server import OpenAIStandIn

TIMEOUT = 1.0
FAULTS = {
    "500": {"status": 500},
    "503": {"status": 503},
    "429 Retry-After 1": {"status": 429, "retry_after": 1},
    "timeout": {"delay": TIMEOUT + 2},
    "connection dropped": {"drop": True},
    "body cut mid-way": {"drop_after": 10},
}
ROWS: list[str] = []
JA = __import__("re").compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _row(dep: str, fault: str, requests: int, seconds: float, sees: str, kept: str) -> None:
    ROWS.append(f"| {dep} | {fault} | {requests} | {seconds:.1f} | {sees} | {kept} |")


@pytest.fixture(scope="module", autouse=True)
def _table():
    yield
    print("\n| dependency | fault | requests (1 + retries) | seconds | the user sees | kept / lost |\n|---|---|---|---|---|---|")
    print("\n".join(ROWS))


async def _proxied(standin):
    await standin.start()
    fault = await FaultHTTP(standin.origin).start()
    return fault, fault.origin + urlsplit(standin.base_url).path


@pytest.mark.parametrize("fault_name", list(FAULTS))
@pytest.mark.parametrize("mode", ["chat", "stream"])
async def test_model(sqlite_db, fault_name, mode):
    llm = OpenAIStandIn(default={"text": "年次休暇は1年につき20日です。" * 8})
    fault, base = await _proxied(llm)
    services = make_services(sqlite_db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": base,
                                                 "LLM_MAX_RETRIES": "2", "LLM_TIMEOUT_SECONDS": str(TIMEOUT)})
    try:
        # a stream is cut after some text has reached the user (a few SSE events), a plain answer inside its JSON
        fault.always = {"drop_after": 700} if fault_name == "body cut mid-way" and mode == "stream" \
            else FAULTS[fault_name]
        started = time.monotonic()
        partial = ""
        with pytest.raises(AIFailed) as err:
            if mode == "chat":
                await services.ai.chat(make_request("q"), "chat", [{"role": "user", "content": "年休は？"}])
            else:
                stream = await services.ai.stream(make_request("q"), "chat", [{"role": "user", "content": "年休は？"}])
                async for delta in stream:
                    partial += delta
        took = time.monotonic() - started
        n = fault.count("/chat/completions")
        msg = err.value.message_ja
        assert JA.search(msg) and "Traceback" not in msg
        # bounded: the client's own retries (LLM_MAX_RETRIES=2) for what may clear, none once text has streamed
        assert 1 <= n <= 3
        if fault_name in ("500", "503", "429 Retry-After 1", "timeout", "connection dropped"):
            assert n == 3, fault.seen
        async with sqlite_db.session() as s:
            rows = (await s.execute(select(UsageEvent))).scalars().all()
        assert [(r.outcome, r.skill) for r in rows] == [("error", "chat")]          # the failed use is audited
        kept = f"audit: 1 row, outcome error ({rows[0].reason})"
        if partial:
            kept += f"; {len(partial)} characters had streamed before the cut"
        _row(f"model ({mode}, openai)", fault_name, n, took, msg, kept)
        if fault_name == "429 Retry-After 1":
            fault.always = None
            fault.faults = [FAULTS[fault_name]]
            started = time.monotonic()
            before = fault.count("/chat/completions")
            answer = await services.ai.chat(make_request("q"), "chat", [{"role": "user", "content": "年休は？"}])
            assert answer.text.startswith("年次休暇") and fault.count("/chat/completions") - before == 2
            assert time.monotonic() - started >= 0.9               # Retry-After honoured
            _row(f"model ({mode}, openai)", "429 Retry-After 1, once", 2, time.monotonic() - started,
                 "the answer", "audit: ok row")
    finally:
        await services.llm.close()
        await fault.stop()
        await llm.stop()


@pytest.mark.parametrize("fault_name", list(FAULTS))
async def test_kintone(fault_name):
    kintone = KintoneStandIn()
    fault, base = await _proxied(kintone)
    client = KintoneClient(KintoneSettings(_env_file=None, KINTONE_BASE_URL=base, KINTONE_APP_ID=kintone.app_id,
                                           KINTONE_API_TOKEN=kintone.api_token, KINTONE_TIMEOUT_SECONDS=TIMEOUT))
    try:
        fault.always = FAULTS[fault_name]
        started = time.monotonic()
        with pytest.raises(KintoneError) as err:
            await client.create_question("駐車場は使えますか", "尼崎 太郎", "29:user-1",
                                         datetime(2026, 11, 30, tzinfo=timezone.utc), "soumu", [])
        took = time.monotonic() - started
        n = fault.count("/k/v1/record.json")
        msg = err.value.message_ja
        assert JA.search(msg) and "Traceback" not in msg
        assert err.value.kind not in ("auth", "config", "not_found", "invalid_input"), err.value.kind
        assert n >= 1 and len(kintone.records) <= 1
        if fault_name in ("500", "503", "429 Retry-After 1", "connection dropped"):
            assert not kintone.records                                  # nothing half-created
        kept = f"records created: {len(kintone.records)}"
        if fault_name == "body cut mid-way":
            kept += " (created, answer lost on the way: the user is told it failed)"
        _row("kintone (aiohttp)", fault_name, n, took, msg, kept)
    finally:
        await client.close()
        await fault.stop()
        await kintone.stop()


@pytest.mark.parametrize("fault_name", list(FAULTS))
async def test_law(fault_name):
    egov = LawStandIn()
    fault, base = await _proxied(egov)
    client = LawClient(LawSettings(_env_file=None, EGOV_LAW_API_BASE=base, LAW_TIMEOUT_SECONDS=TIMEOUT,
                                   LAW_CACHE_SECONDS=0))
    try:
        fault.always = FAULTS[fault_name]
        started = time.monotonic()
        with pytest.raises(LawError) as err:
            await client.keyword_search("利用目的", limit=5)
        took = time.monotonic() - started
        n = len(fault.seen)
        msg = err.value.message_ja
        assert JA.search(msg) and "Traceback" not in msg
        # a busy or failing service is never blamed on the user's words
        assert err.value.kind not in ("bad_request", "not_found", "invalid_input"), (err.value.kind, msg)
        if fault_name in ("503", "429 Retry-After 1"):
            assert n == 2 and took >= 0.9                    # one retry, after Retry-After (1 s when absent)
        _row("e-Gov law API (aiohttp)", fault_name, n, took, msg, "nothing to keep (read-only)")
        if fault_name == "429 Retry-After 1":
            fault.always = None
            fault.faults = [FAULTS[fault_name]]
            started = time.monotonic()
            hits = await client.keyword_search("利用目的", limit=5)
            assert hits and len(fault.seen) - n == 2
            _row("e-Gov law API (aiohttp)", "429 Retry-After 1, once", 2, time.monotonic() - started,
                 "the search results", "-")
    finally:
        await client.close()
        await fault.stop()
        await egov.stop()


@pytest.mark.parametrize("fault_name", [f for f in FAULTS if f != "timeout"] + ["timeout"])
async def test_graph(fault_name):
    graph = GraphStandIn()
    graph.users["u1"] = {"id": "u1", "displayName": "尼崎 太郎", "department": "総務課", "jobTitle": "主事",
                         "mail": "taro@example.jp"}
    fault, base = await _proxied(graph)
    service = GraphService(FixedCredential(), base, timeout=TIMEOUT)
    try:
        fault.always = FAULTS[fault_name]
        started = time.monotonic()
        outcome = ""
        try:
            user = await service.get_user("u1")
            outcome = f"answered late ({user.department})"
        except GraphError as e:
            outcome = f"GraphError status {e.status}"
        took = time.monotonic() - started
        n = len(fault.seen)
        print(json.dumps({"graph": fault_name, "requests": n, "outcome": outcome, "s": round(took, 1)}))
        assert outcome.startswith("GraphError")                 # a stalled Graph too: it used to wait 100 s
        if fault_name == "timeout":
            assert took < TIMEOUT + 1.5
        _row("Microsoft Graph (msgraph-sdk)", fault_name, n, took, outcome, "nothing to keep (read)")
    finally:
        await service.close()
        await fault.stop()
        await graph.stop()


async def test_model_stream_cut_mid_answer_through_the_app(sqlite_db):
    """Free text in personal chat streams the model's answer to Teams (streaming updates). The connection to the
    model is cut after part of the answer was shown: the stream must be closed (a final message, not left
    "streaming"), and the user told in Japanese that the answer was interrupted — the partial text is not presented
    as a complete AI answer."""
    import aiohttp

    from tests.harness import running_bot
    from tests.standins.connector import ConnectorStandIn

    llm = OpenAIStandIn(default={"text": "年次休暇は1年につき20日です。" * 12, "chunk_delay": 0.1})
    fault, base = await _proxied(llm)
    connector = await ConnectorStandIn().start()
    services = make_services(sqlite_db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": base,
                                                 "LLM_MAX_RETRIES": "2", "LLM_TIMEOUT_SECONDS": "10"})
    try:
        fault.always = {"drop_after": 4000}
        async with running_bot(services) as url, aiohttp.ClientSession() as http:
            act = connector.activity("休暇について教えて")
            async with http.post(f"{url}/api/messages", json=act) as r:
                assert r.status == 202
            await connector.wait_for(lambda a: any(x.get("type") == "message" for x in a), timeout=30)
            await __import__("asyncio").sleep(1)
            acts = connector.activities()
            summary = [(a.get("type"), (a.get("text") or "")[:40],
                        [e.get("streamType") for e in a.get("entities") or [] if e.get("type") == "streaminfo"])
                       for a in acts]
            print("\nSTREAM CUT:", json.dumps(summary, ensure_ascii=False))
            streamed = [a for a in acts if a.get("type") == "typing" and a.get("text")]
            assert streamed, "the cut came before any streaming update: raise drop_after"
            msgs = [a for a in acts if a.get("type") == "message"]
            finals = [a for a in acts if any(e.get("streamType") == "final" for e in a.get("entities") or []
                                             if e.get("type") == "streaminfo")]
            assert finals, "the stream was left open"
            from bot.reply import STREAM_INTERRUPTED

            assert finals[0]["text"].endswith(STREAM_INTERRUPTED)               # the shown part, said incomplete
            assert not (finals[0].get("channelData") or {}).get("feedbackLoop")
            assert msgs[-1]["text"].startswith("AIサービスに接続できませんでした"), [m.get("text") for m in msgs]
            assert fault.count("/chat/completions") == 1              # text had reached the user: not re-asked
    finally:
        await connector.stop()
        await fault.stop()
        await llm.stop()


async def test_kintone_hand_off_whose_answer_is_lost_is_not_doubled(sqlite_db):
    """/ask → 担当課に問い合わせる: kintone stores the record but the answer to the POST is cut on the way. The user is
    told it failed; pressing the button again finds the record that exists (find before create) instead of making
    a second one."""
    import aiohttp

    from skills.qa.settings import QASettings
    from tests.harness import running_bot
    from tests.standins.connector import ConnectorStandIn

    kintone = KintoneStandIn()
    fault, base = await _proxied(kintone)
    connector = await ConnectorStandIn().start()
    services = make_services(sqlite_db)
    services.settings.put(QASettings(_env_file=None, QA_REWRITE=False, QA_RERANK=False))
    services.kintone = KintoneClient(KintoneSettings(_env_file=None, KINTONE_BASE_URL=base,
                                                     KINTONE_APP_ID=kintone.app_id,
                                                     KINTONE_API_TOKEN=kintone.api_token,
                                                     KINTONE_TIMEOUT_SECONDS=TIMEOUT))
    try:
        async with running_bot(services) as url, aiohttp.ClientSession() as http:
            await services.knowledge.create_set("soumu", title="総務課")
            await services.knowledge.upsert_document("soumu", "folder", "kyuka.md", "職員の休暇に関する規程", None,
                                                     "# 休暇\n\n年次休暇は1年につき20日とする。")
            async with http.post(f"{url}/api/messages", json=connector.activity("/ask 庁舎の駐車場は使えますか")) as r:
                assert r.status == 202
            await connector.wait_for(lambda a: bool(connector.cards()), timeout=20)
            action = next(a for a in connector.cards()[-1]["actions"] if a.get("verb") == "qa.escalate")
            invoke = connector.activity(None, type="invoke", name="adaptiveCard/action",
                                        value={"action": {"type": "Action.Execute", "verb": action["verb"],
                                                          "data": action["data"]}})

            # the lookup (GET) passes, the POST's answer is cut after 10 bytes: kintone has stored the record
            fault.faults = [{}, {"drop_after": 10}]
            async with http.post(f"{url}/api/messages", json=invoke) as r:
                first = json.dumps(await r.json(), ensure_ascii=False)
            assert "kintone に接続できませんでした" in first, first
            assert len(kintone.records) == 1
            async with http.post(f"{url}/api/messages", json=invoke) as r:      # the user presses again
                second = json.dumps(await r.json(), ensure_ascii=False)
            assert len(kintone.records) == 1, "a second record was created"
            record_id = next(iter(kintone.records))
            assert f"{record_id}" in second and "kintone に接続できませんでした" not in second, second
            _row("kintone hand-off (/ask → 担当課に問い合わせる)", "answer to the POST cut, user presses again",
                 fault.count("/k/v1/record"), 0.0, "first: kintone に接続できませんでした…; again: the record number",
                 "1 record (found, not created twice)")
    finally:
        await services.kintone.close()
        await connector.stop()
        await fault.stop()
        await kintone.stop()
