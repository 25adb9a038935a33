"""Safe extraction: hostile documents are inspected before they are opened, and converted in a child process that
has hard limits, so that a bad file costs one failed conversion and never the bot.

Two layers (both used by `core.search.ingest`, which turns their refusals into Japanese messages):

* `inspect_zip(data, kind, limits)` reads only the central directory of an Office file (.docx/.xlsx/.pptx are zip
  packages) and refuses zip bombs (total inflated size, per-member compression ratio), absurd member counts,
  nested archives outside the embeddings folders, odd member names and unusual compression methods. It never
  inflates a member.
* `convert_isolated(data, name, ext, limits)` runs the conversion in a child process, one per document, with
  RLIMIT_AS (memory), RLIMIT_CPU, RLIMIT_FSIZE and a wall-clock timeout, and a pared-down environment (no secrets
  reach the process that parses hostile input). A child that runs out of memory, time or dies is reported as a
  `Refused` with code "memory", "timeout" or "crashed". The children are forked from a pre-warmed converter
  process (`python -m core.search.extract`, started on first use with the trimmed environment; it has imported
  the converters once and runs no threads of ours), not from the bot: they inherit nothing of the bot (no event
  loop, no secrets), and each document still starts from a clean copy. A converter process that dies or hangs is
  replaced on the next request.
* `run_isolated(call, data, args, limits)` runs another parser the same way: "module:function", called in the
  child with (data, args) and returning JSON-serialisable data (the データ分析 skill reads CSV and Excel files with
  it). Its converter processes are kept apart from the documents' ones, and each imports that module once before
  it forks, so a child starts warm. The function may leave work for after its answer (`after_reply`): the child
  sends the result, closes its end of the pipe and goes on under the same limits, so the caller does not wait
  for that work; the converter process reaps the child when it ends.

The child takes the first pages (PDF), sheets and rows (xlsx, read row by row in openpyxl's read-only mode; never
the whole sheet), slides (pptx) and characters of output, and reports what it left out in `Extracted.truncated`.

This module imports only the standard library at load time: the child starts fast, and the parent never imports
the converters."""
from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]   # the directory holding the `core` package (the child's import root)


@dataclass(frozen=True)
class Limits:
    """What one conversion may cost (see `core.search.ingest.IngestSettings` for the meaning of each)."""

    max_uncompressed_mb: int = 200
    max_ratio: int = 100
    max_members: int = 5000
    max_pages: int = 1000
    max_sheets: int = 100
    max_rows: int = 50_000
    max_columns: int = 200
    max_slides: int = 500
    max_chars: int = 1_000_000
    memory_mb: int = 1024
    timeout_seconds: float = 120.0
    max_file_mb: int = 1          # RLIMIT_FSIZE: the largest file the child may write (a converter writes none)


class Refused(Exception):
    """A file refused before or during conversion. `code` says why; `info` carries the numbers for the message."""

    def __init__(self, code: str, detail: str = "", **info) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.info = info


@dataclass
class Extracted:
    markdown: str
    # what was left out: {"what": "pages"|"sheets"|"rows"|"columns"|"slides"|"chars", "limit": n, "total": m|None}
    truncated: list[dict] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- sniffing

def sniff(data: bytes) -> str:
    """What the bytes are, by content: "pdf", "docx", "xlsx", "pptx", "zip", "ole" (legacy Office or an
    encrypted Office file), "html", or "" (unknown / text)."""
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                # the first few names tell the package (reading names only; a bomb is refused later, by size)
                names = {n.split("/", 1)[0] for n in (i.filename for i in z.infolist()[:200])}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            return "zip"
        for top, kind in (("word", "docx"), ("xl", "xlsx"), ("ppt", "pptx")):
            if top in names:
                return kind
        return "zip"
    if re.match(rb"(?i)(<!doctype html|<html)", head):
        return "html"
    return ""


# ---------------------------------------------------------------------------------------------- zip inspection

