"""core.docx: the official-document builder, re-opened with python-docx to check text and layout."""
from __future__ import annotations

import io

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm

from core.docx import OfficialDocument


def _reopen(data: bytes):
    return Document(io.BytesIO(data))


def test_blocks_keep_their_text_order_and_alignment():
    doc = OfficialDocument()
    doc.right("尼総第1号", "令和7年4月1日").addressee("各局長 様").right("総務局長")
    doc.title("研修の実施について（通知）").paragraph("このことについて、下記のとおり実施します。").ki()
    doc.numbered(["日時　5月1日", "場所　本庁舎"]).closing().contact("担当：情報政策課", "電話：06-0000-0000")
    doc.core_properties(title="研修（素案）", author="テスト", comments="AIを利用した素案")
    d = _reopen(doc.to_bytes())
    paras = [(p.text, p.alignment) for p in d.paragraphs if p.text]
    R, L, C = WD_ALIGN_PARAGRAPH.RIGHT, WD_ALIGN_PARAGRAPH.LEFT, WD_ALIGN_PARAGRAPH.CENTER
    assert paras == [
        ("尼総第1号", R), ("令和7年4月1日", R), ("各局長 様", L), ("総務局長", R),
        ("研修の実施について（通知）", C), ("このことについて、下記のとおり実施します。", WD_ALIGN_PARAGRAPH.JUSTIFY),
        ("記", C), ("１　日時　5月1日", L), ("２　場所　本庁舎", L), ("以上", R),
        ("担当：情報政策課", R), ("電話：06-0000-0000", R)]
    body = next(p for p in d.paragraphs if p.text.startswith("このことについて"))
    assert body.paragraph_format.first_line_indent > 0
    item = next(p for p in d.paragraphs if p.text.startswith("１"))
    assert item.paragraph_format.first_line_indent < 0 < item.paragraph_format.left_indent
    assert d.core_properties.title == "研修（素案）" and d.core_properties.comments == "AIを利用した素案"


def test_a4_portrait_with_japanese_font_set_for_east_asian_text():
    d = _reopen(OfficialDocument().paragraph("本文").to_bytes())
    sec = d.sections[0]
    assert abs(sec.page_width - Mm(210)) < Mm(1) and abs(sec.page_height - Mm(297)) < Mm(1)
    rfonts = d.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert rfonts.get(qn("w:eastAsia")) == "ＭＳ 明朝"


def test_numbered_items_that_carry_their_own_numbers_are_not_renumbered():
    d = _reopen(OfficialDocument().numbered(["1　日時", "（2）場所"], numbers=False).heading("第1章").bullets(["a"])
                .to_bytes())
    assert [p.text for p in d.paragraphs] == ["1　日時", "（2）場所", "第1章", "・a"]
    assert d.paragraphs[2].runs[0].bold
