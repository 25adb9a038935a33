"""Hostile files in every skill that reads files (#21), through the real app.

Each case sends one hostile file the way Teams does — a `file.download.info` attachment whose downloadUrl is served by
a loopback file server — with the words that route it to one skill, to the real aiohttp app (bot.app.create_app) over
the Bot Connector stand-in, and checks:

* a clear Japanese message reaches the user (the case's own expected words; never a stack trace or the generic
  apology; no ERROR log record carrying a traceback);
* the bot process's peak RSS grows by less than CEILING_MB while it handles the file (VmHWM reset through
  /proc/self/clear_refs after malloc_trim, so freed heap of earlier cases does not hide growth); converters and file
  readers run in child processes whose own ceilings are their settings (INGEST_MEMORY_MB, ANALYSIS_LOAD_MEMORY_MB);
* nothing is half-registered: the rows of every table a file can land in are unchanged after a refusal, and a bounded
  (truncated) document is there whole, with the note;
* external links are never fetched: every link in the files points at a loopback "remote" server that records each
  request, and it must have received none.

The "2 GB" files are not written: the file server declares Content-Length 2 GiB (as SharePoint does) and streams
rows while anyone reads, or streams without a length (chunked) so that only the size cap can stop the download; the
bytes it actually sent are checked. `python -m bot ingest` gets a sparse 2 GiB file (no blocks on disk).

The measured figures are printed (run with -s) and listed in docs/reliability.md."""
from __future__ import annotations

import asyncio
import ctypes
import functools
import io
import json
import logging
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text

from tests.bot.test_hostile import running
from tests.core.search import hostile
from tests.core.search.pdfgen import make_pdf
from tests.core.search.test_ingest import make_docx, make_xlsx
from tests.harness import make_services

CEILING_MB = 150            # the bot process's peak RSS growth while it handles one hostile file (README)
FILE_INFO = "application/vnd.microsoft.teams.file.download.info"
USER_AAD = "00000000-0000-0000-0000-0000000000aa"
SET = "hostile"
APOLOGY = "申し訳ありません。処理中に問題が発生しました"
TWO_GB = 2 * 1024 ** 3
TABLES = ("search_documents", "search_chunks", "kobun_checks", "notice_readings", "inquiry_answers",
          "approved_answers")
ROOT = Path(__file__).resolve().parents[2]
FIGURES: list[dict] = []    # printed at the end of the module (docs/reliability.md)

_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"


# ------------------------------------------------------------------------------------------------ hostile files

def _rels(*rels: tuple[str, str, str, bool]) -> str:
    body = "".join(f'<Relationship Id="{i}" Type="{t if t.startswith("http") else _REL + "/" + t}" Target="{target}"'
                   + (' TargetMode="External"' if ext else "") + "/>" for i, t, target, ext in rels)
    return f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">{body}</Relationships>'


def _types(*overrides: tuple[str, str], defaults: str = "") -> str:
    over = "".join(f'<Override PartName="{p}" ContentType="{c}"/>' for p, c in overrides)
    return ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            f'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>{defaults}{over}</Types>')


