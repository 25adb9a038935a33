"""The administrator-edited data files: skill-check questions and the examples library (YAML).

Files are re-read when they change on disk (no restart needed). A malformed file raises `ContentError` with a
Japanese message naming the problem, so an administrator can fix it from what the bot says."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.datafile import cached


class ContentError(Exception):
    def __init__(self, message_ja: str) -> None:
        super().__init__(message_ja)
        self.message_ja = message_ja


# -- skill check ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    id: str
    question: str
    choices: tuple[str, ...]
    answer: int                  # 1-based number of the right choice
    explanation: str


@dataclass(frozen=True)
class NextStep:
    text: str
    run: str = ""


@dataclass(frozen=True)
class Role:
    id: str
    title: str
    description: str
    questions: tuple[Question, ...]
    next_steps: tuple[NextStep, ...] = ()


@dataclass(frozen=True)
class Quiz:
    roles: tuple[Role, ...]
    pass_percent: int = 80

    def role(self, word: str | None) -> Role | None:
        """A role by id or title ("dx", "DX推進員", "ｄｘ推進員" …)."""
        if not word:
            return None
        w = _fold(word)
        for r in self.roles:
            if w in (_fold(r.id), _fold(r.title)):
                return r
        return None


@dataclass
class ItemResult:
    question: Question
    chosen: int | None
    correct: bool


@dataclass
class Score:
    role: Role
    items: list[ItemResult] = field(default_factory=list)

    @property
    def correct(self) -> int:
        return sum(1 for i in self.items if i.correct)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def percent(self) -> int:
        return round(100 * self.correct / self.total) if self.total else 0

    def answers(self) -> dict[str, int | None]:
        return {i.question.id: i.chosen for i in self.items}


def input_id(q: Question) -> str:
    """The Input.ChoiceSet id of a question on the quiz card."""
    return f"q_{q.id}"


def score(role: Role, data: dict[str, Any]) -> Score:
    """Score the card's inputs (`q_<id>` → "<choice number>"); unanswered or malformed values count as wrong."""
    out = Score(role)
    for q in role.questions:
        raw = data.get(input_id(q))
        chosen: int | None
        try:
            chosen = int(str(raw).strip()) if raw is not None and str(raw).strip() else None
        except ValueError:
            chosen = None
        if chosen is not None and not 1 <= chosen <= len(q.choices):
            chosen = None
        out.items.append(ItemResult(q, chosen, chosen == q.answer))
    return out


def _titled_items(raw: Any, key: str, label: str, source: str):
    """The non-empty list `raw[key]` of mappings with a unique id and a title: yields (where, id, item)."""
    if not isinstance(raw, dict) or not isinstance(raw.get(key), list) or not raw[key]:
        raise ContentError(f"{source}: {key}（{label}の一覧）がありません。")
    seen: set[str] = set()
    for n, item in enumerate(raw[key], start=1):
        where = f"{source}: {n}番目の{label}"
        if not isinstance(item, dict) or not item.get("id") or not item.get("title"):
            raise ContentError(f"{where}に id と title が必要です。")
        item_id = str(item["id"])
        if item_id in seen:
            raise ContentError(f"{where}: id「{item_id}」が重複しています。")
        seen.add(item_id)
        yield where, item_id, item


