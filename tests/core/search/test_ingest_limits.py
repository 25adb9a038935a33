"""Hostile files (issue #22): zip bombs are refused from the zip directory alone, conversion runs in a child with
memory and time limits, long documents are taken in up to their caps with a Japanese note, and a file whose
extension lies is refused clearly. The parent's peak RSS is checked against a stated ceiling."""
import io
import re
from pathlib import Path

import openpyxl
import pptx
import pytest

import core.settings as app_settings
from core.search.chunking import chunk_markdown
from core.search.index import Index
from core.search.ingest import (
    BrokenFile,
    ConversionLimitExceeded,
    IngestSettings,
    SuspiciousFile,
    WrongFileType,
    ingest_folder,
    to_markdown,
    to_markdown_async,
)
from tests.core.search import hostile
from tests.core.search.pdfgen import make_pdf
from tests.core.search.test_ingest import make_docx, make_xlsx

PARENT_CEILING_MB = 150   # the parent's peak RSS may not grow more than this while it handles a hostile file


def _peak_mb() -> float:
    m = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(m.group(1)) / 1024


@pytest.fixture
def parent_peak():
    """Resets the peak RSS (VmHWM) where Linux allows it, and yields a function giving the growth since."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc (Linux)")
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    before = _peak_mb()
    return lambda: _peak_mb() - before


def settings(**kw) -> IngestSettings:
    return IngestSettings(**kw)


# ------------------------------------------------------------------------------------------------ zip bombs

def test_zip_bomb_refused_from_its_directory(parent_peak):
    bomb = hostile.zeros_docx(300)          # 300 MB of zeros in about 300 KB
    assert len(bomb) < 2 * 1024 * 1024
    with pytest.raises(SuspiciousFile) as ei:
        to_markdown(bomb, "手引き.docx")
    e = ei.value
    assert e.reason == "zip_size"
    assert e.message == ("「手引き.docx」は展開後の大きさが上限（200MB）を超えるため取り込めません"
                         "（圧縮爆弾の可能性があります）。")
    assert parent_peak() < PARENT_CEILING_MB


def test_dense_member_refused_by_compression_ratio(parent_peak):
    bomb = hostile.docx_bomb(20)            # a real document body of 20 MB in about 60 KB: under the size cap
    with pytest.raises(SuspiciousFile) as ei:
        to_markdown(bomb, "bomb.docx")
    assert ei.value.reason == "zip_ratio"
    assert ei.value.message == ("「bomb.docx」は圧縮率が異常に高い部分を含むため取り込めません"
                                "（圧縮爆弾の可能性があります）。")
    # the same file is accepted when an administrator raises the ratio cap (the limits are settings)
    with pytest.raises(ConversionLimitExceeded) as ei:
        to_markdown(bomb, "bomb.docx", settings=settings(INGEST_MAX_RATIO=1000, INGEST_MEMORY_MB=400))
    assert ei.value.reason == "memory" and "メモリが上限（400MB）" in ei.value.message
    assert parent_peak() < PARENT_CEILING_MB


def test_member_count_nested_archives_and_odd_names_refused():
    body = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>'
    many = {f"word/part{i}.xml": b"<x/>" for i in range(60)} | {"word/document.xml": body}
    with pytest.raises(SuspiciousFile) as ei:
        to_markdown(hostile.zip_with(many), "多い.docx", settings=settings(INGEST_MAX_MEMBERS=50))
    assert ei.value.reason == "zip_members" and "内部のファイル数が多すぎる" in ei.value.message

    inner = hostile.zip_with({"a.txt": b"x"})
    with pytest.raises(SuspiciousFile) as ei:
        to_markdown(hostile.zip_with({"word/document.xml": body, "word/media/inner.zip": inner}), "入れ子.docx")
    assert ei.value.reason == "zip_nested"
    assert ei.value.message.startswith("「入れ子.docx」は内部に別の圧縮ファイルを含むため取り込めません。")

    for odd in ("../../etc/passwd", "/abs.xml", "word\\document.xml", "word/doc\x01.xml"):
        with pytest.raises(SuspiciousFile) as ei:
            to_markdown(hostile.zip_with({"word/document.xml": body, odd: b"x"}), "変.docx")
        assert ei.value.reason == "zip_name", odd
        assert "Wordのファイルとして不自然な構造のため取り込めません" in ei.value.message


def test_embedded_workbook_of_a_chart_is_allowed():
    """Office keeps a chart's data as a workbook under word/embeddings/: that nested zip is normal."""
    src = io.BytesIO(make_docx())
    out = io.BytesIO()
    import zipfile
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as b:
        for item in a.infolist():
            b.writestr(item, a.read(item.filename))
        b.writestr("word/embeddings/Microsoft_Excel_Worksheet.xlsx", make_xlsx())
    assert "粗大ごみ" in to_markdown(out.getvalue(), "グラフ入り.docx").markdown


