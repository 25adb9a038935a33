"""A loopback OpenAI-compatible server for tests, spoken to through the real `openai` client.

Chat completions (plain and SSE streaming, tool calls), embeddings, and scripted failures (429 with
Retry-After, 500, slow, broken JSON). `script` is a list of replies consumed in order; when it is empty,
`default` is used. A reply is a dict: {"text": ...} | {"tool": name, "args": {...}} | {"status": 429,
"retry_after": 1} | {"delay": seconds, ...} | {"broken": True}. Or a callable(body) -> reply."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable

from aiohttp import web

from tests.standins.base import LoopbackServer


class OpenAIStandIn(LoopbackServer):
    def __init__(self, default: dict | Callable[[dict], dict] | None = None) -> None:
        self.default = default or {"text": "テスト応答です。"}
        self.script: list[dict | Callable[[dict], dict]] = []
        self.requests: list[dict] = []
        self.paths: list[str] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def azure_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seen(self) -> str:
        """Everything the server received, as one string (to assert what never left the building)."""
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in self.requests)

    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if "messages" in r]

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/openai/deployments/{d}/chat/completions", self._chat)
        app.router.add_post("/openai/deployments/{d}/embeddings", self._embeddings)

    def _next(self, body: dict) -> dict:
        reply = self.script.pop(0) if self.script else self.default
        return reply(body) if callable(reply) else reply

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.paths.append(request.path)
        reply = self._next(body)
        if reply.get("delay"):
            await asyncio.sleep(reply["delay"])
        if reply.get("status"):
            headers = {"Retry-After": str(reply["retry_after"])} if reply.get("retry_after") is not None else {}
            return web.json_response({"error": {"message": "scripted failure", "type": "server_error"}},
                                     status=reply["status"], headers=headers)
        if reply.get("broken"):
            return web.Response(text="{not json", content_type="application/json")
        model = body.get("model", "stub")
        usage = {"prompt_tokens": reply.get("prompt_tokens", 12), "completion_tokens": reply.get("completion_tokens", 8),
                 "total_tokens": 20}
        text = reply.get("text")
        tool = reply.get("tool")
        if body.get("stream"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)

            async def send(delta: dict, finish: str | None = None, with_usage: bool = False) -> None:
                chunk: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": int(time.time()),
                                         "model": model, "choices": [{"index": 0, "delta": delta,
                                                                      "finish_reason": finish}]}
                if with_usage:
                    chunk["choices"] = []
                    chunk["usage"] = usage
                await resp.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())

            if tool:
                args = json.dumps(reply.get("args", {}), ensure_ascii=False)
                await send({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                                 "function": {"name": tool, "arguments": ""}}]})
                for i in range(0, len(args), 7):
                    await send({"tool_calls": [{"index": 0, "function": {"arguments": args[i:i + 7]}}]})
                    await asyncio.sleep(reply.get("chunk_delay", 0))
                await send({}, "tool_calls")
            else:
                pieces = reply.get("chunks") or [text[i:i + 4] for i in range(0, len(text or ""), 4)]
                await send({"role": "assistant", "content": ""})
                for piece in pieces:
                    await send({"content": piece})
                    await asyncio.sleep(reply.get("chunk_delay", 0))
                await send({}, "stop")
            await send({}, with_usage=True)
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
            return resp
        message: dict[str, Any] = {"role": "assistant", "content": text}
        finish = "stop"
        if tool:
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": tool, "arguments": json.dumps(reply.get("args", {}), ensure_ascii=False)}}]}
            finish = "tool_calls"
        return web.json_response({"id": "c1", "object": "chat.completion", "created": int(time.time()),
                                  "model": model, "choices": [{"index": 0, "message": message,
                                                               "finish_reason": finish}], "usage": usage})

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else inputs
        data = []
        for i, text in enumerate(inputs):
            vec = [0.0] * 32
            for ch in str(text):
                vec[ord(ch) % 32] += 1.0
            data.append({"object": "embedding", "index": i, "embedding": vec})
        return web.json_response({"object": "list", "data": data, "model": body.get("model", "stub"),
                                  "usage": {"prompt_tokens": 1, "total_tokens": 1}})
