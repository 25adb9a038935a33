"""Deterministic routing: card verbs (each skill's verb table), slash commands, files (the skills that accept them),
offline keyword rules. Free text with an LLM configured goes to the skill in the "chat" role, which lets the model
choose a skill through tool calling (skills are the tools). The router names no skill: it asks the registry."""
from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from dataclasses import dataclass, field

from pydantic import ValidationError

from core import tiers
from core.carddata import CardData, NoData
from core.services import Services
from core.skills import Command, Registry, ReplyPort, Skill, SkillRequest, Verb, normalize_command

log = logging.getLogger(__name__)

SLASHES = ("/", "／")


UNKNOWN_VERB = "このカードの操作は現在ご利用いただけません。もう一度コマンドからお試しください。"
BAD_CARD_DATA = "このカードの入力内容を読み取れませんでした。カードをもう一度開き直してから操作してください。"
COMING_SOON = "「{title}」（/{command}）は現在準備中です。公開までしばらくお待ちください。使える機能は /help でご覧いただけます。"
PERSONAL_ONLY = "/{command} は個人チャットでご利用ください。"
CHOOSE_SKILL_FOR_FILE = "ファイルの用途を続けて入力してください（例: {examples}）。"
CHANNEL_NOT_READY = "このチャットは現在準備中です。しばらくしてから、もう一度お試しください。"


@dataclass
class Routed:
    kind: str                       # skill | verb | coming_soon | unknown_command | wrong_scope | free_text | unknown_verb
    skill: Skill | None = None
    command: Command | None = None
    verb: Verb | None = None
    args: str = ""
    word: str = ""
    nearest: list[str] = field(default_factory=list)


def split_command(text: str) -> tuple[str, str] | None:
    """'/news add https://x' -> ('news', 'add https://x'); None when the text is not a command."""
    t = unicodedata.normalize("NFKC", text or "").strip()
    if not t.startswith("/"):
        return None
    m = re.match(r"(\S*)\s*(.*)\Z", t[1:], re.S)      # "/check\n本文…" is a command too
    head, rest = (m.group(1), m.group(2)) if m else ("", "")
    if not head:
        return None
    return head, rest.strip()


def typed_args(text: str) -> str:
    """A command's arguments exactly as typed: split_command's are NFKC-normalised (full-width 「，」「１」 become
    ASCII), which a skill checking the text itself (/check) must not see."""
    m = re.match(r"\s*[/／]\S+\s*(.*)\Z", text or "", re.S)
    return m.group(1).rstrip() if m else ""


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


def route(registry: Registry, req: SkillRequest) -> Routed:
    """Where a request of the shared (staff) channels goes. Skills that alone serve other channels are not reachable
    from here: their verbs are unknown and they take no free text (see `dispatch`)."""
    if req.verb:
        found_verb = registry.verb(req.verb)
        if found_verb is None or found_verb[0].channels:
            return Routed("unknown_verb", word=req.verb)
        return Routed("verb", skill=found_verb[0], verb=found_verb[1])
    parsed = split_command(req.text)
    if parsed:
        word, args = parsed
        found = registry.lookup(word)
        if not found:
            return Routed("unknown_command", word=word, nearest=nearest_commands(registry, word))
        skill, cmd = found
        if req.conversation_type not in _scope_names(cmd):
            return Routed("wrong_scope", skill=skill, command=cmd, word=word)
        if not skill.serves:
            return Routed("coming_soon", skill=skill, command=cmd, word=word)
        return Routed("skill", skill=skill, command=cmd, args=args, word=word)
    return Routed("free_text", args=req.text.strip())


def _scope_names(cmd: Command) -> set[str]:
    scopes = set(cmd.scopes)
    if "team" in scopes:
        scopes.add("channel")
    return scopes


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def keyword_skill(registry: Registry, text: str) -> Skill | None:
    """Offline free-text rule: the ready skill whose keywords occur most often in the text (registry order on ties)."""
    t = _fold(text)
    best, best_score = None, 0
    for s in registry.skills:
        if not (s.serves and s.free_text) or s.channels:
            continue
        score = sum(1 for k in s.keywords if _fold(k) in t)
        if score > best_score:
            best, best_score = s, score
    return best


def rule_skill(registry: Registry, text: str) -> Skill | None:
    """The one ready skill whose declared text rules (Skill.rules) the text meets, or None (none, or several:
    then the model or the keywords decide). Consulted in both modes, before the LLM's tool choice."""
    found = [s for s in registry.skills
             if s.serves and s.free_text and not s.channels and any(r.matches(text) for r in s.rules)]
    return found[0] if len(found) == 1 else None


def file_skill(registry: Registry, req: SkillRequest) -> tuple[Skill | None, list[Skill]]:
    """Which skill takes the files of this message: the one skill that accepts every file, or among several the
    one the user's words point to. Returns (chosen, candidates); chosen is None when the words do not decide."""
    candidates: list[Skill] | None = None
    for a in req.attachments:
        takers = registry.accepting(a.name)
        candidates = takers if candidates is None else [s for s in candidates if s in takers]
    candidates = candidates or []
    if len(candidates) <= 1:
        return (candidates[0] if candidates else None), candidates
    t = _fold(req.text or "")
    scored = [(sum(1 for k in (s.accepts.keywords if s.accepts else ()) if _fold(k) in t), s) for s in candidates]
    best = max(score for score, _ in scored)
    winners = [s for score, s in scored if score == best]
    return (winners[0] if best > 0 and len(winners) == 1 else None), candidates


