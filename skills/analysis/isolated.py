"""Reading a received file in a child process with hard limits, not in the bot's process.

`read_file` runs in a child of core.search.extract's converter processes (`run_isolated`: RLIMIT_AS at
ANALYSIS_LOAD_MEMORY_MB, a CPU and wall-clock limit of ANALYSIS_LOAD_SECONDS, files written up to a size, a
trimmed environment without the bot's secrets). It reads the file from the dataset's folder, loads it into DuckDB
(skills.analysis.loader), profiles each table (skills.analysis.profile), finds the personal-data columns that need
no detector (labels, My Numbers), samples the other text columns for the guard's detector, and answers with all
that. Then, after its answer (`core.search.extract.after_reply`, same child, same limits and deadline), it writes
the tables as Parquet files into the folder for later queries: the user gets the profile without waiting for the
copy. A hostile workbook (a shared strings table that inflates to gigabytes of Python strings, a sheet that never
ends) costs one child that runs out of memory or time; the bot reports it in Japanese and goes on.

The copy is guarded so that nothing is lost: the child holds an exclusive lock on the folder's `copy.lock` from
before it reads until it ends (the kernel releases it when the child dies, however it dies); each Parquet file is
written under a temporary name and renamed into place; the received file (`source.bin`) is removed only after every
table's file is in place. A query waits for the lock (`ensure_tables`, called by the engine before it loads a
dataset): the Parquet files are then either all there, or — the child was killed, ran out of memory or time during
the copy — missing while the received file is still in the folder, and the file is read again (with the copy
before the answer this time). The dataset stays usable either way.

The bot's side (`load_in_child`) turns the child's refusals into the Japanese `LoadError` the handler shows."""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Callable

import openpyxl  # noqa: F401 - imported here so that the reading processes have it warm before they fork

from core.search.extract import Limits, Refused, after_reply, run_isolated
from skills.analysis import privacy, store
from skills.analysis.loader import Loaded, LoadError, LoadLimits, TableInfo, load, save_tables
from skills.analysis.profile import profile_table

log = logging.getLogger(__name__)

CALL = "skills.analysis.isolated:read_file"
SOURCE = "source.bin"          # the received bytes, in the dataset's folder, until its Parquet copy is in place
DONE = "copy.json"             # written by the child once the copy is in place: its seconds, CPU and peak RSS

_held: list = []               # in the child: the open lock file, held until the child ends


def _cpu() -> float:
    import resource

    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def _peak_mb() -> int:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def read_file(_data: bytes, args: dict) -> dict:
    """In the child: load, profile, check; answer; then save the Parquet copy (args["defer"] false: save before the
    answer). Returns the tables, profiles, notes, the personal columns found without the detector and the text
    samples for it — or {"load_error": Japanese message}."""
    start = time.perf_counter()
    folder = Path(args["folder"])
    lock = store.hold_copy_lock(folder)          # first: whoever waits for the copy waits for this child
    _held.append(lock)
    data = (folder / SOURCE).read_bytes()
    limits = LoadLimits(**args["limits"])

    def finish(con, loaded):
        known = privacy.without_detector(con, loaded.tables)
        samples = privacy.text_samples(con, loaded.tables)
        profiles = [profile_table(con, t, hidden=set(known.get(t.name, {}))) for t in loaded.tables]
        return known, samples, profiles

    try:
        loaded, (known, samples, profiles), con = load(data, args["name"], folder, limits, finish,
                                                       stored=folder / SOURCE)
    except LoadError as e:
        return {"load_error": e.message}
    del data
    out = {"tables": [t.to_json() for t in loaded.tables], "notes": loaded.notes, "profiles": profiles,
           "personal": known, "samples": samples, "peak_rss_mb": _peak_mb(), "cpu": round(_cpu(), 3),
           "seconds": round(time.perf_counter() - start, 3)}
    if args.get("defer", True):
        after_reply(lambda: _copy(con, loaded, folder, start))
    else:
        _copy(con, loaded, folder, start)
    return out


def _copy(con, loaded: Loaded, folder: Path, start: float) -> None:
    """The Parquet copy (each file renamed into place when written), then the received file removed and DONE
    written; the connection closed either way. The lock stays held until the child ends."""
    try:
        save_tables(con, loaded, folder)
    finally:
        con.close()
    (folder / SOURCE).unlink(missing_ok=True)
    (folder / DONE).write_text(json.dumps({"seconds": round(time.perf_counter() - start, 3), "cpu": round(_cpu(), 3),
                                           "peak_rss_mb": _peak_mb()}), encoding="utf-8")


