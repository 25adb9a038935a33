"""A CSV, TSV or Excel file in, a DuckDB database file out: one table per sheet, typed, with a report of what could
not be read.

CSV/TSV: UTF-8 (with or without BOM), UTF-16 with BOM, or Shift_JIS/CP932 without any declaration, transcoded to
UTF-8 in chunks (memory stays bounded whatever the size). Excel (.xlsx): the zip directory is inspected before
anything is inflated (core.search.extract.inspect_zip: zip bombs are refused), sheets are streamed row by row in
openpyxl's read-only mode under a row, column and sheet budget, merged cells take the merged value (read from the
sheet's own <mergeCells>, which read-only mode skips), and each sheet is written to a UTF-8 CSV on disk.

Either way DuckDB reads the CSV with every column as text under the header found below the title rows
(`japanese.find_header`), then each column is typed by the Japanese rules of `japanese` (numbers with 全角 digits,
1,234, △/▲; 令和 dates; 年度): the type is chosen on a sample, every value is converted in one pass, and a column
report says how many values could not be read (examples kept) and how many were statistical 記号 (-, …, x).
Where every sampled value of every column is plain (integers, decimals, ISO dates, text), the reader types the
columns itself in the one read; a value further down that it cannot type sends the table the Japanese way.
The work runs in DuckDB under a memory limit and a thread count, in this thread (callers use a worker thread)."""
from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath
from typing import Callable, Iterator, TypeVar

import duckdb

from core.search.extract import Limits as ZipLimits
from core.search.extract import Refused, cell_text, inspect_zip, sniff
from skills.analysis import japanese as jp

log = logging.getLogger(__name__)
T = TypeVar("T")

EXTENSIONS = (".csv", ".tsv", ".xlsx")
SAMPLE_ROWS = 5000          # rows the type of a column is chosen on
TYPE_SHARE = 0.8            # share of a column's filled values that must read as a type for the column to take it
HEAD_BYTES = 256 * 1024     # bytes of a CSV read in Python to find its header
_NOTE_ROW = re.compile(r"^[\s　]*(?:[(（]?注[)）0-9０-９]?|資料|出典|出所|※|備考[:：])")


class LoadError(Exception):
    """A file that cannot be analysed; `message` is Japanese and safe to show."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(detail or message)
        self.message = message


@dataclass(frozen=True)
class LoadLimits:
    max_rows: int = 2_000_000
    max_excel_rows: int = 200_000
    max_columns: int = 300
    max_sheets: int = 20
    memory_mb: int = 512
    threads: int = 2


@dataclass
class ColumnInfo:
    name: str
    kind: str                     # integer | number | date | fiscal_year | year | text
    unreadable: int = 0           # filled values that did not read as the column's type (now empty)
    examples: list[str] = field(default_factory=list)
    markers: int = 0              # statistical 記号 (-, …, x, *) taken as empty


@dataclass
class TableInfo:
    name: str                     # the SQL table name
    title: str                    # the sheet name, or the file name
    rows: int
    columns: list[ColumnInfo]
    notes: list[str] = field(default_factory=list)     # Japanese: header found, rows cut, note rows dropped
    file: str = ""                # the Parquet file the table is saved in (in the dataset's folder)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "TableInfo":
        return cls(name=d["name"], title=d["title"], rows=int(d["rows"]),
                   columns=[ColumnInfo(**c) for c in d["columns"]], notes=list(d.get("notes") or []),
                   file=str(d.get("file") or ""))


@dataclass
class Loaded:
    tables: list[TableInfo]
    notes: list[str] = field(default_factory=list)      # file-level notes (encoding, sheets left out)


KIND_JA = {"integer": "整数", "number": "数値", "date": "日付", "fiscal_year": "年度", "year": "年", "text": "文字"}
SQL_TYPE = {"integer": "BIGINT", "number": "DOUBLE", "date": "DATE", "fiscal_year": "INTEGER", "year": "INTEGER",
            "text": "VARCHAR"}


def kind_of(filename: str) -> str:
    suffix = PurePath(filename or "").suffix.lower()
    return "xlsx" if suffix == ".xlsx" else "csv" if suffix == ".csv" else "tsv" if suffix == ".tsv" else ""


def connect(limits: LoadLimits, spill: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection under the memory and thread limits, with no extension loading."""
    config: dict[str, str | int | bool] = {
        "threads": max(1, limits.threads), "memory_limit": f"{max(64, limits.memory_mb)}MB",
        "autoinstall_known_extensions": False, "autoload_known_extensions": False}
    if spill is not None:
        config["temp_directory"] = str(spill)
    return duckdb.connect(":memory:", config=config)


