"""The skill contract: what a skill declares, what it receives, and how it answers.

A skill never sees a Bot Framework Activity or TurnContext. It gets a `SkillRequest` (who, where, what) and a
`ReplyPort` (how to answer), plus the shared `Services`. The one `Registry` lists every skill's commands once;
the router, the /help card and the Teams manifest's commandLists are all generated from it.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Mapping, Protocol, Sequence

from core.carddata import CardData

if TYPE_CHECKING:  # pragma: no cover
    from aiohttp import web

    from core.services import Services

SCOPES_ALL = ("personal", "team", "groupChat")


@dataclass(frozen=True)
class Command:
    """A slash-style command: `/name args`. `aliases` are other spellings (Japanese ones above all)."""

    name: str                      # without the slash, lower-case ASCII: "news"
    title: str                     # short Japanese title for the manifest/help: "ニュース"
    description: str               # one Japanese sentence: what it does
    usage: str = ""                # e.g. "/news [設定|一時停止|再開|sources|add <URL>]"
    aliases: tuple[str, ...] = ()  # e.g. ("ニュース",)
    scopes: tuple[str, ...] = SCOPES_ALL
    admin_only: bool = False
    menu: bool = True              # listed in Teams' command menu (10 per scope); False: /help and typing only


@dataclass(frozen=True)
class Citation:
    """One source behind an answer; rendered as a Teams citation entity and referenced as [position]."""

    position: int
    name: str
    url: str | None = None
    abstract: str = ""
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileAttachment:
    """A file the user sent (Teams `application/vnd.microsoft.teams.file.download.info` or a plain attachment)."""

    name: str
    content_type: str
    download_url: str | None = None
    content: bytes | None = None
    # For a URL that needs the bot's own credentials (Teams inline images on the Bot Framework attachment service):
    # url -> bearer token for it, or None (anonymous local mode; a host the token must not go to). Set by bot/.
    bearer: Callable[[str], Awaitable[str | None]] | None = field(default=None, repr=False, compare=False)


@dataclass
class SkillRequest:
    """Everything a skill may know about one turn, independent of the channel SDK."""

    user_id: str
    aad_object_id: str | None
    user_name: str | None
    tenant_id: str | None
    conversation_id: str
    conversation_type: str                 # "personal" | "channel" | "groupChat"
    text: str = ""                         # the arguments after the command (or the whole free text)
    command: str | None = None             # canonical command name when invoked as /command
    verb: str | None = None                # card action verb ("news.settings.save") when a card was used
    data: dict[str, Any] = field(default_factory=dict)   # card data / inputs
    locale: str = "ja-JP"
    tier: str | None = None                # network tier chosen for this request (guard decides if None)
    activity_id: str | None = None
    reply_to_id: str | None = None         # id of the message whose card was actioned
    attachments: list[FileAttachment] = field(default_factory=list)
    correlation_id: str = ""
    is_invoke: bool = False                # Action.Execute: the answer may replace the card in place
    channel: str = "msteams"               # the activity's channelId ("msteams", "webchat", "directline", …)
    typed_text: str | None = None          # a command's arguments exactly as typed (`text` is NFKC-normalised:
                                           # 「，」 reads ","): for skills that check text character by character

    @property
    def personal(self) -> bool:
        return self.conversation_type == "personal"


class ReplyPort(Protocol):
    """How a skill answers. Implemented over TurnContext in bot/, and by a recorder in tests.

    `ai_generated` adds the Teams AI label; `citations` become citation entities (at most 20) referenced as
    [n] in the text; `feedback` adds the 👍/👎 buttons. These only count on final messages."""

    async def send_text(self, text: str, *, ai_generated: bool = False, citations: Sequence[Citation] = (),
                        feedback: bool = False) -> str | None: ...

    async def send_card(self, card: dict, *, ai_generated: bool = False, citations: Sequence[Citation] = (),
                        feedback: bool = False, text: str | None = None) -> str | None: ...

    async def update_card(self, activity_id: str, card: dict) -> None: ...

    async def refresh_card(self, card: dict) -> None:
        """Answer an Action.Execute invoke with a card that replaces the actioned one (falls back to sending)."""

    async def inform(self, text: str) -> None:
        """A short progress update (Teams informative streaming update in personal chat; nothing elsewhere)."""

    async def stream(self, chunks: AsyncIterator[str], *, ai_generated: bool = True,
                     citations: Sequence[Citation] = (), feedback: bool = True,
                     final_card: dict | None = None) -> str: ...
    """Stream text as it is generated (personal chat) or send it once at the end (elsewhere).
    Returns the full text. Stops quietly when the user pressed stop."""

    async def send_file(self, name: str, content: bytes, content_type: str, *, description: str = "") -> str | None:
        """Offer a generated file to the user (OneDrive link through Graph when configured, else in chat)."""


Handler = Callable[["SkillRequest", ReplyPort, "Services"], Awaitable[None]]
RouteHandler = Callable[["web.Request", "Services"], Awaitable["web.StreamResponse"]]
JobRun = Callable[["Services"], Awaitable[None]]


@dataclass(frozen=True)
class Verb:
    """One card verb a skill owns: its handler and the model its card data must fit.

    The router validates `req.data` against `data` before the handler runs: hostile or stale card data (a huge or
    non-integer id, a list where a string belongs) gets one clear Japanese message and never reaches the handler.
    Without a model the data must still be a small JSON object (see `core.verbs.GenericData`)."""

    handler: Handler
    data: type[CardData] | None = None


@dataclass(frozen=True)
class Route:
    """An HTTP route a skill serves (the kintone webhook, the audit export). bot/ mounts it with the services."""

    method: str                   # "GET" | "POST"
    path: str                     # "/api/kintone/webhook"
    handler: RouteHandler


@dataclass(frozen=True)
class Job:
    """Background work started with the app (unless BACKGROUND_JOBS is off). `run` is one pass when `every` is set
    (the loop, its pause and its error handling are bot/'s); without `every` it is a loop that runs until cancelled.
    `enabled(services)` decides at start whether this process runs it (e.g. only when kintone is configured)."""

    name: str
    run: JobRun
    every: float | Callable[["Services"], float] | None = None
    enabled: Callable[["Services"], bool] = field(default=lambda _services: True)


@dataclass(frozen=True)
class Accepts:
    """Files a skill takes when they are sent in chat without a command."""

    extensions: tuple[str, ...]    # lower-case, with the dot: (".pdf", ".docx")
    description: str               # Japanese, shown when the user is asked which skill should take a file
    keywords: tuple[str, ...] = ()  # words that, in the message sent with the file, point to this skill

    def takes(self, name: str) -> bool:
        lower = (name or "").lower()
        return any(lower.endswith(ext) for ext in self.extensions)


@dataclass(frozen=True)
class TextRule:
    """Free text that belongs to a skill whatever the mode: `pattern` (a regular expression, searched in the NFKC
    text, case-insensitive) occurs and so does one of `words` (any, when empty). Checked before the LLM's tool choice
    and the keyword rules, so a message the skill alone can serve (a sharing link to photos with 「点検」) does not
    depend on the model's reading of it. Declarative, so the router still names no skill."""

    pattern: str
    words: tuple[str, ...] = ()

    def matches(self, text: str) -> bool:
        t = unicodedata.normalize("NFKC", text or "")
        if not re.search(self.pattern, t, re.I):
            return False
        folded = t.lower()
        return not self.words or any(unicodedata.normalize("NFKC", w).lower() in folded for w in self.words)


ROLES = ("help", "chat")


@dataclass
class Skill:
    """A capability, declared in one place: its commands, the card verbs it owns, its HTTP routes, its background
    jobs, the files it accepts, how free text reaches it, and its handler for commands and free text.

    `role` marks the two skills the router needs by function, never by name: "help" answers unknown commands and
    empty or unmatched text; "chat" takes free text when an LLM is configured. `ready=False` makes every command
    answer honestly that the capability is being prepared (準備中)."""

    name: str                                  # "news"
    title: str                                 # "ニュース"
    description: str                           # Japanese, shown in /help and used as the LLM tool description
    commands: list[Command]
    handler: Handler | None = None             # commands and free text
    verbs: Mapping[str, Verb] = field(default_factory=dict)
    verb_prefix: str | None = None             # every verb of this skill starts "<prefix>."
    routes: Sequence[Route] = ()
    jobs: Sequence[Job] = ()
    accepts: Accepts | None = None
    keywords: tuple[str, ...] = ()             # offline free-text routing (Japanese keywords)
    rules: tuple[TextRule, ...] = ()           # free text that is this skill's in both modes (see TextRule)
    free_text: bool = True                     # may the LLM / keyword router send free text here?
    ready: bool = True
    examples: tuple[str, ...] = ()             # example utterances for /help and the tool description
    on_feedback: Handler | None = None         # 👍/👎 on any answer: req.data = {reaction, text, reply_to_id}
    on_join: Handler | None = None
    """A visitor opened a conversation on a channel this skill alone serves (Web Chat's `webchat/join` event, sent by
    the page once connected): req.data = the event's value (e.g. {"language": "en-US"}). Typically a welcome."""
    role: str | None = None
    channels: tuple[str, ...] | Callable[["Services"], tuple[str, ...]] = ()
    """Channels this skill alone serves (e.g. Web Chat for residents): every activity of such a channel goes to this
    skill and to no other, whatever it says (commands, card verbs, files, free text). A callable is read from
    settings when the request arrives. Empty: the skill serves the staff channels with the rest."""

    def __post_init__(self) -> None:
        if self.verb_prefix is None:
            self.verb_prefix = self.name
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"skill {self.name!r}: unknown role {self.role!r}")
        for verb, spec in self.verbs.items():
            if not verb.startswith(f"{self.verb_prefix}."):
                raise ValueError(f"skill {self.name!r}: verb {verb!r} must start with {self.verb_prefix!r}.")
            if not isinstance(spec, Verb):
                raise TypeError(f"skill {self.name!r}: verb {verb!r} must map to a Verb")
        for rule in self.rules:
            re.compile(rule.pattern)           # a broken pattern fails at start, not on a user's message

    @property
    def serves(self) -> bool:
        """Ready and able to take a request."""
        return self.ready and self.handler is not None

    def channel_names(self, services: "Services") -> tuple[str, ...]:
        """The channels this skill alone serves, lower-case."""
        names = self.channels(services) if callable(self.channels) else self.channels
        return tuple(c.strip().lower() for c in names if c and c.strip())


