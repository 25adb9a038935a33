"""Running a query on a received file: DuckDB in process, one read query at a time, bounded.

A dataset's tables are Parquet files in its folder. A query connection is an in-memory DuckDB database holding its
own copy of those tables; after they are loaded, external access is switched off (no file, no network, no
extension) and the configuration is locked, so no statement can reach anything but that copy or change the limits.
Before a statement runs it must be exactly one statement of type SELECT whose physical plan (EXPLAIN) holds no
operator that writes — DuckDB runs `WITH x AS (DELETE … RETURNING *) SELECT …` as a SELECT — and it must not call
`query()`/`query_table()` (SQL in a string). Each query has a time limit (the connection is interrupted) and a row
limit (what is kept and shown; the rest is only counted up to a cap). Connections are kept for the few most recent
datasets, so follow-up questions do not reload the files. Before it loads a dataset the engine calls its `ready`
hook, which waits for the Parquet copy the reading child writes after its answer (skills.analysis.isolated)."""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import duckdb

from skills.analysis import japanese as jp
from skills.analysis.loader import LoadLimits, TableInfo, connect

log = logging.getLogger(__name__)

WRITES = ("INSERT", "DELETE", "UPDATE", "CREATE", "DROP", "ALTER", "COPY", "EXPORT", "IMPORT", "ATTACH", "DETACH",
          "PRAGMA", "SET", "RESET", "LOAD", "INSTALL", "VACUUM", "CHECKPOINT", "TRANSACTION", "MERGE", "UPSERT")
_SQL_IN_STRING = re.compile(r"\b(query|query_table)\s*\(", re.I)
COUNT_CAP = 100_000           # rows counted past the kept ones before the count stops ("100,000行以上")


class QueryRefused(Exception):
    """The SQL is not a single read query (or it cannot be parsed); `message` is Japanese."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(detail or message)
        self.message = message
        self.detail = detail


class QueryFailed(Exception):
    """The query ran and failed (an error from DuckDB, the time limit); `message` is Japanese, `detail` the error
    for the model's retry (never shown raw to the user)."""

    def __init__(self, message: str, detail: str = "", *, timeout: bool = False) -> None:
        super().__init__(detail or message)
        self.message = message
        self.detail = detail
        self.timeout = timeout


@dataclass
class QueryResult:
    sql: str
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]               # JSON-safe cells, at most the row limit
    more: int = 0                       # rows past the kept ones (counted up to COUNT_CAP)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.rows) + self.more

    def to_json(self) -> dict:
        return {"sql": self.sql, "columns": self.columns, "types": self.types, "rows": self.rows, "more": self.more,
                "seconds": self.seconds}

    @classmethod
    def from_json(cls, d: dict) -> "QueryResult":
        return cls(sql=str(d.get("sql") or ""), columns=list(d["columns"]), types=list(d.get("types") or []),
                   rows=[list(r) for r in d["rows"]], more=int(d.get("more") or 0),
                   seconds=float(d.get("seconds") or 0))


def cell(v: Any) -> Any:
    """A DuckDB value as JSON: numbers stay numbers (finite), dates become ISO text, the rest text."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if v == v and abs(v) != float("inf") else None
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="seconds")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, ensure_ascii=False, default=str)[:2000]
    return str(v)


def clean_sql(sql: str) -> str:
    s = (sql or "").strip()
    s = re.sub(r"^```(?:sql)?\s*|\s*```$", "", s, flags=re.I).strip()
    return s.rstrip(";").strip()


def check_sql(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The statement, cleaned, if it is one read query; else QueryRefused."""
    s = clean_sql(sql)
    if not s:
        raise QueryRefused("実行する問い合わせ（SQL）が空でした。", "empty")
    if _SQL_IN_STRING.search(s):
        raise QueryRefused("文字列の中のSQLを実行する関数（query など）は使えません。", "sql in a string")
    try:
        statements = duckdb.extract_statements(s)
    except duckdb.Error as e:
        raise QueryRefused("問い合わせ（SQL）の文法を読み取れませんでした。", f"parse: {e}") from None
    if len(statements) != 1:
        raise QueryRefused("問い合わせは1つの読み取り（SELECT）だけを実行します。", f"{len(statements)} statements")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise QueryRefused("データを変更する操作や設定の変更は実行しません。読み取り（SELECT）だけを実行します。",
                           f"statement type {statements[0].type}")
    try:
        plan = con.execute("EXPLAIN (FORMAT json) " + s).fetchall()
    except duckdb.Error as e:
        raise QueryFailed("問い合わせ（SQL）を実行できませんでした。", _short(e)) from None
    names = _operators(plan)
    bad = sorted({n for n in names if any(w in n.upper() for w in WRITES)})
    if bad:
        raise QueryRefused("データを変更する操作は実行しません。読み取り（SELECT）だけを実行します。",
                           f"plan has {bad}")
    return s