async def dispatch(req: SkillRequest, port: ReplyPort, services: Services) -> str:
    """Route one request and run the chosen handler. Returns the name of the skill that handled it."""
    registry = services.registry
    owner = registry.for_channel(req.channel, services)
    if owner is not None:
        # A channel one skill alone serves (the residents' Web Chat): everything goes to that skill, nothing else is
        # reachable, and no staff tier choice applies (the skill decides the tier of its own requests).
        req.tier = None
        if not owner.serves or owner.handler is None:
            await port.send_text(CHANNEL_NOT_READY)
            return owner.name
        await owner.handler(req, port, services)
        return owner.name
    if req.tier is None:
        req.tier = await tiers.resolve(services, req)
    r = route(registry, req)
    if r.kind == "verb" and r.skill is not None and r.verb is not None:
        model: type[CardData] = r.verb.data or NoData
        try:
            req.data = model.model_validate(req.data).values()
        except ValidationError as e:
            log.info("card data refused for verb %s: %d error(s)", req.verb, e.error_count())
            await port.send_text(BAD_CARD_DATA)
            return r.skill.name
        await r.verb.handler(req, port, services)
        return r.skill.name
    if r.kind == "skill" and r.skill is not None and r.skill.handler is not None:
        req.command = r.command.name if r.command else req.command
        if r.command:
            req.typed_text = typed_args(req.text)
            req.text = r.args
        await r.skill.handler(req, port, services)
        return r.skill.name
    if r.kind == "coming_soon" and r.skill and r.command:
        await port.send_text(COMING_SOON.format(title=r.skill.title, command=r.command.name))
        return r.skill.name
    if r.kind == "wrong_scope" and r.skill and r.command:
        await port.send_text(PERSONAL_ONLY.format(command=r.command.name))
        return r.skill.name
    if r.kind == "unknown_verb":
        await port.send_text(UNKNOWN_VERB)
        return "-"
    if r.kind == "unknown_command":
        return await _help(req, port, services, unknown=r.word, nearest=r.nearest)
    # free text
    if not req.text.strip() and not req.attachments:
        return await _help(req, port, services)
    held = _held_files(req, services)
    if held:
        # the files of the previous message, which the router asked about: these words may now decide
        chosen, _ = file_skill(registry, SkillRequest(**{**vars(req), "attachments": held}))
        if chosen is not None and chosen.handler is not None:
            services.caches.held_files.pop(_held_key(req))
            req.attachments = held
            await chosen.handler(req, port, services)
            return chosen.name
    if req.attachments:
        chosen, candidates = file_skill(registry, req)
        if chosen is not None and chosen.handler is not None:
            await chosen.handler(req, port, services)
            return chosen.name
        if candidates:
            services.caches.held_files.put(_held_key(req), list(req.attachments))
            examples = "、".join(f"「{c.accepts.keywords[0]}」" for c in candidates if c.accepts and c.accepts.keywords)
            lines = [f"・{c.title}: {c.accepts.description}" for c in candidates if c.accepts]
            await port.send_text("このファイルは次の機能で扱えます。\n" + "\n".join(lines) + "\n"
                                 + CHOOSE_SKILL_FOR_FILE.format(examples=examples or "用途"))
            return "-"
        names = "、".join(a.name for a in req.attachments)
        await port.send_text(f"「{names}」は、このアシスタントでは扱えない種類のファイルです。"
                             "使える機能は /help でご覧いただけます。")
        return "-"
    ruled = rule_skill(registry, req.text)
    if ruled is not None and ruled.handler is not None:
        await ruled.handler(req, port, services)
        return ruled.name
    chat = registry.by_role("chat")
    if not services.ai.offline and chat is not None and chat.handler is not None:
        await chat.handler(req, port, services)
        return chat.name
    target = keyword_skill(registry, req.text)
    if target is not None and target.handler is not None:
        await target.handler(req, port, services)
        return target.name
    return await _help(req, port, services, free_text=True)


def _held_key(req: SkillRequest) -> tuple[str, str]:
    return req.conversation_id, req.user_id


def _held_files(req: SkillRequest, services: Services) -> list:
    """Files whose use the router asked about, when this message has words and no files of its own."""
    if req.attachments or not req.text.strip():
        return []
    return services.caches.held_files.get(_held_key(req)) or []


async def _help(req: SkillRequest, port: ReplyPort, services: Services, **data) -> str:
    helper = services.registry.by_role("help")
    req.data = {**req.data, **{k: v for k, v in data.items() if v}}
    if helper is not None and helper.handler is not None:
        await helper.handler(req, port, services)
        return helper.name
    await port.send_text("使い方は /help でご確認ください。")
    return "-"