def load(data: bytes, filename: str, folder: Path, limits: LoadLimits,
         then: Callable[[duckdb.DuckDBPyConnection, Loaded], T], *,
         stored: Path | None = None) -> tuple[Loaded, T, duckdb.DuckDBPyConnection]:
    """Read the file into an in-memory DuckDB database and run `then(connection, loaded)` (the profile) on it.
    `stored` names a file holding the same bytes: a UTF-8 CSV is then read there, not copied first. Returns the
    connection too, still open: the caller saves the tables (`save_tables`) and closes it or hands it to the query
    engine. Raises LoadError (the connection is closed then)."""
    kind = kind_of(filename)
    if not kind:
        raise LoadError("CSV・TSV・Excel（.xlsx）のファイルを送ってください。")
    if not data:
        raise LoadError(f"「{filename}」は空のファイルです。")
    work = folder / "work"
    work.mkdir(parents=True, exist_ok=True)
    con = connect(limits, folder / "spill")
    try:
        if kind == "xlsx":
            result = _load_xlsx(con, data, filename, work, limits)
        else:
            result = _load_text(con, data, filename, work, limits, tab=kind == "tsv", stored=stored)
        for i, table in enumerate(result.tables):
            table.file = f"t{i}.parquet"
        return result, then(con, result), con
    except duckdb.Error as e:
        con.close()
        log.info("analysis load failed in DuckDB: %s", type(e).__name__)
        if "memory" in str(e).lower():
            raise LoadError(f"「{filename}」は読み込みに必要なメモリが上限を超えたため、分析できませんでした。"
                            "行や列を減らしてお試しください。", str(e)[:300]) from None
        raise LoadError(f"「{filename}」の内容を表として読み取れませんでした。", str(e)[:300]) from None
    except BaseException:
        con.close()
        raise
    finally:
        for p in sorted(work.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink(missing_ok=True)
        work.rmdir()


def save_tables(con: duckdb.DuckDBPyConnection, loaded: Loaded, folder: Path) -> None:
    """Each table as a Parquet file in the dataset's folder (what a later query connection loads). zstd at level 1:
    as small as the default level 3 for the bench's 1,000,000 rows (3.8 MB) and as cheap to write as snappy (whose
    file is twice as large). Each file is written under a temporary name and renamed into place: a file under its
    own name is whole."""
    for table in loaded.tables:
        part = folder / (table.file + ".part")
        con.execute(f"COPY {jp.ident(table.name)} TO {jp.lit(str(part))} "
                    "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)")
        part.replace(folder / table.file)


# -- text files ----------------------------------------------------------------------------------------------------

def detect_encoding(data: bytes, *, first: int | None = None) -> str:
    """utf-8-sig, utf-16, utf-8 or cp932: the first that decodes the whole file (checked in C, nothing kept). The
    whole file, because a Shift_JIS file may start with ASCII. With `first`, UTF-8 is taken when that many bytes
    decode: DuckDB's reader checks the rest as it reads (its INVALID ENCODING rejects, `_NotUtf8`)."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if data.isascii():
        return "utf-8"
    for enc in ("utf-8", "cp932"):
        dec = codecs.getincrementaldecoder(enc)()
        end = len(data) if first is None or enc != "utf-8" else min(len(data), first)
        try:
            for i in range(0, end, 1 << 20):      # in 1 MB pieces: no copy of the whole text is held
                dec.decode(data[i:min(i + (1 << 20), end)])
            if end == len(data):
                dec.decode(b"", final=True)
            return enc
        except UnicodeDecodeError:
            continue
    raise LoadError("文字コードを判別できませんでした。UTF-8 または Shift_JIS で保存したファイルを送ってください。")


ENCODING_JA = {"utf-8-sig": "UTF-8（BOM付き）", "utf-8": "UTF-8", "utf-16": "UTF-16", "cp932": "Shift_JIS"}


def _to_utf8(data: bytes, encoding: str, path: Path) -> None:
    """Write the text as UTF-8 without BOM, decoding in 1 MB chunks."""
    if encoding == "utf-8":
        path.write_bytes(data)
        return
    if encoding == "utf-8-sig":
        path.write_bytes(memoryview(data)[3:])
        return
    dec = codecs.getincrementaldecoder(encoding)()
    with path.open("wb") as out:
        for i in range(0, len(data), 1 << 20):
            out.write(dec.decode(data[i:i + (1 << 20)]).encode("utf-8"))
        out.write(dec.decode(b"", final=True).encode("utf-8"))


def _delimiter(head: str, tab: bool) -> str:
    if tab:
        return "\t"
    lines = [ln for ln in head.splitlines()[:30] if ln.strip()]
    best, score = ",", -1.0
    for d in (",", "\t", ";", "|"):
        counts = [ln.count(d) for ln in lines]
        if not counts or max(counts) == 0:
            continue
        common = max(set(counts), key=counts.count)
        s = counts.count(common) + common / 100
        if common > 0 and s > score:
            best, score = d, s
    return best


UTF8_CHECKED = 1 << 20     # bytes of a stored file checked as UTF-8 in Python; DuckDB's reader checks the rest


class _NotUtf8(Exception):
    """DuckDB's reader met bytes that are not UTF-8 past the part checked in Python."""


def _load_text(con, data: bytes, filename: str, work: Path, limits: LoadLimits, *, tab: bool,
               stored: Path | None = None) -> Loaded:
    if stored is not None:
        encoding = detect_encoding(data, first=UTF8_CHECKED)
        if encoding in ("utf-8", "utf-8-sig"):   # DuckDB reads UTF-8 as it is and skips a BOM: no copy
            try:
                return _text_table(con, stored, filename, limits, tab=tab, encoding=encoding,
                                   checked=len(data) <= UTF8_CHECKED)
            except _NotUtf8:
                pass                             # read again below, the encoding found on the whole file
    encoding = detect_encoding(data)
    path = work / "data.csv"
    _to_utf8(data, encoding, path)
    return _text_table(con, path, filename, limits, tab=tab, encoding=encoding, checked=True)


def _text_table(con, path: Path, filename: str, limits: LoadLimits, *, tab: bool, encoding: str,
                checked: bool) -> Loaded:
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES).decode("utf-8-sig", errors="ignore")
    delim = _delimiter(head, tab)
    cut = head.rfind("\n")
    sample_text = head if len(head) < HEAD_BYTES - 8 else head[:cut + 1]
    rows = [list(r) for r in csv.reader(io.StringIO(sample_text), delimiter=delim)][:200]
    if not any(any(c.strip() for c in r) for r in rows):
        raise LoadError(f"「{filename}」に読み取れるデータがありませんでした。")
    header = jp.find_header(rows)
    skip = _physical_lines(sample_text, delim, header.start + header.depth)
    table = _read_csv(con, path, "data", filename, header, skip, delim, limits, checked=checked)
    notes = [f"文字コード: {ENCODING_JA.get(encoding, encoding)}"]
    return Loaded([table], notes)


