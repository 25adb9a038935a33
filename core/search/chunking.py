"""Japanese-aware chunking of Markdown (or plain text) by headings, paragraphs and sentences, with overlap.

Each chunk keeps the document title, its section path (the heading trail, "章 > 節"), and the page, sheet or slide it
came from. The converters mark those (see `core.search.ingest`): `<!-- Page: 3 -->` for PDF pages,
`<!-- Sheet: 名簿 -->` for spreadsheet sheets and markitdown's own `<!-- Slide number: 2 -->` for slides. The page is
stored as a short Japanese label ("3ページ", "シート「名簿」", "スライド2") ready for a citation.

FAQ-shaped text (a paragraph opening with 「Q.」「Q1」「問1」「質問：」「【質問】」 and the answer after it) starts a new
chunk at each question, so that a question and its answer stay together and apart from the next pair;
`faq_question` finds the question of such a chunk, or the heading of a chunk whose heading asks a question, for
the search index to weigh (`core.search.index.chunk_terms`)."""
from __future__ import annotations

import re
from dataclasses import dataclass

TARGET_CHARS = 500
MAX_CHARS = 600
OVERLAP_CHARS = 100

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_PAGE = re.compile(r"^<!--\s*Page:\s*(\d+)\s*-->$")
_SHEET = re.compile(r"^<!--\s*Sheet:\s*(.+?)\s*-->$")
_SLIDE = re.compile(r"^<!--\s*Slide number:\s*(\d+)\s*-->$")
_COMMENT = re.compile(r"^<!--.*-->$")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_TABLE_SEP = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])")
_CLAUSE_END = re.compile(r"(?<=[、，,；;])")
# The opening of an FAQ question: Q. / Q1 / Q1. / Q： / 問1 / 問： / 質問 / 質問1： / 【質問】 / 【Q1】 (full width too).
_QUESTION = re.compile(
    r"^\s*(?:[QＱ][0-9０-９]*\s*[.．:：)）、]|[QＱ][0-9０-９]+(?=\s|[^0-9０-９A-Za-zＡ-Ｚａ-ｚ])|"
    r"問[0-9０-９]+\s*[.．:：)）、]?|問\s*[.．:：]|質問[0-9０-９]*\s*[.．:：)）]|"
    r"[【\[［(（]\s*(?:[QＱ]|問|質問)[0-9０-９]*\s*[】\]］)）])\s*")
# The opening of its answer, which ends the question when both are on one line or the answer follows directly.
_ANSWER = re.compile(r"(?:(?:^|\s|(?<=[?？。]))(?:[AＡ][0-9０-９]*\s*[.．:：)）、]|答[0-9０-９]*\s*[.．:：]|"
                     r"回答[0-9０-９]*\s*[.．:：)）])|[【\[［(（]\s*(?:[AＡ]|答|回答)[0-9０-９]*\s*[】\]］)）])")
# A heading that asks: ends with a question mark, or with the か of a polite question (ですか。ますか。でしょうか。
# ませんか。のか), before any closing bracket.
_ASKS = re.compile(r"(?:[?？]|[すうんの]か[。.．]?)[)）」』]*\s*$")


@dataclass(frozen=True)
class ChunkText:
    ordinal: int
    title: str
    section: str
    page: str | None
    text: str


@dataclass
class _Block:
    section: tuple[str, ...]
    page: str | None
    kind: str          # "para" | "table"
    lines: list[str]
    question: bool = False   # opens with an FAQ question: starts a chunk of its own


def chunk_markdown(markdown: str, *, title: str, target: int = TARGET_CHARS, max_chars: int = MAX_CHARS,
                   overlap: int = OVERLAP_CHARS) -> list[ChunkText]:
    """Split a document into retrieval chunks of about `target` characters (never more than `max_chars`, except
    for a table header repeated on a continued table)."""
    blocks = _blocks(markdown or "", title)
    chunks: list[ChunkText] = []
    i = 0
    while i < len(blocks):  # consecutive blocks under the same heading and page form one packing run
        j = i
        while j < len(blocks) and (blocks[j].section, blocks[j].page) == (blocks[i].section, blocks[i].page) \
                and not (j > i and blocks[j].question):
            j += 1
        section = " > ".join(blocks[i].section)
        for text in _pack(blocks[i:j], target, max_chars, overlap):
            chunks.append(ChunkText(len(chunks), title, section, blocks[i].page, text))
        i = j
    return chunks


def _blocks(markdown: str, title: str) -> list[_Block]:
    trail: list[tuple[int, str]] = []
    page: str | None = None
    blocks: list[_Block] = []
    cur: _Block | None = None

    def close():
        nonlocal cur
        if cur is not None and any(ln.strip() for ln in cur.lines):
            blocks.append(cur)
        cur = None

    for raw in markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _IMAGE.sub("", raw).rstrip()
        stripped = line.strip()
        marker = _PAGE.match(stripped) or _SHEET.match(stripped) or _SLIDE.match(stripped)
        if marker:
            close()
            if marker.re is _PAGE:
                page = f"{marker.group(1)}ページ"
            elif marker.re is _SHEET:
                page = f"シート「{marker.group(1)}」"
            else:
                page = f"スライド{marker.group(1)}"
            continue
        if _COMMENT.match(stripped):
            continue
        h = _HEADING.match(stripped)
        if h:
            close()
            level, text = len(h.group(1)), h.group(2).strip()
            trail = [(lv, t) for lv, t in trail if lv < level]
            if not (level == 1 and not trail and text == title):
                trail.append((level, text))
            continue
        if not stripped:
            close()
            continue
        kind = "table" if stripped.startswith("|") else "para"
        section = tuple(t for _, t in trail)
        question = kind == "para" and _QUESTION.match(stripped) is not None
        if cur is None or cur.kind != kind or question:
            close()
            cur = _Block(section, page, kind, [], question)
        cur.lines.append(stripped if kind == "table" else line)
    close()
    return blocks


