import io

import docx
import openpyxl
import pptx
import pytest

from core.search.chunking import chunk_markdown
from core.search.index import Index
from core.search.ingest import (
    BrokenFile,
    EmptyDocument,
    IngestError,
    UnsupportedFileType,
    ingest_folder,
    to_markdown,
    to_markdown_async,
)
from tests.core.search.pdfgen import make_pdf


def make_docx() -> bytes:
    d = docx.Document()
    d.add_heading("ごみ分別の手引き", 1)
    d.add_heading("粗大ごみ", 2)
    d.add_paragraph("粗大ごみは事前申込制です。電話で受け付けます。")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "品目", "料金"
    t.cell(1, 0).text, t.cell(1, 1).text = "ソファー", "1000円"
    b = io.BytesIO()
    d.save(b)
    return b.getvalue()


def make_pptx() -> bytes:
    p = pptx.Presentation()
    for title, body in [("接種の流れ", "接種券を持参してください。"), ("予約", "予約は電話で受け付けます。")]:
        s = p.slides.add_slide(p.slide_layouts[1])
        s.shapes.title.text = title
        s.placeholders[1].text = body
    b = io.BytesIO()
    p.save(b)
    return b.getvalue()


def make_xlsx() -> bytes:
    w = openpyxl.Workbook()
    ws = w.active
    ws.title = "品目"
    ws.append(["品名", "分別"])
    ws.append(["アイロン", "燃やさないごみ"])
    ws2 = w.create_sheet("料金")
    ws2.append(["品目", "料金"])
    ws2.append(["ソファー", "1000円"])
    b = io.BytesIO()
    w.save(b)
    return b.getvalue()


def test_pdf_pages_survive():
    conv = to_markdown(make_pdf([["粗大ごみの出し方", "申込みは電話でお願いします。"], ["資源ごみは水曜日です。"]]),
                       "ごみ.pdf")
    assert conv.kind == "pdf" and conv.title == "ごみ"
    chunks = chunk_markdown(conv.markdown, title=conv.title)
    assert [(c.page, "申込みは電話" in c.text or "資源ごみは水曜日" in c.text) for c in chunks] == \
        [("1ページ", True), ("2ページ", True)]


def test_docx_headings_and_table():
    conv = to_markdown(make_docx(), "手引き.docx")
    assert conv.title == "ごみ分別の手引き"
    assert "## 粗大ごみ" in conv.markdown and "粗大ごみは事前申込制です。" in conv.markdown
    assert "ソファー" in conv.markdown and "1000円" in conv.markdown
    assert chunk_markdown(conv.markdown, title=conv.title)[0].section == "粗大ごみ"


def test_pptx_slides():
    conv = to_markdown(make_pptx(), "説明.pptx")
    chunks = chunk_markdown(conv.markdown, title=conv.title)
    pages = {c.page for c in chunks}
    assert pages == {"スライド1", "スライド2"}
    assert any("予約は電話で受け付けます。" in c.text and c.page == "スライド2" for c in chunks)


def test_xlsx_sheets():
    conv = to_markdown(make_xlsx(), "一覧.xlsx")
    chunks = chunk_markdown(conv.markdown, title=conv.title)
    by_page = {c.page: c.text for c in chunks}
    assert "アイロン" in by_page["シート「品目」"] and "ソファー" in by_page["シート「料金」"]


def test_html_text_without_scripts_and_legacy_charset():
    html = ('<html><head><meta charset="shift_jis"><title>お知らせ</title></head><body><h1>休館日</h1>'
            '<p>図書館は月曜日が休館です。</p><script>alert(1)</script></body></html>').encode("cp932")
    conv = to_markdown(html, "info.html")
    assert conv.title == "休館日" and "図書館は月曜日が休館です。" in conv.markdown
    assert "alert" not in conv.markdown


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_txt_and_md_encodings(encoding):
    conv = to_markdown("# 窓口案内\n\n住民票は市民課で発行します。".encode(encoding), "案内.md")
    assert conv.title == "窓口案内" and "住民票は市民課で発行します。" in conv.markdown
    txt = to_markdown("住民票は市民課で発行します。".encode(encoding), "案内.txt")
    assert txt.title == "案内" and txt.markdown == "住民票は市民課で発行します。"


