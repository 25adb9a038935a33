"""Documents in, Markdown out: PDF, DOCX, XLSX, PPTX, HTML, TXT and MD through markitdown.

`to_markdown(data, filename)` converts bytes; bad or unsupported files raise an `IngestError` whose `message` is a
Japanese sentence fit to show the user. Page, sheet and slide boundaries are marked for the chunker
(`<!-- Page: n -->`, `<!-- Sheet: name -->`, markitdown's `<!-- Slide number: n -->`).

`ingest_folder(index, set_name, path)` is the administrators' bulk load (`python -m bot ingest <set> <path>`): it
walks a folder, converts each supported file, upserts it (unchanged files are skipped by content hash) and removes
documents whose files have disappeared."""
from __future__ import annotations

import asyncio
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.search.index import Index

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = (".pdf", ".docx", ".xlsx", ".pptx", ".html", ".htm", ".txt", ".md", ".markdown")
MAX_BYTES = 50 * 1024 * 1024
_ZIP_KINDS = {".docx", ".xlsx", ".pptx"}
_KIND_NAMES = {".pdf": "PDF", ".docx": "Word", ".xlsx": "Excel", ".pptx": "PowerPoint", ".html": "HTML",
               ".htm": "HTML", ".txt": "テキスト", ".md": "Markdown", ".markdown": "Markdown"}


class IngestError(Exception):
    """A file that cannot be taken in. `message` is Japanese, polite, and safe to show to the user."""

    def __init__(self, message: str, *, filename: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.detail = detail  # for the log only


class UnsupportedFileType(IngestError):
    pass


class BrokenFile(IngestError):
    pass


class EmptyDocument(IngestError):
    pass


class FileTooLarge(IngestError):
    pass


@dataclass(frozen=True)
class Converted:
    title: str
    markdown: str
    kind: str          # the extension without the dot: "pdf", "docx", …


def supported(filename: str) -> bool:
    return PurePath(filename).suffix.lower() in SUPPORTED_EXTENSIONS


def to_markdown(data: bytes, filename: str) -> Converted:
    """Convert one file (its bytes and name) to Markdown. Raises `IngestError` subclasses with Japanese messages."""
    name = PurePath(filename or "").name or "無題"
    ext = PurePath(name).suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFileType(
            f"「{name}」は取り込めない形式です。PDF、Word（.docx）、Excel（.xlsx）、PowerPoint（.pptx）、HTML、"
            "テキスト（.txt）、Markdown（.md）のいずれかでお送りください。", filename=name)
    if len(data) > MAX_BYTES:
        raise FileTooLarge(f"「{name}」は大きすぎるため取り込めません（上限は{MAX_BYTES // (1024 * 1024)}MBです）。",
                           filename=name)
    if not data.strip():
        raise EmptyDocument(f"「{name}」は空のファイルです。内容のあるファイルをお送りください。", filename=name)
    broken = BrokenFile(f"「{name}」を読み取れませんでした。ファイルが壊れているか、{_KIND_NAMES[ext]}の形式ではない"
                        "可能性があります。元のアプリケーションで開けることをご確認のうえ、もう一度お送りください。",
                        filename=name)
    if ext == ".pdf" and not data.lstrip()[:5].startswith(b"%PDF-"):
        raise broken
    if ext in _ZIP_KINDS and not data.startswith(b"PK"):
        raise broken

    if ext in (".txt", ".md", ".markdown"):
        markdown = _decode(data)
    else:
        try:
            markdown = _markitdown(data, name, ext)
        except Exception as e:  # noqa: BLE001 - any converter failure is a broken file to the user
            broken.detail = f"{type(e).__name__}: {e}"
            log.info("conversion failed for %s: %s", name, broken.detail)
            raise broken from e
        if ext == ".pdf":
            markdown = _mark_pdf_pages(markdown)
        elif ext == ".xlsx":
            markdown = re.sub(r"^## (.+)$", lambda m: f"<!-- Sheet: {m.group(1).strip()} -->\n## {m.group(1)}",
                              markdown, flags=re.M)
    markdown = markdown.replace("\x00", "").strip()
    if not re.search(r"[^\s|\-#:<>!]", re.sub(r"<!--.*?-->", "", markdown)):
        raise EmptyDocument(f"「{name}」から文字を取り出せませんでした。画像だけのPDF（スキャンしたもの）などは、"
                            "文字を含む形式にしてからお送りください。", filename=name)
    return Converted(title=_title(markdown, name), markdown=markdown, kind=ext[1:])


async def to_markdown_async(data: bytes, filename: str) -> Converted:
    """`to_markdown` in a worker thread (conversion is CPU-bound and may take a while for large files)."""
    return await asyncio.to_thread(to_markdown, data, filename)


def _markitdown(data: bytes, name: str, ext: str) -> str:
    """Run the one markitdown converter for this type. (MarkItDown.convert_stream would fall back to its plain-text
    converter and accept a broken file as text; calling the converter itself makes a broken file an error.)"""
    from markitdown import StreamInfo
    from markitdown.converters import DocxConverter, HtmlConverter, PdfConverter, PptxConverter, XlsxConverter

    converter = {".pdf": PdfConverter, ".docx": DocxConverter, ".xlsx": XlsxConverter, ".pptx": PptxConverter,
                 ".html": HtmlConverter, ".htm": HtmlConverter}[ext]()
    info = StreamInfo(extension=ext, filename=name, charset=_html_charset(data) if ext in (".html", ".htm") else None)
    result = converter.convert(io.BytesIO(data), info)
    return result.markdown or ""


def _html_charset(data: bytes) -> str:
    m = re.search(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_\-]+)""", data[:4096], flags=re.I)
    if m:
        return m.group(1).decode("ascii")
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp932"


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            pass
    for enc in ("cp932", "euc_jp"):  # Japanese legacy encodings are still common in office folders
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            pass
    return data.decode("utf-8", errors="replace")


def _mark_pdf_pages(markdown: str) -> str:
    """pdfminer separates pages with form feeds; turn them into page markers the chunker understands."""
    pages = markdown.split("\f")
    if len(pages) > 1 and not pages[-1].strip():
        pages = pages[:-1]
    return "\n\n".join(f"<!-- Page: {i} -->\n{p.strip()}" for i, p in enumerate(pages, 1) if p.strip())


def _title(markdown: str, name: str) -> str:
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", markdown, flags=re.M)
    if m and len(m.group(1)) <= 200:
        return m.group(1).strip()
    return PurePath(name).stem or name


@dataclass
class FolderReport:
    """What `ingest_folder` did. `failed` holds (relative path, Japanese reason)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0                      # files of other types
    failed: list[tuple[str, str]] = field(default_factory=list)
    pages: int = 0                        # documents converted (for the pages-per-second figure)

    def summary(self) -> str:
        text = (f"追加 {self.added} 件、更新 {self.updated} 件、変更なし {self.unchanged} 件、削除 {self.removed} 件、"
                f"対象外 {self.skipped} 件、失敗 {len(self.failed)} 件")
        return text