def word(paragraphs: list[str], *, remote: str = "", macro: bool = False) -> bytes:
    """A Word package written by hand. `remote`: the origin of a server that must never be asked — the document
    gets a remote template (settings.xml attachedTemplate, TargetMode External), a linked (not embedded) picture, an
    INCLUDETEXT and an INCLUDEPICTURE field and a hyperlink, all pointing there. `macro`: a VBA project part
    (word/vbaProject.bin, content type macroEnabled) whose code would create a file if it were ever run."""
    main_ct = ("application/vnd.ms-word.document.macroEnabled.main+xml" if macro else
               "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
    paras = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    doc_rels: list[tuple[str, str, str, bool]] = []
    extra = ""
    if remote:
        doc_rels += [("rIdImg", "image", f"{remote}/linked-picture.png", True),
                     ("rIdLink", "hyperlink", f"{remote}/hyperlink", True)]
        extra = (
            '<w:p><w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/'
            'wordprocessingDrawing"><wp:extent cx="100" cy="100"/><wp:docPr id="1" name="p"/><a:graphic '
            'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><a:graphicData uri="http://schemas.'
            'openxmlformats.org/drawingml/2006/picture"><pic:pic xmlns:pic="http://schemas.openxmlformats.org/'
            'drawingml/2006/picture"><pic:nvPicPr><pic:cNvPr id="1" name="p"/><pic:cNvPicPr/></pic:nvPicPr>'
            '<pic:blipFill><a:blip r:link="rIdImg"/></pic:blipFill><pic:spPr/></pic:pic></a:graphicData>'
            '</a:graphic></wp:inline></w:drawing></w:r></w:p>'
            f'<w:p><w:fldSimple w:instr=\' INCLUDETEXT "{remote}/included.docx" \'><w:r><w:t>（差し込み）</w:t>'
            f'</w:r></w:fldSimple></w:p><w:p><w:fldSimple w:instr=\' INCLUDEPICTURE "{remote}/field-picture.png" '
            '\\d \'><w:r><w:t>（図）</w:t></w:r></w:fldSimple></w:p>'
            '<w:p><w:hyperlink r:id="rIdLink"><w:r><w:t>関連ページ</w:t></w:r></w:hyperlink></w:p>')
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        overrides = [("/word/document.xml", main_ct)]
        if remote:
            overrides.append(("/word/settings.xml", "application/vnd.openxmlformats-officedocument."
                                                     "wordprocessingml.settings+xml"))
        z.writestr("[Content_Types].xml", _types(*overrides, defaults=(
            '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>' if macro else "")))
        z.writestr("_rels/.rels", _rels(("rId1", "officeDocument", "word/document.xml", False)))
        z.writestr("word/document.xml", f'<?xml version="1.0" encoding="UTF-8"?><w:document {_W} {_R}><w:body>'
                                        f"{paras}{extra}</w:body></w:document>")
        if remote:
            doc_rels.append(("rIdSettings", "settings", "settings.xml", False))
            z.writestr("word/settings.xml", f'<?xml version="1.0" encoding="UTF-8"?><w:settings {_W} {_R}>'
                                            '<w:attachedTemplate r:id="rIdTpl"/></w:settings>')
            z.writestr("word/_rels/settings.xml.rels",
                       _rels(("rIdTpl", "attachedTemplate", f"{remote}/template.dotm", True)))
        if macro:
            doc_rels.append(("rIdVba", VBA_REL, "vbaProject.bin", False))
            z.writestr("word/vbaProject.bin", MACRO_BODY)
        if doc_rels:
            z.writestr("word/_rels/document.xml.rels", _rels(*doc_rels))
    return b.getvalue()


MACRO_MARK = Path("/tmp/hostile-files-macro-ran")
MACRO_BODY = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 24 + b"Attribute VB_Name = \"ThisDocument\"\r\n"
              b"Sub AutoOpen()\r\n  Shell \"touch " + str(MACRO_MARK).encode() + b"\"\r\nEnd Sub\r\n"
              b"Sub Workbook_Open()\r\n  AutoOpen\r\nEnd Sub\r\n")


