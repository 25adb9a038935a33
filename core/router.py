"""Deterministic routing: card verbs, slash commands, offline keyword rules. Free text with an LLM configured goes
to the `chat` skill, which lets the model choose a skill through tool calling (skills are the tools)."""
from __future__ import annotations

import difflib
import logging
import unicodedata
from dataclasses import dataclass, field

from core import tiers
from core.services import Services
from core.skills import Command, Registry, ReplyPort, Skill, SkillRequest, normalize_command

log = logging.getLogger(__name__)

SLASHES = ("/", "／")


@dataclass
class Route:
    kind: str                       # skill | coming_soon | unknown_command | wrong_scope | free_text | unknown_verb
    skill: Skill | None = None
    command: Command | None = None
    args: str = ""
    word: str = ""
    nearest: list[str] = field(default_factory=list)


def split_command(text: str) -> tuple[str, str] | None:
    """'/news add https://x' -> ('news', 'add https://x'); None when the text is not a command."""
    t = unicodedata.normalize("NFKC", text or "").strip()
    if not t.startswith("/"):
        return None
    head, _, rest = t[1:].partition(" ")
    if not head:
        return None
    return head, rest.strip()


def nearest_commands(registry: Registry, word: str, n: int = 3) -> list[str]:
    """Closest command names (canonical, with slash) to a mistyped word."""
    key = normalize_command(word)
    close = difflib.get_close_matches(key, registry.words(), n=n * 2, cutoff=0.4)
    out: list[str] = []
    for w in close:
        found = registry.lookup(w)
        if found and f"/{found[1].name}" not in out:
            out.append(f"/{found[1].name}")
    return out[:n]


def route(registry: Registry, req: SkillRequest) -> Route:
    if req.verb:
        skill = registry.by_verb(req.verb)
        return Route("skill", skill=skill) if skill else Route("unknown_verb", word=req.verb)
    parsed = split_command(req.text)
    if parsed:
        word, args = parsed
        found = registry.lookup(word)
        if not found:
            return Route("unknown_command", word=word, nearest=nearest_commands(registry, word))
        skill, cmd = found
        if req.conversation_type not in _scope_names(cmd):
            return Route("wrong_scope", skill=skill, command=cmd, word=word)
        if not skill.ready or skill.handler is None:
            return Route("coming_soon", skill=skill, command=cmd, word=word)
        return Route("skill", skill=skill, command=cmd, args=args, word=word)
    return Route("free_text", args=req.text.strip())


def _scope_names(cmd: Command) -> set[str]:
    scopes = set(cmd.scopes)
    if "team" in scopes:
        scopes.add("channel")
    return scopes


def keyword_skill(registry: Registry, text: str) -> Skill | None:
    """Offline free-text rule: the ready skill whose keywords occur most often in the text (registry order on ties)."""
    t = unicodedata.normalize("NFKC", text).lower()
    best, best_score = None, 0
    for s in registry.skills:
        if not (s.ready and s.free_text and s.handler):
            continue
        score = sum(1 for k in s.keywords if unicodedata.normalize("NFKC", k).lower() in t)
        if score > best_score:
            best, best_score = s, score
    return best


async def dispatch(req: SkillRequest, port: ReplyPort, services: Services) -> str:
    """Route one request and run the chosen handler. Returns the name of the skill that handled it."""
    registry = services.registry
    if req.tier is None:
        req.tier = await tiers.resolve(services, req)
    r = route(registry, req)
    if r.kind == "skill":
        req.command = r.command.name if r.command else req.command
        if r.command:
            req.text = r.args
        await r.skill.handler(req, port, services)
        return r.skill.name
    if r.kind == "coming_soon":
        await port.send_text(f"「{r.skill.title}」（/{r.command.name}）は現在準備中です。公開までしばらくお待ちください。"
                             "使える機能は /help でご覧いただけます。")
        return r.skill.name
    if r.kind == "wrong_scope":
        await port.send_text(f"/{r.command.name} は個人チャットでご利用ください。")
        return r.skill.name
    if r.kind == "unknown_verb":
        await port.send_text("このカードの操作は現在ご利用いただけません。もう一度コマンドからお試しください。")
        return "help"
    if r.kind == "unknown_command":
        return await _help(req, port, services, unknown=r.word, nearest=r.nearest)
    # free text
    if not req.text.strip() and not req.attachments:
        return await _help(req, port, services)
    if req.attachments:
        target = registry.skill("qa")
        if target and target.ready and target.handler:
            await target.handler(req, port, services)
            return target.name
    if not services.ai.offline:
        chat = registry.skill("chat")
        if chat and chat.handler:
            await chat.handler(req, port, services)
            return chat.name
    target = keyword_skill(registry, req.text)
    if target:
        await target.handler(req, port, services)
        return target.name
    return await _help(req, port, services, free_text=True)


async def _help(req: SkillRequest, port: ReplyPort, services: Services, **data) -> str:
    helper = services.registry.skill("help")
    req.data = {**req.data, **{k: v for k, v in data.items() if v}}
    if helper and helper.handler:
        await helper.handler(req, port, services)
    else:  # pragma: no cover - help is always registered
        await port.send_text("使い方は /help でご確認ください。")
    return "help"
