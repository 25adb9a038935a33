"""Documents in, Markdown out: PDF, DOCX, XLSX, PPTX, HTML, TXT and MD through markitdown.

`to_markdown(data, filename)` converts bytes; bad, unsupported or hostile files raise an `IngestError` whose
`message` is a Japanese sentence fit to show the user. Page, sheet and slide boundaries are marked for the chunker
(`<!-- Page: n -->`, `<!-- Sheet: name -->`, markitdown's `<!-- Slide number: n -->`).

Files are treated as hostile (see `core.search.extract`): the content must match the extension, Office packages
have their zip directory inspected before anything is inflated (zip bombs are refused), and the conversion runs in
a child process with memory, CPU and wall-clock limits (`IngestSettings`). A document over the page, sheet, row,
slide or character caps is taken in up to the cap — the first part of a long document still answers questions —
and `Converted.truncated_note` tells the user, in Japanese, what was left out; callers show it with their result.

`ingest_folder(index, set_name, path)` is the administrators' bulk load (`python -m bot ingest <set> <path>`): it
walks a folder, converts each supported file, upserts it (unchanged files are skipped by content hash) and removes
documents whose files have disappeared. A Markdown or text file may open with front matter (`front_matter`) giving
its page's URL, its title and its 窓口, which are stored with the document and not indexed as text."""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from core import settings as app_settings
from core.search.extract import Limits, Refused, convert_isolated, inspect_zip, sniff
from core.settings import AppSettings

if TYPE_CHECKING:
    from core.search.index import Index

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = (".pdf", ".docx", ".xlsx", ".pptx", ".html", ".htm", ".txt", ".md", ".markdown")
MAX_BYTES = 50 * 1024 * 1024
_ZIP_KINDS = {".docx", ".xlsx", ".pptx"}
_KIND_NAMES = {".pdf": "PDF", ".docx": "Word", ".xlsx": "Excel", ".pptx": "PowerPoint", ".html": "HTML",
               ".htm": "HTML", ".txt": "テキスト", ".md": "Markdown", ".markdown": "Markdown"}
_SNIFFED_NAMES = {"pdf": "PDFのファイル", "docx": "Word（.docx）のファイル", "xlsx": "Excel（.xlsx）のファイル",
                  "pptx": "PowerPoint（.pptx）のファイル", "zip": "ZIP形式の圧縮ファイル", "html": "HTMLのファイル"}


class IngestSettings(AppSettings):
    """Limits on converting one document (a hostile file must cost one failed conversion, never the bot)."""

    section = "search"

    INGEST_MAX_UNCOMPRESSED_MB: int = 200
    """Largest total inflated size (MB) of a Word/Excel/PowerPoint file (a zip package); larger is refused as a possible zip bomb."""
    INGEST_MAX_RATIO: int = 100
    """Largest compression ratio of one part (1 MB or more inflated) of a Word/Excel/PowerPoint file; higher is refused as a possible zip bomb."""
    INGEST_MAX_MEMBERS: int = 5000
    """Largest number of parts in a Word/Excel/PowerPoint file (zip package); more is refused."""
    INGEST_MAX_PAGES: int = 1000
    """PDF pages taken in per document; later pages are left out and the user is told."""
    INGEST_MAX_SHEETS: int = 100
    """Excel sheets taken in per workbook; later sheets are left out and the user is told."""
    INGEST_MAX_ROWS: int = 50000
    """Excel rows (all sheets together, blank rows included) read per workbook; later rows are left out and the user is told."""
    INGEST_MAX_COLUMNS: int = 200
    """Excel columns read per sheet; later columns are left out and the user is told."""
    INGEST_MAX_SLIDES: int = 500
    """PowerPoint slides taken in per presentation; later slides are left out and the user is told."""
    INGEST_MAX_CHARS: int = 1000000
    """Characters of converted text kept per document; the rest is left out and the user is told."""
    INGEST_MEMORY_MB: int = 1024
    """Memory (address space, MB) of the child process that converts one document; a file needing more is refused."""
    INGEST_TIMEOUT_SECONDS: float = 120.0
    """Wall-clock (and CPU) time allowed to convert one document (seconds); a slower file is refused."""
    INGEST_MAX_PARALLEL: int = 2
    """Conversions (child processes) running at once in this process; more wait their turn."""

    def limits(self) -> Limits:
        return Limits(max_uncompressed_mb=max(1, self.INGEST_MAX_UNCOMPRESSED_MB),
                      max_ratio=max(1, self.INGEST_MAX_RATIO),
                      max_members=max(1, self.INGEST_MAX_MEMBERS), max_pages=max(1, self.INGEST_MAX_PAGES),
                      max_sheets=max(1, self.INGEST_MAX_SHEETS), max_rows=max(1, self.INGEST_MAX_ROWS),
                      max_columns=max(1, self.INGEST_MAX_COLUMNS), max_slides=max(1, self.INGEST_MAX_SLIDES),
                      max_chars=max(1000, self.INGEST_MAX_CHARS), memory_mb=max(64, self.INGEST_MEMORY_MB),
                      timeout_seconds=max(1.0, self.INGEST_TIMEOUT_SECONDS))


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