def _physical_lines(text: str, delim: str, records: int) -> int:
    """Lines taken by the first `records` CSV records (a quoted cell may hold line breaks)."""
    if records <= 0:
        return 0
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    for _ in range(records):
        next(reader, None)
    return reader.line_num


def _read_csv(con, path: Path, table: str, title: str, header: jp.Header, skip: int, delim: str,
              limits: LoadLimits, *, checked: bool = True) -> TableInfo:
    """The typed table of a UTF-8 CSV. `checked`: the file is known to be UTF-8 (else bytes that are not raise
    `_NotUtf8`, nothing kept)."""
    names = header.names[:limits.max_columns]
    notes: list[str] = []
    if header.start:
        notes.append(f"先頭の{header.start}行（表題など）を除き、{header.start + 1}行目を見出しとして読みました。")
    if header.depth == 2:
        notes.append("2行にわたる見出し（結合セル）を「上段・下段」の列名にまとめました。")
    if len(header.names) > limits.max_columns:
        notes.append(f"列が多いため、先頭の{limits.max_columns}列だけを読みました。")
    width = len(header.names)
    cols = "{" + ", ".join(f"'c{j}': 'VARCHAR'" for j in range(width)) + "}"
    for parallel in ("true", "false"):
        source = (f"read_csv({jp.lit(str(path))}, delim={jp.lit(delim)}, header=false, skip={int(skip)}, "
                  f"columns={cols}, quote='\"', escape='\"', null_padding=true, ignore_errors=true, "
                  f"store_rejects=true, strict_mode=false, max_line_size=4000000, parallel={parallel})")
        try:
            sample = con.execute(f"SELECT * FROM {source} LIMIT {SAMPLE_ROWS}").fetchall()
            break
        except duckdb.Error as e:
            # DuckDB's parallel reader refuses quoted line breaks together with null padding: read in one thread
            if parallel == "false" or "parallel" not in str(e):
                raise
    kinds = [_name_kind(name, jp.classify([row[j] for row in sample], TYPE_SHARE)) for j, name in enumerate(names)]
    trims = [jp.padded([row[j] for row in sample]) for j in range(len(names))]
    native = _native_types(sample, kinds, trims)
    if native:
        info = _native_table(con, source.replace(cols, native_columns(native)), table, title, names, native, notes,
                             limits.max_rows, checked)
        if info is not None:
            return info
    return _typed_table(con, source, table, title, names, kinds, notes, limits.max_rows, trims, checked)


