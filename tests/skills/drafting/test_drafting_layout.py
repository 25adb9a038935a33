"""Every type's draft laid out as Word: all its text kept, in order, with the type's alignment."""
from __future__ import annotations

import io

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH

from skills.drafting.doctypes import DOC_TYPES
from skills.drafting.layout import file_name, render_docx
from tests.skills.drafting.drafting_samples import GOOD


@pytest.mark.parametrize("key", sorted(GOOD))
def test_every_line_of_the_draft_is_in_the_document_in_order(key):
    fields = {"subject": "件名", "sender": "市長"}
    doc = Document(io.BytesIO(render_docx(DOC_TYPES[key], GOOD[key], fields)))
    paras = [p.text for p in doc.paragraphs if p.text]
    lines = [ln.strip() for ln in GOOD[key].splitlines() if ln.strip()]
    it = iter(paras)
    assert all(any(ln == p for p in it) for ln in lines), (lines, paras)


def test_prose_types_put_title_centre_and_closing_lines_right():
    doc = Document(io.BytesIO(render_docx(DOC_TYPES["aisatsu"], GOOD["aisatsu"], {})))
    align = {p.text: p.alignment for p in doc.paragraphs if p.text}
    assert align["尼崎市民スポーツ大会 開会式 あいさつ（案）"] == WD_ALIGN_PARAGRAPH.CENTER
    assert align["令和7年10月12日"] == WD_ALIGN_PARAGRAPH.RIGHT and align["尼崎市長"] == WD_ALIGN_PARAGRAPH.RIGHT
    doc = Document(io.BytesIO(render_docx(DOC_TYPES["citizen"], GOOD["citizen"], {})))
    align = {p.text: p.alignment for p in doc.paragraphs if p.text}
    assert align["尼崎 一郎様"] == WD_ALIGN_PARAGRAPH.LEFT and align["環境部業務課"] == WD_ALIGN_PARAGRAPH.RIGHT
    doc = Document(io.BytesIO(render_docx(DOC_TYPES["gikai"], GOOD["gikai"], {"subject": "待機児童対策"})))
    assert doc.paragraphs[1].text == "待機児童対策（答弁案）"
    assert doc.paragraphs[1].alignment == WD_ALIGN_PARAGRAPH.CENTER


def test_file_names_are_safe():
    assert file_name(DOC_TYPES["jimu"], {"subject": "a/b:c*?"}) == "a_b_c___素案.docx"
    assert file_name(DOC_TYPES["jimu"], {}) == "事務連絡_素案.docx"