# ------------------------------------------------------------------------------------------------ the child's limits

def test_memory_hog_is_stopped_in_the_child_and_the_parent_survives(parent_peak):
    with pytest.raises(ConversionLimitExceeded) as ei:
        to_markdown(make_docx(), "重い.docx", settings=settings(INGEST_MEMORY_MB=300),
                    converter="tests.core.search.hostile:hog")
    assert ei.value.reason == "memory"
    assert ei.value.message == ("「重い.docx」は変換に必要なメモリが上限（300MB）を超えたため取り込めませんでした。"
                                "ファイルを分割するなどして小さくしてから、もう一度お送りください。")
    assert parent_peak() < PARENT_CEILING_MB
    assert "粗大ごみ" in to_markdown(make_docx(), "手引き.docx").markdown   # the parent goes on converting


def test_endless_conversion_is_ended_by_the_timeout():
    with pytest.raises(ConversionLimitExceeded) as ei:
        to_markdown(make_docx(), "遅い.docx", settings=settings(INGEST_TIMEOUT_SECONDS=1),
                    converter="tests.core.search.hostile:spin")
    assert ei.value.reason == "timeout"
    assert ei.value.message == ("「遅い.docx」は変換に時間がかかりすぎたため（上限1秒）取り込めませんでした。"
                                "ファイルを分割するなどして小さくしてから、もう一度お送りください。")


async def test_killed_child_is_a_clear_error_and_async_callers_get_it():
    with pytest.raises(ConversionLimitExceeded) as ei:
        await to_markdown_async(make_docx(), "落ちる.docx", converter="tests.core.search.hostile:die")
    assert ei.value.reason == "crashed"
    assert ei.value.message.startswith("「落ちる.docx」の変換中に処理が異常終了したため取り込めませんでした。")
    assert "Error" not in ei.value.message


# ------------------------------------------------------------------------------------------------ caps, with a note

def test_xlsx_is_read_row_by_row_up_to_the_cap(parent_peak):
    # 300,000 rows whose sheet XML is cut off (malformed) after row 150,000: only a reader that stops at its row
    # cap succeeds; one that loads the whole sheet (pandas, as markitdown does) fails on the broken tail.
    data = hostile.xlsx_rows(300_000, broken_after=150_000)
    conv = to_markdown(data, "名簿.xlsx", settings=settings(INGEST_MAX_ROWS=1000))
    assert conv.truncated_note == ("「名簿.xlsx」は大きいため、一部だけを取り込みました（先頭から1,000行まで）。"
                                   "残りの部分は検索の対象になりません。必要な場合は、ファイルを分割してからお送りください。")
    lines = conv.markdown.splitlines()
    assert lines[:4] == ["<!-- Sheet: 名簿 -->", "## 名簿", "| 番号 | 氏名 |", "|---|---|"]
    assert lines[-1] == "| 999 | 職員999 |"
    assert parent_peak() < PARENT_CEILING_MB


def test_xlsx_sheet_and_column_caps():
    w = openpyxl.Workbook()
    w.active.title = "一"
    w.active.append([f"列{i}" for i in range(1, 8)])
    for name in ("二", "三"):
        w.create_sheet(name).append(["品目", "料金"])
    b = io.BytesIO()
    w.save(b)
    conv = to_markdown(b.getvalue(), "表.xlsx", settings=settings(INGEST_MAX_SHEETS=2, INGEST_MAX_COLUMNS=5))
    assert "（先頭から2シートまで（全3シート）、各シートの先頭から5列まで）" in conv.truncated_note
    assert "## 二" in conv.markdown and "## 三" not in conv.markdown
    assert "列5" in conv.markdown and "列6" not in conv.markdown


def test_pdf_pages_capped_without_parsing_the_rest():
    data = hostile.many_pages_pdf(5000)
    conv = to_markdown(data, "報告書.pdf", settings=settings(INGEST_MAX_PAGES=20))
    assert "（先頭から20ページまで（全5,000ページ））" in conv.truncated_note
    pages = [c.page for c in chunk_markdown(conv.markdown, title=conv.title)]
    assert pages[0] == "1ページ" and pages[-1] == "20ページ"


