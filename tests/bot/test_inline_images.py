"""Photos pasted into a Teams chat or sent from the Teams mobile app: `image/*` attachments (no name, a contentUrl on
the Bot Framework attachment service that answers only to the bot's own token) next to the `text/html` copy of the
message. Over real HTTP: the real app with app credentials (inbound JWTs from a loopback issuer), a loopback
attachment service that refuses requests without the bot's bearer token, the photo reaching 画像点検 and its card
coming back through the stand-in connector; the token never follows a redirect; a redirect to a host outside the
list is refused. The token itself comes from MSAL in production; MSAL only speaks https to Entra ID, so here
`MicrosoftAppCredentials.get_access_token` is replaced at that boundary (the connector stand-in shows that the
replies carry the very same token)."""
from __future__ import annotations

import json
import threading

import aiohttp
import pytest
from aiohttp import web
from botbuilder.schema import Activity
from botframework.connector.auth import MicrosoftAppCredentials

from bot import inline
from bot.handler import attachments_of
from skills.images import strings as S
from skills.images.settings import ImagesSettings
from tests.bot.test_auth import APP_ID, Issuer
from tests.harness import make_services, running_bot
from tests.skills.images import samples
from tests.standins.base import LoopbackServer
from tests.standins.connector import ConnectorStandIn

TOKEN = "bot-token-7f3a"
MAP = "https://maps.gsi.go.jp/#17/34.733300/135.406700/"