_NESTED = re.compile(r"\.(zip|docx|docm|xlsx|xlsm|xlsb|pptx|pptm|jar|7z|rar|gz|tgz|bz2|xz|cab|tar)$", re.I)
_EMBEDDINGS = re.compile(r"^(word|xl|ppt)/embeddings/[^/]+$")
_MIN_RATIO_SIZE = 1 << 20   # members smaller than 1 MiB are not held to the ratio cap (small XML compresses well)


def _eocd_entries(data: bytes) -> int | None:
    """Number of entries from the end-of-central-directory record, read before zipfile builds its list (so that a
    central directory of half a million entries is refused without half a million ZipInfo objects)."""
    pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if pos < 0 or pos + 22 > len(data):
        return None
    total = struct.unpack("<H", data[pos + 10:pos + 12])[0]
    return total


def inspect_zip(data: bytes, kind: str, limits: Limits) -> None:
    """Refuse an Office package that is a zip bomb or otherwise not what Office writes. Reads the central directory
    only. Raises `Refused` with code zip_broken, zip_members, zip_size, zip_ratio, zip_nested, zip_name or
    zip_method."""
    entries = _eocd_entries(data)
    if entries is None:
        raise Refused("zip_broken", "no end of central directory")
    if entries >= 0xFFFF or entries > limits.max_members:
        raise Refused("zip_members", f"{entries} entries", limit=limits.max_members)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as e:
        raise Refused("zip_broken", f"{type(e).__name__}: {e}") from e
    if len(infos) > limits.max_members:
        raise Refused("zip_members", f"{len(infos)} entries", limit=limits.max_members)
    cap = limits.max_uncompressed_mb * 1024 * 1024
    total = 0
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if _odd_name(name) or name.lower() in seen:
            raise Refused("zip_name", f"member {name!r}")
        seen.add(name.lower())
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Refused("zip_method", f"member {name!r} method {info.compress_type}")
        if info.flag_bits & 0x1:
            raise Refused("zip_method", f"member {name!r} is encrypted")
        if _NESTED.search(name) and not _EMBEDDINGS.match(name):
            raise Refused("zip_nested", f"member {name!r}")
        total += info.file_size
        if total > cap:
            raise Refused("zip_size", f"more than {total} bytes inflated", limit_mb=limits.max_uncompressed_mb)
        if info.file_size >= _MIN_RATIO_SIZE and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise Refused("zip_ratio", f"member {name!r} {info.file_size}/{info.compress_size}",
                          limit=limits.max_ratio)


def _odd_name(name: str) -> bool:
    if not name or len(name) > 512 or name.startswith(("/", "\\")) or "\\" in name or ":" in name:
        return True
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return True
    return any(part in ("..", ".") for part in PurePosixPath(name).parts) or "//" in name


# ---------------------------------------------------------------------------------------------- parent side

_ENV_KEEP = ("PATH", "PYTHONPATH", "PYTHONHOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TEMP", "TMP", "HOME",
             "SYSTEMROOT", "VIRTUAL_ENV")


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", MALLOC_ARENA_MAX="2",
               PYTHONIOENCODING="utf-8", PYTHONDONTWRITEBYTECODE="1")
    return env


def _frame(payload: bytes) -> bytes:
    return struct.pack(">Q", len(payload)) + payload


def _read_frame(stream) -> bytes | None:
    head = stream.read(8)
    if len(head) < 8:
        return None
    (size,) = struct.unpack(">Q", head)
    body = stream.read(size)
    return body if len(body) == size else None