def load_in_child(data: bytes | None, name: str, folder: Path, limits: LoadLimits, *, memory_mb: int,
                  seconds: float, file_mb: int, defer: bool = True) -> dict:
    """Read a received file in a child process under the limits (blocking: call it from a worker thread). Returns
    what `read_file` returns as soon as the profile is made; the child then writes the Parquet copy (`defer` false:
    before it answers). Raises LoadError with the Japanese message when the file cannot be read or the child ran
    out of memory or time. `data` None: the file is already in the folder (`SOURCE`, downloaded straight to disk,
    so that it never sits in the bot's memory). The received file is removed on a refusal; otherwise the child
    removes it once the copy is in place."""
    source = folder / SOURCE
    if data is not None:
        source.write_bytes(data)
    iso = Limits(memory_mb=memory_mb, timeout_seconds=seconds, max_file_mb=file_mb)
    args = {"folder": str(folder), "name": name, "defer": defer, "limits": {
        "max_rows": limits.max_rows, "max_excel_rows": limits.max_excel_rows, "max_columns": limits.max_columns,
        "max_sheets": limits.max_sheets, "memory_mb": limits.memory_mb, "threads": limits.threads}}
    answered = False
    try:
        out = run_isolated(CALL, b"", args, iso)
        answered = isinstance(out, dict) and not out.get("load_error")
    except Refused as e:
        log.warning("analysis: the file reader stopped: %s", e.code)
        if e.code == "memory":
            raise LoadError(f"「{name}」は読み込みに必要なメモリが上限（{memory_mb:,}MB）を超えたため、分析できませんでした。"
                            "行や列・シートを減らしたファイルでお試しください。", e.code) from None
        if e.code == "timeout":
            raise LoadError(f"「{name}」は読み込みが制限時間（{seconds:g}秒）内に終わらなかったため、分析できませんでした。"
                            "行や列・シートを減らしたファイルでお試しください。", e.code) from None
        raise LoadError(f"「{name}」を読み込めませんでした。ファイルが壊れていないか確かめて、もう一度送ってください。",
                        e.code) from None
    finally:
        if not answered:
            source.unlink(missing_ok=True)
    if not isinstance(out, dict):
        raise LoadError(f"「{name}」を読み込めませんでした。", "no result")
    if out.get("load_error"):
        raise LoadError(str(out["load_error"]))
    log.info("analysis: file read in a child (peak RSS %s MB before the Parquet copy)", out.get("peak_rss_mb"))
    return out


def ensure_tables(folder: Path, tables: list[TableInfo], reread: Callable[[], None], *, wait: float) -> None:
    """Before a query loads a dataset: wait (up to `wait` seconds) for its reading child to finish the Parquet copy
    or to end; when a table's file is still missing (the child died during the copy) and the received file is
    still there, `reread()` reads it again. Raises LoadError (Japanese) when the dataset cannot be made whole."""
    if not store.wait_copy(folder, wait):
        raise LoadError("ファイルの準備がまだ終わっていません。少し待ってから、もう一度お試しください。", "copy still running")
    if all((folder / t.file).exists() for t in tables):
        return
    with _rereading:
        if all((folder / t.file).exists() for t in tables):
            return
        if not (folder / SOURCE).exists():
            raise LoadError("このファイルのデータが見つかりませんでした。もう一度ファイルを送ってください。", "no copy, no source")
        log.warning("analysis: a dataset's Parquet copy is missing (its reading child ended during the copy); "
                    "reading the received file again")
        reread()
    if not all((folder / t.file).exists() for t in tables):
        raise LoadError("このファイルのデータが見つかりませんでした。もう一度ファイルを送ってください。", "copy missing after reread")


_rereading = threading.Lock()


def tables_of(out: dict) -> list[TableInfo]:
    return [TableInfo.from_json(t) for t in out["tables"]]


def hide(profile: dict, columns: set[str]) -> dict:
    """A profile with the values of personal-data columns found after it was made taken out (counts stay)."""
    for c in profile.get("columns", []):
        if c["name"] in columns:
            c["hidden"] = True
            for key in ("top", "bins", "examples"):
                c.pop(key, None)
    return profile


