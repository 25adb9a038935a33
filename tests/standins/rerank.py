"""A loopback rerank endpoint with the common `/rerank` API (Cohere, Jina, Infinity; TEI's native body as an option).

POST /rerank {"model", "query", "documents", "top_n"} -> {"results": [{"index", "relevance_score"}], "usage"}.
Scores: a document containing `prefer` first, then the documents in *reverse* order of arrival (so that the order it
answers is visibly its own). `status` answers every call with that HTTP status (503 = endpoint down); `delay` sleeps
first; `tokens` is the usage reported (a number, or callable(body)); `tei=True` speaks TEI's native API ({"query", "texts"} -> a bare list of {"index", "score"}, 422 on any other
body). Every body received is kept in `requests`."""
from __future__ import annotations

import asyncio
import json
from typing import Callable

from aiohttp import web

from tests.standins.base import LoopbackServer


class RerankStandIn(LoopbackServer):
    def __init__(self, *, prefer: str | None = None, status: int | None = None, delay: float = 0.0,
                 tei: bool = False, tokens: int | Callable[[dict], int] = 42) -> None:
        self.prefer = prefer
        self.status = status
        self.delay = delay
        self.tei = tei
        self.tokens = tokens
        self.requests: list[dict] = []
        self.auth: list[str | None] = []

    @property
    def base_url(self) -> str:
        return self.origin

    def seen(self) -> str:
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in self.requests)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/rerank", self._rerank)

    def _scores(self, docs: list[str]) -> list[float]:
        return [(10.0 if self.prefer and self.prefer in d else 0.0) + i / (len(docs) + 1) for i, d in enumerate(docs)]

    async def _rerank(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.auth.append(request.headers.get("Authorization"))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status:
            return web.json_response({"error": "scripted failure"}, status=self.status)
        if self.tei:
            if not isinstance(body.get("texts"), list):
                return web.json_response({"error": "missing field `texts`"}, status=422)
            scores = self._scores(body["texts"])
            return web.json_response(sorted(({"index": i, "score": s} for i, s in enumerate(scores)),
                                            key=lambda r: -r["score"]))
        docs = body.get("documents")
        if not isinstance(body.get("query"), str) or not isinstance(docs, list):
            return web.json_response({"error": "query and documents are required"}, status=422)
        scores = self._scores(docs)
        results = sorted(({"index": i, "relevance_score": s} for i, s in enumerate(scores)),
                         key=lambda r: -r["relevance_score"])[:body.get("top_n") or len(docs)]
        return web.json_response({"model": body.get("model") or "stub-reranker", "results": results,
                                  "usage": {"total_tokens": self.tokens(body) if callable(self.tokens)
                                            else self.tokens}})