class _Zygote:
    """A pre-warmed converter process with a trimmed environment: it imports the converters once and forks one
    child per document, so each document still gets a fresh process under hard limits, without paying the
    interpreter start and the converters' import (about a second each) every time. One request at a time."""

    def __init__(self, warm: str = "") -> None:
        self.proc: subprocess.Popen | None = None
        self.warm = warm            # a module the process imports before it forks ("" = the document converters)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "core.search.extract", "--zygote"]
                                     + (["--warm", self.warm] if self.warm else []),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=_child_env(), cwd=str(ROOT))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def convert(self, header: bytes, data: bytes, timeout: float) -> dict:
        """Send one document; the zygote enforces the child's timeout itself (and kills the child). A zygote that
        does not answer within the timeout plus a margin is killed too (then replaced on the next request)."""
        if not self.alive():
            self.start()
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout
        result: list[bytes | None] = [None]

        def talk() -> None:
            try:
                stdin.write(_frame(header) + _frame(data))
                stdin.flush()
                result[0] = _read_frame(stdout)
            except (BrokenPipeError, OSError, ValueError):
                result[0] = None

        import threading
        worker = threading.Thread(target=talk, name="ingest-zygote", daemon=True)
        worker.start()
        worker.join(timeout + 10)
        if worker.is_alive() or result[0] is None:
            self.stop()              # hung or dead: the next request starts a fresh one
            worker.join(5)
            raise Refused("crashed", "the converter process stopped answering")
        reply = json.loads(result[0].decode("utf-8"))
        return reply if isinstance(reply, dict) else {}


_idle: list[_Zygote] = []                   # the documents' idle converter processes
_idle_warm: dict[str, list[_Zygote]] = {}   # run_isolated's, by the module they import before forking
_idle_lock = __import__("threading").Lock()


def _pool(warm: str) -> list[_Zygote]:
    return _idle_warm.setdefault(warm, []) if warm else _idle


def _take(warm: str = "") -> _Zygote:
    with _idle_lock:
        pool = _pool(warm)
        return pool.pop() if pool else _Zygote(warm)


def _give_back(z: _Zygote) -> None:
    with _idle_lock:
        _pool(z.warm).append(z)


def shutdown() -> None:
    """Stop the idle converter processes (they also end by themselves when this process exits)."""
    with _idle_lock:
        for pool in [_idle, *_idle_warm.values()]:
            while pool:
                pool.pop().stop()


def convert_isolated(data: bytes, name: str, ext: str, limits: Limits, *, converter: str | None = None) -> Extracted:
    """Convert in a child process under `limits`. `converter` ("module:function", called with (data, name) and
    returning Markdown) replaces the built-in converter — a test hook for proving the limits; never user input.
    Raises `Refused` ("broken", "memory", "timeout", "crashed")."""
    header = json.dumps({"name": name, "ext": ext, "limits": asdict(limits), "converter": converter}).encode()
    result = _result(_send("", header, data, limits.timeout_seconds), limits)
    return Extracted(markdown=result["markdown"], truncated=list(result.get("truncated") or []))


def run_isolated(call: str, data: bytes, args: dict, limits: Limits) -> object:
    """Run `call` ("module:function", code of ours — never user input) in a child process under `limits`, as
    `convert_isolated` runs a converter: the function gets (data, args) and returns JSON-serialisable data, which is
    returned here. The converter processes for `call` import its module once, before they fork. Raises `Refused`
    ("memory", "timeout", "crashed", or a code the function raised)."""
    module = call.partition(":")[0]
    header = json.dumps({"name": "", "ext": "", "limits": asdict(limits), "call": call, "args": args}).encode()
    return _result(_send(module, header, data, limits.timeout_seconds), limits)["value"]


_after: list = []          # in a child: work left by the called function for after the result is sent


def after_reply(work) -> None:
    """In a child run by `run_isolated`: run `work()` after the result has been sent to the caller, in the same
    child, under the same memory, CPU and file limits and within the same wall-clock deadline (counted from the
    child's start; the child is killed by SIGALRM when it passes). The caller does not wait for it and learns
    nothing of how it ends: work whose outcome matters must leave a trace the caller can check (a file written,
    a lock released). Not run when the function raised."""
    _after.append(work)


def _pending() -> list:
    # the converter process runs this file as __main__; the called function registers its work with the module
    # it imported, core.search.extract: that module's list is the one to run
    module = sys.modules.get("core.search.extract")
    return module._after if module is not None else _after


