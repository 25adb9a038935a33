"""The skill contract: what a skill declares, what it receives, and how it answers.

A skill never sees a Bot Framework Activity or TurnContext. It gets a `SkillRequest` (who, where, what) and a
`ReplyPort` (how to answer), plus the shared `Services`. The one `Registry` lists every skill's commands once;
the router, the /help card and the Teams manifest's commandLists are all generated from it.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Protocol, Sequence

if TYPE_CHECKING:  # pragma: no cover
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


@dataclass
class Skill:
    """A capability: its commands, the card verbs it owns, how free text reaches it, and its handler.

    `ready=False` makes every command answer honestly that the capability is being prepared (準備中)."""

    name: str                                  # "news"
    title: str                                 # "ニュース"
    description: str                           # Japanese, shown in /help and used as the LLM tool description
    commands: list[Command]
    handler: Handler | None = None
    verb_prefix: str | None = None             # card verbs starting "<prefix>." belong to this skill
    keywords: tuple[str, ...] = ()             # offline free-text routing (Japanese keywords)
    free_text: bool = True                     # may the LLM / keyword router send free text here?
    ready: bool = True
    examples: tuple[str, ...] = ()             # example utterances for /help and the tool description
    on_feedback: Handler | None = None         # 👍/👎 on any answer: req.data = {reaction, text, reply_to_id}

    def __post_init__(self):
        if self.verb_prefix is None:
            self.verb_prefix = self.name


def normalize_command(word: str) -> str:
    """NFKC, lower-case, without a leading slash: "／ヘルプ" -> "ヘルプ", "/Help" -> "help"."""
    w = unicodedata.normalize("NFKC", word).strip()
    if w.startswith("/"):
        w = w[1:]
    return w.lower()


class Registry:
    """All skills and their commands, declared once."""

    def __init__(self) -> None:
        self._skills: dict[str, Skill] = {}
        self._by_word: dict[str, tuple[Skill, Command]] = {}

    def add(self, skill: Skill) -> Skill:
        if skill.name in self._skills:
            raise ValueError(f"skill {skill.name!r} registered twice")
        for cmd in skill.commands:
            for word in (cmd.name, *cmd.aliases):
                key = normalize_command(word)
                if key in self._by_word:
                    raise ValueError(f"command word {word!r} declared twice")
                self._by_word[key] = (skill, cmd)
        self._skills[skill.name] = skill
        return skill

    @property
    def skills(self) -> list[Skill]:
        return list(self._skills.values())

    def skill(self, name: str) -> Skill | None:
        return self._skills.get(name)

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

    def by_verb(self, verb: str) -> Skill | None:
        prefix = verb.split(".", 1)[0]
        for s in self._skills.values():
            if s.verb_prefix == prefix:
                return s
        return None
