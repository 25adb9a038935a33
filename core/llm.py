"""LLM gateway over the `openai` package: OpenAI, Azure OpenAI, or any OpenAI-compatible base URL.

One `Endpoint` per configured server. The default endpoint comes from OPENAI_* / AZURE_OPENAI_*; more endpoints
(one per network tier, e.g. an on-premise server on the LGWAN) come from LLM_ENDPOINTS. Retries with backoff on
429/5xx honouring Retry-After are the openai client's own (bounded by LLM_MAX_RETRIES); every call has a timeout.

With nothing configured the gateway is *offline*: skills then produce honest template / extractive output and
label it as such (see ARCHITECTURE: offline mode is a product feature)."""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, TypedDict

from pydantic import BaseModel

from core.settings import AppSettings

log = logging.getLogger(__name__)

TIERS = ("internet", "lgwan", "mynumber")


class LLMSettings(AppSettings):
    section = "llm"
    OPENAI_API_KEY: str | None = None
    """OpenAI (or compatible server) API key. Setting it (or AZURE_OPENAI_ENDPOINT) leaves offline mode."""
    OPENAI_BASE_URL: str | None = None
    """Base URL of an OpenAI-compatible server (e.g. an on-premise server); empty = api.openai.com."""
    OPENAI_MODEL: str = "gpt-4o-mini"
    """Chat model name (OpenAI) — for Azure the deployment name is AZURE_OPENAI_DEPLOYMENT."""
    AZURE_OPENAI_ENDPOINT: str | None = None
    """Azure OpenAI endpoint, https://<resource>.openai.azure.com."""
    AZURE_OPENAI_API_KEY: str | None = None
    """Azure OpenAI key; when empty, DefaultAzureCredential (managed identity) is used."""
    AZURE_OPENAI_DEPLOYMENT: str = "gpt-4o-mini"
    """Azure OpenAI chat deployment name."""
    OPENAI_API_VERSION: str = "2024-10-21"
    """Azure OpenAI API version."""
    EMBEDDINGS_MODEL: str | None = None
    """Embeddings model / deployment of the default endpoint (hybrid retrieval through it); empty = the in-process model (EMBEDDINGS_LOCAL), else BM25 only."""
    EMBEDDINGS_QUERY_PREFIX: str = ""
    """Put before a search question when it is embedded, for models trained so (e5: "query: ", ruri-v3: "検索クエリ: ")."""
    EMBEDDINGS_DOCUMENT_PREFIX: str = ""
    """Put before a document passage when it is embedded (e5: "passage: ", ruri-v3: "検索文書: ")."""
    EMBEDDINGS_LOCAL: bool = True
    """Without an embeddings endpoint for the default tier, embed in-process with the bundled multilingual-e5-small (nothing is sent or downloaded); off = BM25 only."""
    LLM_TIER: str = "internet"
    """Network tier of the default endpoint: internet | lgwan | mynumber."""
    LLM_PERSONAL_DATA: bool = False
    """May the default endpoint receive personal data unmasked? Off = mask everything detected (safe default)."""
    LLM_ENDPOINTS: str | None = None
    """More endpoints as JSON list: [{"name","tier","base_url","api_key_env","model","azure","personal_data"}]; for hybrid search also "embeddings_model", "embeddings_query_prefix", "embeddings_document_prefix"."""
    LLM_TIMEOUT_SECONDS: float = 60.0
    """Timeout of one LLM call (seconds)."""
    LLM_MAX_RETRIES: int = 2
    """Retries on 429/5xx/timeouts (exponential backoff, Retry-After honoured)."""


class EndpointSpec(BaseModel):
    name: str
    tier: str = "internet"
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None
    model: str = "gpt-4o-mini"
    embeddings_model: str | None = None
    embeddings_query_prefix: str = ""
    embeddings_document_prefix: str = ""
    azure: bool = False
    api_version: str = "2024-10-21"
    personal_data: bool = False


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class ChatResult:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    endpoint: str = ""
    finish_reason: str | None = None