class AttachmentService(LoopbackServer):
    """The Bot Framework attachment service: GET /v3/attachments/{id}/views/original answers 401 without the bot's
    bearer token. `files[id]` are the bytes; `redirects[id]` a Location to answer 302 with; `/open/{id}` serves
    without a token (the target of a redirect). Every request is recorded with its Authorization header."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[dict] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v3/attachments/{id}/views/original", self._original)
        app.router.add_get("/open/{id}", self._open)

    def url(self, ident: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/v3/attachments/{ident}/views/original"

    async def _original(self, request: web.Request) -> web.StreamResponse:
        ident = request.match_info["id"]
        self.requests.append({"path": request.path, "auth": request.headers.get("Authorization")})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        if ident in self.redirects:
            raise web.HTTPFound(self.redirects[ident])
        if ident not in self.files:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        return web.Response(body=self.files[ident], content_type="image/jpeg")

    async def _open(self, request: web.Request) -> web.Response:
        self.requests.append({"path": request.path, "auth": request.headers.get("Authorization")})
        return web.Response(body=self.files[request.match_info["id"]], content_type="image/jpeg")


@pytest.fixture(scope="module")
def issuer():
    i = Issuer()
    yield i
    i.server.shutdown()


@pytest.fixture
async def peers():
    connector, files, other = (await ConnectorStandIn().start(), await AttachmentService().start(),
                               await AttachmentService().start())
    yield connector, files, other
    for s in (connector, files, other):
        await s.stop()


@pytest.fixture
def token_calls(monkeypatch):
    calls: list[str] = []

    def get_access_token(self, force_refresh: bool = False) -> str:
        calls.append(self.microsoft_app_id)
        return TOKEN
    monkeypatch.setattr(MicrosoftAppCredentials, "get_access_token", get_access_token)
    return calls


def photo_services(db, hosts: str = "127.0.0.1"):
    services = make_services(db)
    services.settings.put(ImagesSettings(_env_file=None, IMAGES_DOWNLOAD_HOSTS=hosts,
                                         IMAGES_DOWNLOAD_ALLOWLIST="127.0.0.1,localhost"))
    return services


def inline_message(connector: ConnectorStandIn, text: str, *urls: str) -> dict:
    """The shape Teams sends for a message with pasted / mobile photos: one image/* attachment per photo (no name)
    and the text/html copy of the message with <img> tags pointing at the hosted content."""
    atts: list[dict] = [{"contentType": "image/*", "contentUrl": u} if i % 2 else
                        {"contentType": "image/jpeg", "contentUrl": u} for i, u in enumerate(urls)]
    imgs = "".join(f'<img src="https://us-api.asm.skype.com/v1/objects/0-jpe-d{i}/views/imgo" alt="画像">'
                   for i in range(len(urls)))
    atts.append({"contentType": "text/html", "content": f"<div><p>{text}</p><p>{imgs}</p></div>"})
    return connector.activity(text, attachments=atts)


async def post(url: str, activity: dict, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", json=activity, headers=headers) as r:
            return r.status


def everything_sent(connector: ConnectorStandIn) -> str:
    return json.dumps(connector.activities(), ensure_ascii=False)


# ------------------------------------------------------------------------------------------ the activity's shape

def test_inline_images_become_named_photos_and_the_html_copy_is_not_a_file():
    png = samples.road(40, 30)
    act = Activity().deserialize({"type": "message", "text": "点検", "attachments": [
        {"contentType": "image/jpeg", "contentUrl": "https://smba.trafficmanager.net/jp/v3/attachments/a/views/original"},
        {"contentType": "image/png", "contentUrl": "https://smba.trafficmanager.net/jp/v3/attachments/b/views/original",
         "name": None},
        {"contentType": "image/heic", "contentUrl": "https://smba.trafficmanager.net/jp/v3/attachments/c/views/original",
         "name": "IMG_0042.HEIC"},
        {"contentType": "image/png", "contentUrl": "data:image/png;base64,"
         + __import__("base64").b64encode(png).decode()},
        {"contentType": "image/*", "contentUrl": "https://smba.trafficmanager.net/jp/v3/attachments/e/views/original"},
        {"contentType": "text/html", "content": "<p>点検<img src=\"https://x/objects/a/views/imgo\"></p>"},
        {"contentType": "text/html; charset=utf-8", "content": "<p>点検</p>"},
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard"}},
    ]})

    async def bearer(_url: str) -> str | None:
        return None
    atts = attachments_of(act, bearer)
    assert [a.name for a in atts] == ["写真1.jpg", "写真2.png", "IMG_0042.HEIC", "写真4.png", "写真5.jpg"]
    assert [a.bearer is bearer for a in atts] == [True, True, True, False, True]
    assert atts[3].content == png and atts[3].download_url is None
    assert atts[0].download_url.endswith("/v3/attachments/a/views/original")
    # a message with only its HTML copy (every Teams message) carries no file: qa, analysis … route on the words
    only_text = Activity().deserialize({"type": "message", "text": "ごみの出し方", "attachments": [
        {"contentType": "text/html", "content": "<p>ごみの出し方</p>"}]})
    assert attachments_of(only_text, bearer) == []


async def test_the_bots_token_goes_only_over_https_to_the_attachment_hosts_and_never_anonymously(token_calls):
    hosts = ["smba.trafficmanager.net", "*.botframework.com"]
    token = inline.BotToken(MicrosoftAppCredentials(APP_ID, "secret"), hosts)
    assert await token("https://smba.trafficmanager.net/jp/v3/attachments/a/views/original") == TOKEN
    assert await token("https://apis.botframework.com/v3/attachments/a/views/original") == TOKEN
    for url in ("http://smba.trafficmanager.net/v3/attachments/a/views/original",      # plain http
                "https://contoso.sharepoint.com/a.jpg", "https://smba.trafficmanager.net.evil.example/a",
                "https://evil.example/?smba.trafficmanager.net", "not a url"):
        assert await token(url) is None, url
    assert await inline.BotToken(MicrosoftAppCredentials.empty(), hosts)(
        "https://smba.trafficmanager.net/v3/attachments/a/views/original") is None
    assert len(token_calls) == 2


# ------------------------------------------------------------------------------------------------ over the wire

async def test_a_photo_from_a_phone_reaches_the_photo_check_with_the_bots_token(sqlite_db, peers, issuer, token_calls):
    connector, files, _ = peers
    files.files["0-jpe-d1-photo"] = samples.road(800, 600, gps=samples.AMAGASAKI, taken="2026:11:20 10:15:00")
    async with aiohttp.ClientSession() as s:                 # the stand-in refuses anyone without the token
        async with s.get(files.url("0-jpe-d1-photo")) as r:
            assert r.status == 401
    files.requests.clear()
    async with running_bot(photo_services(sqlite_db), MicrosoftAppId=APP_ID, MicrosoftAppPassword="secret",
                           BOT_OPENID_METADATA_URL=f"{issuer.url}/openid", BOT_ATTACHMENT_HOSTS="127.0.0.1") as url:
        act = inline_message(connector, "点検をお願いします", files.url("0-jpe-d1-photo"))
        assert await post(url, act, issuer.token(service_url=connector.url)) == 202
        await connector.wait_for(lambda _a: MAP in everything_sent(connector) and "写真1.jpg" in
                                 everything_sent(connector), timeout=30)
    assert files.requests == [{"path": "/v3/attachments/0-jpe-d1-photo/views/original", "auth": f"Bearer {TOKEN}"}]
    assert connector.posts and all(p["auth"] == f"Bearer {TOKEN}" for p in connector.posts)   # the same token
    sent = everything_sent(connector)
    assert "扱えない種類" not in sent and "text/html" not in sent
    assert len(connector.cards()) >= 1


async def test_without_the_bots_token_the_service_answers_401_and_the_user_is_told(sqlite_db, peers):
    connector, files, _ = peers
    files.files["0-jpe-d1-photo"] = samples.road(400, 300)
    async with running_bot(photo_services(sqlite_db), BOT_ATTACHMENT_HOSTS="127.0.0.1") as url:   # anonymous
        assert await post(url, inline_message(connector, "/photo", files.url("0-jpe-d1-photo"))) == 202
        line = S.DOWNLOAD_FAILED.format(name="写真1.jpg")
        await connector.wait_for(lambda _a: line in everything_sent(connector), timeout=30)
    assert files.requests == [{"path": "/v3/attachments/0-jpe-d1-photo/views/original", "auth": None}]


async def test_the_token_never_follows_a_redirect_and_a_redirect_off_the_list_is_refused(sqlite_db, peers, issuer,
                                                                                       token_calls):
    connector, files, other = peers
    files.files["moved"] = samples.road(400, 300, gps=samples.AMAGASAKI)
    files.redirects["moved"] = f"http://127.0.0.1:{files.port}/open/moved"        # same host, allowed
    other.files["away"] = samples.road(400, 300)
    files.redirects["away"] = f"http://localhost:{other.port}/open/away"          # a host not in the list
    async with running_bot(photo_services(sqlite_db, hosts="127.0.0.1"), MicrosoftAppId=APP_ID,
                           MicrosoftAppPassword="secret", BOT_OPENID_METADATA_URL=f"{issuer.url}/openid",
                           BOT_ATTACHMENT_HOSTS="127.0.0.1") as url:
        act = inline_message(connector, "/photo", files.url("moved"), files.url("away"))
        assert await post(url, act, issuer.token(service_url=connector.url)) == 202
        refused = S.DOWNLOAD_REFUSED.format(name="写真2.jpg")
        await connector.wait_for(lambda _a: refused in everything_sent(connector) and MAP in
                                 everything_sent(connector), timeout=30)
    assert {"path": "/open/moved", "auth": None} in files.requests           # the second hop got no token
    assert [r["auth"] for r in files.requests if r["path"].startswith("/v3/")] == [f"Bearer {TOKEN}"] * 2
    assert other.requests == []                                               # the disallowed host saw nothing


async def test_a_token_that_cannot_be_had_is_a_japanese_line_not_a_stack_trace(sqlite_db, peers, issuer, monkeypatch):
    connector, files, _ = peers
    files.files["p"] = samples.road(400, 300)
    refused: list[str] = []

    def failing(self, force_refresh: bool = False) -> str:
        # The attachment's token is asked for in a worker thread (MSAL blocks); the replies' in the event loop's
        # thread: Entra refuses the former only, so the user can still be told.
        if threading.current_thread() is not threading.main_thread():
            refused.append(self.microsoft_app_id)
            raise PermissionError("Failed to get access token with error: invalid_client")
        return TOKEN
    monkeypatch.setattr(MicrosoftAppCredentials, "get_access_token", failing)
    async with running_bot(photo_services(sqlite_db), MicrosoftAppId=APP_ID, MicrosoftAppPassword="secret",
                           BOT_OPENID_METADATA_URL=f"{issuer.url}/openid", BOT_ATTACHMENT_HOSTS="127.0.0.1") as url:
        assert await post(url, inline_message(connector, "/photo", files.url("p")),
                          issuer.token(service_url=connector.url)) == 202
        line = S.DOWNLOAD_FAILED.format(name="写真1.jpg")
        await connector.wait_for(lambda _a: line in everything_sent(connector), timeout=30)
    assert refused == [APP_ID] and files.requests == []          # nothing was asked without the token
    assert "Traceback" not in everything_sent(connector) and "PermissionError" not in everything_sent(connector)

