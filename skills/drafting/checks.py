"""Structural rules of each document type, checked in code on every draft (AI or template) and in tests.

`check(type_key, text, commitment=..., easy=...)` returns `Issue`s: errors break the type's layout (a draft with
errors is repaired once, then flagged on the card); warnings are advice (long sentences, and every finding of the
公用文 check, core.kobun, the same check /check runs). `autofix` makes the purely mechanical repairs that need no
model (the 公用文 rules marked auto such as 「，」→「、」, a missing 「（通知）」 or 「以上でございます。」).

The register, the comma and the sentence length of お知らせ・市民対応・あいさつ are the 公用文 rules buntai.mix,
kutoten.comma and bun.long, read here as layout errors of those types (one piece of logic: core.kobun)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from core import kobun
from core.kobun.sentences import sentences as _sentences
from skills.drafting.doctypes import COMMITMENTS

LONG_SENTENCE = 60          # 公用文作成の考え方: about 40–60 characters a sentence
EASY_LONG_SENTENCE = 40     # やさしい日本語: shorter still

NUMBER_LINE = re.compile(r"^\S*第\s*[0-9０-９〇【】要記入\-－]+\s*号$")
DATE_LINE = re.compile(r"^(令和|平成|【要記入】).{0,12}年.{0,6}月.{0,6}日$|^【要記入】（日付）$")
ITEM_LINE = re.compile(r"^\s*([0-9０-９]+[ 　.．、)）]|[（(][0-9０-９]+[）)])")
HONORIFIC = re.compile(r"(様|殿|御中)\s*$")
NOTICE_TITLE = "について（通知）"
GIKAI_OPEN = re.compile(r"についてお答えいたします|順次御?答弁申し上げます|お答えいたします")
GIKAI_CLOSE = "以上でございます"

# the 公用文 check's document kind for each draft type (告示・通知等 or 解説・広報等)
KOBUN_KIND = {"notice_internal": "notice", "notice_external": "notice", "jimu": "notice", "gikai": "notice",
              "oshirase": "public", "citizen": "public", "aisatsu": "public"}
LAYOUT_RULES = frozenset({"buntai.mix", "kutoten.comma", "bun.long"})   # errors of the prose types (register_issues)
MAX_KOBUN_ISSUES = 8


@dataclass(frozen=True)
class Issue:
    code: str
    message: str          # Japanese, shown on the card
    severity: str = "error"   # error | warning
    line: int | None = None


def lines_of(text: str) -> list[str]:
    return [ln.rstrip() for ln in (text or "").replace("\r\n", "\n").split("\n")]


def nonblank(text: str) -> list[str]:
    return [ln.strip() for ln in lines_of(text) if ln.strip()]


def sentences(text: str) -> list[str]:
    """Sentences ending in 。！？ (list items and headings without a full stop are not sentences)."""
    return [s.text for s in _sentences(text)]


def title_line(text: str) -> tuple[int, str] | None:
    for i, ln in enumerate(lines_of(text)):
        s = ln.strip()
        if s.endswith("について") or s.endswith("）") and "について（" in s:
            return i, s
    return None


# -- per-type rules ----------------------------------------------------------------------------------------------

def _notice(text: str, *, numbered_required: bool, number_required: bool) -> list[Issue]:
    issues: list[Issue] = []
    lines = nonblank(text)
    head = lines[:6]
    t = title_line(text)
    if number_required:
        if t is None or not any(s.endswith(NOTICE_TITLE) for s in lines):
            issues.append(Issue("title", "標題が「〇〇について（通知）」の形になっていません。"))
        if not any(NUMBER_LINE.match(s) for s in head):
            issues.append(Issue("doc_number", "文書番号（「〇〇第〇号」）が冒頭にありません。"))
    else:
        if any(NUMBER_LINE.match(s) for s in head):
            issues.append(Issue("doc_number_forbidden", "事務連絡には文書番号を付けません。"))
        if t is None:
            issues.append(Issue("title", "標題（「〇〇について」）がありません。"))
    if not any(DATE_LINE.match(s) for s in head):
        issues.append(Issue("date", "日付（「令和〇年〇月〇日」）が冒頭にありません。"))
    if not any(HONORIFIC.search(s) for s in head):
        issues.append(Issue("addressee", "宛先（「〇〇 様」「〇〇 殿」）がありません。"))
    if "記" in lines:
        after = lines[lines.index("記") + 1:]
        if numbered_required and not any(ITEM_LINE.match(s) for s in after):
            issues.append(Issue("items", "「記」の後に番号付きの項目（「1　〇〇」）がありません。"))
    elif numbered_required:
        issues.append(Issue("ki", "「記」とその後の番号付きの項目がありません。"))
    return issues


def _gikai(text: str, commitment: str | None) -> list[Issue]:
    issues: list[Issue] = []
    lines = nonblank(text)
    first = lines[0] if lines else ""
    if not GIKAI_OPEN.search(first):
        issues.append(Issue("opening", "冒頭が「〇〇についてお答えいたします」で始まっていません。"))
    last = lines[-1].rstrip("。") if lines else ""
    if not last.endswith(GIKAI_CLOSE):
        issues.append(Issue("closing", "結びが「以上でございます。」になっていません。"))
    if commitment in COMMITMENTS:
        if commitment not in text:
            issues.append(Issue("commitment", f"選ばれた方針の表現「{commitment}」が含まれていません。"))
        stronger = [c for c in COMMITMENTS[:COMMITMENTS.index(commitment)] if c in text]
        if stronger:
            issues.append(Issue("commitment_stronger",
                                f"選ばれた方針（{commitment}）より強い表現「{'」「'.join(stronger)}」が含まれています。"))
    return issues


def register_issues(text: str, *, long_limit: int = LONG_SENTENCE) -> list[Issue]:
    """One register (敬体): 常体 sentence endings are errors; 「，」 is an error; long sentences are warnings."""
    found = kobun.check(text, kind="public", options=kobun.Options(only=LAYOUT_RULES, register="polite",
                                                                   long_limit=long_limit))
    issues: list[Issue] = []
    plain = [f.original for f in found if f.rule_id == "buntai.mix"]
    if plain:
        shown = "」「".join(x[-20:] for x in plain[:3])
        issues.append(Issue("register", f"常体（だ・である調）の文が混じっています：「{shown}」"))
    if any(f.rule_id == "kutoten.comma" for f in found):
        issues.append(Issue("comma", "読点は「、」を使ってください（「，」が含まれています）。"))
    long = [f for f in found if f.rule_id == "bun.long"]
    if long:
        issues.append(Issue("long_sentence", f"{long_limit}字を超える長い文が{len(long)}文あります。分けると読みやすくなります。",
                            "warning"))
    return issues


def kobun_issues(type_key: str, text: str) -> list[Issue]:
    """The 公用文 check's findings on a draft, as warnings (at most MAX_KOBUN_ISSUES, then a count). The prose types'
    register, comma and length are their layout errors (register_issues) and are not repeated here."""
    prose = type_key in ("oshirase", "citizen", "aisatsu")
    found = kobun.check(text, kind=KOBUN_KIND.get(type_key, "notice"),
                        options=kobun.Options(disabled=LAYOUT_RULES if prose else frozenset()))
    issues = [Issue(f"kobun:{f.rule_id}", f"{f.message}（{f.title}）", "warning") for f in found[:MAX_KOBUN_ISSUES]]
    if len(found) > MAX_KOBUN_ISSUES:
        issues.append(Issue("kobun:more", f"ほかに{len(found) - MAX_KOBUN_ISSUES}件の指摘があります。/check で確認できます。",
                            "warning"))
    return issues


def check(type_key: str, text: str, *, commitment: str | None = None, easy: bool = False) -> list[Issue]:
    """All structural issues of a draft of the given type (empty list = passes)."""
    if not (text or "").strip():
        return [Issue("empty", "文書が空です。")]
    if type_key in ("notice_internal", "notice_external"):
        layout = _notice(text, numbered_required=True, number_required=True)
    elif type_key == "jimu":
        layout = _notice(text, numbered_required=False, number_required=False)
    elif type_key == "gikai":
        layout = _gikai(text, commitment)
    elif type_key in ("oshirase", "citizen", "aisatsu"):
        layout = register_issues(text, long_limit=EASY_LONG_SENTENCE if easy else LONG_SENTENCE)
    else:
        return []
    return layout + kobun_issues(type_key, text)


def errors(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == "error"]


def autofix(type_key: str, text: str) -> str:
    """Mechanical repairs that need no model; the result is checked again by the caller."""
    out = kobun.autofix(text, kind=KOBUN_KIND.get(type_key, "notice"))
    lines = lines_of(out)
    if type_key in ("notice_internal", "notice_external"):
        t = title_line(out)
        if t and t[1].endswith("について"):
            lines[t[0]] = lines[t[0]].rstrip() + "（通知）"
    if type_key == "gikai":
        body = [ln for ln in lines if ln.strip()]
        if body and not body[-1].rstrip("。").endswith(GIKAI_CLOSE):
            lines = lines + ["", "以上でございます。"]
    return "\n".join(lines)
