"""The services every skill receives with every request. Built once by the composition root (bot/app.py
`build_services`) or by tests, and never rebuilt per request: settings are read once, the knowledge index, the
kintone, law and Graph clients exist once per process and are shared by every skill."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol, TypeVar

from core.cache import TTLCache
from core.settings import Settings
from core.timeutil import JST

if TYPE_CHECKING:  # pragma: no cover
    from core.ai import AI
    from core.graph import GraphService
    from core.kintone.client import KintoneClient
    from core.law.client import LawClient
    from core.llm import LLMGateway
    from core.search.index import Index
    from core.skills import Registry, ReplyPort, SkillRequest
    from core.store import Database

T = TypeVar("T")

__all__ = ["Clock", "SendResult", "ProactiveSender", "Services"]


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


Dispatch = Callable[["SkillRequest", "ReplyPort"], Awaitable[str]]


async def _no_dispatch(_req: SkillRequest, _port: ReplyPort) -> str:  # pragma: no cover - replaced at build
    raise RuntimeError("services.dispatch is set by the composition root")


@dataclass
class CoreCaches:
    """Per-process caches of core services (a user's /tier choice, a user's Entra ID groups from Graph, files whose
    use the router asked about)."""

    user_tiers: TTLCache[str, str | None] = field(default_factory=lambda: TTLCache(30.0, max_entries=50_000))
    groups: TTLCache[str, list[str]] = field(default_factory=lambda: TTLCache(900.0, max_entries=50_000))
    # files the router asked the use of ((conversation, user) → attachments): the next words may decide (10 min)
    held_files: TTLCache[tuple[str, str], list] = field(default_factory=lambda: TTLCache(600.0, max_entries=5_000))


@dataclass
class Services:
    registry: Registry
    db: Database
    llm: LLMGateway
    ai: AI
    knowledge: Index                       # the one knowledge index (Q&A, drafting references, planning research)
    kintone: KintoneClient                 # the one kintone client (Q&A hand-off, help desk)
    law: LawClient                         # the one e-Gov client (its cache is shared by every caller)
    settings: Settings = field(default_factory=Settings)
    graph: GraphService | None = None      # Microsoft Graph when configured
    clock: Clock = field(default_factory=Clock)
    proactive: ProactiveSender | None = None
    dispatch: Dispatch = _no_dispatch      # run a request through the router (a skill asking another capability)
    local_admin: bool = False              # anonymous local mode (make run): the local user is an administrator
    caches: CoreCaches = field(default_factory=CoreCaches)
    extras: dict[str, Any] = field(default_factory=dict)   # state that belongs to one skill (its engine, caches)

    def extra(self, key: str, factory: Callable[[], T]) -> T:
        """A per-process singleton owned by one skill, created on first use."""
        if key not in self.extras:
            self.extras[key] = factory()
        return self.extras[key]