class WrongFileType(BrokenFile):
    """The content is another kind of file than the extension says (a PDF named .docx, a zip named .pdf, …)."""


class EmptyDocument(IngestError):
    pass


class FileTooLarge(IngestError):
    pass


class SuspiciousFile(IngestError):
    """Refused before conversion: a possible zip bomb, a nested archive, odd member names. `reason` is the code."""

    def __init__(self, message: str, *, reason: str, filename: str = "", detail: str = "") -> None:
        super().__init__(message, filename=filename, detail=detail)
        self.reason = reason


class ConversionLimitExceeded(IngestError):
    """The conversion child ran out of memory or time, or died. `reason` is "memory", "timeout" or "crashed"."""

    def __init__(self, message: str, *, reason: str, filename: str = "", detail: str = "") -> None:
        super().__init__(message, filename=filename, detail=detail)
        self.reason = reason


@dataclass(frozen=True)
class Converted:
    title: str
    markdown: str
    kind: str          # the extension without the dot: "pdf", "docx", …
    truncated_note: str = ""   # Japanese; set when only the first part was taken in (show it with the result)


def too_large(name: str) -> FileTooLarge:
    return FileTooLarge(f"「{name}」は大きすぎるため取り込めません（上限は{MAX_BYTES // (1024 * 1024)}MBです）。",
                        filename=name)


def supported(filename: str) -> bool:
    return PurePath(filename).suffix.lower() in SUPPORTED_EXTENSIONS


