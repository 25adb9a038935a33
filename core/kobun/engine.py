"""Running the rules over a text: every finding is a `Suggestion` with its rule, the rule's source, the span and the
replacement (None when the rule only points at something, like a long sentence)."""
from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from core.kobun import morph
from core.kobun.rules import Rule, RuleSet
from core.kobun.sentences import parenthetical, register, sentences

LEVEL_ORDER = {"fix": 0, "advise": 1, "review": 2}
LEVEL_LABELS = {"fix": "修正", "advise": "推奨", "review": "要確認"}


@dataclass(frozen=True)
class Suggestion:
    rule_id: str
    category: str
    title: str
    source: str            # the rule's citation (source title and note)
    level: str             # fix | advise | review
    start: int
    end: int
    original: str
    replacement: str | None
    message: str           # Japanese, one line
    line: int              # 1-based line of `start`
    auto: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Suggestion:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    @property
    def edits(self) -> bool:
        return self.replacement is not None and self.replacement != self.original

    @property
    def edit(self) -> tuple[int, int, str]:
        """The smallest change that makes the replacement: (start, end, new text) in the checked text
        (「ご出席になられます」→「ご出席になります」 changes 「られ」 into 「り」)."""
        a, b, new = minimal_edit(self.original, self.replacement or "")
        return self.start + a, self.start + b, new


@dataclass(frozen=True)
class Options:
    """Per-call choices: a stricter sentence length (やさしい日本語), the register a document must keep (the drafting
    skill knows it), rules left out."""

    long_limit: int | None = None
    register: str | None = None          # "polite" | "plain" | None = the document's majority
    disabled: frozenset[str] = frozenset()
    only: frozenset[str] = frozenset()   # when given, these rules and no others


# -- helpers ---------------------------------------------------------------------------------------------------

def _line_starts(text: str) -> list[int]:
    starts = [0]
    for m in re.finditer("\n", text):
        starts.append(m.end())
    return starts


def _line_of(starts: list[int], offset: int) -> int:
    lo, hi = 0, len(starts)
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid
    return lo + 1


def _message(rule: Rule, original: str, replacement: str | None) -> str:
    if replacement is None:
        return rule.title
    if replacement == "":
        return f"「{original}」は削除を検討してください。"
    return f"「{original}」→「{replacement}」"


def _stem_rewrite(surface: str, wrong: str, right: str) -> str | None:
    """The surface of a conjugated word rewritten from the wrong to the right dictionary form by their stems:
    行なっ (行なう → 行う) → 行っ; 下さい (下さる → くださる) → ください."""
    k = 0
    while k < min(len(wrong), len(right)) and wrong[-1 - k] == right[-1 - k]:
        k += 1
    wrong_stem, right_stem = wrong[:len(wrong) - k], right[:len(right) - k]
    if not wrong_stem or not surface.startswith(wrong_stem):
        return None
    return right_stem + surface[len(wrong_stem):]


def _holds(cond, toks: list[morph.Token], first: int, last: int) -> bool:
    places = {"self": first, "prev": first - 1, "prev2": first - 2, "next": last + 1, "next2": last + 2}
    for place, test in cond.items():
        i = places[place]
        tok = toks[i] if 0 <= i < len(toks) else None
        if not test.matches(tok):
            return False
    return True


def _adjacent(toks: list[morph.Token], first: int, last: int) -> bool:
    return all(toks[i].end == toks[i + 1].start for i in range(first, last))


# -- matchers --------------------------------------------------------------------------------------------------

class _Found:
    __slots__ = ("rule", "start", "end", "original", "replacement")

    def __init__(self, rule: Rule, start: int, end: int, original: str, replacement: str | None) -> None:
        self.rule, self.start, self.end, self.original, self.replacement = rule, start, end, original, replacement


def _by_patterns(rule: Rule, text: str) -> Iterable[_Found]:
    for pattern, repl in rule.patterns:
        for m in pattern.finditer(text):
            yield _Found(rule, m.start(), m.end(), m.group(0), m.expand(repl) if repl is not None else None)


def _conditions_ok(rule: Rule, toks: list[morph.Token], first: int, last: int) -> bool:
    if rule.when and not any(_holds(c, toks, first, last) for c in rule.when):
        return False
    return not any(_holds(c, toks, first, last) for c in rule.unless)


def _by_tokens(rule: Rule, text: str, toks: list[morph.Token]) -> Iterable[_Found]:
    by_first: dict[str, list[tuple[tuple[str, ...], str | None]]] = {}
    for seq, repl in rule.tokens.items():
        by_first.setdefault(seq[0], []).append((seq, repl))
    for i, tok in enumerate(toks):
        for seq, repl in by_first.get(tok.surface, ()):
            last = i + len(seq) - 1
            if last >= len(toks) or any(toks[i + j].surface != s for j, s in enumerate(seq)):
                continue
            if not _adjacent(toks, i, last) or not _conditions_ok(rule, toks, i, last):
                continue
            start, end = tok.start, toks[last].end
            yield _Found(rule, start, end, text[start:end], repl)