def workbook(rows: list[list[object]], *, remote: str = "", macro: bool = False) -> bytes:
    """An Excel package written by hand: one sheet 「集計」 of `rows`. `remote`: an external workbook link
    (xl/externalLinks, TargetMode External) used by a formula with a cached value, a WEBSERVICE formula and a web
    query connection, all pointing at `remote`. `macro`: xl/vbaProject.bin (as .xlsm keeps it)."""
    def cell(r: int, c: int, v: object) -> str:
        ref = f"{chr(65 + c)}{r}"
        if isinstance(v, (int, float)):
            return f'<c r="{ref}"><v>{v}</v></c>'
        if isinstance(v, tuple):                           # (formula, cached value)
            return f'<c r="{ref}"><f>{v[0]}</f><v>{v[1]}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>'
    sheet_rows = "".join(f'<row r="{r}">' + "".join(cell(r, c, v) for c, v in enumerate(row)) + "</row>"
                         for r, row in enumerate(rows, 1))
    wb_rels = [("rId1", "worksheet", "worksheets/sheet1.xml", False)]
    overrides = [("/xl/workbook.xml", "application/vnd.ms-excel.sheet.macroEnabled.main+xml" if macro else
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
                 ("/xl/worksheets/sheet1.xml",
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml")]
    ext_refs = ""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        if remote:
            wb_rels += [("rId2", "externalLink", "externalLinks/externalLink1.xml", False),
                        ("rId3", "connections", "connections.xml", False)]
            overrides += [("/xl/externalLinks/externalLink1.xml", "application/vnd.openxmlformats-officedocument."
                                                                   "spreadsheetml.externalLink+xml"),
                          ("/xl/connections.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml."
                                                  "connections+xml")]
            ext_refs = '<externalReferences><externalReference r:id="rId2"/></externalReferences>'
            z.writestr("xl/externalLinks/externalLink1.xml",
                       f'<?xml version="1.0" encoding="UTF-8"?><externalLink {_S} {_R}><externalBook r:id="rId1">'
                       '<sheetNames><sheetName val="Sheet1"/></sheetNames><sheetDataSet><sheetData sheetId="0">'
                       '<row r="1"><cell r="A1"><v>999</v></cell></row></sheetData></sheetDataSet></externalBook>'
                       '</externalLink>')
            z.writestr("xl/externalLinks/_rels/externalLink1.xml.rels",
                       _rels(("rId1", "externalLinkPath", f"{remote}/linked-book.xlsx", True)))
            z.writestr("xl/connections.xml",
                       f'<?xml version="1.0" encoding="UTF-8"?><connections {_S}><connection id="1" name="web" '
                       f'type="4" refreshOnLoad="1"><webPr url="{remote}/web-query" sourceData="1"/></connection>'
                       '</connections>')
        if macro:
            wb_rels.append(("rId9", VBA_REL, "vbaProject.bin", False))
            z.writestr("xl/vbaProject.bin", MACRO_BODY)
        z.writestr("[Content_Types].xml", _types(*overrides, defaults=(
            '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>' if macro else "")))
        z.writestr("_rels/.rels", _rels(("rId1", "officeDocument", "xl/workbook.xml", False)))
        z.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook {_S} {_R}><sheets>'
                                      f'<sheet name="集計" sheetId="1" r:id="rId1"/></sheets>{ext_refs}</workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", _rels(*wb_rels))
        z.writestr("xl/worksheets/sheet1.xml", f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_S}>'
                                               f"<sheetData>{sheet_rows}</sheetData></worksheet>")
    return b.getvalue()


def linked_rows(remote: str) -> list[list[object]]:
    rows: list[list[object]] = [["区", "件数", "外部参照", "ウェブ"]]
    for i, ku in enumerate(["中央", "小田", "大庄", "立花", "武庫", "園田"] * 5):
        rows.append([ku, 10 + i, ("[1]Sheet1!A1", 999), (f'WEBSERVICE("{remote}/webservice")', 0)])
    return rows


def inquiry_rows(remote: str) -> list[list[object]]:
    return [["令和7年度 ごみ処理に関する調査（兵庫県環境部）"], ["番号", "設問", "回答"],
            [1, "粗大ごみの収集方法を記入してください。", ""], [2, "外部参照の値", ("[1]Sheet1!A1", 999)],
            [3, "ウェブの値", (f'WEBSERVICE("{remote}/webservice")', 0)]]


def zeros_xlsx(inflated_mb: int) -> bytes:
    """A small valid workbook carrying one extra member of `inflated_mb` MB of zeros (a zip bomb)."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        with zipfile.ZipFile(io.BytesIO(workbook([["区", "件数"], ["中央", 1]]))) as src:
            for item in src.infolist():
                z.writestr(item.filename, src.read(item.filename))
        hostile._stream(z, "xl/media/image1.bin", b"", b"\0", inflated_mb << 20, b"")
    return b.getvalue()


def big_docx(xml_mb: int) -> bytes:
    """A Word document whose body is `xml_mb` MB of varied paragraphs: compresses about 16:1, under every ratio and
    size cap of a zip bomb check — only a cap on what is parsed in the bot's process stops it."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        hostile._package(z, "docx")
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(f'<?xml version="1.0" encoding="UTF-8"?><w:document {_W}><w:body>'.encode())
            i = written = 0
            while written < xml_mb << 20:
                chunk = "".join(f"<w:p><w:r><w:t>第{j}条 住民票の写しは市民課で交付します。番号{j * 7919 % 100003}"
                                "</w:t></w:r></w:p>" for j in range(i, i + 1000)).encode()
                f.write(chunk)
                written += len(chunk)
                i += 1000
            f.write(b"</w:body></w:document>")
    return b.getvalue()


def png(width: int, height: int, *, bit_depth: int = 8, colour: int = 2) -> bytes:
    """A real, complete PNG of width x height pixels, all black (IDAT compressed in pieces: small on disk)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    channels = {0: 1, 2: 3}[colour]
    row = b"\0" * (1 + (width * channels * bit_depth + 7) // 8)
    per = max(1, (4 << 20) // len(row))
    comp, parts, left = zlib.compressobj(9), [], height
    while left > 0:
        parts.append(comp.compress(row * min(per, left)))
        left -= per
    parts.append(comp.flush())
    head = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 64 + b"PE\0\0" + \
    bytes((i * 97 + 13) % 256 for i in range(8192))


@functools.lru_cache(maxsize=None)
def built(kind: str, remote: str = "") -> bytes:
    if kind == "docx_bomb":
        return hostile.zeros_docx(300)                     # 300 MB of zeros in ~300 KB
    if kind == "xlsx_bomb":
        return zeros_xlsx(300)
    if kind == "photo_zip_bomb":
        return hostile.zip_with({"写真1.jpg": b"\0" * (300 << 20)})
    if kind == "pdf_5000":
        return hostile.many_pages_pdf(5000)
    if kind == "png_30000":
        return png(30000, 30000, bit_depth=1, colour=0)    # 900 Mpx
    if kind == "png_at_cap":
        return png(7745, 7745)                             # 59.98 Mpx RGB: just under IMAGES_MAX_PIXELS
    if kind == "zip_png_at_cap":
        return hostile.zip_with({f"写真{i}.png": built("png_at_cap") for i in range(1, 5)})
    if kind == "big_docx":
        return big_docx(38)                                # under /check's 40 MB zip cap
    if kind == "big_xlsx":
        return hostile.xlsx_rows(300_000)                  # 32 MB of sheet XML in 3 MB, ratio 8
    if kind == "exe":
        return EXE
    if kind == "plain_zip":
        return hostile.zip_with({"readme.txt": "中身".encode() * 100, "tool.exe": EXE})
    if kind == "pdf":
        return make_pdf([["通知本文です。"]])
    if kind == "docx":
        return make_docx()
    if kind == "xlsx":
        return make_xlsx()
    if kind == "docx_macro":
        return word(["粗大ごみの出し方について", "申込みは電話で受け付けます。"], macro=True)
    if kind == "xlsx_macro":
        return workbook([["区", "件数"], *[[k, i] for i, k in enumerate(["中央", "小田", "大庄", "立花"] * 5)]],
                        macro=True)
    if kind == "docx_links":
        return word(["粗大ごみの出し方について", "このことについて、下記のとおり通知します。"], remote=remote)
    if kind == "xlsx_links":
        return workbook(linked_rows(remote), remote=remote)
    if kind == "inquiry_links":
        return workbook(inquiry_rows(remote), remote=remote)
    if kind == "vtt_exe":
        return EXE
    raise KeyError(kind)


# ------------------------------------------------------------------------------------------------ servers

class Files:
    """The loopback file server the attachments' download URLs point at. `/f/<key>` serves a registered body;
    `/declared2gb/<name>` answers Content-Length 2 GiB and streams rows; `/chunked2gb/<name>` streams rows without a
    length. `sent` counts the bytes actually written per path."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.sent: dict[str, int] = {}
        self.hits: list[str] = []

    async def start(self) -> "Files":
        app = web.Application()
        app.router.add_get("/f/{key}", self.body)
        app.router.add_get("/declared2gb/{name}", self.stream)
        app.router.add_get("/chunked2gb/{name}", self.stream)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.origin = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def body(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        data = self.bodies[request.match_info["key"]]
        self.sent[request.path] = len(data)
        return web.Response(body=data, content_type="application/octet-stream")

    async def stream(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        headers = {"Content-Type": "text/csv"}
        if request.path.startswith("/declared2gb/"):
            headers["Content-Length"] = str(TWO_GB)
        resp = web.StreamResponse(headers=headers)
        await resp.prepare(request)
        block = "1,2025-04-01,中央,100\n".encode() * 8192
        self.sent[request.path] = 0
        try:
            while self.sent[request.path] < TWO_GB:
                await resp.write(block)
                self.sent[request.path] += len(block)
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass                # the bot hung up at its size cap: what this server is for (not an error to log)
        return resp

    async def stop(self) -> None:
        await self.runner.cleanup()


class Remote:
    """Where every external link in the hostile files points: records any request (there must be none)."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def start(self) -> "Remote":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.any)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.origin = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def any(self, request: web.Request) -> web.Response:
        self.requests.append(f"{request.method} {request.path}")
        return web.Response(body=b"remote content", content_type="application/octet-stream")

    async def stop(self) -> None:
        await self.runner.cleanup()


# ------------------------------------------------------------------------------------------------ memory

_libc = ctypes.CDLL("libc.so.6") if sys.platform.startswith("linux") else None


def _status(field_name: str) -> int:
    m = re.search(rf"{field_name}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(m.group(1)) // 1024 if m else 0


def reset_peak() -> int:
    """Give freed heap back (so that growth is not hidden in it), reset VmHWM; returns the RSS (MB) it starts at."""
    import gc

    gc.collect()
    if _libc is not None:
        _libc.malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def peak_growth(start: int) -> int:
    return _status("VmHWM") - start


# ------------------------------------------------------------------------------------------------ cases

@dataclass(frozen=True)
class Case:
    id: str
    skill: str                  # the skill that should take it (for the table)
    words: str                  # the message sent with the file (routes it)
    name: str                   # the file's name
    kind: str                   # built(kind), or "declared2gb" / "chunked2gb"
    outcome: str                # refused | bounded | read
    expect: tuple[str, ...]     # words the user's message must contain
    lands: dict[str, int] = field(default_factory=dict)   # table -> rows it gains (else unchanged)
    ceiling: int = CEILING_MB


CASES = [
    # -- zip bombs as .docx / .xlsx: refused from the zip directory, nothing inflated
    Case("docx-bomb-qa", "qa", "登録", "手引き.docx", "docx_bomb", "refused", ("手引き.docx", "圧縮爆弾")),
    Case("docx-bomb-notice", "notice", "通知", "通知.docx", "docx_bomb", "refused", ("通知.docx", "圧縮爆弾")),
    Case("docx-bomb-check", "check", "チェック", "起案.docx", "docx_bomb", "refused", ("起案.docx", "安全に開けない構造")),
    Case("xlsx-bomb-qa", "qa", "登録", "名簿.xlsx", "xlsx_bomb", "refused", ("名簿.xlsx", "圧縮爆弾")),
    Case("xlsx-bomb-analysis", "analysis", "分析して", "集計.xlsx", "xlsx_bomb", "refused", ("集計.xlsx", "安全に開けない")),
    Case("xlsx-bomb-inquiry", "inquiry", "照会", "調査票.xlsx", "xlsx_bomb", "refused", ("調査票.xlsx", "安全に開けない構造")),
    Case("zip-bomb-photo", "images", "点検", "写真.zip", "photo_zip_bomb", "refused", ("写真.zip", "安全に開けない")),
    # -- documents that are large but no bomb: parsed in the bot's process by /check and /inquiry
    Case("big-docx-check", "check", "チェック", "長文.docx", "big_docx", "refused", ("長文.docx", "扱える大きさを超えている")),
    Case("big-xlsx-inquiry", "inquiry", "照会", "大きい調査票.xlsx", "big_xlsx", "refused",
         ("大きい調査票.xlsx", "大きすぎるため、読み取っていません（シートの内容が展開後5MBを超えています）")),
    # -- a PDF of 5,000 pages: taken in up to INGEST_MAX_PAGES (1,000), the user told
    Case("pdf-5000-qa", "qa", "登録", "報告書.pdf", "pdf_5000", "bounded", ("報告書.pdf", "先頭から1,000ページまで（全5,000ページ）"),
         lands={"search_documents": 1}),
    Case("pdf-5000-notice", "notice", "通知", "通知文.pdf", "pdf_5000", "bounded", ("先頭から1,000ページまで（全5,000ページ）",),
         lands={"notice_readings": 1}),
    # -- images of 30,000 x 30,000 pixels, and at the pixel cap
    Case("png-30000-photo", "images", "点検", "道路.png", "png_30000", "refused", ("道路.png", "画素数が大きすぎる")),
    Case("png-at-cap-photo", "images", "点検", "大きい写真.zip", "zip_png_at_cap", "read",
         ("写真1.png", "写真2.png", "写真3.png", "写真4.png", "写真点検のまとめ（4枚）")),
    # -- "2 GB" files
    Case("csv-2gb-declared-analysis", "analysis", "分析して", "住民異動.csv", "declared2gb", "refused", ("住民異動.csv", "上限は100MB")),
    Case("csv-2gb-chunked-analysis", "analysis", "分析して", "住民異動.csv", "chunked2gb", "refused", ("住民異動.csv", "上限は100MB")),
    Case("txt-2gb-qa", "qa", "登録", "規程.txt", "declared2gb", "refused", ("規程.txt", "上限は20MB")),
    Case("vtt-2gb-minutes", "minutes", "議事録", "会議.vtt", "chunked2gb", "refused", ("会議.vtt", "上限は10MB")),
    Case("wav-2gb-minutes", "minutes", "議事録", "録音.wav", "chunked2gb", "refused", ("録音.wav", "上限は500MB")),
    # -- extensions that lie
    Case("exe-as-docx-qa", "qa", "登録", "手順書.docx", "exe", "refused", ("手順書.docx", "読み取れませんでした")),
    Case("zip-as-docx-qa", "qa", "登録", "手順書.docx", "plain_zip", "refused", ("手順書.docx", "読み取れませんでした")),
    Case("pdf-as-docx-qa", "qa", "登録", "手順書.docx", "pdf", "refused", ("中身はPDFのファイルのようです",)),
    Case("docx-as-pdf-notice", "notice", "通知", "通知.pdf", "docx", "refused", ("中身はWord（.docx）のファイルのようです",)),
    Case("exe-as-docx-check", "check", "チェック", "起案.docx", "exe", "refused", ("起案.docx", "読み取れませんでした")),
    Case("pdf-as-docx-check", "check", "チェック", "起案.docx", "pdf", "refused", ("起案.docx", "読み取れませんでした")),
    Case("exe-as-xlsx-analysis", "analysis", "分析して", "集計.xlsx", "exe", "refused", ("集計.xlsx", "開けませんでした")),
    Case("exe-as-csv-analysis", "analysis", "分析して", "集計.csv", "exe", "refused", ("文字コードを判別できませんでした",)),
    Case("docx-as-xlsx-inquiry", "inquiry", "照会", "調査票.xlsx", "docx", "refused", ("調査票.xlsx", "読み取れませんでした")),
    Case("exe-as-jpg-photo", "images", "点検", "写真.jpg", "exe", "refused", ("写真.jpg", "写真として読み取れませんでした")),
    Case("exe-as-vtt-minutes", "minutes", "議事録", "会議.vtt", "vtt_exe", "refused", ("「会議.vtt」の文字コードを判別できませんでした",)),
    # -- macros: .docm/.xlsm are no file type any skill takes; VBA inside a .docx/.xlsx is never run (text only)
    Case("docm-any", "-", "登録", "申請書.docm", "docx_macro", "refused", ("申請書.docm", "扱えない種類のファイル")),
    Case("xlsm-any", "-", "分析して", "集計.xlsm", "xlsx_macro", "refused", ("集計.xlsm", "扱えない種類のファイル")),
    Case("vba-in-docx-qa", "qa", "登録", "申請書.docx", "docx_macro", "read", ("申請書.docx", "登録しました"),
         lands={"search_documents": 1}),
    Case("vba-in-docx-check", "check", "チェック", "申請書.docx", "docx_macro", "refused",
         ("「申請書.docx」はマクロを含むWord文書のため、読み取っていません。",)),
    Case("vba-in-xlsx-analysis", "analysis", "分析して", "集計.xlsx", "xlsx_macro", "read", ("「集計.xlsx」を自動集計しました",)),
    # -- external links: never fetched (the remote server must see no request)
    Case("links-docx-qa", "qa", "登録", "通知文.docx", "docx_links", "read", ("通知文.docx", "登録しました"),
         lands={"search_documents": 1}),
    Case("links-docx-notice", "notice", "通知", "通知文.docx", "docx_links", "read", ("このことについて、下記のとおり通知します。",),
         lands={"notice_readings": 1}),
    Case("links-docx-check", "check", "チェック", "通知文.docx", "docx_links", "read", ("公用文チェックの結果",),
         lands={"kobun_checks": 1}),
    Case("links-xlsx-qa", "qa", "登録", "集計表.xlsx", "xlsx_links", "read", ("集計表.xlsx", "登録しました"),
         lands={"search_documents": 1}),
    Case("links-xlsx-analysis", "analysis", "分析して", "集計表.xlsx", "xlsx_links", "read", ("「集計表.xlsx」を自動集計しました",)),
    Case("links-xlsx-inquiry", "inquiry", "照会", "調査票.xlsx", "inquiry_links", "read", ("照会への回答案", "粗大ごみの収集方法")),
]


def services_for(db, tmp_path):
    from skills.analysis.settings import AnalysisSettings
    from skills.images.settings import ImagesSettings
    from skills.minutes.settings import MinutesSettings
    from skills.notices.settings import NoticesSettings
    from skills.qa.settings import QASettings

    services = make_services(db)
    loop = {"127.0.0.1"}
    services.settings.put(QASettings(_env_file=None, QA_DOWNLOAD_HOSTS=",".join(loop),
                                     QA_DOWNLOAD_ALLOWLIST=",".join(loop)))
    services.settings.put(AnalysisSettings(_env_file=None, ANALYSIS_DATA_DIR=str(tmp_path / "analysis"),
                                           ANALYSIS_THREADS=1, ANALYSIS_DOWNLOAD_HOSTS="127.0.0.1",
                                           ANALYSIS_DOWNLOAD_ALLOWLIST="127.0.0.1"))
    services.settings.put(ImagesSettings(_env_file=None, IMAGES_DOWNLOAD_HOSTS="127.0.0.1",
                                         IMAGES_DOWNLOAD_ALLOWLIST="127.0.0.1"))
    services.settings.put(MinutesSettings(_env_file=None, MINUTES_DOWNLOAD_HOSTS="127.0.0.1",
                                          MINUTES_DOWNLOAD_ALLOWLIST="127.0.0.1"))
    services.settings.put(NoticesSettings(_env_file=None, NOTICES_DOWNLOAD_HOSTS="127.0.0.1",
                                          NOTICES_DOWNLOAD_ALLOWLIST="127.0.0.1"))
    return services


async def counts(services) -> dict[str, int]:
    out = {}
    async with services.db.session() as s:
        for t in TABLES:
            out[t] = (await s.execute(text(f"SELECT COUNT(*) FROM {t}"))).scalar_one()
    return out


async def warm_up(services) -> None:
    """What any first use loads once (the in-process embedding model, the 公用文 rules), loaded before the peak is
    measured: the figures are what a hostile file costs, not the process's first document (in another set)."""
    from core import kobun

    await services.knowledge.create_set("warm", title="暖機", owner="00000000-0000-0000-0000-0000000000bb")
    await services.knowledge.upsert("warm", "chat", "warm", "暖機", None, "粗大ごみは電話で申し込みます。")
    await asyncio.to_thread(kobun.check, "このことについて、下記のとおり通知します。", kind="notice")


def shown(activity: dict) -> str:
    """What a message shows: its text and its cards' text."""
    parts = [activity.get("text") or ""]
    for att in activity.get("attachments") or []:
        parts.append(json.dumps(att.get("content"), ensure_ascii=False))
    return "\n".join(parts)


JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
TRACE = re.compile(r"Traceback|File \"[^\"]+\", line \d+|\b[A-Z][a-zA-Z]+Error\b|\bException\b")


@pytest.fixture(scope="module", autouse=True)
def _print_figures():
    """The measured figures, printed after the module's cases (run with -s) for docs/reliability.md."""
    yield
    for f in FIGURES:
        print(json.dumps(f, ensure_ascii=False))


@pytest.fixture
async def peers():
    files, remote = await Files().start(), await Remote().start()
    yield files, remote
    await files.stop()
    await remote.stop()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_hostile_file(case: Case, sqlite_db, connector, peers, tmp_path, caplog):
    files, remote = peers
    MACRO_MARK.unlink(missing_ok=True)
    services = services_for(sqlite_db, tmp_path)
    await services.knowledge.create_set(SET, title="検証用", owner=USER_AAD)
    if case.kind in ("declared2gb", "chunked2gb"):
        url = f"{files.origin}/{case.kind}/{case.id}"
    else:
        files.bodies[case.id] = built(case.kind, remote.origin)
        url = f"{files.origin}/f/{case.id}"
    await warm_up(services)
    before = await counts(services)
    caplog.set_level(logging.INFO)
    async with running(services) as bot:
        n = len(connector.messages())
        act = connector.activity(case.words, attachments=[{
            "contentType": FILE_INFO, "name": case.name,
            "content": {"downloadUrl": url, "uniqueId": case.id, "fileType": case.name.rsplit(".", 1)[-1]}}])
        start = reset_peak()
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{bot.url}/api/messages", json=act) as r:
                assert r.status in (200, 202)
        await connector.wait_for(lambda a: len(connector.messages()) > n, timeout=120)
        await bot.settle(timeout=180)
        grew = peak_growth(start)
    after = await counts(services)
    said = [shown(m) for m in connector.messages()[n:]]
    everything = "\n".join(said)
    FIGURES.append({"case": case.id, "skill": case.skill, "file": case.name, "outcome": case.outcome,
                    "peak_mb": grew, "message": next((m for m in said if case.name in m), said[-1] if said else "")[:300],
                    "sent": files.sent.get(url.split(files.origin, 1)[1])})
    print(f"\n[{case.id}] +{grew} MB; sent {files.sent.get(url.split(files.origin, 1)[1])}; said: {said}")
    # a clear Japanese message, never a trace or the apology
    assert said and all(JAPANESE.search(m) for m in said), said
    assert APOLOGY not in everything and not TRACE.search(everything.replace(case.name, "")), said
    for words in case.expect:
        assert words in everything, (words, said)
    traced = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert not traced, [r.getMessage() for r in traced]
    # memory: the bot's process stays under its ceiling
    assert grew < case.ceiling, f"peak RSS grew {grew} MB (ceiling {case.ceiling} MB)"
    # nothing half-registered
    for table in TABLES:
        if table == "search_chunks" and case.lands.get("search_documents"):
            continue                        # checked below: the document's chunks are all there
        assert after[table] == before[table] + case.lands.get(table, 0), (table, before, after)
    if case.lands.get("search_documents"):
        docs = await services.knowledge.list_documents(SET)
        assert len(docs) == 1
        assert after["search_chunks"] > before["search_chunks"]
    # downloads stopped at the caps, external links never fetched, macros never run
    if case.kind == "declared2gb":
        assert files.sent[url.split(files.origin, 1)[1]] < 64 * 1024 * 1024
    if case.kind == "chunked2gb":
        assert files.sent[url.split(files.origin, 1)[1]] < 600 * 1024 * 1024
    assert remote.requests == []
    assert not MACRO_MARK.exists()


# ------------------------------------------------------------------------------------------------ bulk ingest

def _cli_peak(folder: Path, tmp_path: Path) -> tuple[int, str, int]:
    """Run `python -m bot ingest hostile <folder>` and return (its peak RSS in MB, its output, its exit code). Each
    folder gets a database of its own, so that both runs do the same work for the small document."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "AZURE", "MICROSOFT", "Microsoft"))}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/{folder.name}.db",
               LOG_FORMAT="text")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "ingest", SET, str(folder)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss // 1024, out, proc.returncode


def test_bulk_ingest_of_a_2gb_file_is_refused_unread(tmp_path):
    """`python -m bot ingest` over a folder holding a sparse 2 GiB .txt and a 2 GiB .pdf (no blocks on disk): both
    are reported as too large without being read; the process's peak RSS is compared with the same command over the
    folder's small document alone."""
    base = tmp_path / "base"
    base.mkdir()
    (base / "手引き.txt").write_text("粗大ごみは電話で申し込みます。\n", encoding="utf-8")
    small, out, code = _cli_peak(base, tmp_path)
    assert code == 0, out
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "手引き.txt").write_text("粗大ごみは電話で申し込みます。\n", encoding="utf-8")
    for name in ("巨大.txt", "巨大.pdf"):
        with open(folder / name, "wb") as f:
            f.truncate(TWO_GB)
    peak, out, code = _cli_peak(folder, tmp_path)
    FIGURES.append({"case": "txt/pdf-2gb-cli", "skill": "qa (bot ingest)", "file": "巨大.txt, 巨大.pdf",
                    "outcome": "refused", "peak_mb": peak - small, "message": out.strip()[-300:], "sent": None})
    print(f"\n[cli] peak {peak} MB (small folder {small} MB): {out}")
    assert code == 1 and "追加 1 件" in out and "失敗 2 件" in out, out          # 1: some files failed
    assert "「巨大.txt」は大きすぎるため取り込めません（上限は50MBです）。" in out, out
    assert "「巨大.pdf」は大きすぎるため取り込めません（上限は50MBです）。" in out, out
    assert peak - small < CEILING_MB, f"peak {peak} MB vs {small} MB for the small folder"


