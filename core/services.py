"""The services a skill receives with every request, built once at start (bot/app.py) or by tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from core.ai import AI
from core.llm import LLMGateway
from core.skills import Registry
from core.store import Database

JST = ZoneInfo("Asia/Tokyo")


class Clock:
    """Injectable time source (tests and the scheduler's controlled clock replace it)."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def now_jst(self) -> datetime:
        return self.now().astimezone(JST)


@dataclass
class SendResult:
    ok: bool
    status: int
    activity_id: str | None = None
    gone: bool = False             # the user removed the app / conversation no longer exists (403/404)
    retry_after: float | None = None


class ProactiveSender(Protocol):
    """Proactive messages to a stored conversation (implemented in bot/ over the Bot Framework)."""

    async def send(self, conversation_id: str, *, text: str | None = None, card: dict | None = None,
                   ai_generated: bool = False) -> SendResult: ...


@dataclass
class Services:
    registry: Registry
    db: Database
    llm: LLMGateway
    ai: AI
    clock: Clock = field(default_factory=Clock)
    proactive: ProactiveSender | None = None
    graph: Any = None                      # core.graph.GraphService when configured
    extras: dict[str, Any] = field(default_factory=dict)   # per-skill singletons (news engine, search index …)

    def extra(self, key: str, factory):
        """A per-process singleton owned by one skill, created on first use."""
        if key not in self.extras:
            self.extras[key] = factory()
        return self.extras[key]