def _send(warm: str, header: bytes, data: bytes, timeout: float) -> dict:
    zygote = _take(warm)
    try:
        return zygote.convert(header, data, timeout)
    finally:
        if zygote.alive():
            _give_back(zygote)


def _result(reply: dict, limits: Limits) -> dict:
    """The child's result, or the `Refused` its failure means (memory, time, a crash)."""
    result, status, tail = reply.get("result"), str(reply.get("status") or ""), str(reply.get("stderr") or "")
    if isinstance(result, dict) and ("markdown" in result or "value" in result):
        return result
    if isinstance(result, dict) and result.get("error"):
        code = result["error"]
        if code == "memory":
            raise Refused("memory", result.get("detail", ""), mb=limits.memory_mb)
        if code == "timeout":
            raise Refused("timeout", result.get("detail", ""), seconds=limits.timeout_seconds)
        raise Refused(code, result.get("detail", ""))
    detail = f"{status}: {tail[-500:]}"
    if status == "timeout":
        raise Refused("timeout", f"no result in {limits.timeout_seconds} s", seconds=limits.timeout_seconds)
    if "MemoryError" in tail or "Cannot allocate memory" in tail or "std::bad_alloc" in tail:
        raise Refused("memory", detail, mb=limits.memory_mb)
    if status == "signal 24":   # SIGXCPU: the CPU limit
        raise Refused("timeout", detail, seconds=limits.timeout_seconds)
    raise Refused("crashed", detail)


# ---------------------------------------------------------------------------------------------- child side

def _zygote_main() -> int:
    """The pre-warmed converter process: import the converters once, then for each request fork a child that sets
    its limits and converts; wait for its answer up to the timeout (then kill it) and send it on with the child's
    status. A child that has answered is not waited for: it may still run its `after_reply` work (under its own
    alarm), and is reaped when it ends."""
    import importlib
    import select
    import signal

    _no_pandas()
    warm = sys.argv[sys.argv.index("--warm") + 1] if "--warm" in sys.argv else ""
    try:                                    # warm the imports the children share (best effort)
        if warm:
            importlib.import_module(warm)
        else:
            import markitdown.converters  # noqa: F401
            import openpyxl  # noqa: F401
            import pypdfium2  # noqa: F401
    except Exception:  # noqa: BLE001 - a child reports a missing converter as a broken file
        pass
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    behind: set[int] = set()                # children that answered and still run their `after_reply` work

    def reap(*_: object) -> None:
        for child in list(behind):
            try:
                if os.waitpid(child, os.WNOHANG)[0]:
                    behind.discard(child)
            except ChildProcessError:
                behind.discard(child)
    signal.signal(signal.SIGCHLD, reap)
    while True:
        header = _read_frame(stdin)
        data = _read_frame(stdin)
        if header is None or data is None:
            return 0
        limits = Limits(**json.loads(header)["limits"])
        err = tempfile.TemporaryFile()
        r, w = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:                        # the child: limits first, then the document
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.close(r)
            os.dup2(err.fileno(), 2)
            os.dup2(2, 1)                   # a library's prints go to stderr; the pipe carries the result alone
            code = 0
            try:
                with os.fdopen(w, "wb") as out:
                    out.write(_child_convert(header, data))
                later = _pending()
                if later:                   # the answer is out (pipe closed): the rest within the same deadline
                    signal.alarm(max(1, int(math.ceil(limits.timeout_seconds - (time.monotonic() - started)))))
                    for work in later:
                        work()
            except BaseException:  # noqa: BLE001 - nothing may escape the child
                code = 1
            os._exit(code)
        os.close(w)
        chunks, deadline, status = [], time.monotonic() + limits.timeout_seconds, ""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                status = "timeout"
                break
            ready, _, _ = select.select([r], [], [], left)
            if ready:
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        os.close(r)
        try:
            result = json.loads(b"".join(chunks).decode("utf-8")) if chunks else None
        except (UnicodeDecodeError, ValueError):
            result = None
        if result is not None and not status:
            # a child that answered may still run its `after_reply` work: not waited for (reaped on SIGCHLD)
            behind.add(pid)
            reap()
            status = "answered"
        else:
            _, wstatus = os.waitpid(pid, 0)
            if not status:
                status = (f"signal {os.WTERMSIG(wstatus)}" if os.WIFSIGNALED(wstatus)
                          else f"exit {os.WEXITSTATUS(wstatus)}")
        err.seek(0, os.SEEK_END)
        err.seek(max(0, err.tell() - 4000))
        tail = err.read().decode("utf-8", errors="replace")
        err.close()
        reply = {"result": result, "status": status, "stderr": tail if result is None else ""}
        stdout.write(_frame(json.dumps(reply, ensure_ascii=False).encode("utf-8")))
        stdout.flush()


