"""Speech-to-text endpoints speaking the OpenAI audio transcription API (`POST /audio/transcriptions`, multipart
`file`, `model`, `language`, `response_format=verbose_json`), reached through the real `openai` client: OpenAI,
Azure OpenAI (`/openai/deployments/{deployment}/audio/transcriptions`) or an on-premise server on the LGWAN
(faster-whisper, vLLM). One endpoint per network tier, configured in SPEECH_ENDPOINTS.

This module only speaks HTTP. Skills never call it directly: `services.ai.transcribe(...)` (core/ai.py) sends a
recording only to an endpoint of the request's tier approved for personal data, and audits the call."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, field_validator

from core.llm import TIERS, LLMError, _map_error
from core.settings import AppSettings


class SpeechSettings(AppSettings):
    section = "llm"
    SPEECH_ENDPOINTS: str = ""
    """Speech-to-text endpoints as JSON list: [{"name","tier","base_url","api_key_env","model","azure","api_version","personal_data"}] (OpenAI-compatible /audio/transcriptions; for Azure, model = the deployment). A recording is sent only to an endpoint of the request's tier with "personal_data": true."""
    SPEECH_TIMEOUT_SECONDS: float = 300.0
    """Timeout of one transcription request (seconds)."""
    SPEECH_MAX_RETRIES: int = 2
    """Retries of a transcription request on 429/5xx/timeouts."""

    @field_validator("SPEECH_ENDPOINTS")
    @classmethod
    def _valid(cls, v: str) -> str:
        if v.strip():
            for raw in json.loads(v):
                spec = SpeechSpec(**raw)
                if spec.tier not in TIERS:
                    raise ValueError(f"speech endpoint {spec.name}: unknown tier {spec.tier!r} (use one of {TIERS})")
        return v


class SpeechSpec(BaseModel):
    name: str
    tier: str = "internet"
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None
    model: str = "whisper-1"
    azure: bool = False
    api_version: str = "2024-10-21"
    personal_data: bool = False


@dataclass
class Segment:
    start: float
    end: float
    text: str


@dataclass
class Transcription:
    text: str
    segments: list[Segment] = field(default_factory=list)
    duration: float | None = None
    model: str = ""


class SpeechEndpoint:
    def __init__(self, spec: SpeechSpec, *, timeout: float, max_retries: int) -> None:
        import openai

        self.spec = spec
        self.name = spec.name
        self.tier = spec.tier
        self.model = spec.model
        self.personal_data = spec.personal_data
        self.client: openai.AsyncOpenAI
        key = spec.api_key or (os.environ.get(spec.api_key_env) if spec.api_key_env else None)
        if spec.azure:
            kwargs: dict[str, Any] = dict(azure_endpoint=spec.base_url, api_version=spec.api_version, timeout=timeout,
                                          max_retries=max_retries)
            if key:
                kwargs["api_key"] = key
            else:
                from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

                kwargs["azure_ad_token_provider"] = get_bearer_token_provider(
                    DefaultAzureCredential(), "https://cognitiveservices.azure.com/.default")
            self.client = openai.AsyncAzureOpenAI(**kwargs)
        else:
            self.client = openai.AsyncOpenAI(api_key=key or "not-needed", base_url=spec.base_url, timeout=timeout,
                                             max_retries=max_retries)

    async def transcribe(self, audio: bytes, filename: str, *, language: str = "ja", prompt: str | None = None,
                         timeout: float | None = None) -> Transcription:
        kwargs: dict[str, Any] = {"file": (filename, audio), "model": self.model, "language": language,
                                  "response_format": "verbose_json"}
        if prompt:
            kwargs["prompt"] = prompt
        if timeout:
            kwargs["timeout"] = timeout
        try:
            resp = await self.client.audio.transcriptions.create(**kwargs)
        except Exception as e:  # noqa: BLE001 - mapped to LLMError
            raise _map_error(e) from e
        data = resp.model_dump() if hasattr(resp, "model_dump") else dict(resp)
        segs = []
        for s in data.get("segments") or []:
            try:
                segs.append(Segment(float(s["start"]), float(s["end"]), str(s.get("text") or "").strip()))
            except (KeyError, TypeError, ValueError):
                continue
        text = str(data.get("text") or "").strip()
        if not text and not segs:
            raise LLMError("bad_response", "empty transcription")
        duration = data.get("duration")
        return Transcription(text=text, segments=segs, model=self.model,
                             duration=float(duration) if isinstance(duration, (int, float)) else None)

    async def close(self) -> None:
        await self.client.close()


class SpeechGateway:
    def __init__(self, settings: SpeechSettings) -> None:
        self.settings = settings
        specs = [SpeechSpec(**raw) for raw in json.loads(settings.SPEECH_ENDPOINTS)] \
            if settings.SPEECH_ENDPOINTS.strip() else []
        self.endpoints = [SpeechEndpoint(s, timeout=settings.SPEECH_TIMEOUT_SECONDS,
                                         max_retries=settings.SPEECH_MAX_RETRIES) for s in specs]

    def for_tier(self, tier: str) -> SpeechEndpoint | None:
        return next((ep for ep in self.endpoints if ep.tier == tier), None)

    async def close(self) -> None:
        for ep in self.endpoints:
            await ep.close()
