"""An HTTP fault injector on loopback: a reverse proxy in front of a stand-in (OpenAI, Graph, kintone, e-Gov) that
answers scripted faults instead of, or in the middle of, the real answer. The app's real client library talks to it.

`faults` is consumed one per request; when it is empty, `always` (if set) applies, else the request is forwarded.
A fault is a dict:
  {"status": 500}                     answer that status (JSON body {"error": …})
  {"status": 429, "retry_after": 1}   … with a Retry-After header (seconds)
  {"delay": 5}                        wait that long before forwarding (the client's timeout should fire)
  {"drop": True}                      close the connection without any answer (reset)
  {"drop_after": 120}                 forward, but reset the connection after that many bytes of the body
                                      (a stream cut mid-way: SSE from the model, a JSON body half sent)
`seen` lists (method, path, fault name) for every request, so a test counts the retries the client made."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
from aiohttp import web

from tests.standins.base import LoopbackServer

_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class FaultHTTP(LoopbackServer):
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[dict[str, Any]] = []
        self.always: dict[str, Any] | None = None
        self.seen: list[tuple[str, str, str]] = []
        self.port = 0
        self._runner = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        return self.origin

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await super().stop()

    def count(self, path_part: str = "") -> int:
        return sum(1 for _, p, _ in self.seen if path_part in p)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self.faults.pop(0) if self.faults else (self.always or {})
        name = _name(fault)
        self.seen.append((request.method, request.path, name))
        body = await request.read()
        if fault.get("status"):
            headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") is not None else {}
            return web.json_response({"error": {"message": "injected fault", "code": "injected"}},
                                     status=fault["status"], headers=headers)
        if fault.get("drop"):
            _reset(request)
            return web.Response()        # never sent: the transport is gone
        if fault.get("delay"):
            await asyncio.sleep(fault["delay"])
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(request.method, self.upstream + request.path_qs, data=body,
                                         headers=headers, allow_redirects=False) as up:
            resp = web.StreamResponse(status=up.status,
                                      headers={k: v for k, v in up.headers.items() if k.lower() not in _HOP})
            await resp.prepare(request)
            limit = fault.get("drop_after")
            sent = 0
            async for chunk in up.content.iter_any():
                if limit is not None and sent + len(chunk) >= limit:
                    await resp.write(chunk[:max(0, limit - sent)])
                    await asyncio.sleep(0.05)
                    _reset(request)
                    return resp
                await resp.write(chunk)
                sent += len(chunk)
            await resp.write_eof()
            return resp


def _name(fault: dict) -> str:
    if fault.get("status"):
        return f"{fault['status']}" + (f" Retry-After {fault['retry_after']}" if "retry_after" in fault else "")
    if fault.get("drop"):
        return "drop"
    if "drop_after" in fault:
        return f"drop after {fault['drop_after']} B"
    if fault.get("delay"):
        return f"delay {fault['delay']} s"
    return "pass"


def _reset(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.abort()