def normalize_command(word: str) -> str:
    """NFKC, lower-case, without a leading slash: "／ヘルプ" -> "ヘルプ", "/Help" -> "help"."""
    w = unicodedata.normalize("NFKC", word).strip()
    if w.startswith("/"):
        w = w[1:]
    return w.lower()


class Registry:
    """All skills, their commands, verbs, routes and jobs, declared once."""

    def __init__(self) -> None:
        self._skills: dict[str, Skill] = {}
        self._by_word: dict[str, tuple[Skill, Command]] = {}
        self._by_verb: dict[str, tuple[Skill, Verb]] = {}
        self._routes: dict[tuple[str, str], Skill] = {}

    def add(self, skill: Skill) -> Skill:
        if skill.name in self._skills:
            raise ValueError(f"skill {skill.name!r} registered twice")
        if skill.role and self.by_role(skill.role):
            raise ValueError(f"role {skill.role!r} taken twice")
        if skill.channels and (skill.commands or skill.role or skill.accepts):
            raise ValueError(f"skill {skill.name!r} serves its own channels: it declares no commands, role or files")
        for cmd in skill.commands:
            for word in (cmd.name, *cmd.aliases):
                key = normalize_command(word)
                if key in self._by_word:
                    raise ValueError(f"command word {word!r} declared twice")
                self._by_word[key] = (skill, cmd)
        for verb, spec in skill.verbs.items():
            if verb in self._by_verb:
                raise ValueError(f"verb {verb!r} declared twice")
            self._by_verb[verb] = (skill, spec)
        for route in skill.routes:
            where = (route.method.upper(), route.path)
            if where in self._routes:
                raise ValueError(f"route {where[0]} {route.path} declared twice")
            self._routes[where] = skill
        self._skills[skill.name] = skill
        return skill

    @property
    def skills(self) -> list[Skill]:
        return list(self._skills.values())

    def skill(self, name: str) -> Skill | None:
        return self._skills.get(name)

    def by_role(self, role: str) -> Skill | None:
        return next((s for s in self._skills.values() if s.role == role), None)

    def commands(self, scope: str | None = None) -> list[tuple[Skill, Command]]:
        out = []
        for s in self._skills.values():
            for c in s.commands:
                if scope is None or scope in c.scopes:
                    out.append((s, c))
        return out

    def lookup(self, word: str) -> tuple[Skill, Command] | None:
        return self._by_word.get(normalize_command(word))

    def words(self) -> list[str]:
        return list(self._by_word)

    def verb(self, verb: str) -> tuple[Skill, Verb] | None:
        return self._by_verb.get(verb)

    def verbs(self) -> dict[str, tuple[Skill, Verb]]:
        return dict(self._by_verb)

    def routes(self) -> list[tuple[Skill, Route]]:
        return [(s, r) for s in self._skills.values() for r in s.routes]

    def jobs(self) -> list[tuple[Skill, Job]]:
        return [(s, j) for s in self._skills.values() for j in s.jobs]

    def for_channel(self, channel: str, services: "Services") -> Skill | None:
        """The skill that alone serves this channel (citizen mode for Web Chat), or None for the shared channels."""
        key = (channel or "").strip().lower()
        if not key:
            return None
        return next((s for s in self._skills.values() if s.channels and key in s.channel_names(services)), None)

    def accepting(self, filename: str) -> list[Skill]:
        """Ready skills that take this file when it is sent in chat, in registry order."""
        return [s for s in self._skills.values()
                if s.serves and s.accepts and s.accepts.takes(filename) and not s.channels]
