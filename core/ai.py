"""Every AI use goes through here: guard (forbidden words, tier, masking) → endpoint → restore → audit.

Skills call `services.ai.chat(...)` / `services.ai.stream(...)`, never an endpoint directly. An `AIRefused` exception
carries a Japanese message for the user; nothing was sent when it is raised. With no LLM configured (`ai.offline`),
skills take their offline path and may record the use with `ai.record_offline(...)`."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, AsyncIterator

from core import embeddings
from core.cache import TTLCache
from core.llm import ChatResult, LLMError, LLMGateway, Usage, elapsed_ms
from core.profiles import department_of
from core.search.rerank import RerankClient
from core.skills import SkillRequest
from core.store import Database
from core.store.db import unavailable as db_unavailable
from core.store.models import UsageEvent, utcnow
from core.telemetry import AI_USES, ERRORS, LLM_DURATION, LLM_TOKENS, tracer

log = logging.getLogger(__name__)

LLM_ERROR_JA = {
    "timeout": "AIの応答が時間内に返りませんでした。少し時間をおいて、もう一度お試しください。",
    "rate_limited": "AIの利用が混み合っています。少し時間をおいて、もう一度お試しください。",
    "unavailable": "AIサービスに接続できませんでした。少し時間をおいて、もう一度お試しください。",
    "bad_response": "AIから正しい応答が得られませんでした。もう一度お試しください。",
}
AUDIT_PENDING_MAX = 10_000       # audit records kept in memory while the database is unreachable


class AIRefused(Exception):
    """The guard refused the request; `message_ja` says why. Nothing left the building."""

    def __init__(self, message_ja: str, reason: str) -> None:
        super().__init__(reason)
        self.message_ja = message_ja
        self.reason = reason


class AIFailed(Exception):
    """The endpoint failed after retries; `message_ja` is safe to show."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind
        self.message_ja = LLM_ERROR_JA.get(kind, LLM_ERROR_JA["unavailable"])


@dataclass
class AIAnswer:
    text: str
    tool_calls: list = field(default_factory=list)
    tier: str = ""
    endpoint: str = ""
    model: str = ""
    masked: dict[str, int] = field(default_factory=dict)
    masked_note: str = ""          # 「氏名1件…を伏せて送信しました」, for the card
    usage: Usage = field(default_factory=Usage)


class AIStream:
    """Async iterator of restored text deltas; `.answer` is filled once the stream is exhausted."""

    def __init__(self, gen: AsyncIterator[str], answer: AIAnswer) -> None:
        self._gen = gen
        self.answer = answer

    def __aiter__(self):
        return self._gen.__aiter__()


