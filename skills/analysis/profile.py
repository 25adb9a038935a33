"""The automatic profile of a table (自動集計): no LLM, computed in DuckDB on the loaded data.

Per column: kind, filled and missing counts, distinct values (approximate above 100,000 rows), and by kind: numbers
(sum, mean, median, min, max, standard deviation, a 10-bin distribution), text (the top categories with counts, or
"自由記述" for long, mostly distinct answers), dates and years (first, last). Where a date, 年度 or 年 column exists,
a time trend: rows per period and, when the table has an amount column, its sum per period. Where the column labels
themselves are years (a 人口統計 table: 令和2年・計, 令和3年・計 …), the trend of their totals."""
from __future__ import annotations

import math
import re
from collections import OrderedDict
from typing import Any

from skills.analysis import japanese as jp
from skills.analysis.loader import TableInfo

TOP = 6
BINS = 10
FREE_TEXT_CHARS = 20        # text whose mean length is above this and mostly distinct is free text (自由記述)
NUMERIC = ("integer", "number")
TIME = ("date", "fiscal_year", "year")
_TOTAL = re.compile(r"(総数|合計|総計|計)$")


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def profile_table(con, table: TableInfo, *, hidden: set[str] = frozenset()) -> dict:
    """The profile of one loaded table. `hidden` names personal-data columns: their values are never shown (counts
    only)."""
    t = jp.ident(table.name)
    cols = table.columns
    parts = ["count(*)"]
    for c in cols:
        q = jp.ident(c.name)
        parts += [f"count({q})", f"approx_count_distinct({q})"]
        if c.kind in NUMERIC:
            parts += [f"sum({q})::DOUBLE", f"avg({q})::DOUBLE", f"approx_quantile({q}, 0.5)::DOUBLE",
                      f"min({q})::DOUBLE", f"max({q})::DOUBLE", f"stddev_samp({q})::DOUBLE"]
        elif c.kind in TIME:
            parts += [f"min({q})::VARCHAR", f"max({q})::VARCHAR", "NULL", "NULL", "NULL", "NULL"]
        else:
            parts += [f"avg(length({q}))::DOUBLE", "NULL", "NULL", "NULL", "NULL", "NULL"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {t}").fetchone()
    total = int(row[0])
    out_cols = []
    for i, c in enumerate(cols):
        filled, distinct, a, b, med, lo, hi, sd = row[1 + i * 8:1 + (i + 1) * 8]
        info: dict[str, Any] = {"name": c.name, "kind": c.kind, "filled": int(filled),
                                "missing": total - int(filled), "distinct": int(distinct or 0),
                                "unreadable": c.unreadable, "examples": c.examples, "markers": c.markers,
                                "hidden": c.name in hidden}
        if c.kind in NUMERIC:
            info.update(sum=_num(a), mean=_num(b), median=_num(med), min=_num(lo), max=_num(hi), sd=_num(sd))
            if info["min"] is not None and info["max"] is not None and not info["hidden"]:
                info["bins"] = _histogram(con, t, c.name, info["min"], info["max"], c.kind == "integer")
        elif c.kind in TIME:
            info.update(first=a, last=b)
        else:
            mean_len = _num(a) or 0.0
            free = mean_len > FREE_TEXT_CHARS and int(distinct or 0) > 0.5 * max(1, int(filled))
            info["free_text"] = free
            info["mean_length"] = round(mean_len, 1)
            unique = int(distinct or 0) > 1000 and int(distinct or 0) > 0.5 * max(1, int(filled))
            info["unique"] = unique
            if not free and not unique and not info["hidden"] and filled:
                q = jp.ident(c.name)
                info["top"] = [(str(v), int(n)) for v, n in con.execute(
                    f"SELECT {q}, count(*) AS n FROM {t} WHERE {q} IS NOT NULL GROUP BY {q} "
                    f"ORDER BY n DESC, {q} LIMIT {TOP}").fetchall()]
        out_cols.append(info)
    prof: dict[str, Any] = {"table": table.name, "title": table.title, "rows": total, "columns": out_cols}
    trend = time_trend(con, table, out_cols)
    if trend:
        prof["trend"] = trend
    wide = year_columns_trend(con, table, out_cols)
    if wide and not trend:
        prof["trend"] = wide
    totals = _total_rows(con, table)
    if totals:
        prof["total_rows"] = totals
    return prof


def _histogram(con, t: str, name: str, lo: float, hi: float, integer: bool) -> list[tuple[str, int]]:
    q = jp.ident(name)
    if hi == lo:
        n = con.execute(f"SELECT count({q}) FROM {t}").fetchone()[0]
        return [(_fmt(lo, integer), int(n))]
    width = (hi - lo) / BINS
    if integer:
        width = max(1.0, math.ceil(width))
    rows = con.execute(
        f"SELECT least(floor(({q} - {lo!r}) / {width!r}), {BINS - 1})::INTEGER AS b, count(*) FROM {t} "
        f"WHERE {q} IS NOT NULL GROUP BY b ORDER BY b").fetchall()
    counts = dict(rows)
    out = []
    for b in range(BINS):
        start = lo + b * width
        if start > hi:
            break
        out.append((f"{_fmt(start, integer)}〜", int(counts.get(b, 0))))
    return out


def _fmt(v: float, integer: bool) -> str:
    if integer or float(v).is_integer():
        return f"{int(round(v)):,}"
    return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"


def measure_column(cols: list[dict]) -> dict | None:
    """The amount a trend sums: the first numeric column that is not a rating (a 1–5 or 0–10 scale of a survey,
    where a sum means nothing)."""
    for c in cols:
        if c["kind"] in NUMERIC and not c.get("hidden") and c["filled"] and not rating(c):
            return c
    return None


def rating(c: dict) -> bool:
    """An integer scale such as 満足度 1–5: few values, all between 0 and 10."""
    return c["kind"] == "integer" and (c.get("min") or 0) >= 0 and (c.get("max") or 0) <= 10 \
        and c.get("distinct", 0) <= 11


def time_trend(con, table: TableInfo, cols: list[dict]) -> dict | None:
    """Rows (and the measure's sum) per period of the first date, 年度 or 年 column."""
    when = next((c for c in cols if c["kind"] in TIME and c["filled"]), None)
    if when is None:
        return None
    t, q = jp.ident(table.name), jp.ident(when["name"])
    measure = measure_column(cols)
    msum = f", sum({jp.ident(measure['name'])})::DOUBLE" if measure else ""
    if when["kind"] == "date":
        span = con.execute(f"SELECT date_diff('month', min({q}), max({q})) FROM {t}").fetchone()[0] or 0
        unit = "year" if span > 36 else "month"
        key = f"date_trunc('{unit}', {q})"
        rows = con.execute(f"SELECT {key} AS p, count(*){msum} FROM {t} WHERE {q} IS NOT NULL GROUP BY p "
                           f"ORDER BY p LIMIT 400").fetchall()
        labels = [p.strftime("%Y年") if unit == "year" else p.strftime("%Y年%m月") for p, *_ in rows]
        period = "年" if unit == "year" else "月"
    else:
        rows = con.execute(f"SELECT {q} AS p, count(*){msum} FROM {t} WHERE {q} IS NOT NULL GROUP BY p "
                           f"ORDER BY p LIMIT 400").fetchall()
        suffix = "年度" if when["kind"] == "fiscal_year" else "年"
        labels = [f"{p}{suffix}" for p, *_ in rows]
        period = suffix
    if len(rows) < 2:
        return None
    out: dict[str, Any] = {"by": when["name"], "period": period, "labels": labels,
                           "counts": [int(r[1]) for r in rows]}
    if measure:
        out["measure"] = measure["name"]
        out["sums"] = [_num(r[2]) or 0.0 for r in rows]
    return out


def year_columns_trend(con, table: TableInfo, cols: list[dict]) -> dict | None:
    """A wide table whose column labels are years (令和2年・計 …): the column totals per year. Where the labels carry
    a total part (計, 総数, 合計) only those columns count, so that 男 + 女 + 計 is not counted twice."""
    groups: OrderedDict[int, list[dict]] = OrderedDict()
    unit = ""
    for c in cols:
        if c["kind"] not in NUMERIC or c.get("sum") is None:
            continue
        y = jp.label_year(c["name"])
        if y:
            groups.setdefault(y[0], []).append(c)
            unit = y[1]
    if len(groups) < 3:
        return None
    chosen: list[tuple[int, list[dict]]] = []
    for year, members in sorted(groups.items()):
        totals = [m for m in members if _TOTAL.search(m["name"].split("・")[-1])]
        chosen.append((year, totals or members))
    exprs = [" + ".join(f"coalesce(sum({jp.ident(m['name'])}), 0)" for m in ms) for _, ms in chosen]
    row = con.execute(f"SELECT {', '.join(f'({e})::DOUBLE' for e in exprs)} FROM {jp.ident(table.name)} "
                      f"WHERE NOT {total_row_filter(table)}").fetchone()
    series = [(year, float(row[i] or 0), "・".join(sorted({m["name"].split("・")[-1] for m in ms})))
              for i, (year, ms) in enumerate(chosen)]
    parts = {s[2] for s in series}
    return {"by": "列見出しの" + unit, "period": unit, "labels": [f"{y}{unit}" for y, _, _ in series],
            "sums": [v for _, v, _ in series], "measure": "列の合計" + (f"（{parts.pop()}）" if len(parts) == 1 else ""),
            "wide": True}


TOTAL_LABELS = ("総数", "合計", "総計", "計", "全体", "市計", "全市", "総合計")


def total_row_filter(table: TableInfo) -> str:
    """SQL true for a row whose first text column says 総数 / 合計 / 計 (a total row inside the data)."""
    first = next((c for c in table.columns if c.kind == "text"), None)
    if first is None:
        return "false"
    return f"coalesce({jp.ident(first.name)} IN ({', '.join(jp.lit(x) for x in TOTAL_LABELS)}), false)"


def _total_rows(con, table: TableInfo) -> int:
    """Rows that are totals of the others: summing the table would count them twice."""
    return int(con.execute(f"SELECT count(*) FROM {jp.ident(table.name)} "
                           f"WHERE {total_row_filter(table)}").fetchone()[0])