def _rejects(con, table: str, checked: bool) -> tuple[int, int]:
    """(values the reader could not type, rows it could not read) in the read just made; the reject list emptied.
    Raises _NotUtf8 (the table dropped) when the file was not known to be UTF-8 and the reader met other bytes."""
    cast, encoding, rows = con.execute(
        "SELECT count(*) FILTER (WHERE error_type = 'CAST'), count(*) FILTER (WHERE error_type = 'INVALID ENCODING'), "
        "count(DISTINCT (scan_id, line)) FROM reject_errors").fetchone()
    con.execute("DELETE FROM reject_errors")
    if encoding and not checked:
        con.execute(f"DROP TABLE {jp.ident(table)}")
        raise _NotUtf8()
    return int(cast), int(rows)


# A column whose every sampled value is written the way DuckDB's CSV reader types it (plain integers, decimals, ISO
# dates) is typed by the reader itself: one pass, no text kept. Any value further down that the reader cannot type
# (a 1,234, a 令和 date, a 記号) makes the whole table go the Japanese way (`_typed_table`), so nothing is lost.
_PLAIN = (("BIGINT", re.compile(r"^[+-]?[0-9]{1,15}$")),
          ("DOUBLE", re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$")),
          ("DATE", re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")))


def _native_types(sample: list[tuple], kinds: list[str], trims: list[bool]) -> list[str] | None:
    """The reader's SQL type of each column when every column is plain text or plainly written numbers / ISO dates
    in the sample (no padded cells); None when any column needs the Japanese rules."""
    if not sample or any(trims):
        return None
    out: list[str] = []
    for j, kind in enumerate(kinds):
        if kind == "text":
            out.append("VARCHAR")
            continue
        if kind not in ("number", "date"):
            return None
        values = [v for v in (row[j] for row in sample) if v is not None and v != ""]
        wanted = ("BIGINT", "DOUBLE") if kind == "number" else ("DATE",)
        sql = next((t for t, rx in _PLAIN if t in wanted and values and all(rx.match(v) for v in values)), None)
        if sql is None:
            return None
        out.append(sql)
    return out


def native_columns(types: list[str]) -> str:
    return "{" + ", ".join(f"'c{j}': '{t}'" for j, t in enumerate(types)) + "}"


def _native_table(con, source: str, table: str, title: str, names: list[str], types: list[str], notes: list[str],
                  max_rows: int, checked: bool = True) -> TableInfo | None:
    """The table read with the reader's own types (`_native_types`), or None (nothing kept) when a value did not
    type: a value the reader refused, an infinite or NaN number, an integer beyond what a DOUBLE holds exactly."""
    t = jp.ident(table)
    qs = [jp.ident(n) for n in names]
    con.execute(f"CREATE TABLE {t} AS SELECT {', '.join(f'c{j} AS {q}' for j, q in enumerate(qs))} FROM {source} "
                f"LIMIT {int(max_rows) + 1}")
    cast, rejected = _rejects(con, table, checked)
    rest_null = " AND ".join(f"{q} IS NULL" for q in qs[1:]) or "true"
    first = f"regexp_matches({qs[0]}, {jp.lit(_NOTE_ROW.pattern)})" if types[0] == "VARCHAR" else "false"
    drop = f"(({rest_null}) AND ({qs[0]} IS NULL OR {first}))"
    doubles = [j for j, ty in enumerate(types) if ty == "DOUBLE"]
    bigints = [j for j, ty in enumerate(types) if ty == "BIGINT"]
    checks = [f"coalesce(bool_and(isfinite({qs[j]})), true)" for j in doubles]
    # an integer column's range from its min and max: no comparison per row
    checks += [f"coalesce(min({qs[j]}) > -9e15 AND max({qs[j]}) < 9e15, true)" for j in bigints]
    whole = [f"coalesce(bool_and({qs[j]} = round({qs[j]}) AND abs({qs[j]}) < 9e15), false)" for j in doubles]
    row = con.execute(f"SELECT count(*){''.join(', ' + e for e in checks + whole)} FROM {t}").fetchone() \
        if not cast else None
    if row is None or not all(row[1:1 + len(checks)]):
        con.execute(f"DROP TABLE {t}")
        return None
    total, dropped = row[0], _dropped(con, t, drop, max_rows)
    integral = {j: bool(v) for j, v in zip(doubles, row[1 + len(checks):])}
    _trim(con, t, drop, total=total, dropped=dropped, rejected=rejected, max_rows=max_rows, notes=notes)
    columns: list[ColumnInfo] = []
    for j, (name, ty) in enumerate(zip(names, types)):
        kind = {"BIGINT": "integer", "DATE": "date", "VARCHAR": "text"}.get(ty) or (
            "integer" if integral.get(j) else "number")
        if ty == "DOUBLE" and kind == "integer":
            con.execute(f"ALTER TABLE {t} ALTER COLUMN {qs[j]} TYPE BIGINT USING CAST({qs[j]} AS BIGINT)")
        columns.append(ColumnInfo(name=name, kind=kind))
    rows = con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    return TableInfo(name=table, title=title, rows=rows, columns=columns, notes=notes)


def _dropped(con, t: str, drop: str, max_rows: int) -> int:
    """The empty and note rows (`drop`) among the first max_rows. A WHERE, not a FILTER: the scan skips the row
    groups whose statistics show that a column in `drop` has no empty value (most files: all of them)."""
    return int(con.execute(f"SELECT count(*) FROM {t} WHERE {drop} AND rowid < {int(max_rows)}").fetchone()[0])


def _trim(con, t: str, drop: str, *, total: int, dropped: int, rejected: int, max_rows: int,
          notes: list[str]) -> None:
    """A table just read, either way: the rows past max_rows deleted, then the empty and note rows (`drop`, SQL
    true for them), each with its note; a note too for the rows the reader could not read."""
    if rejected:
        notes.append(f"形式が崩れていて読み取れなかった行（{rejected:,}行）を読み飛ばしました。")
    if total > max_rows:
        con.execute(f"DELETE FROM {t} WHERE rowid >= {int(max_rows)}")
        notes.append(f"行が多いため、先頭の{max_rows:,}行だけを読みました。")
    if dropped:
        con.execute(f"DELETE FROM {t} WHERE {drop}")
        notes.append(f"空の行・表の下の注記の行（{dropped:,}行）を除きました。")


ID_NAME = re.compile(r"(番号|ＩＤ|ID|Id|id|コード|ｺｰﾄﾞ|code|Code|No\.?$|№)")


def _name_kind(name: str, kind: str) -> str:
    """Identifiers (受付番号, 法人番号, コード, ID) stay text even when they are all digits: they are not amounts."""
    return "text" if kind == "number" and ID_NAME.search(name) else kind


def _typed_table(con, source: str, table: str, title: str, names: list[str], kinds: list[str], notes: list[str],
                 max_rows: int, trims: list[bool], checked: bool = True) -> TableInfo:
    """One pass over the CSV: each column converted to its kind (the text kept beside it where a value may not
    read, to count and show what did not), empty rows and the note rows under a table marked; then the counts, the
    row limit, and the table renamed and cast into its final shape in place."""
    t = jp.ident(table)
    src = [f"c{j}" for j in range(len(names))]
    rest_null = " AND ".join(f"{c} IS NULL" for c in src[1:]) or "true"
    drop = f"({rest_null}) AND (c0 IS NULL OR regexp_matches(c0, {jp.lit(_NOTE_ROW.pattern)}))"
    select = []
    for j, kind in enumerate(kinds):
        select.append(f"{jp.convert(kind, f'c{j}', trim=trims[j])} AS v{j}")
        if kind != "text":       # the text is kept only where the value did not read, to count and show it
            select.append(f"CASE WHEN v{j} IS NULL THEN c{j} END AS r{j}")
    con.execute(f"CREATE TABLE {t} AS SELECT {', '.join(select)}, {drop} AS _drop FROM {source} "
                f"LIMIT {int(max_rows) + 1}")
    _, rejected = _rejects(con, table, checked)
    total, dropped = con.execute(f"SELECT count(*) FROM {t}").fetchone()[0], _dropped(con, t, "_drop", max_rows)
    _trim(con, t, "_drop", total=total, dropped=dropped, rejected=rejected, max_rows=max_rows, notes=notes)
    # per typed column: whole numbers (an integer column), then the 記号 and unreadable values, counted only among
    # the rows whose value did not read (the text is kept in r{j} only there: few rows)
    stats: list[tuple[int, int, bool | None]] = []
    numbers = [j for j, k in enumerate(kinds) if k == "number"]
    whole: dict[int, bool] = {}
    if numbers:
        row = con.execute("SELECT " + ", ".join(f"bool_and(v{j} = round(v{j}) AND abs(v{j}) < 9e15)" for j in numbers)
                          + f" FROM {t}").fetchone()
        whole = {j: bool(row[i]) for i, j in enumerate(numbers)}
    for j, kind in enumerate(kinds):
        if kind == "text":
            stats.append((0, 0, None))
            continue
        c = f"r{j}"
        marker = jp.is_marker(c)
        m, bad = con.execute(f"SELECT count(*) FILTER (WHERE {marker}), count(*) FILTER (WHERE NOT {marker}) "
                             f"FROM {t} WHERE {c} IS NOT NULL AND trim({c}) <> ''").fetchone()
        stats.append((int(m), int(bad), whole.get(j)))
    columns: list[ColumnInfo] = []
    for j, (name, kind) in enumerate(zip(names, kinds)):
        markers, bad, integral = stats[j]
        examples: list[str] = []
        if bad:
            c = f"r{j}"
            examples = [str(x)[:40] for (x,) in con.execute(
                f"SELECT DISTINCT {c} FROM {t} WHERE NOT {jp.is_empty(c)} "
                f"AND NOT {jp.is_marker(c)} LIMIT 3").fetchall()]
        columns.append(ColumnInfo(name=name, kind="integer" if kind == "number" and integral else kind,
                                  unreadable=int(bad or 0), examples=examples, markers=int(markers or 0)))
    con.execute(f"ALTER TABLE {t} DROP COLUMN _drop")
    for j, col in enumerate(columns):
        if col.kind != "text":
            con.execute(f"ALTER TABLE {t} DROP COLUMN r{j}")
        if col.kind == "integer":
            con.execute(f"ALTER TABLE {t} ALTER COLUMN v{j} TYPE BIGINT USING CAST(v{j} AS BIGINT)")
        con.execute(f"ALTER TABLE {t} RENAME COLUMN v{j} TO {jp.ident(col.name)}")
    rows = con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    return TableInfo(name=table, title=title, rows=rows, columns=columns, notes=notes)


# -- Excel ---------------------------------------------------------------------------------------------------------

_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]{1,3})(\d+):([A-Z]{1,3})(\d+)"')


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters.decode():
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def merged_ranges(z: zipfile.ZipFile, part: str, max_col: int) -> list[tuple[int, int, int, int]]:
    """(first row, first col, last row, last col), 0-based, of every merge in a sheet part, read by streaming the
    part through a pattern (read-only openpyxl does not report merges)."""
    out: list[tuple[int, int, int, int]] = []
    try:
        with z.open(part.lstrip("/")) as f:
            tail = b""
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                buf = tail + chunk
                last = 0
                for m in _MERGE.finditer(buf):
                    c1, c2 = _col_index(m.group(1)), _col_index(m.group(3))
                    if c1 < max_col:
                        out.append((int(m.group(2)) - 1, c1, int(m.group(4)) - 1, min(c2, max_col - 1)))
                    last = m.end()
                    if len(out) > 100_000:
                        return out
                tail = buf[max(last, len(buf) - 200):]
    except KeyError:
        return []
    return out


def _open_workbook(data: bytes):
    import openpyxl

    return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)


