"""The citizen page and its token endpoint, over real HTTP: the real app (create_app, routes from the registry)
exchanges the Direct Line secret with the Direct Line stand-in (devtools/directline) for a per-conversation token;
the secret appears in nothing a browser receives; token requests are limited per client address; bad requests get
a Japanese JSON answer, never a 500; the page carries strict security headers and the city's texts."""
from __future__ import annotations

import asyncio
import gzip
import html.parser
import json
import re

import aiohttp
import jwt
import pytest
from aiohttp import web

from core.ratelimit import RateLimits
from core.store import Database
from devtools.directline import DirectLineStandIn
from skills.citizen import web as citizen_web
from skills.citizen.web_settings import CitizenWebSettings
from tests.harness import make_services, running_bot

SECRET = "dl-secret-Zq8uV1c7Wm3R-never-in-a-browser"


@pytest.fixture
async def services(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/citizen.db")
    services = make_services(db)
    yield services
    await db.dispose()


@pytest.fixture
def assets(tmp_path):
    """A stand-in for the built Web Chat bundle (build/citizen/webchat.js and its gzip copy); the real bundle is
    exercised in the browser test (tests/e2e/test_citizen.py)."""
    folder = tmp_path / "assets"
    folder.mkdir()
    bundle = b"window.WebChat = { renderWebChat: function () {}, createDirectLine: function () {} };\n" * 50
    (folder / "webchat.js").write_bytes(bundle)
    (folder / "webchat.js.gz").write_bytes(gzip.compress(bundle))
    return folder


ASSETS: dict[str, str] = {}


def configure(services, **kw) -> CitizenWebSettings:
    s = CitizenWebSettings(_env_file=None, **{**ASSETS, **kw})
    services.settings.put(s)
    return s


@pytest.fixture
async def stack(services, assets, monkeypatch):
    """The app on loopback and the Direct Line stand-in pointed at its /api/messages; the app knows the secret."""
    monkeypatch.setitem(ASSETS, "CITIZEN_ASSETS_DIR", str(assets))
    async with running_bot(services) as url:
        async with DirectLineStandIn(f"{url}/api/messages", secret=SECRET) as directline:
            configure(services, DIRECTLINE_SECRET=SECRET, DIRECTLINE_ENDPOINT=directline.origin)
            async with aiohttp.ClientSession() as http:
                yield url, directline, http


async def fetch(http: aiohttp.ClientSession, method: str, url: str, **kw) -> tuple[int, dict, bytes]:
    async with http.request(method, url, **kw) as r:
        return r.status, dict(r.headers), await r.read()


async def test_routes_come_from_the_registry(services):
    mounted = {(r.method, r.path) for skill, r in services.registry.routes() if skill.name == "citizen"}
    assert mounted == {("GET", "/citizen"), ("GET", "/citizen/static/{name}"), ("POST", "/api/citizen/token")}


async def test_token_exchange_gives_a_token_for_one_new_conversation(stack):
    url, directline, http = stack
    status, headers, body = await fetch(http, "POST", f"{url}/api/citizen/token")
    assert status == 200, body
    answer = _json(body)
    assert set(answer) == {"token", "conversationId", "expires_in"} and answer["expires_in"] == 1800
    assert headers["Cache-Control"] == "no-store"
    # The stand-in saw the documented exchange: the secret as bearer, a user id made by the app, "dl_…".
    [seen] = list(directline.token_requests)
    assert seen["ok"] and seen["conversation"] == answer["conversationId"]
    assert re.fullmatch(r"dl_[0-9a-f]{32}", seen["user"])
    # The token is Direct Line's, bound to that conversation and that user (Web Chat reads the user from it)...
    claims = jwt.decode(answer["token"], options={"verify_signature": False})
    assert claims["conv"] == answer["conversationId"] and claims["user"] == seen["user"]
    # ... and it opens exactly that conversation at the service.
    status, _, body = await fetch(http, "POST", f"{directline.domain}/conversations",
                                  headers={"Authorization": f"Bearer {answer['token']}"})
    started = _json(body)
    assert status == 201 and started["conversationId"] == answer["conversationId"]
    assert started["streamUrl"].startswith(f"ws://127.0.0.1:{directline.port}/v3/directline/conversations/")
    # Each visit gets its own conversation and user.
    _, _, body2 = await fetch(http, "POST", f"{url}/api/citizen/token")
    second = _json(body2)
    assert second["conversationId"] != answer["conversationId"]
    assert directline.token_requests[-1]["user"] != seen["user"]


async def test_the_secret_reaches_no_browser(stack, services):
    url, directline, http = stack
    received: list[bytes] = []

    async def get(method: str, target: str, **kw) -> tuple[int, dict, bytes]:
        status, headers, body = await fetch(http, method, target, **kw)
        received.append(repr(headers).encode() + body)
        return status, headers, body

    status, _, page = await get("GET", f"{url}/citizen")
    assert status == 200
    for src in re.findall(rb'(?:src|href)="(/citizen/static/[^"]+)"', page):
        status, headers, _ = await get("GET", url + src.decode(), headers={"Accept-Encoding": "identity"})
        assert status == 200, src
    status, _, token = await get("POST", f"{url}/api/citizen/token")
    assert status == 200
    tok = _json(token)["token"]
    auth = {"Authorization": f"Bearer {tok}"}
    # What the page then gets from Direct Line itself.
    _, _, started = await get("POST", f"{directline.domain}/conversations", headers=auth)
    conv = _json(started)["conversationId"]
    await get("POST", f"{directline.domain}/tokens/refresh", headers=auth)
    await get("GET", f"{directline.domain}/conversations/{conv}/activities", headers=auth)
    # And every failure the endpoint can answer with: a refused secret, an unreachable service.
    configure(services, DIRECTLINE_SECRET=SECRET, DIRECTLINE_ENDPOINT="http://127.0.0.1:9")
    status, _, _ = await get("POST", f"{url}/api/citizen/token")
    assert status == 502
    other = DirectLineStandIn("http://127.0.0.1:9/api/messages", secret="another-secret")
    async with other:
        configure(services, DIRECTLINE_SECRET=SECRET, DIRECTLINE_ENDPOINT=other.origin)
        status, _, _ = await get("POST", f"{url}/api/citizen/token")
        assert status == 502 and other.token_requests[-1]["status"] == 403
    assert len(received) >= 9
    for blob in received:
        assert SECRET.encode() not in blob


async def test_token_requests_are_limited_per_client_address(stack, services):
    url, directline, http = stack
    configure(services, DIRECTLINE_SECRET=SECRET, DIRECTLINE_ENDPOINT=directline.origin, CITIZEN_TOKEN_LIMIT=3,
              CITIZEN_TOKEN_WINDOW_SECONDS=60, CITIZEN_FORWARDED_HOPS=1)
    now = [6_000.0]                       # the windows' clock (the counts are in the database, one for all replicas)
    services.extras[citizen_web.TOKEN_LIMITS_KEY] = RateLimits(services.db, clock=lambda: now[0])
    # Behind one proxy: the address the proxy appended counts, whatever the client put before it.
    a = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7:51234"}
    spoofed = {"X-Forwarded-For": "192.0.2.99, 203.0.113.7:40000"}
    statuses = [(await fetch(http, "POST", f"{url}/api/citizen/token", headers=h))[0] for h in (a, spoofed, a)]
    assert statuses == [200, 200, 200]
    status, headers, body = await fetch(http, "POST", f"{url}/api/citizen/token", headers=a)
    assert status == 429
    answer = _json(body)
    assert int(headers["Retry-After"]) == 60 and answer["retry_after"] == 60
    assert answer["error"] == citizen_web.RATE_LIMITED.format(seconds=answer["retry_after"])
    assert "秒ほど待ってから" in answer["error"]
    assert len(directline.token_requests) == 3          # the refused request never reached Direct Line
    # Another address is not affected; the first is served again once its window has passed.
    b = {"X-Forwarded-For": "203.0.113.8"}
    assert (await fetch(http, "POST", f"{url}/api/citizen/token", headers=b))[0] == 200
    now[0] += 60
    assert (await fetch(http, "POST", f"{url}/api/citizen/token", headers=a))[0] == 200


@pytest.mark.parametrize("remote, forwarded, hops, expected", [
    ("127.0.0.1", "198.51.100.1", 0, "127.0.0.1"),                               # no proxy trusted: the peer
    ("10.0.0.4", "198.51.100.1:6000", 1, "198.51.100.1"),                        # App Service adds the port
    ("10.0.0.4", "6.6.6.6, 198.51.100.1", 1, "198.51.100.1"),                    # the left one is the client's word
    ("10.0.0.4", "198.51.100.1, 10.0.0.9", 2, "198.51.100.1"),
    ("10.0.0.4", "", 1, "10.0.0.4"),                                             # header missing: the peer
    ("10.0.0.4", "[2001:db8:1:2:3:4:5:6]:443", 1, "2001:db8:1:2::/64"),           # IPv6 counts per /64
    ("::ffff:198.51.100.3", "", 0, "198.51.100.3"),
    ("10.0.0.4", "not-an-address", 1, "unknown"),
])
def test_client_address(remote, forwarded, hops, expected):
    from aiohttp.test_utils import make_mocked_request

    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    req = make_mocked_request("POST", "/api/citizen/token", headers=headers)
    req = req.clone(remote=remote)
    assert citizen_web.client_address(req, hops) == expected


async def test_bad_token_requests_get_japanese_json_never_500(stack, services):
    url, directline, http = stack
    token_url = f"{url}/api/citizen/token"

    async def error_of(status_expected: int, **kw) -> str:
        status, headers, body = await fetch(http, kw.pop("method", "POST"), token_url, **kw)
        assert status == status_expected, body
        assert headers["Content-Type"].startswith("application/json")
        message = _json(body)["error"]
        assert re.search(r"[ぁ-ん]", message) and message.endswith("。"), message
        return message

    assert await error_of(413, data=b"x" * 5000) == citizen_web.TOO_LARGE
    assert await error_of(403, headers={"Sec-Fetch-Site": "cross-site"}) == citizen_web.CROSS_SITE
    configure(services, DIRECTLINE_ENDPOINT=directline.origin)                      # no secret configured
    assert await error_of(503) == citizen_web.NOT_CONFIGURED
    configure(services, DIRECTLINE_SECRET=SECRET, DIRECTLINE_ENDPOINT="http://127.0.0.1:9")
    assert await error_of(502) == citizen_web.UNAVAILABLE                          # nothing listens there

    async def scripted(request: web.Request) -> web.StreamResponse:
        mode = state["mode"]
        if mode == "slow":
            await asyncio.sleep(2)
        if mode == "html":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        if mode == "no-token":
            return web.json_response({"conversationId": "c", "expires_in": 1800})
        if mode == "500":
            return web.json_response({"error": {"code": "ServiceError"}}, status=500)
        return web.json_response({"conversationId": "c", "token": "t", "expires_in": 1800})

    state = {"mode": "ok"}
    app = web.Application()
    app.router.add_post("/v3/directline/tokens/generate", scripted)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        origin = f"http://127.0.0.1:{runner.addresses[0][1]}"
        configure(services, DIRECTLINE_SECRET=SECRET, DIRECTLINE_ENDPOINT=origin, DIRECTLINE_TIMEOUT_SECONDS=0.5)
        for mode, status in (("slow", 504), ("html", 502), ("no-token", 502), ("500", 502)):
            state["mode"] = mode
            assert await error_of(status) == citizen_web.UNAVAILABLE, mode
        state["mode"] = "ok"
        status, _, body = await fetch(http, "POST", token_url)
        assert status == 200 and _json(body)["token"] == "t"
    finally:
        await runner.cleanup()
    status, _, _ = await fetch(http, "GET", token_url)
    assert status == 405


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _csp(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


async def test_the_page_headers_and_content(stack, services):
    url, directline, http = stack
    configure(services, DIRECTLINE_SECRET=SECRET, DIRECTLINE_ENDPOINT=directline.origin,
              CITIZEN_PAGE_TITLE="尼崎市 <b>チャット</b>", CITIZEN_COLOR_PRIMARY="#123ABC",
              CITIZEN_FRAME_ANCESTORS="https://www.city.amagasaki.hyogo.jp")
    status, headers, body = await fetch(http, "GET", f"{url}/citizen")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    csp = _csp(headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"] and csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'none'"]
    assert csp["connect-src"] == ["'self'", directline.origin, f"ws://127.0.0.1:{directline.port}"]
    assert csp["frame-ancestors"] == ["'self'", "https://www.city.amagasaki.hyogo.jp"]
    assert "X-Frame-Options" not in headers                      # CSP frame-ancestors allows the CMS
    [nonce_source] = [v for v in csp["style-src"] if v.startswith("'nonce-")]
    nonce = nonce_source[len("'nonce-"):-1]
    # and the hash of the empty text: Web Chat's :focus-visible probe is an empty <style> without the nonce
    assert csp["style-src"] == ["'self'", nonce_source, "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"]
    assert len(nonce) >= 22
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store" and "microphone=()" in headers["Permissions-Policy"]
    page = _Page()
    page.feed(body.decode())
    html_tag = next(a for t, a in page.tags if t == "html")
    assert html_tag["lang"] == "ja"
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in page.tags
    # No inline script: every <script> is loaded from this app or is a JSON data block (never executed).
    scripts = [a for t, a in page.tags if t == "script"]
    assert {a.get("src", "").split("?")[0] for a in scripts if "src" in a} == {
        "/citizen/static/webchat.js", "/citizen/static/citizen.js"}
    assert all("src" in a or a.get("type") == "application/json" for a in scripts)
    assert [a.get("nonce") for t, a in page.tags if t == "style"] == [nonce]
    text = "".join(page.text)
    s = services.settings.get(CitizenWebSettings)
    for notice in (s.CITIZEN_NOTICE_AI, s.CITIZEN_NOTICE_PRIVACY, s.CITIZEN_NOTICE_EMERGENCY, s.CITIZEN_NOTICE_CONTACT):
        assert notice in text
    assert "AI" in s.CITIZEN_NOTICE_AI and "個人情報" in s.CITIZEN_NOTICE_PRIVACY and "119" in s.CITIZEN_NOTICE_EMERGENCY
    assert "尼崎市 <b>チャット</b>" in text and b"<b>" not in body           # escaped, shown as text
    assert b"--citizen-primary: #123abc" in body
    assert f'"domain": "{directline.origin}/v3/directline"'.encode() in body
    # A new nonce on every request; without frame ancestors only this app may frame the page.
    configure(services, DIRECTLINE_SECRET=SECRET, DIRECTLINE_ENDPOINT=directline.origin)
    _, headers2, _ = await fetch(http, "GET", f"{url}/citizen")
    assert nonce not in headers2["Content-Security-Policy"]
    assert _csp(headers2["Content-Security-Policy"])["frame-ancestors"] == ["'self'"]
    assert headers2["X-Frame-Options"] == "SAMEORIGIN"


async def test_the_assets(stack):
    url, _, http = stack
    status, headers, body = await fetch(http, "GET", f"{url}/citizen/static/webchat.js?v=1",
                                        headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "immutable" in headers["Cache-Control"] and headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert b"renderWebChat" in gzip.decompress(body)
    status, headers, body = await fetch(http, "GET", f"{url}/citizen/static/citizen.css")
    assert status == 200 and headers["Content-Type"] == "text/css; charset=utf-8" and b"--citizen-primary" in body
    for name in ("page.html", "..%2Fweb.py", "%2e%2e%2fweb_settings.py", "webchat.js.gz", "nope.js"):
        status, _, body = await fetch(http, "GET", f"{url}/citizen/static/{name}")
        assert status == 404 and b"import" not in body and b"$title" not in body, name


async def test_without_the_bundle_the_page_says_so_in_japanese(stack, services, tmp_path):
    url, directline, http = stack
    configure(services, DIRECTLINE_SECRET=SECRET, DIRECTLINE_ENDPOINT=directline.origin,
              CITIZEN_ASSETS_DIR=str(tmp_path / "missing"))
    status, headers, body = await fetch(http, "GET", f"{url}/citizen")
    assert status == 503 and headers["Retry-After"] == "300"
    assert citizen_web.NO_BUNDLE.encode() in body and b"webchat.js" not in body
    assert "Content-Security-Policy" in headers
    assert (await fetch(http, "GET", f"{url}/citizen/static/webchat.js"))[0] == 404


def _json(body: bytes) -> dict:
    return json.loads(body)