async def ingest_folder(index: "Index", set_name: str, path: str | Path, *, url_prefix: str | None = None,
                        create_set: bool = True) -> FolderReport:
    """Bring a local folder into a knowledge set (source "folder", key = path relative to the folder, POSIX style).

    Files that fail to convert are reported and left as they were in the index; documents whose files are gone are
    removed. The set is created (readable by all staff) when it does not exist and `create_set` is true."""
    root = Path(path)
    if not root.is_dir():
        raise IngestError(f"フォルダ「{root}」が見つかりません。", filename=str(root))
    if create_set and await index.get_set(set_name) is None:
        await index.create_set(set_name, title=set_name)
    report = FolderReport()
    seen: set[str] = set()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if any(part.startswith(".") or part.startswith("~$") for part in file.relative_to(root).parts):
            continue
        if not supported(file.name):
            report.skipped += 1
            continue
        seen.add(rel)
        try:
            conv = await to_markdown_async(file.read_bytes(), file.name)
        except IngestError as e:
            report.failed.append((rel, e.message))
            continue
        url = (url_prefix.rstrip("/") + "/" + rel) if url_prefix else file.resolve().as_uri()
        res = await index.upsert(set_name, "folder", rel, conv.title, url, conv.markdown)
        report.pages += 1
        if res.status == "added":
            report.added += 1
        elif res.status == "updated":
            report.updated += 1
        else:
            report.unchanged += 1
    for key, info in (await index.list_documents(set_name)).items():
        if info.source == "folder" and key not in seen:
            await index.delete_document(set_name, key)
            report.removed += 1
    return report
