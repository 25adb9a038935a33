"""A small builder for Japanese official documents (公用文) as Word files, on python-docx.

General enough for notices (通知文), replies, speeches and reports: a fluent `OfficialDocument` that adds blocks
in order and returns the .docx bytes. Layout follows the usual municipal style: A4 portrait, 明朝 10.5pt, the
document number and date block right-aligned at the top, the addressee on the left, the sender right-aligned, a
centred title, first-line-indented body paragraphs, a centred 「記」, numbered items with a hanging indent, 「以上」
right-aligned, and the contact block right-aligned at the end.

    doc = OfficialDocument()
    doc.right("尼環第123号", "令和7年4月1日").addressee("各課長 様").right("環境部長")
    doc.title("研修会の開催について（通知）").paragraph("このことについて、…").ki()
    doc.numbered(["日時　令和7年5月1日", "場所　本庁舎"]).closing().contact("担当：環境政策課", "電話：…")
    data = doc.to_bytes()
"""
from __future__ import annotations

from typing import Iterable

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from core.office import set_core_properties, to_bytes

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DEFAULT_FONT = "ＭＳ 明朝"
HEADING_FONT = "ＭＳ ゴシック"
ZENKAKU_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def _set_font(run_or_style, name: str, size: float | None = None, bold: bool | None = None) -> None:
    """Set Latin and East Asian font faces (python-docx's `font.name` alone leaves w:eastAsia untouched)."""
    font = run_or_style.font
    font.name = name
    if size:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    el = run_or_style.element
    rpr = el.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), name)


class OfficialDocument:
    """Blocks are appended in call order; every method returns self so calls can be chained."""

    def __init__(self, *, font: str = DEFAULT_FONT, size_pt: float = 10.5,
                 margins_mm: tuple[float, float, float, float] = (30, 25, 25, 25)) -> None:
        self.doc = Document()
        self.font = font
        self.size = size_pt
        sec = self.doc.sections[0]
        sec.orientation = WD_ORIENT.PORTRAIT
        sec.page_width, sec.page_height = Mm(210), Mm(297)
        sec.top_margin, sec.right_margin, sec.bottom_margin, sec.left_margin = (Mm(m) for m in margins_mm)
        normal = self.doc.styles["Normal"]
        _set_font(normal, font, size_pt)
        pf = normal.paragraph_format
        pf.space_before = Pt(0)
        pf.space_after = Pt(0)
        pf.line_spacing = 1.15

    # -- blocks ------------------------------------------------------------------------------------------------
    def _para(self, text: str = "", *, align=None, bold: bool = False, size: float | None = None,
              font: str | None = None):
        p = self.doc.add_paragraph()
        if align is not None:
            p.alignment = align
        if text:
            run = p.add_run(text)
            if bold or size or font:
                _set_font(run, font or self.font, size or self.size, bold or None)
        return p

    def right(self, *lines: str) -> "OfficialDocument":
        """Right-aligned lines (document number, date, sender)."""
        for line in lines:
            if line:
                self._para(line, align=WD_ALIGN_PARAGRAPH.RIGHT)
        return self

    def left(self, *lines: str) -> "OfficialDocument":
        """Left-aligned lines without indentation."""
        for line in lines:
            self._para(line, align=WD_ALIGN_PARAGRAPH.LEFT)
        return self

    def addressee(self, *lines: str) -> "OfficialDocument":
        """The addressee (「各課長 様」), left-aligned."""
        return self.left(*[ln for ln in lines if ln])

    def blank(self, n: int = 1) -> "OfficialDocument":
        for _ in range(n):
            self._para("")
        return self

    def title(self, text: str) -> "OfficialDocument":
        """The 標題, centred, slightly larger, with a blank line before and after."""
        self.blank()
        self._para(text, align=WD_ALIGN_PARAGRAPH.CENTER, size=self.size + 1.5)
        return self.blank()

    def heading(self, text: str) -> "OfficialDocument":
        """A section heading (reports): bold gothic, left-aligned."""
        self._para(text, align=WD_ALIGN_PARAGRAPH.LEFT, bold=True, font=HEADING_FONT)
        return self

    def paragraph(self, text: str, *, indent_first: bool = True) -> "OfficialDocument":
        """A body paragraph; the first line indented by one full-width character (公用文の段落)."""
        p = self._para(text, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
        if indent_first:
            p.paragraph_format.first_line_indent = Pt(self.size)
        return self

    def numbered(self, items: Iterable[str], *, start: int = 1, numbers: bool = True) -> "OfficialDocument":
        """Numbered items 「１　…」 with a hanging indent. Items that already carry their number keep it
        (`numbers=False`)."""
        for i, item in enumerate(items, start):
            label = f"{str(i).translate(ZENKAKU_DIGITS)}　" if numbers else ""
            p = self._para(label + item, align=WD_ALIGN_PARAGRAPH.LEFT)
            p.paragraph_format.left_indent = Pt(self.size * 2)
            p.paragraph_format.first_line_indent = Pt(-self.size * 2)
        return self

    def bullets(self, items: Iterable[str], mark: str = "・") -> "OfficialDocument":
        for item in items:
            p = self._para(f"{mark}{item}", align=WD_ALIGN_PARAGRAPH.LEFT)
            p.paragraph_format.left_indent = Pt(self.size)
            p.paragraph_format.first_line_indent = Pt(-self.size)
        return self

    def ki(self) -> "OfficialDocument":
        """The centred 「記」 that introduces the itemised part, with blank lines around it."""
        self.blank()
        self._para("記", align=WD_ALIGN_PARAGRAPH.CENTER)
        return self.blank()

    def closing(self, text: str = "以上") -> "OfficialDocument":
        """The closing word (「以上」), right-aligned."""
        self.blank()
        self._para(text, align=WD_ALIGN_PARAGRAPH.RIGHT)
        return self

    def contact(self, *lines: str) -> "OfficialDocument":
        """The 担当・連絡先 block at the end, right-aligned, after a blank line."""
        lines = tuple(ln for ln in lines if ln)
        if lines:
            self.blank()
            self.right(*lines)
        return self

    def core_properties(self, *, title: str = "", author: str = "", comments: str = "") -> "OfficialDocument":
        set_core_properties(self.doc.core_properties, title=title, author=author, comments=comments)
        return self

    def to_bytes(self) -> bytes:
        return to_bytes(self.doc)