def parse_quiz(raw: Any, source: str = "skillcheck.yaml") -> Quiz:
    roles: list[Role] = []
    for where, rid, r in _titled_items(raw, "roles", "役割", source):
        qs = r.get("questions")
        if not isinstance(qs, list) or not qs:
            raise ContentError(f"{where}（{rid}）に questions（問題）がありません。")
        questions: list[Question] = []
        seen_q: set[str] = set()
        for m, q in enumerate(qs, start=1):
            qwhere = f"{source}: 役割「{rid}」の{m}問目"
            if not isinstance(q, dict):
                raise ContentError(f"{qwhere}の形式が正しくありません。")
            qid = str(q.get("id") or "")
            choices = q.get("choices")
            if not qid or not q.get("question"):
                raise ContentError(f"{qwhere}に id と question が必要です。")
            if qid in seen_q:
                raise ContentError(f"{qwhere}: id「{qid}」が重複しています。")
            seen_q.add(qid)
            if not isinstance(choices, list) or len(choices) < 2:
                raise ContentError(f"{qwhere}（{qid}）: choices（選択肢）は2つ以上必要です。")
            answer = q.get("answer")
            if not isinstance(answer, int) or isinstance(answer, bool) or not 1 <= answer <= len(choices):
                raise ContentError(f"{qwhere}（{qid}）: answer は1から{len(choices)}までの番号で書いてください。")
            questions.append(Question(qid, str(q["question"]), tuple(str(c) for c in choices), answer,
                                      str(q.get("explanation") or "")))
        steps = tuple(NextStep(str(s.get("text") or ""), str(s.get("run") or ""))
                      for s in (r.get("next_steps") or []) if isinstance(s, dict) and s.get("text"))
        roles.append(Role(rid, str(r["title"]), str(r.get("description") or ""), tuple(questions), steps))
    pass_percent = raw.get("pass_percent", 80)
    if not isinstance(pass_percent, int) or not 0 <= pass_percent <= 100:
        raise ContentError(f"{source}: pass_percent は0から100の整数で書いてください。")
    return Quiz(tuple(roles), pass_percent)


# -- examples -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Example:
    title: str
    text: str
    note: str = ""


@dataclass(frozen=True)
class Category:
    id: str
    title: str
    description: str
    entries: tuple[Example, ...]


@dataclass(frozen=True)
class Tip:
    text: str
    run: str = ""


@dataclass(frozen=True)
class Library:
    categories: tuple[Category, ...]
    tips: tuple[Tip, ...] = ()

    def category(self, word: str | None) -> Category | None:
        if not word:
            return None
        w = _fold(word)
        for c in self.categories:
            if w in (_fold(c.id), _fold(c.title)):
                return c
        for c in self.categories:          # a prefix is enough: "excel" → Excel関数
            if _fold(c.title).startswith(w) or _fold(c.id).startswith(w):
                return c
        return None


def parse_library(raw: Any, source: str = "examples.yaml") -> Library:
    cats: list[Category] = []
    for where, cid, c in _titled_items(raw, "categories", "分類", source):
        entries = []
        for m, e in enumerate(c.get("entries") or [], start=1):
            if not isinstance(e, dict) or not e.get("title") or not str(e.get("text") or "").strip():
                raise ContentError(f"{where}（{cid}）の{m}番目の例に title と text が必要です。")
            entries.append(Example(str(e["title"]), str(e["text"]).strip(), str(e.get("note") or "")))
        if not entries:
            raise ContentError(f"{where}（{cid}）に entries（例）がありません。")
        cats.append(Category(cid, str(c["title"]), str(c.get("description") or ""), tuple(entries)))
    tips = tuple(Tip(str(t["text"]), str(t.get("run") or "")) for t in (raw.get("tips") or [])
                 if isinstance(t, dict) and t.get("text"))
    return Library(tuple(cats), tips)


# -- loading with a change check ---------------------------------------------------------------------------------

def _read(path: Path, parser) -> Any:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        mark = getattr(e, "problem_mark", None)
        line = f"（{mark.line + 1}行目付近）" if mark is not None else ""
        raise ContentError(f"{path.name} の書き方に誤りがあります{line}。管理者にお問い合わせください。") from None
    return parser(raw, path.name)


def _load(path: Path, kind: str, parser) -> Any:
    try:
        return cached(kind, path, lambda: _read(path, parser))
    except OSError:
        raise ContentError(f"データファイル {path.name} が見つかりません。管理者にお問い合わせください。") from None


def load_quiz(path: Path) -> Quiz:
    return _load(path, "quiz", parse_quiz)


def load_library(path: Path) -> Library:
    return _load(path, "examples", parse_library)


def _fold(s: str) -> str:
    return unicodedata.normalize("NFKC", str(s)).strip().lower().replace(" ", "")
