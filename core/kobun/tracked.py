"""Suggestions as Word's own revisions: each replacement becomes a deletion (w:del) and an insertion (w:ins) with
w:author and w:date, so the author accepts or rejects it in Word (校閲 → 変更履歴); each finding also gets a comment
naming its rule and source, and findings without a replacement (a long sentence) are comments only.

Works on the user's own .docx (formatting kept: runs are split, never rewritten) or on plain text laid out as a new
document. The text a check sees is `document_text(doc)`: the body's paragraphs (tables included) joined by line
breaks, so the suggestions' offsets map back to runs. A replacement that would cut through something other than
plain text runs (a hyperlink, a field, an earlier revision) is not made; it stays a comment and is counted."""
from __future__ import annotations

import bisect
import copy
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable

from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from core.kobun.engine import LEVEL_LABELS, Suggestion

W_R, W_T, W_RPR, W_P = qn("w:r"), qn("w:t"), qn("w:rPr"), qn("w:p")
_PLAIN_RUN_CHILDREN = {W_RPR, W_T, qn("w:lastRenderedPageBreak")}
_TEXT_CONTAINERS = {qn(f"w:{n}") for n in ("hyperlink", "ins", "smartTag", "fldSimple", "sdt", "sdtContent",
                                            "customXml", "moveTo")}
_CHAR = {qn("w:tab"): "\t", qn("w:br"): "\n", qn("w:cr"): "\n", qn("w:noBreakHyphen"): "-"}


@dataclass
class Outcome:
    data: bytes
    revisions: int = 0              # replacements made as tracked changes
    comments: int = 0
    not_tracked: list[Suggestion] = field(default_factory=list)   # replacements left as comments only


@dataclass
class _Seg:
    el: object                      # the paragraph's child element
    text: str
    plain: bool                     # a run of text only: may be split and revised


def _run_text(r) -> str:
    out = []
    for child in r:
        if child.tag == W_T:
            out.append(child.text or "")
        elif child.tag in _CHAR:
            out.append(_CHAR[child.tag])
    return "".join(out)


def _inner_text(el) -> str:
    return "".join(_run_text(r) for r in el.iter(W_R))


def _segments(p) -> list[_Seg]:
    segs = []
    for child in p:
        if child.tag == W_R:
            plain = all(c.tag in _PLAIN_RUN_CHILDREN for c in child)
            segs.append(_Seg(child, _run_text(child), plain))
        elif child.tag in _TEXT_CONTAINERS:
            segs.append(_Seg(child, _inner_text(child), False))
        else:                       # w:del, w:pPr, bookmarks, comment ranges, proofErr: no visible text
            segs.append(_Seg(child, "", False))
    return segs


def paragraph_text(p) -> str:
    return "".join(s.text for s in _segments(p))


def paragraphs(doc) -> list:
    """Every paragraph of the body in document order (table cells and nested tables included)."""
    return list(doc.element.body.iter(W_P))


def document_text(doc) -> str:
    return "\n".join(paragraph_text(p) for p in paragraphs(doc))


