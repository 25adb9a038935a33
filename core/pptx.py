"""A small slide-deck builder on python-pptx: a title slide, bullet slides, a numbered sources slide.

16:9, Japanese fonts set for East Asian text too (python-pptx's `font.name` only sets the Latin face). Long
bullet lists continue on a following slide (「（続き）」) instead of overflowing, and each body frame is marked
"shrink text on overflow" so PowerPoint fits what is left when it opens the file.

    deck = SlideDeck()
    deck.title_slide("子育て支援アプリの導入", "こども政策課　令和7年5月")
    deck.bullets("背景", ["国のこども未来戦略 [1]", "…"], notes="AIの出力です。")
    deck.sources([("こども未来戦略", "https://…"), ("地方自治法 第二条", None)])
    data = deck.to_bytes()
"""
from __future__ import annotations

from typing import Iterable, Sequence

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_AUTO_SIZE
from pptx.oxml.ns import qn
from pptx.util import Emu, Pt

from core.office import set_core_properties, to_bytes

PPTX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
DEFAULT_FONT = "Meiryo UI"
SLIDE_W, SLIDE_H = Emu(12192000), Emu(6858000)      # 13.333 in × 7.5 in (16:9)
_MARGIN = Emu(457200)                                # 0.5 in
_TITLE_LAYOUT, _CONTENT_LAYOUT, _TITLE_ONLY_LAYOUT = 0, 1, 5


def _set_font(run, name: str, size: float | None = None, bold: bool | None = None,
              color: RGBColor | None = None) -> None:
    font = run.font
    font.name = name
    if size:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    if color is not None:
        font.color.rgb = color
    rpr = run._r.get_or_add_rPr()
    for tag in ("a:ea", "a:cs"):
        el = rpr.find(qn(tag))
        if el is None:
            el = rpr.makeelement(qn(tag), {})
            rpr.append(el)
        el.set("typeface", name)


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


class SlideDeck:
    """Slides are appended in call order; every method returns self."""

    def __init__(self, *, font: str = DEFAULT_FONT, max_points: int = 6, max_chars: int = 140) -> None:
        self.prs = Presentation()
        self.prs.slide_width, self.prs.slide_height = SLIDE_W, SLIDE_H
        self.font = font
        self.max_points = max(1, max_points)
        self.max_chars = max(20, max_chars)

    # -- slides ------------------------------------------------------------------------------------------------
    def title_slide(self, title: str, subtitle: str = "", *, notes: str = "") -> "SlideDeck":
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[_TITLE_LAYOUT])
        t, sub = slide.shapes.title, slide.placeholders[1]
        t.left, t.top, t.width, t.height = _MARGIN, Emu(1900000), SLIDE_W - 2 * _MARGIN, Emu(1500000)
        sub.left, sub.top, sub.width, sub.height = _MARGIN, Emu(3600000), SLIDE_W - 2 * _MARGIN, Emu(1600000)
        self._fill(t.text_frame, [title], size=36, bold=True)
        self._fill(sub.text_frame, [ln for ln in subtitle.splitlines() if ln.strip()] or [""], size=18)
        self._notes(slide, notes)
        return self

    def bullets(self, title: str, points: Iterable[str], *, notes: str = "") -> "SlideDeck":
        """One slide (or more, continued) with a title and bullet points."""
        items = [self._cut(p) for p in points if p and str(p).strip()]
        parts = _chunks(items, self.max_points)
        for i, part in enumerate(parts):
            heading = title if i == 0 else f"{title}（続き）"
            self._content_slide(heading, list(part) or ["（記載なし）"], notes=notes)
        return self

    def sources(self, items: Iterable[tuple[str, str | None]], *, title: str = "出典") -> "SlideDeck":
        """A numbered list of sources: (name, url or None) → 「[1] name（url）」."""
        lines = [f"[{i}] {name}" + (f"（{url}）" if url else "") for i, (name, url) in enumerate(items, 1)]
        return self.bullets(title, lines or ["（出典なし）"])

    # -- output ------------------------------------------------------------------------------------------------
    def core_properties(self, *, title: str = "", author: str = "", comments: str = "") -> "SlideDeck":
        set_core_properties(self.prs.core_properties, title=title, author=author, comments=comments)
        return self

    def to_bytes(self) -> bytes:
        return to_bytes(self.prs)

    # -- internals ---------------------------------------------------------------------------------------------
    def _cut(self, text: str) -> str:
        s = " ".join(str(text).split())
        return s if len(s) <= self.max_chars else s[: self.max_chars - 1] + "…"

    def _content_slide(self, title: str, points: list[str], *, notes: str = "") -> None:
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[_CONTENT_LAYOUT])
        t, body = slide.shapes.title, slide.placeholders[1]
        t.left, t.top, t.width, t.height = _MARGIN, Emu(300000), SLIDE_W - 2 * _MARGIN, Emu(1000000)
        body.left, body.top = _MARGIN, Emu(1450000)
        body.width, body.height = SLIDE_W - 2 * _MARGIN, SLIDE_H - Emu(1450000) - _MARGIN
        self._fill(t.text_frame, [title], size=30, bold=True, color=RGBColor(0x1F, 0x3A, 0x5F))
        self._fill(body.text_frame, points, size=20)
        body.text_frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE
        self._notes(slide, notes)

    def _fill(self, frame, lines: list[str], *, size: float, bold: bool | None = None,
              color: RGBColor | None = None) -> None:
        frame.word_wrap = True
        for i, line in enumerate(lines):
            para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            para.text = ""
            run = para.add_run()
            run.text = line
            _set_font(run, self.font, size, bold, color)

    @staticmethod
    def _notes(slide, notes: str) -> None:
        if notes:
            slide.notes_slide.notes_text_frame.text = notes


__all__ = ["SlideDeck", "PPTX_CONTENT_TYPE"]