def test_pptx_slides_capped():
    p = pptx.Presentation()
    for i in range(1, 6):
        s = p.slides.add_slide(p.slide_layouts[1])
        s.shapes.title.text = f"第{i}章"
        s.placeholders[1].text = f"本文{i}です。"
    b = io.BytesIO()
    p.save(b)
    conv = to_markdown(b.getvalue(), "説明.pptx", settings=settings(INGEST_MAX_SLIDES=2))
    assert "（先頭から2枚目のスライドまで（全5枚））" in conv.truncated_note
    assert "本文2です。" in conv.markdown and "本文3です。" not in conv.markdown


def test_output_characters_capped():
    text = "\n".join(f"第{i}条 住民票の写しは市民課で交付します。" for i in range(1, 2001)).encode()
    conv = to_markdown(text, "規程.txt", settings=settings(INGEST_MAX_CHARS=5000))
    assert len(conv.markdown) <= 5000 and conv.markdown.endswith("交付します。")
    assert "（先頭から5,000文字まで）" in conv.truncated_note


def test_small_documents_have_no_note():
    assert to_markdown(make_docx(), "手引き.docx").truncated_note == ""


async def test_folder_report_lists_documents_taken_in_part(db, tmp_path, monkeypatch):
    (tmp_path / "名簿.xlsx").write_bytes(hostile.xlsx_rows(2000))
    rep = await ingest_folder(Index(db), "meibo", tmp_path)
    assert rep.added == 1 and rep.truncated == [] and "一部のみ" not in rep.summary()
    monkeypatch.setenv("INGEST_MAX_ROWS", "500")       # the limits are read from the environment, once
    app_settings.clear_cache()
    try:
        rep = await ingest_folder(Index(db), "meibo", tmp_path)
    finally:
        app_settings.clear_cache()
    assert rep.updated == 1 and [p for p, _ in rep.truncated] == ["名簿.xlsx"]
    assert "先頭から500行まで" in rep.truncated[0][1] and "一部のみ取り込み 1 件" in rep.summary()


# ------------------------------------------------------------------------------------------------ lying extensions

@pytest.mark.parametrize("data,name,expected", [
    (make_pdf([["本文"]]), "実はPDF.docx", "「実はPDF.docx」は拡張子が「.docx」ですが、中身はPDFのファイルのようです。"),
    (make_docx(), "実はWord.pdf", "「実はWord.pdf」は拡張子が「.pdf」ですが、中身はWord（.docx）のファイルのようです。"),
    (hostile.zip_with({"a.txt": b"x"}), "実はZIP.pdf", "「実はZIP.pdf」は拡張子が「.pdf」ですが、中身はZIP形式の圧縮ファイルのようです。"),
    (make_xlsx(), "実はExcel.docx", "「実はExcel.docx」は拡張子が「.docx」ですが、中身はExcel（.xlsx）のファイルのようです。"),
    (make_pdf([["本文"]]), "実はPDF.txt", "「実はPDF.txt」は拡張子が「.txt」ですが、中身はPDFのファイルのようです。"),
])
def test_content_must_match_the_extension(data, name, expected):
    with pytest.raises(WrongFileType) as ei:
        to_markdown(data, name)
    assert isinstance(ei.value, BrokenFile)
    assert ei.value.message.startswith(expected)
    assert ei.value.message.endswith("もう一度お送りください。")


def test_legacy_or_encrypted_office_file_is_explained():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512
    with pytest.raises(WrongFileType) as ei:
        to_markdown(ole, "古い.docx")
    assert "古い形式（.doc、.xls、.ppt）のファイルか、パスワードで保護されたOfficeファイル" in ei.value.message


# ------------------------------------------------------------------------------------------------ the converter process

def test_children_come_from_one_warm_converter_process_that_outlives_their_crashes():
    from core.search import extract

    extract.shutdown()
    assert "粗大ごみ" in to_markdown(make_docx(), "一.docx").markdown
    first = extract._idle[-1].proc.pid
    with pytest.raises(ConversionLimitExceeded):
        to_markdown(make_docx(), "落ちる.docx", converter="tests.core.search.hostile:die")
    assert "粗大ごみ" in to_markdown(make_docx(), "二.docx").markdown
    assert [z.proc.pid for z in extract._idle] == [first]       # the child died; its converter process did not
    extract._idle[-1].proc.kill()                                 # the converter process itself gone: replaced
    extract._idle[-1].proc.wait()
    assert "粗大ごみ" in to_markdown(make_docx(), "三.docx").markdown
    assert extract._idle[-1].proc.pid != first