class LLMError(Exception):
    """An LLM call failed after its retries. `kind` is one of timeout | rate_limited | unavailable | bad_response."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


class _EmbeddingsFields(TypedDict):
    embeddings_model: str | None
    embeddings_query_prefix: str
    embeddings_document_prefix: str


def endpoint_specs(s: LLMSettings) -> list[EndpointSpec]:
    specs: list[EndpointSpec] = []
    embeddings = _EmbeddingsFields(embeddings_model=s.EMBEDDINGS_MODEL,
                                   embeddings_query_prefix=s.EMBEDDINGS_QUERY_PREFIX,
                                   embeddings_document_prefix=s.EMBEDDINGS_DOCUMENT_PREFIX)
    if s.AZURE_OPENAI_ENDPOINT:
        specs.append(EndpointSpec(name="azure", tier=s.LLM_TIER, base_url=s.AZURE_OPENAI_ENDPOINT,
                                  api_key=s.AZURE_OPENAI_API_KEY, model=s.AZURE_OPENAI_DEPLOYMENT, azure=True,
                                  api_version=s.OPENAI_API_VERSION, personal_data=s.LLM_PERSONAL_DATA,
                                  **embeddings))
    elif s.OPENAI_API_KEY or s.OPENAI_BASE_URL:
        specs.append(EndpointSpec(name="openai", tier=s.LLM_TIER, base_url=s.OPENAI_BASE_URL,
                                  api_key=s.OPENAI_API_KEY or "not-needed", model=s.OPENAI_MODEL,
                                  personal_data=s.LLM_PERSONAL_DATA, **embeddings))
    if s.LLM_ENDPOINTS:
        for raw in json.loads(s.LLM_ENDPOINTS):
            spec = EndpointSpec(**raw)
            if spec.api_key_env and not spec.api_key:
                spec.api_key = os.environ.get(spec.api_key_env)
            specs.append(spec)
    for spec in specs:
        if spec.tier not in TIERS:
            raise ValueError(f"endpoint {spec.name}: unknown tier {spec.tier!r} (use one of {TIERS})")
    return specs


def _tool_arguments(raw: str | None) -> dict:
    """A tool call's arguments: the model's JSON object, or {} when it wrote something else."""
    try:
        args = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return args if isinstance(args, dict) else {}

class Endpoint:
    """One OpenAI-compatible server reached through the real `openai` async client."""

    def __init__(self, spec: EndpointSpec, *, timeout: float, max_retries: int) -> None:
        import openai

        self.spec = spec
        self.name = spec.name
        self.tier = spec.tier
        self.model = spec.model
        self.personal_data = spec.personal_data
        self.client: openai.AsyncOpenAI  # AsyncAzureOpenAI is a subclass
        if spec.azure:
            kwargs: dict[str, Any] = dict(azure_endpoint=spec.base_url, api_version=spec.api_version,
                                          timeout=timeout, max_retries=max_retries)
            if spec.api_key:
                kwargs["api_key"] = spec.api_key
            else:
                from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

                kwargs["azure_ad_token_provider"] = get_bearer_token_provider(
                    DefaultAzureCredential(), "https://cognitiveservices.azure.com/.default")
            self.client = openai.AsyncAzureOpenAI(**kwargs)
        else:
            self.client = openai.AsyncOpenAI(api_key=spec.api_key or "not-needed", base_url=spec.base_url,
                                             timeout=timeout, max_retries=max_retries)

    def _request(self, messages: list[dict], *, tools: list[dict] | None, tool_choice: Any = None,
                 temperature: float | None, max_tokens: int | None, timeout: float | None,
                 **extra: Any) -> dict[str, Any]:
        """The keyword arguments of one chat.completions.create call (chat and stream alike); unset options are
        left out, so that the server's defaults apply."""
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, **extra}
        if tools:
            kwargs["tools"] = tools
            if tool_choice is not None:
                kwargs["tool_choice"] = tool_choice
        if temperature is not None:
            kwargs["temperature"] = temperature
        if max_tokens:
            kwargs["max_tokens"] = max_tokens
        if timeout:
            kwargs["timeout"] = timeout
        return kwargs

    async def chat(self, messages: list[dict], *, tools: list[dict] | None = None, tool_choice: Any = None,
                   temperature: float | None = 0.2, max_tokens: int | None = None,
                   timeout: float | None = None, response_format: dict | None = None) -> ChatResult:
        """`response_format` is passed as given (e.g. {"type": "json_schema", "json_schema": {…}}); support varies by
        model and server, so callers validate the answer."""
        extra: dict[str, Any] = {"response_format": response_format} if response_format else {}
        kwargs = self._request(messages, tools=tools, tool_choice=tool_choice, temperature=temperature,
                               max_tokens=max_tokens, timeout=timeout, **extra)
        resp = await _call(self.client.chat.completions.create(**kwargs))
        if not resp.choices:
            raise LLMError("bad_response", "no choices")
        choice = resp.choices[0]
        calls = [ToolCall(id=tc.id, name=tc.function.name, arguments=_tool_arguments(tc.function.arguments))
                 for tc in choice.message.tool_calls or []]
        usage = Usage(resp.usage.prompt_tokens, resp.usage.completion_tokens) if resp.usage else Usage()
        return ChatResult(text=choice.message.content or "", tool_calls=calls, usage=usage,
                          model=resp.model or self.model, endpoint=self.name, finish_reason=choice.finish_reason)

    async def stream(self, messages: list[dict], *, usage: Usage, tools: list[dict] | None = None,
                     calls: list[ToolCall] | None = None, temperature: float | None = 0.2,
                     max_tokens: int | None = None, timeout: float | None = None) -> AsyncIterator[str]:
        """Yield text deltas; fills `usage` from the final chunk when the server reports it, and `calls` with the
        tool calls the model streamed (their arguments arrive in pieces and are joined here)."""
        kwargs = self._request(messages, tools=tools, temperature=temperature, max_tokens=max_tokens, timeout=timeout,
                               stream=True, stream_options={"include_usage": True})
        parts: dict[int, dict[str, str]] = {}
        stream = await _call(self.client.chat.completions.create(**kwargs))
        try:
            async for chunk in stream:
                if chunk.usage:
                    usage.prompt_tokens = chunk.usage.prompt_tokens
                    usage.completion_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices or []:
                    if not choice.delta:
                        continue
                    for tc in choice.delta.tool_calls or []:
                        part = parts.setdefault(tc.index, {"id": "", "name": "", "args": ""})
                        part["id"] = tc.id or part["id"]
                        if tc.function:
                            part["name"] += tc.function.name or ""
                            part["args"] += tc.function.arguments or ""
                    if choice.delta.content:
                        yield choice.delta.content
        except Exception as e:  # noqa: BLE001 - mapped to LLMError below
            raise _map_error(e) from e
        finally:
            await stream.close()
        if calls is not None:
            calls.extend(ToolCall(id=part["id"], name=part["name"], arguments=_tool_arguments(part["args"]))
                         for _, part in sorted(parts.items()))

    async def embed(self, texts: list[str], purpose: str = "document") -> list[list[float]]:
        """Vectors for `texts`, a search question's (`purpose="query"`) or document passages' (the default), each
        with the endpoint's prefix for that purpose: asymmetric models (e5, ruri) are trained with one."""
        model = self.spec.embeddings_model
        if not model:
            raise LLMError("unavailable", "no embeddings model configured")
        prefix = self.spec.embeddings_query_prefix if purpose == "query" else self.spec.embeddings_document_prefix
        resp = await _call(self.client.embeddings.create(model=model, input=[prefix + t for t in texts]))
        return [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]

    async def close(self) -> None:
        await self.client.close()


