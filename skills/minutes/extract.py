"""The offline (no AI) summary of a transcript: the sentences that carry the meeting, chosen by rules and kept word
for word with their time and speaker — an extractive summary, labelled as automatic wherever it is shown."""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from skills.minutes.transcript import UNKNOWN_SPEAKER, Transcript, Turn, clock

DECISION_WORDS = ("決定", "決まり", "決めます", "ことにします", "こととします", "とします", "承認", "了承", "確定",
                  "合意", "異議なし", "異議はありません", "可決", "それでいきましょう", "で進めます")
ACTION_WORDS = ("お願いします", "お願いいたします", "までに", "担当", "対応します", "対応いたします", "確認します",
                "調整します", "作成します", "してください", "提出", "準備します", "検討します", "連絡します", "宿題")
_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]?")
_TERM = re.compile(r"[一-龥々ァ-ヴー]{2,}|[A-Za-z][A-Za-z0-9]{2,}")
_DUE = re.compile(r"(?:令和\d+年)?\d{1,2}月\d{1,2}日(?:[（(][月火水木金土日][）)])?(?:まで)?|来週[月火水木金]曜日?|"
                  r"今週中|来週中|今月中|来月中|月末|週明け|年度内|次回(?:会議)?まで")
_STOP = {"ところ", "こと", "もの", "ため", "よう", "それ", "これ", "あれ", "そちら", "こちら", "皆さん", "みなさん",
         "本日", "今日", "お願い", "ありがとう", "ございます", "思います", "考えます"}


@dataclass(frozen=True)
class Line:
    """One sentence taken from the transcript: when, who, what (verbatim)."""

    start: float
    speaker: str
    text: str

    @property
    def at(self) -> str:
        return clock(self.start)


@dataclass(frozen=True)
class ActionCandidate:
    start: float
    owner: str             # the speaker who said it (offline: who took or gave the task is not decided)
    text: str
    due: str               # the date words found in the sentence, "" when none

    @property
    def at(self) -> str:
        return clock(self.start)


@dataclass
class Extract:
    summary: list[Line]
    decisions: list[Line]
    actions: list[ActionCandidate]


def _sentences(turns: list[Turn]) -> list[Line]:
    out = []
    for t in turns:
        parts = [s.strip() for s in _SENTENCE.findall(t.text) if s.strip()]
        span = (t.end - t.start) / max(1, len(parts))
        for i, s in enumerate(parts):
            out.append(Line(t.start + i * span, t.speaker or UNKNOWN_SPEAKER, s))
    return out


def extract(tr: Transcript, *, max_lines: int = 12) -> Extract:
    sents = _sentences(tr.turns)
    df = Counter(term for s in sents for term in set(_terms(s.text)))
    n = max(1, len(sents))

    def score(s: Line) -> float:
        terms = _terms(s.text)
        if not terms or len(s.text) < 8:
            return 0.0
        weight = sum(math.log(1 + df[t]) * math.log(1 + n / df[t]) for t in set(terms)) / math.sqrt(len(s.text))
        if any(w in s.text for w in DECISION_WORDS):
            weight *= 1.8
        if any(w in s.text for w in ACTION_WORDS):
            weight *= 1.4
        return weight

    ranked = sorted(range(len(sents)), key=lambda i: (-score(sents[i]), i))
    chosen: list[int] = []
    for i in ranked:
        if len(chosen) >= max_lines or score(sents[i]) <= 0:
            break
        if any(_similar(sents[i].text, sents[j].text) for j in chosen):
            continue
        chosen.append(i)
    summary = [sents[i] for i in sorted(chosen)]
    decisions = [s for s in sents if any(w in s.text for w in DECISION_WORDS)][:10]
    actions = []
    for s in sents:
        if any(w in s.text for w in ACTION_WORDS):
            due = _DUE.search(s.text)
            actions.append(ActionCandidate(s.start, s.speaker, s.text, due.group(0) if due else ""))
    return Extract(summary, decisions, actions[:15])


def _terms(text: str) -> list[str]:
    return [t for t in _TERM.findall(text) if t not in _STOP]


def _similar(a: str, b: str) -> bool:
    ga, gb = {a[i:i + 2] for i in range(len(a) - 1)}, {b[i:i + 2] for i in range(len(b) - 1)}
    return bool(ga and gb) and len(ga & gb) / len(ga | gb) > 0.6