def _load_xlsx(con, data: bytes, filename: str, work: Path, limits: LoadLimits) -> Loaded:
    actual = sniff(data)
    if actual != "xlsx":
        raise LoadError(f"「{filename}」は Excel（.xlsx）のファイルとして開けませんでした"
                        + ("（古い .xls 形式か、パスワード付きのファイルです。.xlsx で保存し直してください）。"
                           if actual == "ole" else "。"))
    try:
        inspect_zip(data, "xlsx", ZipLimits())
    except Refused as e:
        log.warning("xlsx refused before reading: %s", e.code)
        raise LoadError(f"「{filename}」は安全に開けない構造のため（圧縮率や大きさが通常のExcelファイルと異なります）、"
                        "読み込みませんでした。", e.code) from None
    try:
        wb = _open_workbook(data)
    except Exception as e:  # noqa: BLE001 - a broken package is the user's message, never a trace
        raise LoadError(f"「{filename}」を Excel のファイルとして開けませんでした。", type(e).__name__) from None
    notes: list[str] = []
    tables: list[TableInfo] = []
    try:
        sheets = [ws for ws in wb.worksheets if hasattr(ws, "iter_rows")]
        if len(sheets) > limits.max_sheets:
            notes.append(f"シートが多いため、先頭の{limits.max_sheets}シートだけを読みました。")
            sheets = sheets[:limits.max_sheets]
        budget = limits.max_excel_rows
        used_names: set[str] = set()
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for ws in sheets:
                if budget <= 0:
                    notes.append(f"行が多いため、ブック全体で先頭の{limits.max_excel_rows:,}行だけを読みました。")
                    break
                merges = merged_ranges(z, getattr(ws, "_worksheet_path", ""), limits.max_columns)
                horizontal: dict[int, set[int]] = {}
                for r1, c1, r2, c2 in merges:
                    if c2 > c1:
                        for rr in range(r1, min(r2, r1 + 50) + 1):
                            horizontal.setdefault(rr, set()).update(range(c1, c2 + 1))
                name = _table_name(ws.title, used_names)
                path = work / f"{name}.csv"
                state = _SheetState(budget)
                rows = _sheet_rows(ws, merges, limits, state)
                head = [r for _, r in zip(range(HEAD_ROWS), rows)]
                if not any(any(r) for r in head):
                    budget = state.budget
                    continue
                header = jp.find_header(head, merged=horizontal)
                with path.open("w", encoding="utf-8", newline="") as f:
                    w = csv.writer(f)
                    w.writerows(head[header.start + header.depth:])
                    w.writerows(rows)
                budget = state.budget
                info = _read_csv(con, path, name, ws.title, header, 0, ",", limits)
                if state.cut:
                    info.notes.append("ブック全体の行数の上限に達したため、このシートは途中までです。")
                tables.append(info)
                path.unlink(missing_ok=True)
    finally:
        wb.close()
    if not tables:
        raise LoadError(f"「{filename}」に読み取れるデータがありませんでした。")
    return Loaded(tables, notes)