async def _call(awaitable):
    try:
        return await awaitable
    except LLMError:
        raise
    except Exception as e:  # noqa: BLE001
        raise _map_error(e) from e


def _map_error(e: Exception) -> LLMError:
    import openai

    if isinstance(e, LLMError):
        return e
    if isinstance(e, openai.APITimeoutError):
        return LLMError("timeout", str(e))
    if isinstance(e, openai.RateLimitError):
        return LLMError("rate_limited", str(e))
    if isinstance(e, (openai.APIConnectionError, openai.InternalServerError)):
        return LLMError("unavailable", str(e))
    if isinstance(e, openai.APIStatusError):
        return LLMError("unavailable", f"HTTP {e.status_code}")
    return LLMError("bad_response", f"{type(e).__name__}: {e}")


class LLMGateway:
    """All configured endpoints. `offline` when there are none."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.endpoints: list[Endpoint] = [
            Endpoint(spec, timeout=settings.LLM_TIMEOUT_SECONDS, max_retries=settings.LLM_MAX_RETRIES)
            for spec in endpoint_specs(settings)]

    @property
    def offline(self) -> bool:
        return not self.endpoints

    def for_tier(self, tier: str) -> Endpoint | None:
        """The first endpoint approved for this tier (an endpoint never serves another tier)."""
        for ep in self.endpoints:
            if ep.tier == tier:
                return ep
        return None

    def embedder(self, tier: str) -> Endpoint | None:
        ep = self.for_tier(tier)
        return ep if ep and ep.spec.embeddings_model else None

    async def close(self) -> None:
        for ep in self.endpoints:
            await ep.close()


def elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
