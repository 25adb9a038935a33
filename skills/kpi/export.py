"""CSV exports for the 企画管理課長会 / AI推進会議: audit records (never the prompt text) and monthly aggregates.

UTF-8 with a BOM and CRLF line ends, so Excel opens the Japanese text correctly; cells that Excel would take
for a formula (=, +, -, @ …) are prefixed with an apostrophe."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import AsyncIterator, Iterable

from sqlalchemy import select

from core.store import Database
from core.timeutil import jst_text
from skills.kpi.report import U, monthly_rows, monthly_totals
from skills.kpi.settings import KpiSettings

BOM = "\ufeff"

AUDIT_COLUMNS = [
    ("id", "番号"), ("created_at", "日時（日本時間）"), ("user_id", "利用者ID"), ("aad_object_id", "Entra ID オブジェクトID"),
    ("department", "部署"), ("skill", "機能"), ("command", "コマンド"), ("outcome", "結果"), ("reason", "理由"),
    ("tier", "ネットワーク区分"), ("endpoint", "接続先"), ("model", "モデル"), ("prompt_tokens", "入力トークン数"),
    ("completion_tokens", "出力トークン数"), ("masked", "伏せ字（種類:件数）"), ("latency_ms", "応答時間（ミリ秒）"),
    ("correlation_id", "相関ID"),
]
# prompt_text is deliberately absent: an export never carries what staff typed.
_AUDIT_SELECT = [U.c[name] for name, _ in AUDIT_COLUMNS]

OUTCOME_JA = {"ok": "成功", "offline": "オフライン", "stopped": "中断", "approved": "承認済み回答", "refused": "拒否",
              "error": "エラー"}


def safe_cell(value) -> str:
    if value is None:
        return ""
    s = str(value)
    if s and s[0] in "=+-@\t\r":
        return "'" + s
    return s


def csv_text(header: Iterable[str], rows: Iterable[Iterable]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(list(header))
    for row in rows:
        w.writerow([safe_cell(v) for v in row])
    return buf.getvalue()


def to_bytes(text: str) -> bytes:
    return (BOM + text).encode("utf-8")


def _audit_row(row) -> list:
    m = row._mapping
    out = []
    for name, _ in AUDIT_COLUMNS:
        v = m[name]
        if name == "created_at" and v is not None:
            v = jst_text(v, "%Y-%m-%d %H:%M:%S")
        elif name == "masked":
            v = ";".join(f"{k}:{n}" for k, n in sorted((v or {}).items()))
        elif name == "outcome":
            v = OUTCOME_JA.get(v, v)
        elif name == "latency_ms" and v is not None:
            v = round(float(v))
        out.append(v)
    return out


async def audit_chunks(db: Database, start: datetime, end: datetime, *, batch: int = 1000) -> AsyncIterator[str]:
    """The audit CSV for [start, end) as text chunks (header first), streamed from the database."""
    yield csv_text([ja for _, ja in AUDIT_COLUMNS], [])
    q = (select(*_AUDIT_SELECT).where(U.c.created_at >= start, U.c.created_at < end)
         .order_by(U.c.created_at, U.c.id))
    async with db.engine.connect() as conn:
        result = await conn.stream(q.execution_options(yield_per=batch))
        async for part in result.partitions(batch):
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n")
            for row in part:
                w.writerow([safe_cell(v) for v in _audit_row(row)])
            yield buf.getvalue()


async def audit_csv(db: Database, start: datetime, end: datetime) -> bytes:
    parts = [p async for p in audit_chunks(db, start, end)]
    return to_bytes("".join(parts))


async def monthly_csv(db: Database, settings: KpiSettings, fy: int, now: datetime) -> bytes:
    totals = await monthly_totals(db, fy, now)
    rows = await monthly_rows(db, settings, fy, now)
    hours: dict = {}
    for r in rows:
        hours[r.month] = hours.get(r.month, 0.0) + r.hours
    summary = csv_text(["年月", "利用回数", "利用者数（実人数）", "推定削減時間（時間）", "拒否件数", "エラー件数"],
                       [[m.strftime("%Y-%m"), uses, users, f"{hours.get(m, 0.0):.1f}", refused, errors]
                        for m, uses, users, refused, errors in totals])
    return to_bytes(summary)


async def monthly_detail_csv(db: Database, settings: KpiSettings, fy: int, now: datetime) -> bytes:
    rows = await monthly_rows(db, settings, fy, now)
    return to_bytes(csv_text(["年月", "部署", "機能", "利用回数", "利用者数（実人数）", "推定削減時間（時間）"],
                             [[r.month.strftime("%Y-%m"), r.department, r.skill, r.uses, r.users, f"{r.hours:.1f}"]
                              for r in rows]))