def _child_convert(header_raw: bytes, data: bytes) -> bytes:
    """In the forked child: set the limits, convert, and return the JSON result."""
    header = json.loads(header_raw)
    limits = Limits(**header["limits"])
    _limit_self(limits)
    import logging
    import warnings
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    try:
        if header.get("call"):
            import importlib
            module, _, func = header["call"].partition(":")
            payload: dict = {"value": getattr(importlib.import_module(module), func)(data, header.get("args") or {})}
        elif header.get("converter"):
            import importlib
            module, _, func = header["converter"].partition(":")
            res = Extracted(getattr(importlib.import_module(module), func)(data, header["name"]))
            payload = {"markdown": res.markdown, "truncated": res.truncated}
        else:
            res = convert(data, header["name"], header["ext"], limits)
            payload = {"markdown": res.markdown, "truncated": res.truncated}
    except MemoryError:
        payload = {"error": "memory", "detail": "MemoryError"}
    except Refused as e:
        payload = {"error": e.code, "detail": e.detail}
    except RecursionError:
        payload = {"error": "broken", "detail": "RecursionError (nesting too deep)"}
    except Exception as e:  # noqa: BLE001 - a converter failure is a broken file
        text = f"{type(e).__name__}: {e}"[:2000]
        memory = "Memory allocation failed" in text or "MemoryError" in text or isinstance(e.__cause__, MemoryError)
        payload = {"error": "memory" if memory else "broken", "detail": text}
    if "error" in payload:
        _pending().clear()                  # work left for after an answer that is a failure is not run
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _limit_self(limits: Limits) -> None:
    """Hard limits on this (child) process; the parent's wall-clock timeout stays the last word."""
    try:
        import resource
    except ImportError:   # not on POSIX (a developer's Windows machine): the timeout alone applies
        return
    import signal
    mem = limits.memory_mb * 1024 * 1024
    cpu = int(math.ceil(limits.timeout_seconds)) + 1
    fsize = max(1, limits.max_file_mb) << 20
    for res, value in ((resource.RLIMIT_AS, (mem, mem)), (resource.RLIMIT_CPU, (cpu, cpu + 5)),
                       (resource.RLIMIT_CORE, (0, 0)), (resource.RLIMIT_FSIZE, (fsize, fsize))):
        try:
            resource.setrlimit(res, value)
        except (ValueError, OSError):   # a lower hard limit is already in place: keep it
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a chatty library gets EFBIG on stderr instead of a kill