def _operators(plan: list) -> list[str]:
    names: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("name"), str):
                names.append(node["name"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    for row in plan:
        for part in row[1:]:
            try:
                walk(json.loads(part))
            except (TypeError, ValueError):
                names.extend(re.findall(r"[A-Z_]{3,}", str(part)))
    return names


def _short(e: Exception) -> str:
    return " ".join(str(e).split())[:600]


class _Prepared:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.lock = threading.Lock()


class Engine:
    """Query connections for datasets (one process-wide instance, in `services.extra`)."""

    def __init__(self, limits: LoadLimits, *, keep: int = 4,
                 ready: Callable[[Path, list[TableInfo]], None] | None = None) -> None:
        self.limits = limits
        self.keep = keep
        self.ready = ready          # called before a dataset's Parquet files are loaded (may raise LoadError)
        self._cache: OrderedDict[str, _Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def _prepared(self, key: str, folder: Path, tables: list[TableInfo]) -> _Prepared:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        if self.ready is not None:
            self.ready(folder, tables)
        con = connect(self.limits)
        try:
            for t in tables:
                con.execute(f"CREATE TABLE {jp.ident(t.name)} AS SELECT * FROM "
                            f"read_parquet({jp.lit(str(folder / t.file))})")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except BaseException:
            con.close()
            raise
        prepared = _Prepared(con)
        with self._lock:
            self._cache[key] = prepared
            while len(self._cache) > self.keep:
                _, old = self._cache.popitem(last=False)
                with old.lock:
                    old.con.close()
        return prepared

    def forget(self, key: str) -> None:
        with self._lock:
            old = self._cache.pop(key, None)
        if old is not None:
            with old.lock:
                old.con.close()

    def close(self) -> None:
        for key in list(self._cache):
            self.forget(key)

    def run(self, key: str, folder: Path, tables: list[TableInfo], sql: str, *, max_rows: int,
            timeout: float) -> QueryResult:
        """Check and run one read query (blocking: call it from a worker thread). Raises QueryRefused/QueryFailed."""
        prepared = self._prepared(key, folder, tables)
        with prepared.lock:
            con = prepared.con
            s = check_sql(con, sql)
            timer = threading.Timer(max(0.1, timeout), con.interrupt)
            start = time.perf_counter()
            timer.start()
            try:
                cur = con.execute(s)
                columns = [d[0] for d in cur.description or []]
                types = [str(d[1]) for d in cur.description or []]
                rows = cur.fetchmany(max_rows + 1)
                more = 0
                if len(rows) > max_rows:
                    rows = rows[:max_rows]
                    more = 1
                    while more < COUNT_CAP:
                        chunk = cur.fetchmany(min(10_000, COUNT_CAP - more + 1))
                        if not chunk:
                            break
                        more += len(chunk)
            except duckdb.InterruptException:
                raise QueryFailed(f"問い合わせが制限時間（{timeout:g}秒）内に終わらなかったため、中止しました。"
                                  "条件を絞ってお試しください。", "interrupted: time limit", timeout=True) from None
            except duckdb.OutOfMemoryException as e:
                raise QueryFailed("問い合わせに必要なメモリが上限を超えたため、中止しました。条件を絞ってお試しください。",
                                  _short(e)) from None
            except duckdb.Error as e:
                raise QueryFailed("問い合わせ（SQL）を実行できませんでした。", _short(e)) from None
            finally:
                timer.cancel()
            seconds = time.perf_counter() - start
        return QueryResult(sql=s, columns=columns, types=types, rows=[[cell(v) for v in r] for r in rows],
                           more=more, seconds=round(seconds, 3))
