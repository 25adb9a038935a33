"""Reading a received file in a child process with hard limits, not in the bot's process.

`read_file` runs in a child of core.search.extract's converter processes (`run_isolated`: RLIMIT_AS at
ANALYSIS_LOAD_MEMORY_MB, a CPU and wall-clock limit of ANALYSIS_LOAD_SECONDS, files written up to a size, a
trimmed environment without the bot's secrets). It reads the file from the dataset's folder, loads it into DuckDB
(skills.analysis.loader), profiles each table (skills.analysis.profile), finds the personal-data columns that need
no detector (labels, My Numbers), samples the other text columns for the guard's detector, and writes the tables as
Parquet files into the folder — everything later queries need — before it answers. A hostile workbook (a shared
strings table that inflates to gigabytes of Python strings, a sheet that never ends) costs one child that runs out
of memory or time; the bot reports it in Japanese and goes on.

The bot's side (`load_in_child`) turns the child's refusals into the Japanese `LoadError` the handler shows."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import openpyxl  # noqa: F401 - imported here so that the reading processes have it warm before they fork

from core.search.extract import Limits, Refused, run_isolated
from skills.analysis import privacy
from skills.analysis.loader import LoadError, LoadLimits, TableInfo, load, save_tables
from skills.analysis.profile import profile_table

log = logging.getLogger(__name__)

CALL = "skills.analysis.isolated:read_file"
SOURCE = "source.bin"          # the received bytes, in the dataset's folder, while the child reads them


def read_file(_data: bytes, args: dict) -> dict:
    """In the child: load, profile, check, save. Returns the tables, profiles, notes, the personal columns found
    without the detector and the text samples for it — or {"load_error": Japanese message}."""
    folder = Path(args["folder"])
    data = (folder / SOURCE).read_bytes()
    limits = LoadLimits(**args["limits"])

    def finish(con, loaded):
        # the Parquet copy is written on a second cursor while the profile is made: DuckDB runs both, and the
        # profile's small queries leave its threads idle between them; both are done before the child answers
        failed: list[BaseException] = []

        def save() -> None:
            cursor = con.cursor()
            try:
                save_tables(cursor, loaded, folder)
            except BaseException as e:  # noqa: BLE001 - raised again in the child's main thread below
                failed.append(e)
            finally:
                cursor.close()
        saving = threading.Thread(target=save, name="analysis-save")
        saving.start()
        try:
            known = privacy.without_detector(con, loaded.tables)
            samples = privacy.text_samples(con, loaded.tables)
            profiles = [profile_table(con, t, hidden=set(known.get(t.name, {}))) for t in loaded.tables]
        finally:
            saving.join()
        if failed:
            raise failed[0]
        return known, samples, profiles

    try:
        loaded, (known, samples, profiles), con = load(data, args["name"], folder, limits, finish,
                                                       stored=folder / SOURCE)
    except LoadError as e:
        return {"load_error": e.message}
    con.close()
    del data
    import resource

    return {"tables": [t.to_json() for t in loaded.tables], "notes": loaded.notes, "profiles": profiles,
            "personal": known, "samples": samples,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def load_in_child(data: bytes | None, name: str, folder: Path, limits: LoadLimits, *, memory_mb: int,
                  seconds: float, file_mb: int) -> dict:
    """Read a received file in a child process under the limits (blocking: call it from a worker thread). Returns
    what `read_file` returns; raises LoadError with the Japanese message when the file cannot be read or the child
    ran out of memory or time. `data` None: the file is already in the folder (`SOURCE`, downloaded straight to
    disk, so that it never sits in the bot's memory)."""
    source = folder / SOURCE
    if data is not None:
        source.write_bytes(data)
    iso = Limits(memory_mb=memory_mb, timeout_seconds=seconds, max_file_mb=file_mb)
    args = {"folder": str(folder), "name": name, "limits": {
        "max_rows": limits.max_rows, "max_excel_rows": limits.max_excel_rows, "max_columns": limits.max_columns,
        "max_sheets": limits.max_sheets, "memory_mb": limits.memory_mb, "threads": limits.threads}}
    try:
        out = run_isolated(CALL, b"", args, iso)
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
        source.unlink(missing_ok=True)
    if not isinstance(out, dict):
        raise LoadError(f"「{name}」を読み込めませんでした。", "no result")
    if out.get("load_error"):
        raise LoadError(str(out["load_error"]))
    log.info("analysis: file read in a child (peak RSS %s MB)", out.get("peak_rss_mb"))
    return out


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


