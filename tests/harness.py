"""Test harness: a recording ReplyPort, services on a real database, and the real aiohttp app on loopback."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Sequence

from aiohttp import web

from core.skills import Citation, SkillRequest


@dataclass
class Sent:
    kind: str                      # text | card | update | refresh | inform | stream | file
    text: str | None = None
    card: dict | None = None
    ai_generated: bool = False
    citations: Sequence[Citation] = ()
    feedback: bool = False
    file: tuple[str, bytes, str] | None = None


@dataclass
class RecorderPort:
    """An in-memory ReplyPort for unit tests of skills (the wire is tested with the real app elsewhere)."""

    sent: list[Sent] = field(default_factory=list)
    personal: bool = True

    async def send_text(self, text, *, ai_generated=False, citations=(), feedback=False):
        self.sent.append(Sent("text", text=text, ai_generated=ai_generated, citations=citations, feedback=feedback))
        return f"id-{len(self.sent)}"

    async def send_card(self, card, *, ai_generated=False, citations=(), feedback=False, text=None):
        self.sent.append(Sent("card", text=text, card=card, ai_generated=ai_generated, citations=citations,
                              feedback=feedback))
        return f"id-{len(self.sent)}"

    async def update_card(self, activity_id, card):
        self.sent.append(Sent("update", card=card, text=activity_id))

    async def refresh_card(self, card):
        self.sent.append(Sent("refresh", card=card))

    async def inform(self, text):
        self.sent.append(Sent("inform", text=text))

    async def stream(self, chunks: AsyncIterator[str], *, ai_generated=True, citations=(), feedback=True,
                     final_card=None):
        text = "".join([c async for c in chunks])
        self.sent.append(Sent("stream", text=text, card=final_card, ai_generated=ai_generated, citations=citations,
                              feedback=feedback))
        return text

    async def send_file(self, name, content, content_type, *, description=""):
        self.sent.append(Sent("file", text=description, file=(name, content, content_type)))
        return f"id-{len(self.sent)}"

    def texts(self) -> list[str]:
        return [s.text for s in self.sent if s.text]

    def cards(self) -> list[dict]:
        return [s.card for s in self.sent if s.card]

    def last(self) -> Sent:
        return self.sent[-1]


def card_nodes(card: Any, match: Callable[[dict], bool]) -> list[dict]:
    """Every object of an Adaptive Card (nested at any depth, in document order) for which `match` is true."""
    out: list[dict] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if match(node):
                out.append(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(card)
    return out


def make_request(text: str = "", **kw: Any) -> SkillRequest:
    base = dict(user_id="29:user-1", aad_object_id="00000000-0000-0000-0000-0000000000aa", user_name="尼崎 太郎",
                tenant_id="tenant-1", conversation_id="a:personal-1", conversation_type="personal", text=text,
                correlation_id="test")
    base.update(kw)
    return SkillRequest(**base)


def make_services(db, *, llm_env: dict[str, str] | None = None, guard_env: dict[str, str] | None = None):
    """Services exactly as the app builds them, on the given database. `llm_env` configures the LLM gateway
    (e.g. {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": stub.base_url}); empty = offline mode."""
    from bot.app import build_services
    from core.guard.policy import GuardSettings
    from core.llm import LLMSettings

    llm = LLMSettings(_env_file=None, **{"OPENAI_API_KEY": None, **(llm_env or {})})
    guard = GuardSettings(_env_file=None, **(guard_env or {}))
    return build_services(db=db, llm_settings=llm, guard_settings=guard)


@contextlib.asynccontextmanager
async def running_bot(services, *, background: bool = False, **settings_kw):
    """The real aiohttp app (create_app) on 127.0.0.1:<free port>. Yields its base URL. Scheduled background work
    (digests, pollers) is off unless `background=True`: tests drive it themselves with a controlled clock."""
    from bot.app import BACKGROUND_ON, create_app
    from bot.config import BotSettings

    settings = BotSettings(_env_file=None, **{"HOST": "127.0.0.1", "PORT": 0, **settings_kw})
    app = create_app(settings, services)
    app[BACKGROUND_ON] = background
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def receive_file(url: str, connector, upload, *, timeout: float = 10.0) -> tuple[str, bytes]:
    """Play the Teams side of the file-consent flow: find the latest consent card the bot sent, accept it with an
    upload URL on `upload` (tests.standins.upload.UploadStandIn), and return (file name, the uploaded bytes)."""
    import aiohttp

    consent = "application/vnd.microsoft.teams.card.file.consent"
    acts = await connector.wait_for(lambda a: any(att.get("contentType") == consent for x in a
                                                  for att in x.get("attachments") or []), timeout=timeout)
    att = [att for x in acts for att in x.get("attachments") or [] if att.get("contentType") == consent][-1]
    n = len(connector.posts)
    invoke = connector.activity(None, type="invoke", name="fileConsent/invoke",
                                value={"type": "fileUpload", "action": "accept",
                                       "context": att["content"]["acceptContext"],
                                       "uploadInfo": upload.upload_info(att["name"])})
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", json=invoke) as r:
            assert r.status == 200
    await connector.wait_for(lambda a: len(connector.posts) > n, timeout=timeout)
    return att["name"], upload.files[att["name"]]