def convert(data: bytes, name: str, ext: str, limits: Limits) -> Extracted:
    """The conversion proper (runs in the child). Page, sheet and slide boundaries are marked for the chunker."""
    truncated: list[dict] = []
    if ext in (".txt", ".md", ".markdown"):
        markdown = decode(data)
    elif ext == ".pdf":
        markdown = _pdf(data, name, limits, truncated)
    elif ext == ".xlsx":
        markdown = _xlsx(data, limits, truncated)
    elif ext == ".pptx":
        markdown = _pptx(data, name, limits, truncated)
    elif ext in (".docx", ".html", ".htm"):
        markdown = _markitdown(data, name, ext)
    else:
        raise Refused("broken", f"no converter for {ext}")
    markdown = markdown.replace("\x00", "").strip()
    if len(markdown) > limits.max_chars:
        cut = markdown.rfind("\n", 0, limits.max_chars)
        if cut < limits.max_chars * 0.9:
            cut = limits.max_chars
        truncated.append({"what": "chars", "limit": limits.max_chars, "total": len(markdown)})
        markdown = markdown[:cut].rstrip()
    return Extracted(markdown, truncated)


def _no_pandas() -> None:
    # markitdown imports pandas for its xlsx converter only; this child never uses that converter (xlsx is read
    # row by row below), and skipping pandas saves half a second and 40 MB in every child.
    sys.modules.setdefault("pandas", None)  # type: ignore[arg-type]


def _markitdown(data: bytes, name: str, ext: str) -> str:
    """Run the one markitdown converter for this type. (MarkItDown.convert_stream would fall back to its plain-text
    converter and accept a broken file as text; calling the converter itself makes a broken file an error.)"""
    _no_pandas()
    from markitdown import StreamInfo
    from markitdown.converters import DocxConverter, HtmlConverter, PdfConverter, PptxConverter

    converter = {".pdf": PdfConverter, ".docx": DocxConverter, ".pptx": PptxConverter,
                 ".html": HtmlConverter, ".htm": HtmlConverter}[ext]()
    info = StreamInfo(extension=ext, filename=name, charset=html_charset(data) if ext in (".html", ".htm") else None)
    result = converter.convert(io.BytesIO(data), info)
    return result.markdown or ""


def _pdf(data: bytes, name: str, limits: Limits, truncated: list[dict]) -> str:
    """markitdown's PDF conversion of the first `max_pages` pages: a longer PDF is cut down with pdfium (which reads
    the page tree only) before pdfminer/pdfplumber see it, so the 20,000th page is never parsed."""
    import pypdfium2 as pdfium

    try:
        src = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:   # pdfminer is sometimes more forgiving; the child's limits still bound it
        return mark_pdf_pages(_markitdown(data, name, ".pdf"))
    try:
        pages = len(src)
        if pages > limits.max_pages:
            cut = pdfium.PdfDocument.new()
            try:
                cut.import_pages(src, list(range(limits.max_pages)))
                buf = io.BytesIO()
                cut.save(buf)
            finally:
                cut.close()
            data = buf.getvalue()
            truncated.append({"what": "pages", "limit": limits.max_pages, "total": pages})
    finally:
        src.close()
    return mark_pdf_pages(_markitdown(data, name, ".pdf"))


