"""Regression tests for issue #22 items 4-7 (hostile requests), over real HTTP on loopback.

Every case is one row of a table: a request that once ended in a 500, a RecursionError, a UnicodeEncodeError or a
turn failing with a traceback (and the apology reaching the user). Each must now be refused at the edge with a 4xx,
or give a clean turn: no ERROR log record carrying a traceback, nothing the Bot Connector received containing a
trace or the apology, and for card actions exactly one clear Japanese message.

Raw byte headers (`Bearer \\xff`) cannot be sent through aiohttp's client (header values must be str), so those go
through a raw socket (`raw_http`)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.harness import make_services

APOLOGY_HEAD = "申し訳ありません。処理中に問題が発生しました"
# Literals, not imports: this file also runs against the code before the hardening, which lacked these names.
BAD_CARD_DATA = "このカードの入力内容を読み取れませんでした。カードをもう一度開き直してから操作してください。"
EXPORT_BAD_YEAR = "年度は西暦4桁（2000〜2098）で指定してください（例：/kpi export 2025）。"
AUDIT_TOKEN = "audit-token-0123456789"
WEBHOOK_TOKEN = "webhook-token-0123456789"
ADMIN_AAD = "00000000-0000-0000-0000-0000000000aa"


# -- helpers ----------------------------------------------------------------------------------------------------
def hostile_services(db):
    """Services with both tokens configured, the test user an administrator, and e-Gov on a closed local port."""
    from core.kintone.client import KintoneClient, KintoneSettings
    from core.law.client import LawClient, LawSettings
    from skills.kpi.settings import KpiSettings

    services = make_services(db, guard_env={"AUDIT_EXPORT_TOKEN": AUDIT_TOKEN})
    services.kintone = KintoneClient(KintoneSettings(_env_file=None, KINTONE_WEBHOOK_TOKEN=WEBHOOK_TOKEN))
    services.law = LawClient(LawSettings(_env_file=None, EGOV_LAW_API_BASE="http://127.0.0.1:9/api/2"))
    kpi = KpiSettings(_env_file=None, KPI_ADMIN_IDS=ADMIN_AAD)
    if hasattr(services, "settings"):
        services.settings.put(kpi)
    else:                               # the code before the settings registry (for the before/after check)
        services.extras["kpi.settings"] = kpi
    services.local_admin = True
    return services


class Bot:
    """The real app (bot.app.create_app) on loopback, with a handle on its turn tasks so a test can wait for the
    turns it started to finish instead of sleeping."""

    def __init__(self, app, url: str) -> None:
        self.app, self.url = app, url

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until no turn (background message turns, card-action work past the invoke response) is running."""
        import bot.handler
        from bot.app import TASKS

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await asyncio.sleep(0.02)
        while loop.time() < deadline:
            pending = [t for t in (*self.app[TASKS], *bot.handler._BACKGROUND) if not t.done()]
            if not pending:
                return
            await asyncio.wait(pending, timeout=max(0.01, deadline - loop.time()))
        raise AssertionError("turns still running after the timeout")