def _by_lemmas(rule: Rule, text: str, toks: list[morph.Token]) -> Iterable[_Found]:
    for i, tok in enumerate(toks):
        right = rule.lemmas.get(tok.lemma)
        if right is None or not _conditions_ok(rule, toks, i, i):
            continue
        new = _stem_rewrite(tok.surface, tok.lemma, right)
        if new is not None and new != tok.surface:
            yield _Found(rule, tok.start, tok.end, tok.surface, new)


# -- built-in checks -------------------------------------------------------------------------------------------

def _long_sentence(rule: Rule, text: str, options: Options) -> Iterable[_Found]:
    limit = int(options.long_limit or rule.params.get("limit", 60))
    for s in sentences(text):
        if len(s.text) > limit and not parenthetical(s.text):
            yield _Found(rule, s.start, s.end, s.text, None)


def _register_mix(rule: Rule, text: str, options: Options) -> Iterable[_Found]:
    classified = [(s, register(s.text)) for s in sentences(text) if not parenthetical(s.text)]
    polite = [s for s, r in classified if r == "polite"]
    plain = [s for s, r in classified if r == "plain"]
    expected = options.register or ("polite" if len(polite) >= len(plain) else "plain")
    odd = plain if expected == "polite" else polite
    if options.register is None and not (polite and plain):
        return
    for s in odd:
        yield _Found(rule, s.start, s.end, s.text, None)


_ZEN = str.maketrans("０１２３４５６７８９", "0123456789")
_HAN = str.maketrans("0123456789", "０１２３４５６７８９")
_DIGITS = re.compile(r"[0-9]+|[０-９]+")


def _digit_width_mix(rule: Rule, text: str, options: Options) -> Iterable[_Found]:
    runs = [m for m in _DIGITS.finditer(text)
            # digits inside Latin words, addresses and numbers like 06-6489-6186 are half-width by nature
            if not re.match(r"[A-Za-z]", text[m.end():m.end() + 1] or " ")
            and not re.search(r"[A-Za-z/:@._-]$", text[max(0, m.start() - 1):m.start()])]
    wide = [m for m in runs if m.group(0)[0] in "０１２３４５６７８９"]
    narrow = [m for m in runs if m not in wide]
    if not wide or not narrow:
        return
    to_narrow = len(narrow) >= len(wide)
    for m in (wide if to_narrow else narrow):
        new = m.group(0).translate(_ZEN if to_narrow else _HAN)
        yield _Found(rule, m.start(), m.end(), m.group(0), new)


_KANJI_DIGIT = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNIT = {"十": 10, "百": 100, "千": 1000}
_KANSUJI = re.compile(r"^[〇一二三四五六七八九十百千]+$")


def kansuji_value(s: str) -> int | None:
    """「二十五」→ 25, 「三百」→ 300, 「二〇二五」→ 2025; None when it is not a plain numeral."""
    if not s or not _KANSUJI.match(s):
        return None
    if not any(c in _KANJI_UNIT for c in s):
        return int("".join(str(_KANJI_DIGIT[c]) for c in s))
    total, digit = 0, None
    for c in s:
        if c in _KANJI_DIGIT:
            if digit is not None:
                return None
            digit = _KANJI_DIGIT[c]
        else:
            total += (1 if digit is None else digit) * _KANJI_UNIT[c]
            digit = None
    return total + (digit or 0)


KUN_COUNTS = {"フタリ", "ヒトリ", "フタツ", "ミッツ", "ヨッツ"}
_KANSUJI_RUN = re.compile(r"[〇一二三四五六七八九十百千]+")


def _kansuji(rule: Rule, text: str, toks: list[morph.Token]) -> Iterable[_Found]:
    """A kanji numeral of 2 or more directly followed by a counter (三十人, 五件). Not: 第三者, 数十人, 十数人 (概数),
    一つ・一人 (慣用), numerals inside a longer word (三日月, 統一) or words such as 十分 (形状詞)."""
    counters = tuple(str(c) for c in rule.params.get("counters") or ())
    starts = [t.start for t in toks]
    for m in _KANSUJI_RUN.finditer(text):
        a, b = m.span()
        value = kansuji_value(m.group(0))
        after = text[b:b + 3]
        if value is None or value < 2 or not after.startswith(counters) or after.startswith(("数", "余")):
            continue
        if a > 0 and text[a - 1] in "第数":
            continue
        counter = next(c for c in counters if after.startswith(c))
        c_end = b + len(counter)
        i = bisect.bisect_right(starts, a) - 1
        covering = [t for t in toks[max(i, 0):] if t.start < c_end]
        if not covering or covering[0].start != a or covering[-1].end > c_end:
            continue                      # the numeral starts or ends inside a longer word
        if any(t.pos.startswith(("形状詞", "副詞", "接続詞", "連体詞")) for t in covering):
            continue
        if any(t.reading in KUN_COUNTS for t in covering):
            continue                      # 二人 (ふたり): counted by the kanji's native reading, written in kanji
        yield _Found(rule, a, b, m.group(0), f"{value:,}")