class _Writer:
    def __init__(self, doc, author: str, when: datetime) -> None:
        self.doc = doc
        self.author = author
        self.date = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        ids = [int(v) for el in doc.element.body.iter() for k, v in el.attrib.items()
               if k == qn("w:id") and v.lstrip("-").isdigit()]
        # revisions count from far above every existing id and the comments' own ids (0, 1, 2, … as python-docx
        # adds them), so that no two annotations of the document share an id
        self.next_id = max(ids, default=0) + 100_000

    def _id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    # -- runs ------------------------------------------------------------------------------------------------
    @staticmethod
    def _set_text(r, text: str) -> None:
        for t in r.findall(W_T):
            r.remove(t)
        t = OxmlElement("w:t")
        t.text = text
        t.set(qn("xml:space"), "preserve")
        r.append(t)

    def _split(self, r, k: int):
        """Split a plain run at character k; returns the new run holding the text from k (inserted after r)."""
        text = _run_text(r)
        tail = copy.deepcopy(r)
        self._set_text(r, text[:k])
        self._set_text(tail, text[k:])
        r.addnext(tail)
        return tail

    def _isolate(self, p, start: int, end: int) -> list | None:
        """The plain runs exactly covering [start, end) of the paragraph's text, splitting at the edges; None when
        the span touches anything else. For an empty span, [] and the element to insert after (or None: first)."""
        pos = 0
        covered = []
        for seg in _segments(p):
            s_start, s_end = pos, pos + len(seg.text)
            pos = s_end
            if s_end <= start or s_start >= end or not seg.text:
                continue
            if not seg.plain:
                return None
            covered.append((seg.el, s_start, s_end))
        if not covered:
            return None
        first, f_start, f_end = covered[0]
        if start > f_start:
            covered[0] = (self._split(first, start - f_start), start, f_end)
        last, l_start, l_end = covered[-1]
        if end < l_end:
            self._split(last, end - l_start)
        return [el for el, _, _ in covered]

    def _insertion_point(self, p, offset: int):
        """Where an insertion at `offset` goes: (element, "after" | "before", run whose formatting it takes), or
        None when the offset is not at or inside a plain text run."""
        pos = 0
        for seg in _segments(p):
            s_start, s_end = pos, pos + len(seg.text)
            pos = s_end
            if not seg.text or not seg.plain or offset < s_start or offset > s_end:
                continue
            if offset == s_start:
                return seg.el, "before", seg.el
            if offset < s_end:
                self._split(seg.el, offset - s_start)
            return seg.el, "after", seg.el
        return None

    # -- markup ----------------------------------------------------------------------------------------------
    def _revision(self, tag: str):
        el = OxmlElement(tag)
        el.set(qn("w:id"), self._id())
        el.set(qn("w:author"), self.author)
        el.set(qn("w:date"), self.date)
        return el

    def _new_run(self, like, text: str):
        r = OxmlElement("w:r")
        rpr = like.find(W_RPR) if like is not None else None
        if rpr is not None:
            r.append(copy.deepcopy(rpr))
        self._set_text(r, text)
        return r

    def replace(self, p, start: int, end: int, new: str) -> tuple | None:
        """Tracked replacement of [start, end) by `new`; returns (first, last) element of the revision."""
        if start == end:
            spot = self._insertion_point(p, start)
            if spot is None:
                return None
            el, where, like = spot
            ins = self._revision("w:ins")
            ins.append(self._new_run(like, new))
            el.addnext(ins) if where == "after" else el.addprevious(ins)
            return ins, ins
        runs = self._isolate(p, start, end)
        if runs is None:
            return None
        dl = self._revision("w:del")
        runs[0].addprevious(dl)
        for r in runs:
            dl.append(r)
            for t in r.findall(W_T):
                t.tag = qn("w:delText")
                t.set(qn("xml:space"), "preserve")
        last = dl
        if new:
            ins = self._revision("w:ins")
            ins.append(self._new_run(runs[0], new))
            dl.addnext(ins)
            last = ins
        return dl, last

    def anchor(self, p, start: int, end: int) -> tuple | None:
        """(first, last) element to hang a comment on for [start, end): the exact runs when they are plain text,
        else the paragraph's children that hold the span."""
        runs = self._isolate(p, start, end)
        if runs:
            return runs[0], runs[-1]
        pos, first, last = 0, None, None
        for seg in _segments(p):
            s_start, s_end = pos, pos + len(seg.text)
            pos = s_end
            if seg.text and s_end > start and s_start < end:
                first = first if first is not None else seg.el
                last = seg.el
        return (first, last) if first is not None else None

    def comment(self, first, last, text: str) -> None:
        c = self.doc.comments.add_comment(text=text, author=self.author, initials="AI")
        cid = str(c.comment_id)
        start = OxmlElement("w:commentRangeStart")
        start.set(qn("w:id"), cid)
        first.addprevious(start)
        end = OxmlElement("w:commentRangeEnd")
        end.set(qn("w:id"), cid)
        last.addnext(end)
        ref_run = OxmlElement("w:r")
        rpr = OxmlElement("w:rPr")
        style = OxmlElement("w:rStyle")
        style.set(qn("w:val"), "CommentReference")
        rpr.append(style)
        ref_run.append(rpr)
        ref = OxmlElement("w:commentReference")
        ref.set(qn("w:id"), cid)
        ref_run.append(ref)
        end.addnext(ref_run)