@contextlib.asynccontextmanager
async def running(services, **settings_kw):
    from aiohttp import web

    from bot.app import BACKGROUND_ON, create_app
    from bot.config import BotSettings

    app = create_app(BotSettings(_env_file=None, **{"HOST": "127.0.0.1", "PORT": 0, **settings_kw}), services)
    app[BACKGROUND_ON] = False
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield Bot(app, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()


@pytest.fixture
async def bot(sqlite_db, connector):
    services = hostile_services(sqlite_db)
    async with running(services) as b:
        yield b


@pytest.fixture
async def bot_each_db(db, connector):
    """The same on SQLite and PostgreSQL: a string one driver stores may be one the other cannot encode."""
    services = hostile_services(db)
    async with running(services) as b:
        yield b


async def raw_http(url: str, method: str, target: bytes | str, headers: list[tuple[str, bytes | str]] = (),
                   body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP/1.1 request written byte for byte (header values may hold any byte). Returns (status, body)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        target_b = target.encode() if isinstance(target, str) else target
        lines = [method.encode() + b" " + target_b + b" HTTP/1.1", b"Host: " + parts.netloc.encode(),
                 b"Connection: close", b"Content-Length: " + str(len(body)).encode()]
        for name, value in headers:
            lines.append(name.encode() + b": " + (value.encode() if isinstance(value, str) else value))
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


async def post_json(url: str, path: str, payload: dict | bytes, *, content_type: str = "application/json",
                    headers: dict | None = None) -> tuple[int, str]:
    """POST a body: a dict is serialised with ensure_ascii (a lone surrogate goes out as the escape \\ud800)."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}{path}", data=data,
                          headers={"Content-Type": content_type, **(headers or {})}) as r:
            return r.status, await r.text()


def raw_json(activity: dict, **raw: str) -> bytes:
    """Serialise, then put raw JSON text where a placeholder string "@name@" stands (e.g. 1e400 as a number)."""
    text = json.dumps(activity)
    for name, literal in raw.items():
        text = text.replace(json.dumps(f"@{name}@"), literal)
    return text.encode()


def deep(n: int, open_: str = "[", close: str = "]", inner: str = "1") -> str:
    return open_ * n + inner + close * n


def tracebacks(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]


def leaks(connector) -> list[str]:
    """What the connector received that a user must never see: a trace or the generic apology."""
    out = []
    for p in connector.posts:
        text = json.dumps(p["body"], ensure_ascii=False)
        if "Traceback" in text or APOLOGY_HEAD in text:
            out.append(text[:300])
    return out


def assert_clean(status: int, body: str, caplog, connector) -> None:
    assert status < 500, f"{status}: {body[:300]}"
    assert "Traceback" not in body and APOLOGY_HEAD not in body, body[:300]
    assert tracebacks(caplog) == []
    assert leaks(connector) == []


# -- item 4: deep JSON and bogus charsets -----------------------------------------------------------------------
def _deep_value_activity(connector) -> bytes:
    return raw_json(connector.activity("/help", value="@v@"), v=deep(1500))


DEEP_CASES = {
    "arrays 100,000 deep": lambda c: (deep(100_000).encode(), "application/json", {400}),
    "objects 5,000 deep": lambda c: (deep(5000, '{"a":', "}").encode(), "application/json", {400}),
    "activity.value 1,500 deep": lambda c: (_deep_value_activity(c), "application/json", {400}),
    "invoke data 1,500 deep": lambda c: (raw_json(c.activity(None, type="invoke", name="adaptiveCard/action", value={
        "action": {"type": "Action.Execute", "verb": "draft.form", "data": {"x": "@v@"}}}), v=deep(1500)),
        "application/json", {400}),
    "charset x-bogus": lambda c: (json.dumps(c.activity("/help")).encode(), "application/json; charset=x-bogus",
                                  {400, 415}),
    "charset latin-1 with non-UTF-8 bytes": lambda c: (json.dumps(c.activity("/help")).encode()[:-1] + b',"x":"\xff"}',
                                                       "application/json; charset=latin-1", {400, 415}),
    "body not UTF-8": lambda c: (json.dumps(c.activity("/help")).encode()[:-1] + b',"x":"\xff\xfe"}',
                                 "application/json", {400}),
}


@pytest.mark.parametrize("case", list(DEEP_CASES))
async def test_deep_or_undecodable_json_to_messages_is_4xx(bot, connector, caplog, case):
    caplog.set_level(logging.ERROR)
    body, content_type, expected = DEEP_CASES[case](connector)
    status, text = await post_json(bot.url, "/api/messages", body, content_type=content_type)
    await bot.settle()
    assert status in expected, f"{status}: {text[:200]}"
    assert_clean(status, text, caplog, connector)
    assert connector.posts == []


@pytest.mark.parametrize("case", ["arrays 100,000 deep", "objects 5,000 deep", "record 1,500 deep"])
async def test_deep_json_to_the_kintone_webhook_is_400(bot, connector, caplog, case):
    caplog.set_level(logging.ERROR)
    body = {"arrays 100,000 deep": deep(100_000), "objects 5,000 deep": deep(5000, '{"a":', "}"),
            "record 1,500 deep": '{"type": "UPDATE_RECORD", "record": ' + deep(1500) + "}"}[case].encode()
    status, text = await post_json(bot.url, f"/api/kintone/webhook?token={WEBHOOK_TOKEN}", body)
    assert status == 400, f"{status}: {text[:200]}"
    assert_clean(status, text, caplog, connector)


# -- item 5: raw bytes in the token headers ---------------------------------------------------------------------
TOKEN_HEADER_CASES = {
    "audit Bearer \\xff": ("GET", "/admin/audit.csv", [("Authorization", b"Bearer \xff")]),
    "audit Bearer \\xff\\xfe + token": ("GET", "/admin/audit.csv",
                                        [("Authorization", b"Bearer \xff\xfe" + AUDIT_TOKEN.encode())]),
    "audit Bearer é (latin-1)": ("GET", "/admin/audit.csv", [("Authorization", b"Bearer \xe9t\xe9")]),
    "audit Bearer UTF-8 kana": ("GET", "/admin/audit.csv", [("Authorization", "Bearer あいう".encode())]),
    "webhook X-Webhook-Token \\xff": ("POST", "/api/kintone/webhook", [("X-Webhook-Token", b"\xff"),
                                                                       ("Content-Type", b"application/json")]),
    "webhook X-Webhook-Token UTF-8 kana": ("POST", "/api/kintone/webhook", [("X-Webhook-Token", "あ".encode()),
                                                                            ("Content-Type", b"application/json")]),
    "webhook ?token=%FF": ("POST", "/api/kintone/webhook?token=%FF", [("Content-Type", b"application/json")]),
    "webhook ?token=%ED%A0%80 (a UTF-8 surrogate)": ("POST", "/api/kintone/webhook?token=%ED%A0%80",
                                                     [("Content-Type", b"application/json")]),
}


@pytest.mark.parametrize("case", list(TOKEN_HEADER_CASES))
async def test_raw_bytes_in_the_token_are_401(bot, connector, caplog, case):
    caplog.set_level(logging.ERROR)
    method, target, headers = TOKEN_HEADER_CASES[case]
    status, body = await raw_http(bot.url, method, target, headers, b"{}" if method == "POST" else b"")
    assert status == 401, f"{status}: {body[:200]!r}"
    assert tracebacks(caplog) == []


# -- item 6: dates out of range ---------------------------------------------------------------------------------
@pytest.mark.parametrize("query, expected", [
    ("from=9999-12-30&to=9999-12-31", 400),
    ("from=0001-01-01", 400),
    ("from=0001-01-01&to=0001-01-02", 400),
    ("from=2026-04-01&to=9999-12-31", 400),
    ("from=1999-12-31&to=2000-01-01", 400),
    ("from=2026-04-01&to=2026-04-30", 200),          # the right token does work: the 400s are about the dates
])
async def test_audit_csv_dates_out_of_range_are_400(bot, connector, caplog, query, expected):
    caplog.set_level(logging.ERROR)
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{bot.url}/admin/audit.csv?{query}",
                         headers={"Authorization": f"Bearer {AUDIT_TOKEN}"}) as r:
            status, body = r.status, await r.text()
    assert status == expected, f"{status}: {body[:200]}"
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("text", ["/kpi export 9999", "/kpi export 0001", "/kpi export 2099", "/kpi export 1999年度"])
async def test_kpi_export_out_of_range_year_gets_a_japanese_message(bot, connector, caplog, text):
    caplog.set_level(logging.ERROR)
    status, body = await post_json(bot.url, "/api/messages", connector.activity(text))
    await bot.settle()
    assert status == 202
    assert_clean(status, body, caplog, connector)
    assert [m.get("text") for m in connector.messages()] == [EXPORT_BAD_YEAR]


# -- item 7: turns that ended in a traceback --------------------------------------------------------------------
def _without_tenant(c, tenant) -> dict:
    act = c.activity("/help")
    del act["conversation"]["tenantId"]
    act["channelData"] = {"tenant": tenant}
    return act


def _with(act: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    node = act
    for key in parents:
        node = node[key]
    if value is _DROP:
        node.pop(last, None)
    else:
        node[last] = value
    return act


_DROP = object()
SURROGATE = "\ud800"        # json.dumps writes it as the escape "\ud800": the raw JSON text the issue names


def _invoke(c, name: str, value, **kw) -> dict:
    return c.activity(None, type="invoke", name=name, value=value, **kw)


def _feedback(text) -> dict:
    return {"actionName": "feedback", "actionValue": {"reaction": "like", "feedback": text}}


def _consent(file_id) -> dict:
    return {"type": "fileUpload", "action": "accept", "context": {"file_id": file_id},
            "uploadInfo": {"uploadUrl": "http://127.0.0.1:9/upload", "name": "x.docx"}}


# name -> build(connector) -> bytes | dict. Expected: 400 at the edge, or a clean 2xx turn.
TURN_CASES = {
    "channelData.tenant a string": lambda c: _without_tenant(c, "tenant-1"),
    "channelData.tenant a list": lambda c: _without_tenant(c, ["tenant-1"]),
    "channelData a string": lambda c: _with(_with(c.activity("/help"), "conversation.tenantId", _DROP),
                                            "channelData", "tenant-1"),
    "conversation.tenantId a dict": lambda c: _with(c.activity("/help"), "conversation.tenantId", {"id": "t"}),
    "conversation.tenantId a list": lambda c: _with(c.activity("/help"), "conversation.tenantId", ["t"]),
    "conversation.tenantId 10**30": lambda c: _with(c.activity("/help"), "conversation.tenantId", 10**30),
    "conversation.id null": lambda c: _with(c.activity("/help"), "conversation.id", None),
    "conversation.id \\ud800": lambda c: _with(c.activity("/help"), "conversation.id", SURROGATE),
    "conversation.id not URL-safe": lambda c: _with(c.activity("/help"), "conversation.id", "a b/../?#%"),
    "conversation.id with CR LF": lambda c: _with(c.activity("/help"), "conversation.id", "a\r\nX-Evil: 1"),
    "feedback text \\ud800": lambda c: _invoke(c, "message/submitAction", _feedback(SURROGATE)),
    "feedback JSON text \\ud800": lambda c: _invoke(c, "message/submitAction",
                                                   _feedback(json.dumps({"feedbackText": "a" + SURROGATE}))),
    "fileConsent file_id \\ud800": lambda c: _invoke(c, "fileConsent/invoke", _consent(SURROGATE)),
    "/ask question \\ud800": lambda c: c.activity("/ask " + SURROGATE),
    "free text \\ud800": lambda c: c.activity("休暇の" + SURROGATE + "申請"),
    "activity.type \\ud800": lambda c: c.activity("/help", type=SURROGATE),
    "from.id \\ud800": lambda c: _with(c.activity("/help"), "from.id", SURROGATE),
    "installationUpdate without recipient": lambda c: _with(c.activity(None, type="installationUpdate", action="add"),
                                                            "recipient", _DROP),
    "installationUpdate recipient without id": lambda c: _with(c.activity(None, type="installationUpdate",
                                                                          action="add"), "recipient", {}),
    "fileConsent/invoke without conversation.id": lambda c: _with(_invoke(c, "fileConsent/invoke",
                                                                          _consent("abc")), "conversation.id", _DROP),
    "fileConsent/invoke without conversation": lambda c: _with(_invoke(c, "fileConsent/invoke", _consent("abc")),
                                                               "conversation", _DROP),
    "serviceUrl not a URL": lambda c: _with(c.activity("/help"), "serviceUrl", "not a url"),
    "serviceUrl a number": lambda c: _with(c.activity("/help"), "serviceUrl", 42),
    "serviceUrl with a bad port": lambda c: _with(c.activity("/help"), "serviceUrl", "http://127.0.0.1:99999/"),
    "serviceUrl with a port that is not a number": lambda c: _with(c.activity("/help"), "serviceUrl",
                                                                   "http://127.0.0.1:http/"),
    "serviceUrl [::1": lambda c: _with(c.activity("/help"), "serviceUrl", "http://[::1/"),
}


# Defects found by these tests in code outside the edge, reported to be fixed there.
KNOWN_DEFECTS: dict[str, str] = {}      # case -> why it still fails (xfail, strict): none today


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=KNOWN_DEFECTS[c]))
                                  if c in KNOWN_DEFECTS else c for c in TURN_CASES])
async def test_hostile_activity_is_400_or_a_clean_turn(bot_each_db, connector, caplog, case):
    caplog.set_level(logging.ERROR)
    status, body = await post_json(bot_each_db.url, "/api/messages", TURN_CASES[case](connector))
    await bot_each_db.settle()
    assert status == 400 or 200 <= status < 300, f"{status}: {body[:200]}"
    assert_clean(status, body, caplog, connector)


# Card data with huge or non-integer ids: (verb, field) × values, each as Action.Execute and as Action.Submit.
ID_FIELDS = [("plan.show", "job_id"), ("plan.retry", "job_id"), ("plan.report", "job_id"),
             ("draft.revise", "draft_id"), ("draft.docx", "draft_id"), ("qa.escalate", "q"),
             ("kpi.helpdesk.answer", "ticket"), ("news.like", "item")]
BAD_IDS = {"1e400": "1e400", "10**30": str(10**30), "-1e400": "-1e400", "1.5": "1.5", "'abc'": '"abc"',
           "[1]": "[1]", "{}": "{}", "'\\ud800'": '"\\ud800"'}


@pytest.mark.parametrize("verb, field", ID_FIELDS)
async def test_card_actions_with_bad_ids_get_one_clear_message(bot, connector, caplog, verb, field):
    caplog.set_level(logging.ERROR)
    sent = 0
    for label, literal in BAD_IDS.items():
        execute = _invoke(connector, "adaptiveCard/action", {"action": {"type": "Action.Execute", "verb": verb,
                                                                       "data": {field: "@id@"}}})
        submit = connector.activity(None, value={"verb": verb, field: "@id@"})
        for act in (execute, submit):
            status, body = await post_json(bot.url, "/api/messages", raw_json(act, id=literal))
            await bot.settle()
            sent += 1
            assert status in (200, 202), f"{label}: {status}: {body[:200]}"
            assert_clean(status, body, caplog, connector)
            texts = [m.get("text") for m in connector.messages()]
            assert texts[-1:] == [BAD_CARD_DATA] and len(texts) == sent, f"{label}: {texts[-2:]}"


def test_literals_match_the_code():
    """The literals above are what the code says (kept as literals so this file runs on older code too)."""
    from core import router
    from skills.kpi import strings

    assert router.BAD_CARD_DATA == BAD_CARD_DATA
    assert strings.EXPORT_BAD_YEAR == EXPORT_BAD_YEAR


# -- the Expect header (found by tests/reliability/test_fuzz_surfaces.py) ---------------------------------------
@pytest.mark.parametrize("path", ["/api/messages", "/healthz", "/api/citizen/token"])
@pytest.mark.parametrize("value", [b"\x80", b"\xff\xfe", "100-continue\u00e9".encode(), b"something-else"])
async def test_an_expect_header_other_than_100_continue_is_a_plain_417(bot, connector, caplog, path, value):
    """aiohttp's own handler repeats the value in its 417; a value with a non-ASCII byte made that a 500."""
    caplog.set_level(logging.ERROR)
    method = "GET" if path == "/healthz" else "POST"
    status, body = await raw_http(bot.url, method, path, [("Expect", value), ("Content-Type", b"application/json")],
                                  b"{}" if method == "POST" else b"")
    assert status == 417, f"{status}: {body[:200]!r}"
    assert body.decode() == "Expect ヘッダーの値を受け付けられません。"          # the value is not repeated
    assert tracebacks(caplog) == []


async def test_expect_100_continue_still_works(bot, connector):
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{bot.url}/healthz", headers={"Expect": "100-continue"}) as r:
            assert r.status == 200


@pytest.mark.parametrize("method, path, expected", [("GET", "/api/messages", 405), ("DELETE", "/healthz", 405),
                                                    ("POST", "/nowhere", 404), ("GET", "/", 404)])
async def test_unrouted_requests_with_a_hostile_expect_are_plain_404_or_405(bot, connector, caplog, method, path,
                                                                             expected):
    """aiohttp's own 404/405 answers ran its own Expect handler (the same 500 as above, found by the fuzzer on
    GET /api/messages); a catch-all route answers them, in Japanese, with Allow on a 405."""
    caplog.set_level(logging.ERROR)
    status, body = await raw_http(bot.url, method, path, [("Expect", b"\xbf")], b"")
    assert status == 417, f"{status}: {body[:200]!r}"
    status, body = await raw_http(bot.url, method, path)
    assert status == expected and body.decode() in ("このアドレスは、この方法（HTTPメソッド）では利用できません。",
                                                    "お探しのページは見つかりません。"), body[:200]
    assert tracebacks(caplog) == []
