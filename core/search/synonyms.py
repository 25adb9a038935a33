"""Administrators' synonyms for knowledge search: the words staff and residents use for what documents call
something else (年休 → 年次休暇, 打つ → 接種, マイナ → マイナンバーカード).

The file (`SEARCH_SYNONYMS_FILE`, UTF-8) uses the Solr / Azure AI Search synonym format, one rule per line:

    # comment
    年休, 年次休暇, 年次有給休暇        ← equivalent: any of them finds the others
    打つ => 接種                      ← one way: a query word 打つ also finds 接種 (not the reverse)

Words are analysed like documents (SudachiPy normalized forms), so 打った and 打つ are the same word; an entry
that is several words (ノー残業デー) is skipped with a warning, since search matches words, not phrases. Search
treats a word and its synonyms as one term (`Index._bm25`). Edits take effect on the next question; a file that
cannot be read keeps the last rules that could."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from core import datafile
from core.settings import AppSettings

log = logging.getLogger(__name__)

MAX_BYTES = 512 * 1024  # about 20,000 rules
_SEPARATORS = re.compile(r"[,、]")


class SearchSettings(AppSettings):
    section = "qa"

    SEARCH_SYNONYMS_FILE: str = ""
    """Synonym rules for knowledge search (Solr format: `年休, 年次休暇` or `打つ => 接種`, one per line); empty = none."""


def parse(text: str) -> dict[str, tuple[str, ...]]:
    """Rules → {query term: terms it also matches}. Lines that yield no word are skipped. Full-width punctuation
    counts like ASCII (「年休、年次休暇」, 「打つ＝＞接種」, ＃ comments)."""
    from core.search.text import SudachiAnalyzer, normalize

    words = SudachiAnalyzer(sub_tokens=False)
    rules: dict[str, list[str]] = {}

    def terms(part: str, n: int) -> list[str]:
        found_words = []
        for entry in (e.strip() for e in _SEPARATORS.split(part)):
            found = words.terms(entry)
            if len(found) == 1:
                found_words.append(found[0])
            elif found:  # search matches words, not phrases: 「ノー残業デー」 would join 残業 to everything else
                log.warning("synonyms line %d: %r is several words (%s); write one word per entry", n, entry,
                            " ".join(found))
        return list(dict.fromkeys(found_words))

    for n, raw in enumerate(text.splitlines(), 1):
        line = normalize(raw).split("#", 1)[0].strip()
        if not line:
            continue
        if "=>" in line:
            lhs, _, rhs = line.partition("=>")
            sources, targets = terms(lhs, n), terms(rhs, n)
        else:
            sources = targets = terms(line, n)
        if not sources or not targets or sources == targets == sources[:1]:
            log.warning("synonyms line %d ignored: %r", n, raw[:80])
            continue
        for s in sources:
            bucket = rules.setdefault(s, [])
            bucket.extend(t for t in targets if t != s and t not in bucket)
    return {k: tuple(v) for k, v in rules.items() if v}


class SynonymMap:
    """The rules of one file, re-read when it changes: `rules()` → {term: the terms it also matches}."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path else None
        self._rules: dict[str, tuple[str, ...]] = {}
        self._failing = False

    @classmethod
    def from_settings(cls) -> "SynonymMap":
        return cls(SearchSettings().SEARCH_SYNONYMS_FILE or None)

    def rules(self) -> dict[str, tuple[str, ...]]:
        path = self.path
        if path is None:
            return self._rules
        try:
            self._rules = datafile.cached("search-synonyms", path, lambda: self._load(path))
            self._failing = False
        except (OSError, UnicodeDecodeError, ValueError) as e:
            if not self._failing:  # once per failure, not once per question
                log.warning("synonyms file %s unreadable (%s): keeping the last rules", self.path, type(e).__name__)
            self._failing = True
        return self._rules

    @staticmethod
    def _load(path: Path) -> dict[str, tuple[str, ...]]:
        # parsed on the event loop at the first question after an edit: a list of synonyms is small, a huge file is
        # a mistake (a document saved under the wrong name), and would stall every conversation while it parses
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES // 1024} KB")
        return parse(path.read_text(encoding="utf-8"))