class AI:
    def __init__(self, gateway: LLMGateway, guard: Any, db: Database, *, keep_prompts: bool = False) -> None:
        self.gateway = gateway
        self.guard = guard
        self.db = db
        self.keep_prompts = keep_prompts
        self._departments: TTLCache[str, str | None] = TTLCache(600.0, max_entries=50_000)   # user id -> department
        self._pending: list[dict] = []           # audit records waiting for the database (see _write)
        self._flusher: asyncio.Task | None = None

    @property
    def offline(self) -> bool:
        return self.gateway.offline

    async def chat(self, req: SkillRequest, skill: str, messages: list[dict], *, tools: list[dict] | None = None,
                   tool_choice: Any = None, tier: str | None = None, temperature: float | None = 0.2,
                   max_tokens: int | None = None, timeout: float | None = None, step: str | None = None,
                   response_format: dict | None = None) -> AIAnswer:
        """`step` names a call made inside one use ("rewrite" of a question before search, LLM "rerank"): it is
        audited like any call (tokens, latency) with outcome "step" and reason `step`, never counted as a use.
        A message's content may be a list of parts (text and `image_url` parts, OpenAI's vision input): the text parts
        are checked and masked like plain content; images pass as given, so a caller sending photos prepares them
        for the tier first (e.g. blurs faces, strips metadata). `response_format` asks for structured output."""
        decision, sent = await self._prepare(req, skill, messages, tier, step=step)
        start = time.perf_counter()
        try:
            with tracer.start_as_current_span("llm.chat", attributes={"skill": skill, "tier": decision.tier,
                                                                       "endpoint": decision.endpoint.name}):
                result: ChatResult = await decision.endpoint.chat(sent, tools=tools, tool_choice=tool_choice,
                                                                  temperature=temperature, max_tokens=max_tokens,
                                                                  timeout=timeout, response_format=response_format)
        except LLMError as e:
            await self._audit(req, skill, decision, outcome="error", reason=e.kind, latency=elapsed_ms(start),
                              sent=sent, step=step)
            raise AIFailed(e.kind) from e
        answer = self._answer(decision, result.usage, result.model)
        answer.text = decision.session.restore(result.text)
        for call in result.tool_calls:
            call.arguments = _restore_obj(call.arguments, decision.session)
        answer.tool_calls = result.tool_calls
        await self._audit(req, skill, decision, outcome="ok", latency=elapsed_ms(start), sent=sent,
                          usage=result.usage, model=result.model, step=step)
        return answer

    async def stream(self, req: SkillRequest, skill: str, messages: list[dict], *, tier: str | None = None,
                     tools: list[dict] | None = None, temperature: float | None = 0.2, max_tokens: int | None = None,
                     timeout: float | None = None) -> AIStream:
        decision, sent = await self._prepare(req, skill, messages, tier)
        answer = self._answer(decision, Usage(), decision.endpoint.model)

        async def gen() -> AsyncIterator[str]:
            start = time.perf_counter()
            pending = ""
            outcome, reason = "ok", None
            try:
                async for delta in decision.endpoint.stream(sent, usage=answer.usage, tools=tools,
                                                            calls=answer.tool_calls, temperature=temperature,
                                                            max_tokens=max_tokens, timeout=timeout):
                    pending += delta
                    cut = _safe_cut(pending)
                    if cut:
                        out = decision.session.restore(pending[:cut])
                        pending = pending[cut:]
                        answer.text += out
                        yield out
                if pending:
                    out = decision.session.restore(pending)
                    answer.text += out
                    yield out
                for call in answer.tool_calls:
                    call.arguments = _restore_obj(call.arguments, decision.session)
            except LLMError as e:
                outcome, reason = "error", e.kind
                raise AIFailed(e.kind) from e
            except BaseException:
                outcome, reason = "stopped", "cancelled"
                raise
            finally:
                await self._audit(req, skill, decision, outcome=outcome, reason=reason, latency=elapsed_ms(start),
                                  sent=sent, usage=answer.usage, model=answer.model)

        return AIStream(gen(), answer)

    @property
    def embeddings_tier(self) -> str:
        """Search embeddings use one endpoint, the default tier's, so that questions and documents share a space."""
        return self.guard.settings.GUARD_DEFAULT_TIER

    def _local_embeddings(self) -> bool:
        """No endpoint embeds for the default tier, EMBEDDINGS_LOCAL is on and the in-process model is usable."""
        return (self.gateway.embedder(self.embeddings_tier) is None
                and bool(getattr(self.gateway.settings, "EMBEDDINGS_LOCAL", False)) and embeddings.status().available)

    @property
    def embeds_locally(self) -> bool:
        """Search embeddings are computed in this process: nothing is sent anywhere, whatever the text."""
        return self._local_embeddings()

    @property
    def can_embed(self) -> bool:
        return self.gateway.embedder(self.embeddings_tier) is not None or self._local_embeddings()

    @property
    def embeddings_space(self) -> str:
        """Names the vectors `embed` makes for documents: vectors stored under another name are not comparable."""
        ep = self.gateway.embedder(self.embeddings_tier)
        if ep is not None:
            return f"{ep.spec.embeddings_model}|{ep.spec.embeddings_document_prefix}"
        return embeddings.SPACE if self._local_embeddings() else ""

    @property
    def search_mode(self) -> str:
        """How /ask searches, for /readyz: "hybrid (endpoint <name>)", "hybrid (in-process multilingual-e5-small)"
        or "bm25 (<why>)"."""
        ep = self.gateway.embedder(self.embeddings_tier)
        if ep is not None:
            return f"hybrid (endpoint {ep.name})"
        if not getattr(self.gateway.settings, "EMBEDDINGS_LOCAL", False):
            return "bm25 (no embeddings endpoint for the default tier and EMBEDDINGS_LOCAL is off)"
        st = embeddings.status()
        if not st.available:
            return f"bm25 (no embeddings endpoint for the default tier; in-process model unavailable: {st.reason})"
        return f"hybrid (in-process {embeddings.MODEL})"

    async def embed(self, texts: list[str], purpose: str = "document") -> list[list[float]]:
        """Vectors for search (`purpose` "query" or "document"). An endpoint configured for the default tier wins;
        what is sent to it goes through the guard like every call that leaves: a forbidden word refuses the call,
        personal data is masked unless the endpoint may receive it. Without one, the in-process model embeds
        (EMBEDDINGS_LOCAL): no guard there, since nothing leaves the process. Raises AIRefused or AIFailed; the
        search index then keeps to BM25 for those texts."""
        tier = self.embeddings_tier
        ep = self.gateway.embedder(tier)
        if ep is None:
            if self._local_embeddings():
                try:
                    return await embeddings.embedder().embed(texts, purpose)
                except Exception as e:  # noqa: BLE001 - the model failing to load or run: BM25 for these texts
                    log.warning("in-process embeddings failed: %s", e)
                    raise AIFailed("unavailable") from e
            raise AIRefused("検索用の埋め込みの接続先が設定されていません。", "no_endpoint")
        decision = self.guard.decide(texts, tier)
        if not decision.allowed:
            raise AIRefused(decision.refusal or "AIの接続先が設定されていません。", decision.reason or "no_endpoint")
        sent = [decision.session.mask(t) for t in texts] if decision.masking else texts
        if decision.masking and decision.session.counts:  # kinds and counts only, never the values
            log.info("embeddings: personal data masked before sending %d text(s): %s", len(texts),
                     decision.session.counts)
        try:
            return await ep.embed(sent, purpose)
        except LLMError as e:
            raise AIFailed(e.kind) from e

    async def record_offline(self, req: SkillRequest, skill: str, *, outcome: str = "offline",
                             reason: str | None = None) -> None:
        """Count a use served without an LLM (template / extractive output), or record the outcome of a use whose
        AI calls were audited on their own (`reason`: a short code of why, e.g. "not_found")."""
        await self._write(UsageEvent(user_id=req.user_id, aad_object_id=req.aad_object_id,
                                     department=await self._department(req), conversation_id=req.conversation_id,
                                     skill=skill, command=req.command, outcome=outcome, reason=reason,
                                     correlation_id=req.correlation_id))

    async def rerank(self, req: SkillRequest, query: str, documents: list[str], *, client: RerankClient,
                     skill: str = "qa", top_n: int | None = None) -> list[int]:
        """Indices of `documents`, most relevant to `query` first, from a rerank endpoint (core/search/rerank.py).
        Through the guard like every call that leaves: a 禁止ワード refuses it; the endpoint belongs to one tier
        (RERANK_TIER, else the default tier) and a request of any other tier never reaches it; the query and the
        documents are always masked, in one session so that a name is the same placeholder on both sides (ordering
        needs no personal data). One audit record: outcome "step", reason "rerank", latency, tokens when the server
        reports them. Raises AIRefused (nothing was sent) or AIFailed."""
        decision = self.guard.decide([query, *documents], req.tier)
        target = SimpleNamespace(name=client.name, model=client.model)
        audit = SimpleNamespace(tier=decision.tier, endpoint=target, session=decision.session, masking=True)
        reason = decision.reason if decision.reason in ("forbidden_word", "unknown_tier") else None
        if reason is None and not client.configured:
            reason = "no_endpoint"
        if reason is None and decision.tier != client.tier(self.guard.settings.GUARD_DEFAULT_TIER):
            reason = "no_endpoint_for_tier"
        if reason is not None:
            audit.endpoint = None
            await self._audit(req, skill, audit, outcome="refused", reason=reason, latency=0.0, sent=None,
                              step="rerank")
            raise AIRefused(decision.refusal if reason in ("forbidden_word", "unknown_tier") and decision.refusal
                            else "この区分で利用を認められた並べ替え（リランク）の接続先がありません。", reason)
        masked_query = decision.session.mask(query)
        masked_docs = [decision.session.mask(d) for d in documents]
        sent = [{"content": t} for t in (masked_query, *masked_docs)]
        start = time.perf_counter()
        try:
            with tracer.start_as_current_span("rerank", attributes={"skill": skill, "tier": decision.tier}):
                result = await client.rerank(masked_query, masked_docs, top_n=top_n)
        except LLMError as e:
            await self._audit(req, skill, audit, outcome="error", reason=e.kind, latency=elapsed_ms(start),
                              sent=sent, step="rerank")
            raise AIFailed(e.kind) from e
        await self._audit(req, skill, audit, outcome="ok", latency=elapsed_ms(start), sent=sent,
                          usage=Usage(result.tokens, 0), model=result.model or None, step="rerank")
        return [i for i, _ in result.order]

    async def transcribe(self, req: SkillRequest, skill: str, audio: bytes, filename: str, *, speech: Any,
                         tier: str | None = None, language: str = "ja", timeout: float | None = None,
                         step: str | None = None) -> Any:
        """Speech to text through `speech` (core.speech.SpeechGateway). A recording cannot be masked, so it goes only
        to an endpoint of the request's tier approved for personal data; else AIRefused and nothing is sent. Audited
        like a chat call (outcome "step" when `step` names a piece of a longer recording). Raises AIFailed."""
        tier = tier or req.tier or self.guard.settings.GUARD_DEFAULT_TIER
        ep = speech.for_tier(tier)
        audit = SimpleNamespace(tier=tier, endpoint=ep, session=None, masking=False)
        if ep is None or not ep.personal_data:
            audit.endpoint = None
            await self._audit(req, skill, audit, outcome="refused", reason="no_endpoint_for_tier", latency=0.0,
                              sent=None, step=step)
            raise AIRefused("この区分で個人情報の取扱いを認められた音声認識の接続先がないため、録音は送信しませんでした。",
                            "no_endpoint_for_tier")
        start = time.perf_counter()
        try:
            with tracer.start_as_current_span("speech.transcribe", attributes={"skill": skill, "tier": tier}):
                result = await ep.transcribe(audio, filename, language=language, timeout=timeout)
        except LLMError as e:
            await self._audit(req, skill, audit, outcome="error", reason=e.kind, latency=elapsed_ms(start), sent=None,
                              step=step)
            raise AIFailed(e.kind) from e
        await self._audit(req, skill, audit, outcome="ok", latency=elapsed_ms(start), sent=None, model=result.model,
                          step=step)
        return result

    # -- internals ---------------------------------------------------------------------------------------------

    async def _prepare(self, req: SkillRequest, skill: str, messages: list[dict], tier: str | None,
                       step: str | None = None):
        texts = [t for m in messages for t in _texts_of(m.get("content"))]
        decision = self.guard.decide(texts, tier or req.tier)
        if decision.refusal or decision.endpoint is None:
            reason = decision.reason or "no_endpoint"
            await self._audit(req, skill, decision, outcome="refused", reason=reason, latency=0.0, sent=None,
                              step=step)
            raise AIRefused(decision.refusal or "AIの接続先が設定されていません。", reason)
        sent = self.guard.mask_messages(messages, decision.session) if decision.masking else messages
        return decision, sent

    def _answer(self, decision, usage: Usage, model: str) -> AIAnswer:
        note = decision.session.summary_ja() if decision.masking else ""
        if note and any(ep.personal_data for ep in self.gateway.endpoints):
            note += "（個人情報を伏せずに扱える区分は /tier で選べます）"
        return AIAnswer(text="", tier=decision.tier, endpoint=decision.endpoint.name, model=model,
                        masked=dict(decision.session.counts) if decision.masking else {},
                        masked_note=note, usage=usage)

    async def _department(self, req: SkillRequest) -> str | None:
        """The user's department for the audit record (cached for 10 minutes per process)."""
        if req.user_id in self._departments:
            return self._departments.get(req.user_id)
        dept = await department_of(self.db, req.user_id)
        self._departments.put(req.user_id, dept)
        return dept

    async def _audit(self, req: SkillRequest, skill: str, decision, *, outcome: str, latency: float,
                     sent: list[dict] | None, reason: str | None = None, usage: Usage | None = None,
                     model: str | None = None, step: str | None = None) -> None:
        if step:  # a call inside one use: its cost is audited, but it is not a use of its own (KPI counts outcomes)
            if outcome == "error":
                ERRORS.add(1, {"where": "llm", "reason": reason or ""})
            reason = step if outcome == "ok" else f"{step}:{reason or outcome}"
            outcome = "step"
        endpoint = getattr(decision, "endpoint", None)
        attrs = {"skill": skill, "outcome": outcome, "tier": str(getattr(decision, "tier", "") or "")}
        AI_USES.add(1, attrs)
        if outcome == "error":
            ERRORS.add(1, {"where": "llm", "reason": reason or ""})
        if endpoint is not None and outcome != "refused":
            LLM_DURATION.record(latency, {"skill": skill, "endpoint": endpoint.name})
            if usage:
                LLM_TOKENS.add(usage.prompt_tokens, {"kind": "prompt", "skill": skill})
                LLM_TOKENS.add(usage.completion_tokens, {"kind": "completion", "skill": skill})
        prompt_text = None
        if self.keep_prompts and sent is not None and getattr(decision, "masking", True):
            prompt_text = "\n".join(m["content"] for m in sent if isinstance(m.get("content"), str))[:20000]
        masking = getattr(decision, "masking", False)
        await self._write(UsageEvent(
            user_id=req.user_id, aad_object_id=req.aad_object_id, department=await self._department(req),
            conversation_id=req.conversation_id, skill=skill, command=req.command, tier=getattr(decision, "tier", None),
            endpoint=endpoint.name if endpoint else None, model=model or (endpoint.model if endpoint else None),
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            masked=dict(decision.session.counts) if masking else {}, latency_ms=latency, outcome=outcome,
            reason=reason, prompt_text=prompt_text, correlation_id=req.correlation_id))

    async def _write(self, event: UsageEvent) -> None:
        if event.created_at is None:
            event.created_at = utcnow()            # when it happened, also when written later
        values = {c.key: getattr(event, c.key) for c in UsageEvent.__table__.columns if c.key != "id"}
        try:
            async with self.db.session() as s:
                s.add(event)
        except Exception as e:  # noqa: BLE001 - never lose the user's answer because the audit write failed
            if not db_unavailable(e):
                log.exception("audit write failed (skill=%s outcome=%s)", event.skill, event.outcome)
                return
            # The database is away (outage, failover): the record is kept in this process and written when it
            # returns. Lost only if the process ends first (logged at shutdown) or more than AUDIT_PENDING_MAX wait.
            if len(self._pending) >= AUDIT_PENDING_MAX:
                self._pending.pop(0)
                log.error("audit record dropped: %d records already wait for the database", AUDIT_PENDING_MAX)
            self._pending.append(values)
            log.warning("audit write deferred: database unavailable (%d waiting)", len(self._pending))
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.get_running_loop().create_task(self._write_pending())

    @property
    def audit_pending(self) -> int:
        """Audit records kept in memory while the database was unreachable, not written yet."""
        return len(self._pending)

    async def _write_pending(self) -> None:
        """Write the deferred audit records once the database answers again (retried with backoff up to 15 s)."""
        delay = 0.5
        while self._pending:
            await asyncio.sleep(delay)
            batch = list(self._pending)
            departments: dict[str, str | None] = {}
            for v in batch:              # the lookup failed with the database away: try again now, once a user
                uid = v.get("user_id")
                if v.get("department") is None and uid:
                    if uid not in departments:
                        departments[uid] = await department_of(self.db, uid)
                    v["department"] = departments[uid]
            try:
                async with self.db.session() as s:
                    s.add_all([UsageEvent(**v) for v in batch])
            except Exception as e:  # noqa: BLE001 - keep them and try again
                if not db_unavailable(e):
                    log.exception("deferred audit write failed; %d records dropped", len(batch))
                    del self._pending[:len(batch)]
                    return
                delay = min(delay * 2, 15.0)
                continue
            del self._pending[:len(batch)]
            log.info("deferred audit records written: %d", len(batch))

    async def close(self) -> None:
        """At shutdown: one last try for deferred audit records; what cannot be written is said in the log."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        if self._pending:
            try:
                async with self.db.session() as s:
                    s.add_all([UsageEvent(**v) for v in self._pending])
                self._pending.clear()
            except Exception as e:  # noqa: BLE001 - shutting down
                log.error("%d audit records could not be written before shutdown (%s)", len(self._pending),
                          type(e).__name__)


def _texts_of(content: Any) -> list[str]:
    """The text of a message's content: the string itself, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text"
                and isinstance(p.get("text"), str)]
    return []


def _safe_cut(text: str) -> int:
    """How much of a streamed buffer can be restored now: hold back an unclosed placeholder bracket."""
    for open_ch, close_ch in (("［", "］"), ("[", "]")):
        i = text.rfind(open_ch)
        if i != -1 and close_ch not in text[i:] and len(text) - i < 16:
            return i
    return len(text)


def _restore_obj(value: Any, session) -> Any:
    if isinstance(value, str):
        return session.restore(value)
    if isinstance(value, list):
        return [_restore_obj(v, session) for v in value]
    if isinstance(value, dict):
        return {k: _restore_obj(v, session) for k, v in value.items()}
    return value
