"""Suggestions as Word revisions: the .docx opens in python-docx, its changes are Word's own markup (w:ins / w:del
with w:author and w:date), accepting them all gives the corrected text and rejecting them all the original, the
user's formatting is kept, and what cannot be tracked stays a comment."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from core import kobun
from core.kobun import tracked
from tests.core.kobun.samples import EVERY_RULE

WHEN = datetime(2026, 4, 1, 0, 30, tzinfo=timezone.utc)
AUTHOR = "尼崎市AIアシスタント（公用文チェック）"


def _unwrap(el) -> None:
    parent, at = el.getparent(), el.getparent().index(el)
    for child in list(el):
        parent.insert(at, child)
        at += 1
    parent.remove(el)


def accept_all(data: bytes) -> str:
    d = docx.Document(io.BytesIO(data))
    for el in list(d.element.body.iter(qn("w:del"))):
        el.getparent().remove(el)
    for el in list(d.element.body.iter(qn("w:ins"))):
        _unwrap(el)
    return tracked.document_text(d)


def reject_all(data: bytes) -> str:
    d = docx.Document(io.BytesIO(data))
    for el in list(d.element.body.iter(qn("w:ins"))):
        el.getparent().remove(el)
    for el in list(d.element.body.iter(qn("w:del"))):
        for t in el.iter(qn("w:delText")):
            t.tag = qn("w:t")
        _unwrap(el)
    return tracked.document_text(d)


def test_text_becomes_a_document_with_word_revisions_and_comments():
    found = kobun.check(EVERY_RULE)
    out = tracked.from_text(EVERY_RULE, found, author=AUTHOR, when=WHEN, title="文書事務研修")
    d = docx.Document(io.BytesIO(out.data))                  # opens in python-docx
    body = d.element.body
    ins, dels = list(body.iter(qn("w:ins"))), list(body.iter(qn("w:del")))
    assert ins and dels
    for el in ins + dels:
        assert el.get(qn("w:author")) == AUTHOR and el.get(qn("w:date")) == "2026-04-01T00:30:00Z"
    ids = [el.get(qn("w:id")) for el in ins + dels]
    assert len(set(ids)) == len(ids)
    comment_ids = {str(c.comment_id) for c in d.comments}
    assert not comment_ids & set(ids)                         # no annotation shares an id
    edits = [s for s in found if s.edits]
    assert out.revisions == len(edits) and out.not_tracked == []
    assert out.comments == len(found) == len(list(d.comments))
    texts = [c.text for c in d.comments]
    assert any("kutoten.comma" in t and "公用文作成の考え方" in t for t in texts)
    assert any("bun.long" in t and "【推奨】" in t for t in texts)       # a finding without a replacement
    assert accept_all(out.data) == kobun.apply(EVERY_RULE, found)
    assert reject_all(out.data) == EVERY_RULE
    # every comment's range is closed and referenced
    starts = {e.get(qn("w:id")) for e in body.iter(qn("w:commentRangeStart"))}
    ends = {e.get(qn("w:id")) for e in body.iter(qn("w:commentRangeEnd"))}
    refs = {e.get(qn("w:id")) for e in body.iter(qn("w:commentReference"))}
    assert starts == ends == refs == comment_ids


def _user_docx() -> bytes:
    d = docx.Document()
    p = d.add_paragraph()
    p.add_run("会議を行")
    p.add_run("なった時は、")
    bold = p.add_run("報告して下さい。")
    bold.bold = True
    link = d.add_paragraph()
    link.add_run("詳細は")
    h = OxmlElement("w:hyperlink")
    h.set(qn("r:id"), d.part.relate_to("https://www.city.amagasaki.hyogo.jp/", RT.HYPERLINK, is_external=True))
    r = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = "規程および要綱"
    r.append(t)
    h.append(r)
    link._p.append(h)
    link.add_run("をご覧ください。")
    table = d.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "項目"
    table.cell(0, 1).text = "申請が出来ない場合"
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_the_users_own_document_keeps_its_formatting_and_untrackable_spans_stay_comments():
    out, text, found = tracked.from_docx(_user_docx(), lambda t: kobun.check(t), author=AUTHOR, when=WHEN)
    assert text.split("\n") == ["会議を行なった時は、報告して下さい。", "詳細は規程および要綱をご覧ください。", "項目",
                                "申請が出来ない場合"]
    assert {s.rule_id for s in found} == {"okurigana.honsoku", "hyoki.toki", "hyoki.kudasai",
                                          "hyoki.setsuzoku_kanji", "hyoki.dekiru"}
    assert [s.original for s in out.not_tracked] == ["および"]     # inside a hyperlink: a comment only
    assert out.revisions == 4 and out.comments == 5
    d = docx.Document(io.BytesIO(out.data))
    first = d.paragraphs[0]._p
    inserted = [r for ins in first.iter(qn("w:ins")) for r in ins.iter(qn("w:r"))]
    kudasai = next(r for r in inserted if "くだ" in "".join(t.text for t in r.iter(qn("w:t"))))
    assert kudasai.find(qn("w:rPr")).find(qn("w:b")) is not None        # the bold run's formatting carried over
    expected = kobun.apply(text, [s for s in found if s.original != "および"])
    assert accept_all(out.data) == expected
    assert reject_all(out.data) == text
    cell = d.tables[0].cell(0, 1)._tc
    assert list(cell.iter(qn("w:del"))) and "でき" in "".join(t.text for t in cell.iter(qn("w:t")))
