"""Questions in Japanese → SQL written by the LLM → run locally.

The model never receives the data: its prompt holds the tables' names, their columns with kind and statistics (the
profile), and a few sample rows — masked by the guard like every prompt, and with the values of personal-data
columns left out altogether ([非公開]). It answers with one JSON object (analysis kind, title, SQL, chart, forecast
horizon, explanation). The SQL is checked and run by the engine; a reply that is not JSON, SQL that is refused or
fails is sent back once with the error for a corrected reply; then the user gets a clear message."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from skills import prompts
from skills.analysis import japanese as jp
from skills.analysis.store import Dataset

SKILL = "analysis"
HIDDEN = "［非公開］"
MAX_CONTEXT_COLUMNS = 120
MAX_SAMPLE_CHARS = 60


@dataclass
class Plan:
    analysis: str = "table"              # table | forecast | correlation
    title: str = ""
    sql: str = ""
    chart: dict[str, Any] = field(default_factory=dict)
    horizon: int = 5
    explanation: str = ""


class PlanError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _fmt_stat(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def schema_text(ds: Dataset, samples: dict[str, list[list[Any]]]) -> str:
    """What the model may know of the file: per table, its columns with kind and statistics, and sample rows."""
    out = [f"ファイル: {ds.filename}"]
    for i, (t, p) in enumerate(zip(ds.tables, ds.profiles)):
        hidden = set(ds.personal.get(t.name, {}))
        mark = "（既定の表）" if i == ds.current else ""
        out.append(f"\n表 {jp.ident(t.name)}{mark}: {p.get('rows', t.rows):,}行")
        if p.get("total_rows"):
            out.append(f"  注意: 最初の文字列の列が「総数」「合計」などの集計行が{p['total_rows']}行あります。")
        for c in p.get("columns", [])[:MAX_CONTEXT_COLUMNS]:
            kind = {"integer": "整数", "number": "数値", "date": "日付(DATE)", "fiscal_year": "年度(西暦の整数)",
                    "year": "年(西暦の整数)", "text": "文字"}.get(c["kind"], c["kind"])
            line = f"  - {jp.ident(c['name'])} {kind} 空欄{c['missing']:,}"
            if c["name"] in hidden:
                line += " 個人情報の列（値は非公開）"
            elif c["kind"] in ("integer", "number") and c.get("mean") is not None:
                line += (f" 最小{_fmt_stat(c.get('min'))} 最大{_fmt_stat(c.get('max'))} 平均{_fmt_stat(c.get('mean'))}"
                         f" 合計{_fmt_stat(c.get('sum'))}")
            elif c["kind"] in ("date", "fiscal_year", "year"):
                line += f" 範囲 {c.get('first')}〜{c.get('last')}"
            elif c.get("free_text"):
                line += " 自由記述"
            elif c.get("top"):
                line += " 主な値: " + "、".join(f"{str(v)[:30]}({n})" for v, n in c["top"][:6])
                line += f" ほか全{c.get('distinct', 0):,}種類"
            out.append(line)
        rows = samples.get(t.name) or []
        if rows:
            out.append("  例（先頭の数行）:")
            names = [c.name for c in t.columns]
            for r in rows:
                cells = [HIDDEN if names[j] in hidden else str(v if v is not None else "")[:MAX_SAMPLE_CHARS]
                         for j, v in enumerate(r[:len(names)])]
                out.append("    " + " | ".join(cells[:MAX_CONTEXT_COLUMNS]))
    return "\n".join(out)


def messages(ds: Dataset, samples: dict[str, list[list[Any]]], question: str) -> list[dict]:
    return [{"role": "system", "content": prompts.load(SKILL, "sql")},
            {"role": "user", "content": f"{schema_text(ds, samples)}\n\n質問: {question}"}]


def retry_messages(previous: list[dict], reply: str, error: str) -> list[dict]:
    return previous + [{"role": "assistant", "content": reply[:4000]},
                       {"role": "user", "content": f"このSQLは使えませんでした。エラー: {error[:800]}\n"
                                                   "表名・列名の綴りと DuckDB の文法を確かめ、修正した JSON だけを返してください。"}]


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.I)


def parse_plan(text: str) -> Plan:
    """The model's JSON reply as a Plan; a bare ```sql block is accepted as a table query. Raises PlanError."""
    t = _FENCE.sub("", (text or "").strip()).strip()
    data: Any = None
    start, end = t.find("{"), t.rfind("}")
    if start != -1 and end > start:
        try:
            data = json.loads(t[start:end + 1])
        except ValueError:
            data = None
    if not isinstance(data, dict):
        m = re.search(r"```sql\s*(.+?)```", text or "", re.S | re.I)
        if m:
            return Plan(sql=m.group(1).strip())
        raise PlanError("返答が JSON ではありませんでした")
    sql = data.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise PlanError("JSON に sql がありませんでした")
    analysis = data.get("analysis") if data.get("analysis") in ("table", "forecast", "correlation") else "table"
    chart = data.get("chart") if isinstance(data.get("chart"), dict) else {}
    try:
        horizon = max(1, min(20, int(data.get("horizon") or 5)))
    except (TypeError, ValueError):
        horizon = 5
    return Plan(analysis=analysis, title=str(data.get("title") or "")[:80], sql=sql.strip(), chart=chart,
                horizon=horizon, explanation=str(data.get("explanation") or "")[:400])
