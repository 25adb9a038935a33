"""A loopback stand-in for the Azure Bot Service Direct Line 3.0 channel.

To the browser (Bot Framework Web Chat / botframework-directlinejs) it speaks Direct Line 3.0:

    POST /v3/directline/tokens/generate            secret -> a token bound to one new conversation
    POST /v3/directline/tokens/refresh             token  -> a fresh token for the same conversation
    POST /v3/directline/conversations              start (201; 200 when the token's conversation already started)
    GET  /v3/directline/conversations/{id}         reconnect: a fresh token and streamUrl (?watermark=)
    POST /v3/directline/conversations/{id}/activities        send one activity -> {"id"}
    GET  /v3/directline/conversations/{id}/activities        ActivitySet after ?watermark= (no typing)
    GET  /v3/directline/conversations/{id}/stream?t=…        WebSocket of ActivitySets (typing included)

To the bot it speaks the Bot Connector protocol: every activity a client sends is POSTed to the bot's
/api/messages with channelId "webchat" (by default) and a serviceUrl pointing here, and the bot's replies are
accepted at POST /v3/conversations/{id}/activities[/{replyToId}]. Like the real service, it refuses
UpdateActivity and DeleteActivity (405, "This channel does not support this operation").

Tokens are JWTs (HS256, a key made at start) carrying `conv` and `user` claims, as the real ones carry them (Web
Chat reads the user id from the token). What differs from the real service: no authentication towards the bot
(run the bot anonymously, as `make run` does) and none checked on the bot's replies; several WebSocket
connections per conversation are allowed; attachments upload (`/upload`) is not offered; everything is kept in
memory with bounds (conversations, history per conversation) and lost at exit.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import aiohttp
import jwt
from aiohttp import web

log = logging.getLogger("devtools.directline")

ISSUER = "https://directline.botframework.com/"
TOKEN_SECONDS = 1800            # what the real service grants (expires_in)
STREAM_SECONDS = 60             # the real service: 60 s to connect to a streamUrl
MAX_ACTIVITY_BYTES = 256 * 1024
NOT_SUPPORTED = "This channel does not support this operation"


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Conversation:
    id: str
    user_id: str | None
    started: bool = False
    seq: int = 0
    history: collections.deque = field(default_factory=lambda: collections.deque(maxlen=1000))
    sockets: set = field(default_factory=set)
    last_used: float = field(default_factory=time.monotonic)

    def watermark(self) -> str:
        return str(self.seq)


@dataclass
class Caller:
    """Who made a Direct Line request: the holder of the secret, or of a token for one conversation."""

    secret: bool
    conversation_id: str | None = None
    user_id: str | None = None


class DirectLineStandIn:
    """The stand-in server. `start()` binds 127.0.0.1 (port 0 = a free one); `origin` is its base URL."""

    def __init__(self, bot_url: str, *, secret: str, host: str = "127.0.0.1", port: int = 0,
                 channel_id: str = "webchat", bot_id: str = "amagasaki-assistant",
                 bot_name: str = "尼崎市AIアシスタント", token_seconds: int = TOKEN_SECONDS,
                 max_conversations: int = 5000, bot_timeout: float = 15.0) -> None:
        if not secret:
            raise ValueError("a Direct Line secret is required")
        self.bot_url = bot_url
        self.secret = secret
        self.host = host
        self.port = port
        self.channel_id = channel_id
        self.bot = {"id": bot_id, "name": bot_name, "role": "bot"}
        self.token_seconds = token_seconds
        self.max_conversations = max_conversations
        self.bot_timeout = bot_timeout
        self._key = secrets.token_bytes(32)
        self.conversations: collections.OrderedDict[str, Conversation] = collections.OrderedDict()
        # What happened, for tests and the bench: token requests and what was posted to the bot (bounded).
        self.token_requests: collections.deque = collections.deque(maxlen=1000)
        self.to_bot: collections.deque = collections.deque(maxlen=1000)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # ---------------------------------------------------------------- lifecycle

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def domain(self) -> str:
        return f"{self.origin}/v3/directline"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_ACTIVITY_BYTES, middlewares=[_cors])
        r = app.router
        r.add_post("/v3/directline/tokens/generate", self._generate)
        r.add_post("/v3/directline/tokens/refresh", self._refresh)
        r.add_post("/v3/directline/conversations", self._start)
        r.add_get("/v3/directline/conversations/{id}", self._reconnect)
        r.add_post("/v3/directline/conversations/{id}/activities", self._post_activity)
        r.add_get("/v3/directline/conversations/{id}/activities", self._get_activities)
        r.add_get("/v3/directline/conversations/{id}/stream", self._stream)
        r.add_post("/v3/directline/conversations/{id}/upload", self._upload)
        r.add_post("/v3/conversations/{id}/activities", self._from_bot)
        r.add_post("/v3/conversations/{id}/activities/{reply_to}", self._from_bot)
        r.add_put("/v3/conversations/{id}/activities/{activity}", self._not_supported)
        r.add_delete("/v3/conversations/{id}/activities/{activity}", self._not_supported)
        r.add_get("/healthz", self._health)
        app.on_shutdown.append(self._close_sockets)
        return app

    async def start(self) -> "DirectLineStandIn":
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.bot_timeout),
                                              connector=aiohttp.TCPConnector(limit=0))
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> "DirectLineStandIn":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _close_sockets(self, _app: web.Application) -> None:
        for conv in list(self.conversations.values()):
            for ws in list(conv.sockets):
                await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"shutdown")

    # ---------------------------------------------------------------- tokens

    def _token(self, conv: Conversation, *, seconds: int | None = None, stream: bool = False) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"bot": self.bot["id"], "site": "standin", "conv": conv.id, "nbf": now - 5,
                                  "exp": now + (seconds or self.token_seconds), "iss": ISSUER, "aud": ISSUER,
                                  "jti": secrets.token_hex(8)}
        if conv.user_id:
            claims["user"] = conv.user_id
        if stream:
            claims["stream"] = True
        return jwt.encode(claims, self._key, algorithm="HS256")

    def _claims(self, token: str) -> dict | None:
        try:
            return jwt.decode(token, self._key, algorithms=["HS256"], audience=ISSUER, issuer=ISSUER)
        except jwt.PyJWTError:
            return None

    def _caller(self, request: web.Request) -> Caller | web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return _error(401, "Unauthorized", "Authorization: Bearer <secret or token> is required")
        value = value.strip()
        if secrets.compare_digest(value.encode(), self.secret.encode()):
            return Caller(secret=True)
        claims = self._claims(value)
        if claims is None or claims.get("stream") or not isinstance(claims.get("conv"), str):
            return _error(403, "TokenExpired" if _expired(value) else "BadArgument", "the token is invalid or expired")
        return Caller(secret=False, conversation_id=claims["conv"], user_id=claims.get("user"))

    def _conversation(self, request: web.Request, caller: Caller) -> Conversation | web.Response:
        conv_id = request.match_info["id"]
        if not caller.secret and caller.conversation_id != conv_id:
            return _error(403, "BadArgument", "the token is for another conversation")
        conv = self.conversations.get(conv_id)
        if conv is None:
            return _error(404, "BadArgument", "conversation not found")
        conv.last_used = time.monotonic()
        self.conversations.move_to_end(conv_id)
        return conv

    def _new_conversation(self, user_id: str | None) -> Conversation:
        while len(self.conversations) >= self.max_conversations:
            _, old = self.conversations.popitem(last=False)
            for ws in list(old.sockets):
                asyncio.ensure_future(ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"evicted"))
        conv = Conversation(id=secrets.token_urlsafe(18), user_id=user_id)
        self.conversations[conv.id] = conv
        return conv

    async def _generate(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        if isinstance(caller, web.Response):
            self.token_requests.append({"ok": False, "status": caller.status})
            return caller
        if not caller.secret:
            self.token_requests.append({"ok": False, "status": 403})
            return _error(403, "BadArgument", "tokens/generate needs the secret")
        body = await _json_body(request)
        if isinstance(body, web.Response):
            return body
        user = body.get("user") if isinstance(body, dict) else None
        user_id = user.get("id") if isinstance(user, dict) else None
        if user_id is not None and (not isinstance(user_id, str) or not user_id.startswith("dl_")
                                    or len(user_id) > 256):
            self.token_requests.append({"ok": False, "status": 400, "user": str(user_id)[:80]})
            return _error(400, "BadArgument", "user ids given to tokens/generate must start with dl_")
        conv = self._new_conversation(user_id or f"dl_{secrets.token_hex(12)}")
        self.token_requests.append({"ok": True, "status": 200, "user": conv.user_id, "conversation": conv.id,
                                    "trustedOrigins": body.get("trustedOrigins") if isinstance(body, dict) else None})
        return web.json_response({"conversationId": conv.id, "token": self._token(conv),
                                  "expires_in": self.token_seconds})

    async def _refresh(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        if isinstance(caller, web.Response):
            return caller
        if caller.secret or not caller.conversation_id:
            return _error(403, "BadArgument", "tokens/refresh needs a token")
        conv = self.conversations.get(caller.conversation_id)
        if conv is None:
            return _error(404, "BadArgument", "conversation not found")
        return web.json_response({"conversationId": conv.id, "token": self._token(conv),
                                  "expires_in": self.token_seconds})

    # ---------------------------------------------------------------- conversations

    def _opened(self, conv: Conversation, request: web.Request, status: int) -> web.Response:
        stream = f"{self._ws_origin(request)}/v3/directline/conversations/{conv.id}/stream?t=" \
                 f"{self._token(conv, seconds=STREAM_SECONDS, stream=True)}"
        return web.json_response({"conversationId": conv.id, "token": self._token(conv),
                                  "expires_in": self.token_seconds, "streamUrl": stream}, status=status)

    def _ws_origin(self, request: web.Request) -> str:
        return f"ws://{request.host or f'{self.host}:{self.port}'}"

    async def _start(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        if isinstance(caller, web.Response):
            return caller
        body = await _json_body(request)
        if isinstance(body, web.Response):
            return body
        if caller.secret:
            user = body.get("user") if isinstance(body, dict) else None
            user_id = user.get("id") if isinstance(user, dict) and isinstance(user.get("id"), str) else None
            conv = self._new_conversation(user_id)
        else:
            found = self.conversations.get(caller.conversation_id or "")
            if found is None:
                return _error(404, "BadArgument", "conversation not found")
            conv = found
        if conv.started:
            return self._opened(conv, request, 200)
        conv.started = True
        members = [self.bot] + ([{"id": conv.user_id, "role": "user"}] if conv.user_id else [])
        update = self._stamp(conv, {"type": "conversationUpdate", "id": f"{conv.id}|start", "membersAdded": members,
                                    "from": {"id": conv.user_id or "dl_unknown", "role": "user"}},
                             locale=body.get("locale") if isinstance(body, dict) else None)
        await self._send_to_bot(update)        # the real service tells the bot too; a failure here is not fatal
        return self._opened(conv, request, 201)

    async def _reconnect(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        if isinstance(caller, web.Response):
            return caller
        conv = self._conversation(request, caller)
        if isinstance(conv, web.Response):
            return conv
        return self._opened(conv, request, 200)

    # ---------------------------------------------------------------- activities: client -> bot

    def _stamp(self, conv: Conversation, activity: dict, *, locale: str | None = None) -> dict:
        """What the channel adds to an activity on its way to the bot (and to the conversation's history)."""
        activity = dict(activity)
        activity.update({"channelId": self.channel_id, "serviceUrl": f"{self.origin}/",
                         "conversation": {"id": conv.id}, "recipient": dict(self.bot),
                         "timestamp": _now_iso()})
        if locale and not activity.get("locale"):
            activity["locale"] = locale
        return activity

    def _record(self, conv: Conversation, activity: dict) -> dict:
        conv.seq += 1
        activity["id"] = activity.get("id") or f"{conv.id}|{conv.seq:07d}"
        conv.history.append((conv.seq, activity))
        self._broadcast(conv, activity)
        return activity

    def _broadcast(self, conv: Conversation, activity: dict) -> None:
        if not conv.sockets:
            return
        message = json.dumps({"activities": [activity], "watermark": conv.watermark()}, ensure_ascii=False)
        for ws in list(conv.sockets):
            if ws.closed:
                conv.sockets.discard(ws)
                continue
            asyncio.ensure_future(_send(ws, message))

    async def _send_to_bot(self, activity: dict) -> tuple[int, str]:
        assert self._session is not None
        entry = {"t": time.monotonic(), "activity": activity, "status": 0}
        self.to_bot.append(entry)
        try:
            async with self._session.post(self.bot_url, json=activity) as r:
                entry["status"] = r.status
                return r.status, (await r.text())[:500]
        except asyncio.TimeoutError:
            entry["status"] = 504
            log.warning("the bot did not answer within %ss", self.bot_timeout)
            return 504, "timeout"
        except aiohttp.ClientError as e:
            entry["status"] = 502
            log.warning("the bot could not be reached: %s", type(e).__name__)
            return 502, type(e).__name__

    async def _post_activity(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        if isinstance(caller, web.Response):
            return caller
        conv = self._conversation(request, caller)
        if isinstance(conv, web.Response):
            return conv
        body = await _json_body(request)
        if isinstance(body, web.Response):
            return body
        if not isinstance(body, dict) or not isinstance(body.get("type"), str) or not body["type"]:
            return _error(400, "BadArgument", "an activity with a type is required")
        activity = {k: v for k, v in body.items() if k not in ("id", "conversation", "recipient", "serviceUrl")}
        sender = dict(activity.get("from") or {}) if isinstance(activity.get("from"), dict) else {}
        # The token's user wins over what the client claims (the service does the same).
        user_id = caller.user_id or conv.user_id or sender.get("id") or "dl_unknown"
        sender.update({"id": user_id, "role": "user"})
        activity["from"] = sender
        activity = self._record(conv, self._stamp(conv, activity))
        status, detail = await self._send_to_bot(activity)
        if status == 504:
            return _error(504, "BotTimeout", "the bot did not answer in time")
        if status >= 400 or status == 0:
            log.warning("the bot refused an activity: %s %s", status, detail[:200])
            return _error(502, "BotError", f"the bot answered {status}")
        return web.json_response({"id": activity["id"]})

    async def _upload(self, _request: web.Request) -> web.Response:
        return _error(400, "BadArgument", "attachments upload is not offered by this stand-in")

    async def _get_activities(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        if isinstance(caller, web.Response):
            return caller
        conv = self._conversation(request, caller)
        if isinstance(conv, web.Response):
            return conv
        after = _watermark(request.query.get("watermark"))
        acts = [a for seq, a in conv.history if seq > after and a.get("type") != "typing"]
        return web.json_response({"activities": acts, "watermark": conv.watermark()})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        claims = self._claims(request.query.get("t", ""))
        conv_id = request.match_info["id"]
        if claims is None or not claims.get("stream") or claims.get("conv") != conv_id:
            return _error(403, "BadArgument", "the stream token is invalid or expired")
        conv = self.conversations.get(conv_id)
        if conv is None:
            return _error(404, "BadArgument", "conversation not found")
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=MAX_ACTIVITY_BYTES)
        await ws.prepare(request)
        conv.sockets.add(ws)
        try:
            if "watermark" in request.query:
                after = _watermark(request.query.get("watermark"))
                backlog = [a for seq, a in conv.history if seq > after]
                if backlog:
                    await ws.send_str(json.dumps({"activities": backlog, "watermark": conv.watermark()},
                                                 ensure_ascii=False))
            async for _msg in ws:           # the client's keep-alive pings are empty messages: nothing to do
                pass
        finally:
            conv.sockets.discard(ws)
        return ws

    # ---------------------------------------------------------------- activities: bot -> client

    async def _from_bot(self, request: web.Request) -> web.Response:
        conv = self.conversations.get(request.match_info["id"])
        if conv is None:
            return _error(404, "BadArgument", "conversation not found")
        body = await _json_body(request)
        if isinstance(body, web.Response):
            return body
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return _error(400, "BadArgument", "an activity with a type is required")
        activity = dict(body)
        activity.pop("id", None)
        activity["from"] = {**dict(self.bot), **({"name": activity["from"].get("name")}
                                                 if isinstance(activity.get("from"), dict)
                                                 and activity["from"].get("name") else {})}
        activity["from"]["role"] = "bot"
        activity.update({"channelId": self.channel_id, "conversation": {"id": conv.id},
                         "timestamp": _now_iso()})
        if request.match_info.get("reply_to"):
            activity.setdefault("replyToId", request.match_info["reply_to"])
        activity.pop("serviceUrl", None)
        activity = self._record(conv, activity)
        return web.json_response({"id": activity["id"]})

    async def _not_supported(self, _request: web.Request) -> web.Response:
        return _error(405, "BadArgument", NOT_SUPPORTED)

    async def _health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "conversations": len(self.conversations)})

    # ---------------------------------------------------------------- helpers for tests and the bench

    def activities(self, conversation_id: str) -> list[dict]:
        conv = self.conversations.get(conversation_id)
        return [a for _, a in conv.history] if conv else []


async def _send(ws: web.WebSocketResponse, message: str) -> None:
    try:
        await ws.send_str(message)
    except (ConnectionResetError, RuntimeError, aiohttp.ClientError):
        pass


def _watermark(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def _expired(token: str) -> bool:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    exp = claims.get("exp")
    return isinstance(exp, (int, float)) and exp < time.time()


async def _json_body(request: web.Request) -> Any:
    """The request's JSON body ({} when there is none); a 400 Direct Line error when it is not JSON."""
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "BadArgument", "the body is not JSON")


@web.middleware
async def _cors(request: web.Request, handler):
    """The page is served by the bot's app (another origin): answer preflights as the real service does."""
    if request.method == "OPTIONS":
        resp: web.StreamResponse = web.Response(status=200)
    else:
        try:
            resp = await handler(request)
        except web.HTTPException as e:
            resp = _error(e.status, "BadArgument", e.reason)
    if not isinstance(resp, web.WebSocketResponse):
        resp.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
        resp.headers["Access-Control-Allow-Headers"] = "authorization, content-type, x-ms-bot-agent"
        resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        resp.headers["Access-Control-Max-Age"] = "600"
        resp.headers["Vary"] = "Origin"
    return resp