def _prefix_mix(rule: Rule, text: str, toks: list[morph.Token]) -> Iterable[_Found]:
    kanji_next = re.compile(r"^[一-龥々]")
    found: dict[str, list[morph.Token]] = {"御": [], "ご": []}
    for i, tok in enumerate(toks[:-1]):
        nxt = toks[i + 1]
        if tok.surface in found and tok.pos.startswith("接頭辞") and tok.reading == "ゴ" \
                and nxt.start == tok.end and kanji_next.match(nxt.surface):
            found[tok.surface].append(tok)
    if not found["御"] or not found["ご"]:
        return
    keep = "御" if len(found["御"]) >= len(found["ご"]) else "ご"
    for tok in found["ご" if keep == "御" else "御"]:
        yield _Found(rule, tok.start, tok.end, tok.surface, keep)


# -- the check -------------------------------------------------------------------------------------------------

def _needs_tokens(rule: Rule) -> bool:
    return bool(rule.tokens or rule.lemmas or rule.check in ("kansuji", "prefix_mix"))


def run(rules: RuleSet, text: str, *, kind: str = "notice", options: Options | None = None) -> list[Suggestion]:
    """Every finding of the rules that apply to `kind`, in text order. Overlapping edits keep the first (then the
    longer, then the stricter); findings without a replacement never conflict with anything."""
    options = options or Options()
    text = text or ""
    active = [r for r in rules.rules if r.applies(kind) and r.id not in options.disabled
              and (not options.only or r.id in options.only)]
    toks = morph.tokenize(text) if any(_needs_tokens(r) for r in active) else []
    found: list[_Found] = []
    for rule in active:
        if rule.patterns:
            found += _by_patterns(rule, text)
        elif rule.tokens:
            found += _by_tokens(rule, text, toks)
        elif rule.lemmas:
            found += _by_lemmas(rule, text, toks)
        elif rule.check == "long_sentence":
            found += _long_sentence(rule, text, options)
        elif rule.check == "register_mix":
            found += _register_mix(rule, text, options)
        elif rule.check == "digit_width_mix":
            found += _digit_width_mix(rule, text, options)
        elif rule.check == "kansuji":
            found += _kansuji(rule, text, toks)
        elif rule.check == "prefix_mix":
            found += _prefix_mix(rule, text, toks)
    starts = _line_starts(text)
    out: list[Suggestion] = []
    for f in found:
        if f.replacement is not None and f.replacement == f.original:
            continue
        out.append(Suggestion(rule_id=f.rule.id, category=f.rule.category, title=f.rule.title,
                              source=f.rule.citation, level=f.rule.level, start=f.start, end=f.end,
                              original=f.original, replacement=f.replacement,
                              message=_message(f.rule, f.original, f.replacement), line=_line_of(starts, f.start),
                              auto=f.rule.auto))
    # two replacements may not change the same characters: the first change wins (then the longer, the stricter)
    order = {id(s): LEVEL_ORDER.get(s.level, 9) for s in out}
    edits = sorted((s for s in out if s.edits), key=lambda s: (s.edit[0], -(s.edit[1] - s.edit[0]), order[id(s)]))
    dropped: set[int] = set()
    taken_until, last_insert = -1, -1
    for s in edits:
        a, b, _ = s.edit
        if a < taken_until or (a == b and a == last_insert):
            dropped.add(id(s))
            continue
        taken_until = max(taken_until, b)
        if a == b:
            last_insert = a
    out = [s for s in out if id(s) not in dropped]
    out.sort(key=lambda s: (s.start, -(s.end - s.start), LEVEL_ORDER.get(s.level, 9)))
    return out


def apply(text: str, suggestions: Iterable[Suggestion]) -> str:
    """The text with every suggested replacement made (their smallest changes, applied from the end; a change whose
    characters are no longer there is skipped)."""
    text = text or ""
    last = len(text) + 1
    for s in sorted((s for s in suggestions if s.edits), key=lambda s: s.edit[0], reverse=True):
        a, b, new = s.edit
        if b > last or text[a:b] != s.original[a - s.start:b - s.start]:
            continue
        text = text[:a] + new + text[b:]
        last = a
    return text


def minimal_edit(original: str, replacement: str) -> tuple[int, int, str]:
    """The smallest part of `original` to replace: (start, end, new text) relative to `original`
    (「ご出席になられます」→「ご出席になります」 touches 「られ」 only)."""
    p = 0
    while p < min(len(original), len(replacement)) and original[p] == replacement[p]:
        p += 1
    q = 0
    while q < min(len(original), len(replacement)) - p and original[-1 - q] == replacement[-1 - q]:
        q += 1
    return p, len(original) - q, replacement[p:len(replacement) - q]