def to_markdown(data: bytes, filename: str, *, settings: IngestSettings | None = None,
                converter: str | None = None) -> Converted:
    """Convert one file (its bytes and name) to Markdown. Raises `IngestError` subclasses with Japanese messages.

    `settings` defaults to the process-wide `IngestSettings`; `converter` is a test hook ("module:function" run in
    the conversion child instead of the built-in converter), never user input."""
    s = settings or app_settings.get(IngestSettings)
    limits = s.limits()
    name = PurePath(filename or "").name or "無題"
    ext = PurePath(name).suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFileType(
            f"「{name}」は取り込めない形式です。PDF、Word（.docx）、Excel（.xlsx）、PowerPoint（.pptx）、HTML、"
            "テキスト（.txt）、Markdown（.md）のいずれかでお送りください。", filename=name)
    if len(data) > MAX_BYTES:
        raise too_large(name)
    if not data.strip():
        raise EmptyDocument(f"「{name}」は空のファイルです。内容のあるファイルをお送りください。", filename=name)
    broken = BrokenFile(f"「{name}」を読み取れませんでした。ファイルが壊れているか、{_KIND_NAMES[ext]}の形式ではない"
                        "可能性があります。元のアプリケーションで開けることをご確認のうえ、もう一度お送りください。",
                        filename=name)
    _check_content_type(data, name, ext, broken)
    try:
        if ext in _ZIP_KINDS:
            inspect_zip(data, ext[1:], limits)
        with _slots():
            extracted = convert_isolated(data, name, ext, limits, converter=converter)
    except Refused as e:
        err = _refusal(e, name, ext, broken)
        err.detail = err.detail or f"{e.code}: {e.detail}"
        log.info("conversion refused for %s: %s", name, err.detail[:500])
        raise err from None
    markdown = extracted.markdown
    if not re.search(r"[^\s|\-#:<>!]", re.sub(r"<!--.*?-->", "", markdown)):
        raise EmptyDocument(f"「{name}」から文字を取り出せませんでした。画像だけのPDF（スキャンしたもの）などは、"
                            "文字を含む形式にしてからお送りください。", filename=name)
    note = truncated_note(name, extracted.truncated)
    if note:
        log.info("conversion of %s truncated: %s", name, extracted.truncated)
    return Converted(title=_title(markdown, name), markdown=markdown, kind=ext[1:], truncated_note=note)


