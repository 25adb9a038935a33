"""Property-based fuzzing of every HTTP entry point of the real app on loopback (issue #22).

One app (with a stand-in Bot Connector) runs for the whole module in a background thread's event loop; the tests
are plain synchronous hypothesis tests that submit requests to it. Strategies:

1. activities: a valid activity from the connector stand-in, mutated (random types and invoke names, fields
   removed, fields replaced with wrong-typed JSON values, huge texts, deep JSON, lone surrogates);
2. card data for every verb in the registry, hostile values, sent as Action.Execute invokes and Action.Submit;
3. the other endpoints: kintone webhook bodies and headers, audit CSV query strings and headers (raw bytes).

Properties, for every example: no 5xx; no ERROR log record carrying a traceback; nothing the connector received
(nor any response body) contains "Traceback" or the generic apology. Runs are derandomized (reproducible in CI);
the number of examples per strategy is printed at the end of the module (pytest -s) and checked by each test."""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import Counter, defaultdict
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bot.test_hostile import ADMIN_AAD, APOLOGY_HEAD, AUDIT_TOKEN, WEBHOOK_TOKEN, hostile_services, raw_http

RUNS: Counter = Counter()                   # examples run per strategy
STATUSES: dict[str, Counter] = defaultdict(Counter)     # HTTP statuses seen per strategy
FUZZ = dict(deadline=None, derandomize=True, database=None, print_blob=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                   HealthCheck.data_too_large, HealthCheck.large_base_example])
N_ACTIVITIES, N_PER_VERB, N_ENDPOINTS = 300, 20, 200