HEAD_ROWS = 200


@dataclass
class _SheetState:
    budget: int
    cut: bool = False


def _sheet_rows(ws, merges, limits: LoadLimits, state: _SheetState) -> Iterator[list[str]]:
    """A sheet's rows as text, streamed, merged cells filled with their merged value, within the row budget."""
    by_row: dict[int, list[tuple[int, int, int, int]]] = {}
    for m in merges:
        for rr in range(m[0], min(m[2], m[0] + 10_000) + 1):
            by_row.setdefault(rr, []).append(m)
    origin: dict[tuple[int, int], str] = {}
    for i, row in enumerate(ws.iter_rows(max_col=limits.max_columns, values_only=True)):
        if state.budget <= 0:
            state.cut = True
            return
        state.budget -= 1
        cells = [cell_text(v).strip() for v in row]
        for (r1, c1, _r2, c2) in by_row.get(i, ()):
            if i == r1 and c1 < len(cells):
                origin[(r1, c1)] = cells[c1]
            value = origin.get((r1, c1), "")
            while len(cells) <= c2:
                cells.append("")
            for j in range(c1, c2 + 1):
                if not cells[j]:
                    cells[j] = value
        while cells and not cells[-1]:
            cells.pop()
        yield cells


def _table_name(title: str, used: set[str]) -> str:
    base = re.sub(r"[\s\"'`;]+", "_", (title or "").strip())[:40].strip("_") or "sheet"
    name, n = base, 1
    while name.lower() in used:
        n += 1
        name = f"{base}_{n}"
    used.add(name.lower())
    return name