def _units(block: _Block, max_chars: int) -> tuple[list[str], list[tuple[str, bool]]]:
    """(table header lines, [(unit text, starts a paragraph)]). Tables split by rows; prose by sentences."""
    if block.kind == "table":
        lines = block.lines
        header: list[str] = []
        if len(lines) >= 2 and _TABLE_SEP.match(lines[1]):
            header, lines = lines[:2], lines[2:]
        rows = [(piece, i == 0 and j == 0) for i, row in enumerate(lines)
                for j, piece in enumerate(_cut(row, max_chars))]  # an over-long row continues on the next piece
        return header, rows
    text = "\n".join(block.lines).strip()
    units: list[tuple[str, bool]] = []
    for sent in _SENTENCE_END.split(text):
        if not sent.strip():
            if units and sent:
                units[-1] = (units[-1][0] + sent, units[-1][1])
            continue
        for piece in _cut(sent, max_chars):
            units.append((piece, not units))
    return [], units


def _cut(sentence: str, max_chars: int) -> list[str]:
    """A sentence longer than `max_chars`: cut at clause marks (、) where possible, else by length."""
    if len(sentence) <= max_chars:
        return [sentence]
    out, buf = [], ""
    for clause in _CLAUSE_END.split(sentence):
        while len(clause) > max_chars:
            if buf:
                out.append(buf)
                buf = ""
            out.append(clause[:max_chars])
            clause = clause[max_chars:]
        if len(buf) + len(clause) > max_chars:
            out.append(buf)
            buf = ""
        buf += clause
    if buf:
        out.append(buf)
    return out


def _pack(blocks: list[_Block], target: int, max_chars: int, overlap: int) -> list[str]:
    out: list[str] = []
    cur: list[str] = []          # rendered pieces of the chunk being built
    cur_len = 0
    carry: list[str] = []        # sentences of the previous chunk repeated at the start of the next (overlap)
    has_new = False              # the current chunk holds something beyond the carried overlap

    def flush(next_overlap: bool):
        nonlocal cur, cur_len, carry, has_new
        if has_new:
            out.append("".join(cur).strip())
        carry = _tail(cur_sentences, overlap) if next_overlap else []
        cur, cur_len, has_new = [], 0, False

    cur_sentences: list[str] = []
    for block in blocks:
        header, units = _units(block, max_chars)
        head = "\n".join(header) + "\n" if header else ""
        sep_para = "\n" if block.kind == "table" else ""
        for text, starts in units:
            piece_len = len(text) + (2 if starts else 0)
            if cur_len and (cur_len + piece_len > max_chars or cur_len >= target):
                flush(block.kind == "para")
                cur_sentences = []
            if not cur:
                # start a chunk: overlap from the previous prose chunk, or the table header again
                if carry:
                    joined = "".join(carry).strip()
                    if len(joined) + len(text) + 2 <= max_chars:
                        cur.append(joined + ("\n\n" if starts else ""))
                        cur_len = len(cur[0])
                    carry = []
                if block.kind == "table" and head:
                    cur.append(head)
                    cur_len += len(head)
            elif starts:
                cur.append("\n\n" if block.kind == "para" else "\n\n" + head)
                cur_len += 2 + (len(head) if block.kind == "table" else 0)
            cur.append(text + sep_para)
            cur_len += len(text) + len(sep_para)
            cur_sentences.append(text if block.kind == "para" else "")
            has_new = True
    flush(False)
    return out


def _tail(sentences: list[str], overlap: int) -> list[str]:
    """The last sentences of a chunk, up to `overlap` characters in all (at least one sentence if it fits)."""
    tail: list[str] = []
    total = 0
    for s in reversed(sentences):
        if not s or total + len(s) > overlap:
            break
        tail.insert(0, s)
        total += len(s)
    return tail


def faq_question(title: str, section: str, text: str) -> str:
    """The question of an FAQ-shaped chunk, or "": the question a chunk opens with (「Q. 予約は必要ですか？」, up to
    its answer marker or the end of its line), else its own heading (the last part of the section path, or the title
    when there is none) when that asks a question (ends with ？ or ですか。 and the like, or opens with a question
    marker)."""
    first = text.lstrip().split("\n", 1)[0]
    m = _QUESTION.match(first)
    if m:
        rest = first[m.end():]
        a = _ANSWER.search(rest)
        return (rest[:a.start()] if a else rest).strip()
    heading = section.rsplit(" > ", 1)[-1] if section else title
    m = _QUESTION.match(heading)
    if m:
        return heading[m.end():].strip()
    return heading.strip() if _ASKS.search(heading) else ""
