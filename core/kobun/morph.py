"""Sudachi tokens with their offsets in the checked text, for the rules that need morphology (送り仮名, とき/時,
補助動詞). The dictionary is the process's one (core.sudachi); tokenizers are not thread-safe, so each thread keeps
its own. Text is tokenized line by line (Sudachi refuses inputs over about 49 KB), long lines in pieces cut after
a full stop."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from core.sudachi import dictionary

MAX_PIECE = 4000          # characters per tokenizer call (well under Sudachi's byte limit for any script)

_local = threading.local()


@dataclass(frozen=True)
class Token:
    surface: str
    start: int            # offsets in the whole checked text
    end: int
    lemma: str            # dictionary form as written (「行なう」 for 「行なっ」)
    normalized: str       # Sudachi's normalized form (「行う」)
    reading: str          # katakana
    pos: str              # the first four part-of-speech fields joined by ","  (「名詞,普通名詞,一般,*」)
    conj: str             # conjugation type and form joined by ","  (「五段-ワア行,連用形-促音便」)


def _tokenizer():
    tok = getattr(_local, "tok", None)
    if tok is None:
        from sudachipy import SplitMode

        tok = dictionary().tokenizer(mode=SplitMode.C)
        _local.tok = tok
    return tok


def _pieces(line: str) -> list[tuple[int, str]]:
    """(offset, piece) of one line, each piece at most MAX_PIECE characters, cut after 。 where possible."""
    out: list[tuple[int, str]] = []
    start = 0
    while len(line) - start > MAX_PIECE:
        cut = line.rfind("。", start, start + MAX_PIECE)
        end = cut + 1 if cut > start else start + MAX_PIECE
        out.append((start, line[start:end]))
        start = end
    if start < len(line):
        out.append((start, line[start:]))
    return out


def tokenize(text: str) -> list[Token]:
    """Every token of `text` (line breaks are not tokens), in order, with offsets into `text`."""
    tok = _tokenizer()
    out: list[Token] = []
    pos = 0
    for line in text.split("\n"):
        for off, piece in _pieces(line):
            if not piece.strip():
                continue
            base = pos + off
            for m in tok.tokenize(piece):
                pos_fields = m.part_of_speech()
                out.append(Token(m.surface(), base + m.begin(), base + m.end(), m.dictionary_form(),
                                 m.normalized_form(), m.reading_form(), ",".join(pos_fields[:4]),
                                 ",".join(pos_fields[4:6])))
        pos += len(line) + 1
    return out
