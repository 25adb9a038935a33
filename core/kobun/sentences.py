"""Sentences and their register (敬体・常体), shared by the 公用文 rules and the drafting skill's layout checks.

A sentence ends in 。！？ (and any closing brackets after it); a line without one — a heading, a list item, a date
— is not a sentence. Offsets are into the whole text so that a finding can point at its sentence."""
from __future__ import annotations

import re
from dataclasses import dataclass

POLITE_END = re.compile(r"(です|ます|ました|でした|ません|ませんでした|ましょう|でしょう|ください|下さい|ございます|"
                        r"ございません|ませ|ますよう|ますか|ですか)$")
PLAIN_END = re.compile(r"(だ|である|であった|だった|ではない|ない|なかった|たい|[るうくすつぬむぶぐ]|た)$")
_TRAIL = "」』）)】〕"
_SENTENCE = re.compile(r"[^。！？!?\n]*[。！？!?][」』）)】〕]*")


@dataclass(frozen=True)
class Sentence:
    text: str             # without the surrounding blank space
    start: int
    end: int


def sentences(text: str) -> list[Sentence]:
    """Sentences ending in 。！？, with their offsets (list items and headings without a full stop are left out)."""
    out = []
    for m in _SENTENCE.finditer(text or ""):
        raw = m.group(0)
        lead = len(raw) - len(raw.lstrip())
        s = raw.strip()
        if s:
            out.append(Sentence(s, m.start() + lead, m.start() + lead + len(s)))
    return out


def parenthetical(sentence: str) -> bool:
    """A sentence that ends inside brackets, like 「（土日祝日を含む。）」: a note, not a sentence of the text."""
    return bool(re.search(r"[。！？!?][）)]", sentence))


def register(sentence: str) -> str | None:
    """"polite" (敬体), "plain" (常体) or None (体言止め, 「〜こと。」 and other neutral endings)."""
    core = sentence.rstrip("。！？!?").rstrip(_TRAIL).rstrip("。")
    if not core:
        return None
    if POLITE_END.search(core):
        return "polite"
    if PLAIN_END.search(core):
        return "plain"
    return None