# -- the app in a background loop -------------------------------------------------------------------------------
class ErrorRecords(logging.Handler):
    """Collects ERROR records that carry a traceback, from any thread."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.parser_rejects = 0

    def emit(self, record: logging.LogRecord) -> None:
        if not record.exc_info:
            return
        from aiohttp.http_exceptions import HttpProcessingError

        if record.name == "aiohttp.server" and isinstance(record.exc_info[1], HttpProcessingError):
            # aiohttp's own HTTP parser refusing a malformed request: bot.logs turns these into one INFO line
            # without a traceback, so one reaching here means that filter is gone.
            self.parser_rejects += 1
        self.records.append(record)


class App:
    """The real app (bot.app.create_app) and a connector stand-in in an event loop on a daemon thread."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-app", daemon=True)
        self.errors = ErrorRecords()

    def run(self, coro, timeout: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> "App":
        self.thread.start()
        self.run(self._start())
        logging.getLogger().addHandler(self.errors)
        return self

    async def _start(self) -> None:
        from aiohttp import web

        from bot.app import BACKGROUND_ON, TASKS, create_app
        from bot.config import BotSettings
        from core.store import Database
        from tests.standins.connector import ConnectorStandIn

        self.connector = await ConnectorStandIn().start()
        db = Database(f"sqlite+aiosqlite:///{self.db_path}")
        await db.migrate()
        self.services = hostile_services(db)
        self.app = create_app(BotSettings(_env_file=None, HOST="127.0.0.1", PORT=0), self.services)
        self.app[BACKGROUND_ON] = False
        self.tasks = self.app[TASKS]
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        logging.getLogger().removeHandler(self.errors)
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    async def _stop(self) -> None:
        await self.runner.cleanup()
        await self.connector.stop()

    async def settle(self, timeout: float = 20.0) -> None:
        """Until no turn is running (message turns answered 202, card-action work past the invoke response)."""
        import bot.handler

        deadline = self.loop.time() + timeout
        await asyncio.sleep(0)
        while self.loop.time() < deadline:
            pending = [t for t in (*self.tasks, *bot.handler._BACKGROUND) if not t.done()]
            if not pending:
                return
            await asyncio.wait(pending, timeout=max(0.01, deadline - self.loop.time()))
        raise AssertionError("turns still running after the timeout")

    # one example: send the requests, wait for the turns, check the properties
    def exchange(self, label: str, requests: list[tuple[str, str, list, bytes]]) -> list[tuple[int, bytes]]:
        posts, errors = len(self.connector.posts), len(self.errors.records)

        async def go():
            out = [await raw_http(self.url, m, t, h, b) for m, t, h, b in requests]
            await self.settle()
            return out

        answers = self.run(go())
        RUNS[label] += 1
        STATUSES[label].update(status for status, _ in answers)
        problems = [f"{status} for {requests[i][0]} {requests[i][1][:60]!r}"
                    for i, (status, _) in enumerate(answers) if status >= 500]
        problems += [f"response leaks: {body[:200]!r}" for _, body in answers
                     if b"Traceback" in body or APOLOGY_HEAD.encode() in body]
        problems += [f"ERROR with traceback: {r.name}: {r.getMessage()} ({r.exc_info[0].__name__})"
                     for r in self.errors.records[errors:]]
        for p in self.connector.posts[posts:]:
            text = json.dumps(p["body"], ensure_ascii=False)
            if "Traceback" in text or APOLOGY_HEAD in text:
                problems.append(f"connector received: {text[:200]}")
        assert not problems, "\n".join(problems)
        return answers


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    a = App(str(tmp_path_factory.mktemp("fuzz") / "fuzz.db")).start()
    yield a
    a.stop()
    for label in sorted(RUNS):
        print(f"\nfuzz {label}: {RUNS[label]} examples, statuses {dict(sorted(STATUSES[label].items()))}", end="")
    print(f"\nfuzz: malformed requests aiohttp's parser logged with a traceback: {a.errors.parser_rejects}")


def messages_request(body: bytes, content_type: bytes = b"application/json") -> tuple[str, str, list, bytes]:
    return "POST", "/api/messages", [("Content-Type", content_type)], body


# -- hostile JSON values ----------------------------------------------------------------------------------------
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
TEXT = st.text(st.one_of(st.characters(), SURROGATES), max_size=40)
SPECIAL_STRINGS = st.sampled_from([
    "", " ", "\ud800", "a\udfffb", "\x00", "\r\nX-Injected: 1", "a b/../?#%", "<at>AI Assistant</at>", "../../etc",
    "http://", "https://127.0.0.1:99999/", "javascript:alert(1)", "1e400", "NaN", "null", "{}", "[]", "/help",
    "%FF%FE", "\u202e", "\ufeff", "x" * 100_001, "あ" * 30_000, "9" * 5000])
BIG_NUMBERS = st.sampled_from([10**30, -(10**30), 2**53, 2**53 + 1, 2**63, 2**64 + 1, -1, 0, 10**4000])
RAW_LITERALS = st.sampled_from(["1e400", "-1e400", "1e-400", "NaN", "Infinity", "-Infinity", "1" * 5000,
                                "0." + "0" * 5000 + "1", "[[[[[[[[]]]]]]]]", "@deep65@", "@deep1500@",
                                "@deep100000@"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), BIG_NUMBERS,
                    st.floats(allow_nan=True, allow_infinity=True), TEXT, SPECIAL_STRINGS,
                    RAW_LITERALS.map(lambda r: f"@raw:{r}@"))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def dumps(value) -> bytes:
    """JSON text with lone surrogates escaped (ensure_ascii), placeholders replaced by raw literals and deep
    nesting (which json.dumps itself could not write)."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=True)
    if "@raw:" in text:
        for literal in ("1e400", "-1e400", "1e-400", "NaN", "Infinity", "-Infinity", "1" * 5000,
                        "0." + "0" * 5000 + "1", "[[[[[[[[]]]]]]]]"):
            text = text.replace(json.dumps(f"@raw:{literal}@"), literal)
        for n in (65, 1500, 100_000):
            text = text.replace(json.dumps(f"@raw:@deep{n}@@"), "[" * n + "]" * n)
    return text.encode("utf-8")


# -- strategy 1: mutated activities -----------------------------------------------------------------------------
TYPES = ["message", "invoke", "installationUpdate", "conversationUpdate", "typing", "event", "messageReaction",
         "messageUpdate", "messageDelete", "endOfConversation", "invokeResponse", "trace", "handoff", "MESSAGE",
         "", "\ud800", "x" * 65]
INVOKE_NAMES = ["adaptiveCard/action", "message/submitAction", "fileConsent/invoke", "composeExtension/query",
                "composeExtension/submitAction", "task/fetch", "task/submit", "signin/verifyState",
                "signin/tokenExchange", "config/fetch", "actionableMessage/executeAction", "healthCheck", "", "\ud800",
                "x" * 300]
PATHS = [("type",), ("id",), ("serviceUrl",), ("channelId",), ("timestamp",), ("conversation",),
         ("conversation", "id"), ("conversation", "tenantId"), ("conversation", "conversationType"),
         ("conversation", "isGroup"), ("from",), ("from", "id"), ("from", "name"), ("from", "aadObjectId"),
         ("recipient",), ("recipient", "id"), ("channelData",), ("channelData", "tenant"),
         ("channelData", "tenant", "id"), ("text",), ("value",), ("name",), ("entities",), ("attachments",),
         ("locale",), ("replyToId",), ("action",), ("membersAdded",), ("value", "action"),
         ("value", "action", "verb"), ("value", "action", "data"), ("value", "actionName"),
         ("value", "actionValue"), ("value", "actionValue", "feedback"), ("value", "context"),
         ("value", "context", "file_id"), ("value", "uploadInfo"), ("value", "verb"), ("entities", 0),
         ("attachments", 0), ("attachments", 0, "contentType"), ("attachments", 0, "content"),
         ("attachments", 0, "contentUrl"), ("entities", 0, "mentioned")]
TEXTS = st.one_of(TEXT, SPECIAL_STRINGS, st.sampled_from([
    "/help", "/ask 休暇の申請方法", "/ask \ud800", "/law 地方自治法 第2条", "/kpi", "/kpi export 9999", "/kpi export",
    "/tier lgwan", "/tier \ud800", "/draft 通知文 \ud800", "/answer 質問", "/skillcheck", "/examples", "/helpdesk",
    "<at>AI Assistant</at> /help", "／ヘルプ", "/" + "a" * 5000, "/\ud800"]))


def base_activities(c) -> list[dict]:
    file_info = "application/vnd.microsoft.teams.file.download.info"
    return [
        c.activity("/help"),
        c.activity("休暇の申請方法を教えてください"),
        c.activity("<at>AI Assistant</at> /help", conversation="19:abc@thread.tacv2", conv_type="channel",
                   entities=[{"type": "mention", "text": "<at>AI Assistant</at>",
                              "mentioned": {"id": "28:bot-1", "name": "AI Assistant"}}]),
        c.activity("これを要約して", attachments=[{"contentType": file_info, "name": "a.docx",
                                               "content": {"downloadUrl": "http://127.0.0.1:9/a.docx",
                                                           "fileType": "docx"}}]),
        c.activity(None, value={"verb": "tier.set", "tier": "internet"}),
        c.activity(None, type="invoke", name="adaptiveCard/action",
                   value={"action": {"type": "Action.Execute", "verb": "kpi.examples.browse", "data": {}}}),
        c.activity(None, type="invoke", name="message/submitAction", replyToId="act-1",
                   value={"actionName": "feedback",
                          "actionValue": {"reaction": "like", "feedback": '{"feedbackText":"ok"}'}}),
        c.activity(None, type="invoke", name="fileConsent/invoke",
                   value={"type": "fileUpload", "action": "accept", "context": {"file_id": "abc"},
                          "uploadInfo": {"uploadUrl": "http://127.0.0.1:9/u", "name": "x.docx"}}),
        c.activity(None, type="installationUpdate", action="add"),
        c.activity(None, type="installationUpdate", action="remove"),
        c.activity(None, type="conversationUpdate", membersAdded=[{"id": "28:bot-1"}, {"id": "29:user-1"}]),
    ]


def _set(act: dict, path: tuple, value, drop: bool) -> None:
    node = act
    for key in path[:-1]:
        nxt = node[key] if isinstance(node, dict) and key in node else (
            node[key] if isinstance(node, list) and isinstance(key, int) and key < len(node) else None)
        if not isinstance(nxt, (dict, list)):
            nxt = [{}] if isinstance(path[path.index(key) + 1], int) else {}
            if isinstance(node, dict):
                node[key] = nxt
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                node[key] = nxt
            else:
                return
        node = nxt
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        if drop:
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        if drop:
            node.pop(last)
        else:
            node[last] = value


MUTATION = st.one_of(
    st.tuples(st.just("drop"), st.sampled_from(PATHS), st.none()),
    st.tuples(st.just("set"), st.sampled_from(PATHS), JSON),
    st.tuples(st.just("set"), st.just(("type",)), st.sampled_from(TYPES) | TEXT),
    st.tuples(st.just("set"), st.just(("name",)), st.sampled_from(INVOKE_NAMES) | TEXT),
    st.tuples(st.just("set"), st.just(("text",)), TEXTS),
    st.tuples(st.just("set"), st.just(("value",)), st.just("@raw:@deep1500@@")),
)


@settings(max_examples=N_ACTIVITIES, **FUZZ)
@given(base=st.integers(min_value=0, max_value=10), mutations=st.lists(MUTATION, min_size=1, max_size=3),
       content_type=st.sampled_from([b"application/json"] * 24 + [
           b"application/json; charset=utf-8", b"application/json; charset=x-bogus", b"application/json;charset=",
           b"Application/JSON; charset=\"UTF-8\"", b"application/json; charset=\xff", b"text/plain"]))
def test_mutated_activities(app, base, mutations, content_type):
    act = base_activities(app.connector)[base]
    for op, path, value in mutations:
        _set(act, path, value, drop=op == "drop")
    app.exchange("1 activities", [messages_request(dumps(act), content_type)])


# -- strategy 2: card data for every verb -----------------------------------------------------------------------
def _verbs() -> dict[str, list[str]]:
    from bot.registry import build_registry

    return {name: sorted(verb.data.model_fields) if verb.data else []
            for name, (_skill, verb) in build_registry().verbs().items()}


VERBS = _verbs()


@pytest.mark.parametrize("verb", sorted(VERBS))
@settings(max_examples=N_PER_VERB, **FUZZ)
@given(data=st.data())
def test_card_data_for_every_verb(app, verb, data):
    fields = VERBS[verb]
    keys = st.sampled_from(fields) if fields else TEXT
    card = data.draw(st.one_of(
        st.dictionaries(st.one_of(keys, st.sampled_from(["verb", "x", "\ud800", "__proto__"]), TEXT), JSON,
                        max_size=6),
        st.fixed_dictionaries({f: JSON for f in fields}),
        JSON), label="card data")
    as_dict = card if isinstance(card, dict) else {"value": card}
    execute = app.connector.activity(None, type="invoke", name="adaptiveCard/action", replyToId="card-1",
                                     value={"action": {"type": "Action.Execute", "verb": verb, "data": card}})
    submit = app.connector.activity(None, value={**as_dict, "verb": verb})
    app.exchange(f"2 card data ({len(VERBS)} verbs)", [messages_request(dumps(execute)),
                                                        messages_request(dumps(submit))])


# -- strategy 3: the other endpoints ----------------------------------------------------------------------------
HEADER_BYTES = st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
TOKEN_VALUES = st.one_of(st.just(WEBHOOK_TOKEN.encode()), st.just(AUDIT_TOKEN.encode()), HEADER_BYTES,
                         st.sampled_from([b"", b"\xff", b"\xed\xa0\x80", WEBHOOK_TOKEN.encode() + b"\x00",
                                          "あ".encode(), b"x" * 8000]))


def _query_value(draw_text: str, raw: bytes) -> bytes:
    return quote(draw_text, safe="", errors="surrogatepass").encode() if draw_text else raw


KINTONE_BODIES = st.one_of(
    JSON.map(dumps),
    st.binary(max_size=200),
    st.fixed_dictionaries({"type": st.sampled_from(["UPDATE_RECORD", "UPDATE_STATUS", "ADD_RECORD"]) | JSON,
                           "app": st.fixed_dictionaries({"id": JSON}) | JSON,
                           "record": st.dictionaries(TEXT, st.fixed_dictionaries({"value": JSON}), max_size=4)
                           | JSON}).map(dumps),
    st.sampled_from([b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5000 + b"1" + b"}" * 5000, b"",
                     b"\xef\xbb\xbf{}", b"x" * (1024 * 1024 + 10)]))


@st.composite
def endpoint_requests(draw):
    if draw(st.booleans()):          # the kintone webhook
        where = draw(st.sampled_from(["query", "header", "both", "none"]))
        token = draw(TOKEN_VALUES)
        target = b"/api/kintone/webhook"
        headers = [("Content-Type", draw(st.sampled_from([b"application/json", b"text/plain", b"\xff"])))]
        if where in ("query", "both"):
            target += b"?token=" + _query_value(draw(st.sampled_from(["", WEBHOOK_TOKEN]) | TEXT), quote(
                token, safe="").encode())
        if where in ("header", "both"):
            headers.append(("X-Webhook-Token", token))
        return "POST", target, headers, draw(KINTONE_BODIES)
    # the audit export
    date = st.one_of(st.dates().map(lambda d: d.isoformat()), TEXT,
                     st.sampled_from(["9999-12-31", "0001-01-01", "2026-04-01", "2099-12-31", "2000-01-01",
                                      "1999-12-31", "2026-02-30", "+2026-04-01", "2026-4-1", "２０２６-04-01", ""]))
    params = []
    for name in draw(st.lists(st.sampled_from(["from", "to", "x", "from"]), max_size=3)):
        params.append(name.encode() + b"=" + _query_value(draw(date), draw(st.sampled_from([b"\xff", b"%"]))))
    target = b"/admin/audit.csv" + (b"?" + b"&".join(params) if params else b"")
    auth = draw(st.one_of(st.just(b"Bearer " + AUDIT_TOKEN.encode()),
                          TOKEN_VALUES.map(lambda t: b"Bearer " + t),
                          st.sampled_from([b"", b"Bearer", b"Basic xyz", b"bearer  " + AUDIT_TOKEN.encode()]),
                          HEADER_BYTES))
    return "GET", target, [("Authorization", auth)], b""


@settings(max_examples=N_ENDPOINTS, **FUZZ)
@given(request=endpoint_requests())
def test_webhook_and_audit_export(app, request):
    app.exchange("3 endpoints", [request])


def test_every_strategy_ran(app):
    """Each property test above ran its examples (hypothesis may stop early only on a failure)."""
    if not all(RUNS[k] for k in ("1 activities", f"2 card data ({len(VERBS)} verbs)", "3 endpoints")):
        pytest.skip("not every strategy was selected in this run")
    assert RUNS["1 activities"] >= N_ACTIVITIES * 0.9
    assert RUNS[f"2 card data ({len(VERBS)} verbs)"] >= N_PER_VERB * len(VERBS) * 0.9
    assert RUNS["3 endpoints"] >= N_ENDPOINTS * 0.9
    assert ADMIN_AAD                    # the fuzzed user is an administrator (hostile_services)