@pytest.mark.parametrize("data,name,kind", [
    (b"MZ\x90\x00", "tool.exe", UnsupportedFileType),
    (b"hello", "photo.png", UnsupportedFileType),
    (b"this is not a pdf", "a.pdf", BrokenFile),
    (b"%PDF-1.4 truncated", "a.pdf", BrokenFile),
    (b"PK\x03\x04broken zip", "a.docx", BrokenFile),
    (b"plain text pretending", "a.xlsx", BrokenFile),
    (b"PK\x03\x04", "a.pptx", BrokenFile),
    (b"   \n", "a.txt", EmptyDocument),
    (b"", "a.md", EmptyDocument),
])
def test_bad_files_raise_typed_japanese_errors(data, name, kind):
    with pytest.raises(kind) as ei:
        to_markdown(data, name)
    err = ei.value
    assert isinstance(err, IngestError)
    assert name in err.message and err.message.endswith("。")
    assert "Traceback" not in err.message and "Error" not in err.message


def test_pdf_without_text_is_empty_document():
    with pytest.raises(EmptyDocument):
        to_markdown(make_pdf([[]]), "scan.pdf")


async def test_async_conversion():
    conv = await to_markdown_async(make_docx(), "手引き.docx")
    assert "粗大ごみ" in conv.markdown


async def test_ingest_folder_add_update_remove(db, tmp_path):
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "手引き.docx").write_bytes(make_docx())
    (root / "sub" / "説明.pptx").write_bytes(make_pptx())
    (root / "一覧.xlsx").write_bytes(make_xlsx())
    (root / "ごみ.pdf").write_bytes(make_pdf([["資源ごみは水曜日に収集します。"]]))
    (root / "memo.txt").write_text("図書館の休館日は月曜日です。", encoding="utf-8")
    (root / "broken.pdf").write_bytes(b"not a pdf")
    (root / "image.png").write_bytes(b"\x89PNG")
    (root / "~$手引き.docx").write_bytes(b"lock file")
    ix = Index(db)
    rep = await ingest_folder(ix, "gomi", root)
    assert (rep.added, rep.updated, rep.unchanged, rep.removed, rep.skipped) == (5, 0, 0, 0, 1)
    assert [p for p, _ in rep.failed] == ["broken.pdf"] and "broken.pdf" in rep.failed[0][1]
    assert (await ix.get_set("gomi")).members == []
    docs = await ix.list_documents("gomi")
    assert set(docs) == {"手引き.docx", "sub/説明.pptx", "一覧.xlsx", "ごみ.pdf", "memo.txt"}
    assert docs["memo.txt"].url.startswith("file://")

    hits = await ix.search("資源ごみの収集日", ["gomi"])
    assert hits[0].title == "ごみ" and hits[0].page == "1ページ"

    # second run: nothing changed
    rep = await ingest_folder(ix, "gomi", root)
    assert (rep.added, rep.updated, rep.unchanged, rep.removed) == (0, 0, 5, 0)
    # change one, delete one
    (root / "memo.txt").write_text("図書館の休館日は火曜日に変わりました。", encoding="utf-8")
    (root / "sub" / "説明.pptx").unlink()
    rep = await ingest_folder(ix, "gomi", root)
    assert (rep.added, rep.updated, rep.unchanged, rep.removed) == (0, 1, 3, 1)
    assert "sub/説明.pptx" not in await ix.list_documents("gomi")
    hits = await ix.search("図書館の休館日", ["gomi"])
    assert "火曜日" in hits[0].text
    assert all(h.title != "接種の流れ" for h in await ix.search("接種券を持参", ["gomi"], k=10))


async def test_ingest_folder_missing(db, tmp_path):
    with pytest.raises(IngestError) as ei:
        await ingest_folder(Index(db), "x", tmp_path / "nope")
    assert "見つかりません" in ei.value.message