async def to_markdown_async(data: bytes, filename: str, *, settings: IngestSettings | None = None,
                            converter: str | None = None) -> Converted:
    """`to_markdown` off the event loop: the thread only waits for the conversion child. Conversions queue on a
    pool of INGEST_MAX_PARALLEL threads of their own, so waiting files never tie up the loop's default executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), lambda: to_markdown(data, filename, settings=settings,
                                                                       converter=converter))


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_semaphore: threading.BoundedSemaphore | None = None


def _parallel() -> int:
    return max(1, app_settings.get(IngestSettings).INGEST_MAX_PARALLEL)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_parallel(), thread_name_prefix="ingest")
        return _pool


class _slots:
    """At most INGEST_MAX_PARALLEL conversion children at once (whichever thread asks)."""

    def __init__(self) -> None:
        global _semaphore
        with _pool_lock:
            if _semaphore is None:
                _semaphore = threading.BoundedSemaphore(_parallel())
        self._sem = _semaphore

    def __enter__(self) -> None:
        self._sem.acquire()

    def __exit__(self, *exc) -> None:
        self._sem.release()


def _check_content_type(data: bytes, name: str, ext: str, broken: BrokenFile) -> None:
    """The content must be what the extension says (a PDF renamed .docx, a zip renamed .pdf are refused clearly)."""
    actual = sniff(data)
    expected = {".pdf": "pdf", ".docx": "docx", ".xlsx": "xlsx", ".pptx": "pptx"}.get(ext)
    if actual == "ole" and (expected or ext in (".html", ".htm", ".txt", ".md", ".markdown")):
        raise WrongFileType(
            f"「{name}」は拡張子が「{ext}」ですが、中身は古い形式（.doc、.xls、.ppt）のファイルか、パスワードで保護された"
            "Officeファイルのようです。新しい形式（.docx、.xlsx、.pptx）で保存し直すか、パスワードを解除してから、"
            "もう一度お送りください。", filename=name)
    if expected is None:   # HTML and text: only binaries of a known kind are refused
        if actual in ("pdf", "docx", "xlsx", "pptx", "zip"):
            raise _wrong(name, ext, actual)
        return
    if actual == expected or (actual == "zip" and expected != "pdf"):
        return   # a zip without the expected folder goes on to the zip checks and the converter
    if actual in _SNIFFED_NAMES:
        raise _wrong(name, ext, actual)
    raise broken


def _wrong(name: str, ext: str, actual: str) -> WrongFileType:
    return WrongFileType(f"「{name}」は拡張子が「{ext}」ですが、中身は{_SNIFFED_NAMES[actual]}のようです。"
                         "ファイルの種類と拡張子が合っていることをご確認のうえ、もう一度お送りください。", filename=name)


def _refusal(e: Refused, name: str, ext: str, broken: BrokenFile) -> IngestError:
    kind = _KIND_NAMES[ext]
    bomb = "（圧縮爆弾の可能性があります）"
    split = "ファイルを分割するなどして小さくしてから、もう一度お送りください。"
    if e.code == "zip_size":
        return SuspiciousFile(f"「{name}」は展開後の大きさが上限（{e.info['limit_mb']}MB）を超えるため取り込めません{bomb}。",
                              reason=e.code, filename=name)
    if e.code == "zip_ratio":
        return SuspiciousFile(f"「{name}」は圧縮率が異常に高い部分を含むため取り込めません{bomb}。",
                              reason=e.code, filename=name)
    if e.code == "zip_members":
        return SuspiciousFile(f"「{name}」は内部のファイル数が多すぎるため取り込めません（上限は{e.info['limit']:,}個です）。",
                              reason=e.code, filename=name)
    if e.code == "zip_nested":
        return SuspiciousFile(f"「{name}」は内部に別の圧縮ファイルを含むため取り込めません。{kind}で通常の形式のまま"
                              "保存し直してから、もう一度お送りください。", reason=e.code, filename=name)
    if e.code in ("zip_name", "zip_method"):
        return SuspiciousFile(f"「{name}」は{kind}のファイルとして不自然な構造のため取り込めません。{kind}で保存し直して"
                              "から、もう一度お送りください。", reason=e.code, filename=name)
    if e.code == "memory":
        return ConversionLimitExceeded(f"「{name}」は変換に必要なメモリが上限（{e.info.get('mb', '?')}MB）を超えたため"
                                       f"取り込めませんでした。{split}", reason=e.code, filename=name)
    if e.code == "timeout":
        seconds = e.info.get("seconds")
        limit = f"（上限{seconds:g}秒）" if isinstance(seconds, (int, float)) else ""
        return ConversionLimitExceeded(f"「{name}」は変換に時間がかかりすぎたため{limit}取り込めませんでした。{split}",
                                       reason=e.code, filename=name)
    if e.code == "crashed":
        return ConversionLimitExceeded(f"「{name}」の変換中に処理が異常終了したため取り込めませんでした。ファイルが壊れて"
                                       "いる可能性があります。元のアプリケーションで保存し直してから、もう一度お送りください。",
                                       reason=e.code, filename=name)
    return broken   # zip_broken, broken


def truncated_note(name: str, truncated: list[dict]) -> str:
    """The Japanese note for a document taken in up to its caps ("" when nothing was left out)."""
    parts = []
    for t in truncated:
        limit, total, what = t.get("limit"), t.get("total"), t.get("what")
        of = f"（全{total:,}" if isinstance(total, int) else ""
        if what == "pages":
            parts.append(f"先頭から{limit:,}ページまで" + (f"{of}ページ）" if of else ""))
        elif what == "sheets":
            parts.append(f"先頭から{limit:,}シートまで" + (f"{of}シート）" if of else ""))
        elif what == "rows":
            parts.append(f"先頭から{limit:,}行まで")
        elif what == "columns":
            parts.append(f"各シートの先頭から{limit:,}列まで")
        elif what == "slides":
            parts.append(f"先頭から{limit:,}枚目のスライドまで" + (f"{of}枚）" if of else ""))
        elif what == "chars":
            parts.append(f"先頭から{limit:,}文字まで")
    if not parts:
        return ""
    return (f"「{name}」は大きいため、一部だけを取り込みました（{'、'.join(dict.fromkeys(parts))}）。残りの部分は検索の"
            "対象になりません。必要な場合は、ファイルを分割してからお送りください。")


FRONT_MATTER_EXTENSIONS = (".md", ".markdown", ".txt")
_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_META_KEYS = {"url": "url", "title": "title", "タイトル": "title", "contact_section": "contact_section",
              "窓口": "contact_section", "担当": "contact_section", "contact_phone": "contact_phone", "電話": "contact_phone",
              "電話番号": "contact_phone"}


@dataclass(frozen=True)
class FrontMatter:
    """What a document says about itself: its page (url), title and 窓口 (section and phone)."""

    url: str | None = None
    title: str | None = None
    contact_section: str | None = None
    contact_phone: str | None = None


def front_matter(data: bytes) -> tuple[FrontMatter, bytes]:
    """Split a YAML front matter block (`---` … `---` at the very start) off a Markdown or text file:

        ---
        url: https://www.city.example.jp/kurashi/gomi.html
        窓口: 環境部 業務課
        電話: 06-0000-0000
        ---

    Keys: url, title (タイトル), contact_section (窓口, 担当), contact_phone (電話, 電話番号). A url must be http(s).
    Returns the metadata and the rest of the file; a file without a readable block is returned as it was."""
    import yaml

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return FrontMatter(), data
    m = _FRONT.match(text)
    if not m:
        return FrontMatter(), data
    try:
        raw = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        log.info("front matter not read (not YAML)")
        return FrontMatter(), data
    if not isinstance(raw, dict):
        return FrontMatter(), data
    values: dict[str, str] = {}
    for key, value in raw.items():
        field_name = _META_KEYS.get(str(key).strip().lower()) or _META_KEYS.get(str(key).strip())
        if field_name and value is not None and not isinstance(value, (dict, list)):
            values[field_name] = " ".join(str(value).split())[:2000]
    url = values.get("url")
    if url and not url.startswith(("https://", "http://")):
        values.pop("url")
    return FrontMatter(**values), text[m.end():].encode("utf-8")


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
    truncated: list[tuple[str, str]] = field(default_factory=list)   # (relative path, Japanese note): taken in part

    def summary(self) -> str:
        text = (f"追加 {self.added} 件、更新 {self.updated} 件、変更なし {self.unchanged} 件、削除 {self.removed} 件、"
                f"対象外 {self.skipped} 件、失敗 {len(self.failed)} 件")
        if self.truncated:
            text += f"（うち一部のみ取り込み {len(self.truncated)} 件）"
        return text


async def ingest_folder(index: "Index", set_name: str, path: str | Path, *, url_prefix: str | None = None,
                        create_set: bool = True) -> FolderReport:
    """Bring a local folder into a knowledge set (source "folder", key = path relative to the folder, POSIX style).
    A document's link is its front matter's url, else `url_prefix`/<relative path>, else the file's file:// URI.

    Files that fail to convert are reported and left as they were in the index; documents whose files are gone are
    removed. The set is created (readable by all staff) when it does not exist and `create_set` is true."""
    from core.knowledge.public import Contact, set_document_contact  # the 窓口 of documents (public sets)

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
        if file.stat().st_size > MAX_BYTES:        # refused unread: a 2 GB file must not be read into memory
            report.failed.append((rel, too_large(file.name).message))
            continue
        data = file.read_bytes()
        meta = FrontMatter()
        if file.suffix.lower() in FRONT_MATTER_EXTENSIONS:
            meta, data = front_matter(data)
        try:
            conv = await to_markdown_async(data, file.name)
        except IngestError as e:
            report.failed.append((rel, e.message))
            continue
        url = meta.url or ((url_prefix.rstrip("/") + "/" + rel) if url_prefix else file.resolve().as_uri())
        res = await index.upsert(set_name, "folder", rel, meta.title or conv.title, url, conv.markdown)
        await set_document_contact(index.db, set_name, rel, Contact(meta.contact_section, meta.contact_phone))
        report.pages += 1
        if conv.truncated_note:
            report.truncated.append((rel, conv.truncated_note))
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
