"""A stand-in Bot Connector (aiohttp on loopback): receives what the bot posts back and records it.

`fail` lets a test script answers: a callable (method, path, body) -> (status, json) or None for the default."""
from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any, Callable

from aiohttp import web

from tests.standins.base import LoopbackServer


class ConnectorStandIn(LoopbackServer):
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []       # {"t", "method", "path", "body", "status"}
        self.fail: Callable[[str, str, dict], tuple[int, dict] | None] | None = None
        self.delay = 0.0                                 # seconds before each answer (a slow Bot Connector)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._changed = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except Exception:  # noqa: BLE001
                body = {"_raw": (await request.text())[:2000]}
        if self.delay:
            await asyncio.sleep(self.delay)
        status, payload = 200, {"id": f"act-{next(self._ids)}"}
        if self.fail:
            scripted = self.fail(request.method, request.path, body or {})
            if scripted:
                status, payload = scripted
        self.posts.append({"t": time.monotonic(), "method": request.method, "path": request.path, "body": body,
                           "status": status, "auth": request.headers.get("Authorization")})
        self._changed.set()
        headers = {"Retry-After": "1"} if status == 429 else None
        return web.json_response(payload, status=status, headers=headers)

    def activities(self) -> list[dict]:
        return [p["body"] for p in self.posts if isinstance(p["body"], dict) and p["method"] in ("POST", "PUT")]

    def messages(self) -> list[dict]:
        return [a for a in self.activities() if a.get("type") == "message"]

    def cards(self) -> list[dict]:
        return [att["content"] for a in self.messages() for att in a.get("attachments") or []
                if att.get("contentType") == "application/vnd.microsoft.card.adaptive"]

    async def wait_for(self, predicate: Callable[[list[dict]], bool], timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            acts = self.activities()
            if predicate(acts):
                return acts
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(0.2, max(0.01, deadline - time.monotonic())))
            except asyncio.TimeoutError:
                pass
        raise AssertionError(f"connector did not receive the expected activities in {timeout}s: "
                             f"{[a.get('type') for a in self.activities()]}")

    def activity(self, text: str | None = None, *, type: str = "message", conversation: str = "a:personal-1",
                 conv_type: str = "personal", user: str = "29:user-1",
                 aad: str = "00000000-0000-0000-0000-0000000000aa", tenant: str = "tenant-1", **extra) -> dict:
        act = {"type": type, "id": str(uuid.uuid4()), "timestamp": "2026-11-30T00:30:00.000Z",
               "serviceUrl": self.url, "channelId": "msteams",
               "from": {"id": user, "name": "尼崎 太郎", "aadObjectId": aad},
               "conversation": {"id": conversation, "conversationType": conv_type, "tenantId": tenant},
               "recipient": {"id": "28:bot-1", "name": "AI Assistant"}, "locale": "ja-JP",
               "channelData": {"tenant": {"id": tenant}}}
        if text is not None:
            act["text"] = text
        act.update(extra)
        return act