def comment_text(s: Suggestion) -> str:
    head = f"【{LEVEL_LABELS.get(s.level, s.level)}】{s.title}（{s.rule_id}）"
    return f"{head}\n{s.message}\n出典：{s.source}"


def annotate(doc, suggestions: Iterable[Suggestion], *, author: str, when: datetime,
             ai_author: str | None = None) -> Outcome:
    """Write the suggestions (offsets into `document_text(doc)`) into `doc` as revisions and comments. Suggestions
    of an AI (rule ids "ai.*") are written under `ai_author`, so that Word keeps them apart from the rules'."""
    writer = _Writer(doc, author, when)

    def by(s: Suggestion) -> str:
        return ai_author if ai_author and s.rule_id.startswith("ai.") else author

    paras = paragraphs(doc)
    starts, pos = [], 0
    for p in paras:
        starts.append(pos)
        pos += len(paragraph_text(p)) + 1
    by_para: dict[int, list[Suggestion]] = {}
    for s in suggestions:
        by_para.setdefault(max(0, bisect.bisect_right(starts, s.start) - 1), []).append(s)
    out = Outcome(b"")
    for i, items in by_para.items():
        p, base = paras[i], starts[i]
        # comments without a replacement first: they split runs but change no text, so later offsets hold
        for s in (x for x in items if not x.edits):
            writer.author = by(s)
            spot = writer.anchor(p, s.start - base, min(s.end - base, len(paragraph_text(p))))
            if spot:
                writer.comment(spot[0], spot[1], comment_text(s))
                out.comments += 1
        for s in sorted((x for x in items if x.edits), key=lambda x: x.edit[0], reverse=True):
            writer.author = by(s)
            a, b, new = s.edit
            local = s.start - base
            a, b = a - base, b - base
            if paragraph_text(p)[a:b] != s.original[a - local:b - local]:
                out.not_tracked.append(s)
                continue
            spot = writer.replace(p, a, b, new)
            if spot is None:
                out.not_tracked.append(s)
                spot = writer.anchor(p, local, local + len(s.original))
            else:
                out.revisions += 1
            if spot:
                writer.comment(spot[0], spot[1], comment_text(s))
                out.comments += 1
    buf = io.BytesIO()
    doc.save(buf)
    out.data = buf.getvalue()
    return out


def from_docx(data: bytes, check: Callable[[str], list[Suggestion]], *, author: str,
              when: datetime) -> tuple[Outcome, str, list[Suggestion]]:
    """The user's .docx with the check's suggestions as revisions; also the checked text and the suggestions."""
    doc = Document(io.BytesIO(data))
    text = document_text(doc)
    suggestions = check(text)
    return annotate(doc, suggestions, author=author, when=when), text, suggestions


def from_text(text: str, suggestions: Iterable[Suggestion], *, author: str, when: datetime,
              title: str = "", ai_author: str | None = None) -> Outcome:
    """Plain text laid out one line per paragraph (the 公用文 fonts of core.docx), with the suggestions."""
    from core.docx import OfficialDocument

    od = OfficialDocument()
    for line in text.split("\n"):
        od.left(line)
    if title:
        od.core_properties(title=title, author=author)
    return annotate(od.doc, suggestions, author=author, when=when, ai_author=ai_author)
