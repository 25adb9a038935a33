"""The automatic profile of a table (自動集計): no LLM, computed in DuckDB on the loaded data.

Per column: kind, filled and missing counts, distinct values (approximate above 100,000 rows), and by kind: numbers
(sum, mean, median (estimated above EXACT_MEDIAN_VALUES numeric cells), min, max, standard deviation, a 10-bin distribution), text (the top categories with counts, or
"自由記述" for long, mostly distinct answers), dates and years (first, last). Where a date, 年度 or 年 column exists,
a time trend: rows per period and, when the table has an amount column, its sum per period. Where the column labels
themselves are years (a 人口統計 table: 令和2年・計, 令和3年・計 …), the trend of their totals."""
from __future__ import annotations

import math
import re
from collections import OrderedDict
from datetime import date
from typing import Any

from skills.analysis import japanese as jp
from skills.analysis.loader import TableInfo

TOP = 6
BINS = 10
EXACT_MEDIAN_VALUES = 8_000_000   # numeric cells up to which medians are exact (DuckDB keeps them: 8 bytes each);
#                                   above, t-digest estimates (approx_quantile), bounded in memory. Exact is also
#                                   cheaper: 0.11 CPU s for three 1,000,000-row columns against approx_quantile's 0.29
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
    only). Few scans of the table: one for every column's counts and statistics (and the total rows), one for the
    distributions of all numeric columns, one for the top categories of the text columns with few values, and the
    trend."""
    t = jp.ident(table.name)
    cols = table.columns
    parts = ["count(*)", f"count(*) FILTER (WHERE {total_row_filter(table)})"]
    exact = table.rows * sum(c.kind in NUMERIC for c in cols) <= EXACT_MEDIAN_VALUES
    for c in cols:
        q = jp.ident(c.name)
        parts += [f"count({q})", f"approx_count_distinct({q})"]
        if c.kind in NUMERIC:
            med = f"median({q})" if exact else f"approx_quantile({q}, 0.5)"
            parts += [f"sum({q})::DOUBLE", f"avg({q})::DOUBLE", f"{med}::DOUBLE",
                      f"min({q})::DOUBLE", f"max({q})::DOUBLE", f"stddev_samp({q})::DOUBLE"]
        elif c.kind in TIME:
            parts += [f"min({q})::VARCHAR", f"max({q})::VARCHAR", "NULL", "NULL", "NULL", "NULL"]
        else:
            parts += [f"avg(length({q}))::DOUBLE", "NULL", "NULL", "NULL", "NULL", "NULL"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {t}").fetchone()
    total, totals = int(row[0]), int(row[1] or 0)
    out_cols = []
    tops: list[dict] = []
    for i, c in enumerate(cols):
        filled, distinct, a, b, med, lo, hi, sd = row[2 + i * 8:2 + (i + 1) * 8]
        info: dict[str, Any] = {"name": c.name, "kind": c.kind, "filled": int(filled),
                                "missing": total - int(filled), "distinct": int(distinct or 0),
                                "unreadable": c.unreadable, "examples": c.examples, "markers": c.markers,
                                "hidden": c.name in hidden}
        if c.kind in NUMERIC:
            info.update(sum=_num(a), mean=_num(b), median=_num(med), min=_num(lo), max=_num(hi), sd=_num(sd))
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
                tops.append(info)
        out_cols.append(info)
    _histograms(con, t, [c for c in out_cols if c["kind"] in NUMERIC and c.get("min") is not None
                         and c.get("max") is not None and not c["hidden"]])
    _tops(con, t, tops)
    prof: dict[str, Any] = {"table": table.name, "title": table.title, "rows": total, "columns": out_cols}
    trend = time_trend(con, table, out_cols)
    if trend:
        prof["trend"] = trend
    wide = year_columns_trend(con, table, out_cols)
    if wide and not trend:
        prof["trend"] = wide
    if totals:
        prof["total_rows"] = totals
    return prof


FEW_VALUES = 5000           # text columns with at most this many (approximate) distinct values share one scan


def _tops(con, t: str, cols: list[dict]) -> None:
    """Each column's TOP most frequent values with their counts (ties by value): the columns with few values in one
    scan (GROUPING SETS, every group counted, the top taken here), the others one query each."""
    few = [c for c in cols if c["distinct"] <= FEW_VALUES]
    for c in cols:
        if c not in few:
            q = jp.ident(c["name"])
            c["top"] = [(str(v), int(n)) for v, n in con.execute(
                f"SELECT {q}, count(*) AS n FROM {t} WHERE {q} IS NOT NULL GROUP BY {q} "
                f"ORDER BY n DESC, {q} LIMIT {TOP}").fetchall()]
    if not few:
        return
    qs = [jp.ident(c["name"]) for c in few]
    sets = ", ".join(f"({q})" for q in qs)
    # GROUPING(...) tells which set a row belongs to: bit k (from the right, last column = bit 0) is 0 for its column
    rows = con.execute(f"SELECT GROUPING({', '.join(qs)}) AS g, {', '.join(qs)}, count(*) FROM {t} "
                       f"GROUP BY GROUPING SETS ({sets})").fetchall()
    width = len(few)
    found: list[list[tuple[str, int]]] = [[] for _ in few]
    for r in rows:
        g = int(r[0])
        k = next((j for j in range(width) if not (g >> (width - 1 - j)) & 1), None)
        if k is None or r[1 + k] is None:
            continue
        found[k].append((str(r[1 + k]), int(r[-1])))
    for c, values in zip(few, found):
        values.sort(key=lambda x: (-x[1], x[0].encode("utf-8")))
        c["top"] = values[:TOP]


def _histograms(con, t: str, cols: list[dict]) -> None:
    """A BINS-bin distribution of each numeric column, all in one scan."""
    exprs, plan = [], []
    for c in cols:
        lo, hi, integer = c["min"], c["max"], c["kind"] == "integer"
        q = jp.ident(c["name"])
        if hi == lo:
            c["bins"] = [(_fmt(lo, integer), int(c["filled"]))]
            continue
        width = (hi - lo) / BINS
        if integer:
            width = max(1.0, math.ceil(width))
        exprs.append(f"histogram(least(floor(({q} - {lo!r}) / {width!r}), {BINS - 1})::INTEGER)")
        plan.append((c, lo, hi, width, integer))
    if not exprs:
        return
    row = con.execute(f"SELECT {', '.join(exprs)} FROM {t}").fetchone()
    for (c, lo, hi, width, integer), counts in zip(plan, row):
        counts = dict(counts or {})
        out = []
        for b in range(BINS):
            start = lo + b * width
            if start > hi:
                break
            out.append((f"{_fmt(start, integer)}〜", int(counts.get(b, 0))))
        c["bins"] = out


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


def _months(first: Any, last: Any) -> int:
    """Whole months between two ISO dates (as DuckDB's date_diff('month', …) counts them); 0 when unknown."""
    try:
        a, b = date.fromisoformat(str(first)[:10]), date.fromisoformat(str(last)[:10])
    except ValueError:
        return 0
    return (b.year - a.year) * 12 + b.month - a.month


def time_trend(con, table: TableInfo, cols: list[dict]) -> dict | None:
    """Rows (and the measure's sum) per period of the first date, 年度 or 年 column."""
    when = next((c for c in cols if c["kind"] in TIME and c["filled"]), None)
    if when is None:
        return None
    t, q = jp.ident(table.name), jp.ident(when["name"])
    measure = measure_column(cols)
    msum = f", sum({jp.ident(measure['name'])})::DOUBLE" if measure else ""
    if when["kind"] == "date":
        span = _months(when.get("first"), when.get("last"))
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
