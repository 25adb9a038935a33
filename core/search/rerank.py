"""Client of a rerank endpoint speaking the common `/rerank` API of on-premise rerankers.

POST {RERANK_BASE_URL}/rerank with {"model", "query", "documents": [...], "top_n"} answers
{"results": [{"index", "relevance_score"}, ...]}: the shape Cohere, Jina, Infinity, vLLM and the OpenVINO model
server accept. Text Embeddings Inference's native route takes {"query", "texts"} and answers a bare list of
{"index", "score"}: when the server refuses the common body (HTTP 422/400), the TEI body is tried once, and either
answer shape is read.

This module only speaks HTTP. Skills never call it directly: `services.ai.rerank(...)` (core/ai.py) puts the text
through the guard first (禁止ワード, tier, masking) and audits the call."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pydantic import field_validator

from core.llm import TIERS, LLMError
from core.settings import AppSettings

log = logging.getLogger(__name__)


class RerankSettings(AppSettings):
    section = "search"

    RERANK_BASE_URL: str | None = None
    """Base URL of a rerank endpoint with the common /rerank API (Cohere, Jina, Infinity, TEI, vLLM), e.g. http://10.0.0.5:7997; empty = /ask re-ranks with the LLM (QA_RERANK)."""
    RERANK_MODEL: str = ""
    """Model name sent to the rerank endpoint (e.g. BAAI/bge-reranker-v2-m3); empty = the server's default."""
    RERANK_API_KEY: str | None = None
    """Bearer key of the rerank endpoint (secret; from the environment / Key Vault); empty = none."""
    RERANK_TIMEOUT_SECONDS: float = 10.0
    """Timeout of one rerank request (seconds); on timeout /ask re-ranks with the LLM or keeps the search order."""
    RERANK_TIER: str = ""
    """Network tier the rerank endpoint is approved for (internet / lgwan / mynumber); empty = GUARD_DEFAULT_TIER. Requests of another tier never reach it; what it receives is always masked."""

    @field_validator("RERANK_TIER")
    @classmethod
    def _tier(cls, v: str) -> str:
        v = (v or "").strip().lower()
        if v and v not in TIERS:
            raise ValueError(f"RERANK_TIER: unknown tier {v!r} (use one of {TIERS})")
        return v


@dataclass
class RerankResult:
    order: list[tuple[int, float]]          # (index into the documents sent, relevance score), best first
    tokens: int = 0                         # tokens the server says it used (0 when it does not say)
    model: str = ""
    latency_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class RerankClient:
    """One rerank endpoint. A session per call: one call per question, and no lifecycle for the owner to manage."""

    name = "rerank"

    def __init__(self, settings: RerankSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return bool((self.settings.RERANK_BASE_URL or "").strip())

    @property
    def model(self) -> str:
        return self.settings.RERANK_MODEL

    def tier(self, default_tier: str) -> str:
        """The tier the endpoint is approved for: RERANK_TIER, else the guard's default tier."""
        return self.settings.RERANK_TIER or default_tier

    @property
    def url(self) -> str:
        return (self.settings.RERANK_BASE_URL or "").strip().rstrip("/") + "/rerank"

    async def rerank(self, query: str, documents: list[str], top_n: int | None = None) -> RerankResult:
        """The documents' order by relevance to `query`. Raises LLMError (timeout | unavailable | bad_response)."""
        if not self.configured:
            raise LLMError("unavailable", "no rerank endpoint configured")
        if not documents:
            return RerankResult(order=[], model=self.model)
        body: dict[str, Any] = {"query": query, "documents": documents, "top_n": top_n or len(documents)}
        if self.model:
            body["model"] = self.model
        headers = {"Authorization": f"Bearer {self.settings.RERANK_API_KEY}"} if self.settings.RERANK_API_KEY else {}
        start = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=self.settings.RERANK_TIMEOUT_SECONDS)
        try:
            async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
                status, data = await _post(session, self.url, body)
                if status in (400, 422):      # TEI's native body: {"query", "texts"}
                    status, data = await _post(session, self.url, {"query": query, "texts": documents,
                                                                   "truncate": True})
        except TimeoutError as e:
            raise LLMError("timeout", "rerank") from e
        except aiohttp.ClientError as e:
            raise LLMError("unavailable", f"rerank: {type(e).__name__}") from e
        if status == 429:
            raise LLMError("rate_limited", "rerank: HTTP 429")
        if status >= 400:
            raise LLMError("unavailable", f"rerank: HTTP {status}")
        order = parse_results(data, len(documents))
        usage = data.get("usage") if isinstance(data, dict) else None
        tokens = 0
        if isinstance(usage, dict):
            tokens = int(usage.get("total_tokens") or usage.get("prompt_tokens") or 0)
        model = (data.get("model") if isinstance(data, dict) else None) or self.model
        return RerankResult(order=order, tokens=tokens, model=str(model or ""),
                            latency_ms=(time.perf_counter() - start) * 1000.0)


async def _post(session: aiohttp.ClientSession, url: str, body: dict) -> tuple[int, Any]:
    async with session.post(url, json=body) as resp:
        if resp.status >= 400:
            await resp.read()
            return resp.status, None
        try:
            return resp.status, await resp.json(content_type=None)
        except ValueError as e:
            raise LLMError("bad_response", "rerank: not JSON") from e


def parse_results(data: Any, n: int) -> list[tuple[int, float]]:
    """(index, score) best first from {"results": [...]} (Cohere, Jina, Infinity) or a bare list (TEI); indices out
    of range or repeated are dropped. Raises LLMError("bad_response") when nothing usable is there."""
    rows = data.get("results") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise LLMError("bad_response", "rerank: no results")
    out: dict[int, float] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        idx, score = row.get("index"), row.get("relevance_score", row.get("score"))
        if isinstance(idx, int) and not isinstance(idx, bool) and 0 <= idx < n and idx not in out \
                and isinstance(score, (int, float)):
            out[idx] = float(score)
    if not out and n:
        raise LLMError("bad_response", "rerank: no usable results")
    return sorted(out.items(), key=lambda kv: -kv[1])