def _pptx(data: bytes, name: str, limits: Limits, truncated: list[dict]) -> str:
    """markitdown's PowerPoint conversion of the first `max_slides` slides (later slides are dropped from the slide
    list first)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        slide_parts = sum(1 for n in z.namelist() if re.fullmatch(r"ppt/slides/slide\d+\.xml", n))
    if slide_parts > limits.max_slides:
        import pptx
        prs = pptx.Presentation(io.BytesIO(data))
        ids = prs.slides._sldIdLst  # noqa: SLF001 - python-pptx has no public way to drop a slide
        total = len(ids)
        if total > limits.max_slides:
            for sld in list(ids)[limits.max_slides:]:
                ids.remove(sld)
            buf = io.BytesIO()
            prs.save(buf)
            data = buf.getvalue()
            truncated.append({"what": "slides", "limit": limits.max_slides, "total": total})
        del prs
    return _markitdown(data, name, ".pptx")


def _xlsx(data: bytes, limits: Limits, truncated: list[dict]) -> str:
    """Each sheet as `<!-- Sheet: name -->`, `## name` and a Markdown table (first non-empty row = header), read row
    by row in openpyxl's read-only mode up to `max_rows` rows in all (counting blank rows, so a sheet whose
    dimension claims a million rows costs at most the cap) and `max_columns` columns."""
    import openpyxl

    wb = _open_workbook(openpyxl, data)
    try:
        sheets = wb.worksheets
        if len(sheets) > limits.max_sheets:
            truncated.append({"what": "sheets", "limit": limits.max_sheets, "total": len(sheets)})
            sheets = sheets[:limits.max_sheets]
        budget = limits.max_rows
        parts: list[str] = []
        cols_cut = False
        for ws in sheets:
            if budget <= 0:
                truncated.append({"what": "rows", "limit": limits.max_rows, "total": None})
                break
            if not hasattr(ws, "iter_rows"):   # a chart sheet
                continue
            try:
                declared = ws.max_column or 0
            except Exception:  # noqa: BLE001 - a bad dimension element: read without the hint
                declared = 0
            cols_cut = cols_cut or declared > limits.max_columns
            rows: list[list[str]] = []
            used = 0
            for row in ws.iter_rows(max_col=limits.max_columns, values_only=True):
                if budget <= 0:
                    truncated.append({"what": "rows", "limit": limits.max_rows, "total": None})
                    break
                budget -= 1
                cells = [_cell(v) for v in row]
                if any(cells):
                    rows.append(cells)
                    used = max(used, max(i + 1 for i, c in enumerate(cells) if c))
            parts.append(f"<!-- Sheet: {ws.title.strip()} -->\n## {ws.title}\n" + _table(rows, used))
            if truncated and truncated[-1]["what"] == "rows":
                break
        if cols_cut:
            truncated.append({"what": "columns", "limit": limits.max_columns, "total": None})
        return "\n\n".join(parts)
    finally:
        wb.close()


def _open_workbook(openpyxl, data: bytes):
    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except TypeError as e:
        # Some producers write "showZeroes" on <sheetView> where the schema says "showZeros" (see markitdown).
        if "showZeroes" not in str(e):
            raise
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for item in src.infolist():
                body = src.read(item.filename)
                if item.filename.startswith("xl/worksheets/") and b"showZeroes" in body:
                    body = re.sub(rb"(<sheetView\b[^>]*?\s)showZeroes(\s*=)", rb"\1showZeros\2", body)
                dst.writestr(item, body)
        return openpyxl.load_workbook(io.BytesIO(out.getvalue()), read_only=True, data_only=True)


def cell_text(v) -> str:
    """A spreadsheet cell's value as text, as the sheet shows it (whole floats without ".0", dates without a
    midnight time); shared by document ingest and data analysis."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == dtime(0) else v.isoformat(sep=" ")
    if isinstance(v, (date, dtime)):
        return v.isoformat()
    return str(v)


def _cell(v) -> str:
    """A cell in a Markdown table row: one line, pipes escaped."""
    return " ".join(cell_text(v).split()).replace("|", "\\|")


def _table(rows: list[list[str]], width: int) -> str:
    if not rows or width == 0:
        return ""
    lines = []
    for i, r in enumerate(rows):
        cells = (r + [""] * width)[:width]
        lines.append("| " + " | ".join(cells) + " |")
        if i == 0:
            lines.append("|" + "|".join(["---"] * width) + "|")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- text helpers

def html_charset(data: bytes) -> str:
    m = re.search(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_\-]+)""", data[:4096], flags=re.I)
    if m:
        return m.group(1).decode("ascii")
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp932"


def decode(data: bytes) -> str:
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


def mark_pdf_pages(markdown: str) -> str:
    """pdfminer separates pages with form feeds; turn them into page markers the chunker understands."""
    pages = markdown.split("\f")
    if len(pages) > 1 and not pages[-1].strip():
        pages = pages[:-1]
    return "\n\n".join(f"<!-- Page: {i} -->\n{p.strip()}" for i, p in enumerate(pages, 1) if p.strip())


if __name__ == "__main__":
    sys.exit(_zygote_main())
