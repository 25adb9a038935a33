"""The Excel report (.xlsx, openpyxl): the result table with a chart, the column profile (its charts as pictures, on
a sheet グラフ: the profile has no table a native chart could draw from), the forecast, the SQL and what the numbers
are (自動集計 / AI が作成した SQL / 推計). Every text cell that Excel or another spreadsheet could
take for a formula (starting with =, +, -, @, a tab or a carriage return, also after leading blanks) is written as
text with an apostrophe in front, so opening the report never runs anything from the data."""
from __future__ import annotations

import io
from datetime import datetime
from typing import Any, Sequence

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
MAX_TEXT = 32_000                      # Excel keeps at most 32,767 characters in a cell


def safe(value: Any) -> Any:
    """A cell value that cannot be a formula: numbers, dates and booleans as they are; text starting like a formula
    gets an apostrophe in front (CSV/Excel formula injection)."""
    if value is None or isinstance(value, (bool, int, float, datetime)):
        return value
    s = str(value)[:MAX_TEXT]
    if s.lstrip(" \u3000").startswith(FORMULA_START) or s.startswith(FORMULA_START):
        return "'" + s
    return s


def _write_table(ws, header: Sequence[str], rows: Sequence[Sequence[Any]], start_row: int = 1) -> None:
    for j, h in enumerate(header, start=1):
        c = ws.cell(row=start_row, column=j, value=safe(h))
        c.font = Font(bold=True)
        c.fill = HEAD_FILL
    for i, r in enumerate(rows, start=start_row + 1):
        for j, v in enumerate(r, start=1):
            cell = ws.cell(row=i, column=j, value=safe(v))
            if isinstance(cell.value, str):
                cell.data_type = "s"          # never "f", whatever the text
    for j, h in enumerate(header, start=1):
        width = max([len(str(h))] + [len(str(r[j - 1])) for r in rows[:200] if j - 1 < len(r)]) + 2
        ws.column_dimensions[get_column_letter(j)].width = min(60, max(8, width * 1.6))


def _numeric_columns(rows: Sequence[Sequence[Any]], width: int) -> list[int]:
    out = []
    for j in range(width):
        vals = [r[j] for r in rows if j < len(r) and r[j] is not None]
        if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            out.append(j)
    return out


def build_report(*, filename: str, heading: str, label: str, question: str = "", columns: Sequence[str] = (),
                 rows: Sequence[Sequence[Any]] = (), sql: str = "", notes: Sequence[str] = (),
                 profile: dict | None = None, forecast: dict | None = None, relation: dict | None = None,
                 chart: str = "bar", created: datetime | None = None,
                 extra: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]] = (),
                 images: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """`extra`: further sheets, each (sheet name, header, rows) — the cross table and the quotes of a themes
    result. `images`: (title, PNG) of charts drawn as pictures, on a sheet 「グラフ」 (for results whose data the
    report has no native chart of: the profile's distributions and trend)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "概要"
    info = [("表題", heading), ("元のファイル", filename), ("結果の性質", label)]
    if question:
        info.append(("質問", question))
    info.append(("作成日時", (created or datetime.now()).strftime("%Y-%m-%d %H:%M")))
    for n in notes:
        info.append(("注記", n))
    if sql:
        info.append(("実行したSQL", sql))
    for i, (k, v) in enumerate(info, start=1):
        ws.cell(row=i, column=1, value=safe(k)).font = Font(bold=True)
        c = ws.cell(row=i, column=2, value=safe(v))
        c.alignment = Alignment(wrap_text=True, vertical="top")
        if isinstance(c.value, str):
            c.data_type = "s"
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 100

    if columns:
        rs = wb.create_sheet("結果")
        _write_table(rs, list(columns), [list(r) for r in rows])
        nums = _numeric_columns(rows, len(columns))
        if rows and nums and len(rows) >= 2:
            ch = LineChart() if chart == "line" else BarChart()
            ch.title = heading[:80]
            data_cols = [j for j in nums if j != 0][:6]
            if data_cols:
                for j in data_cols:
                    ref = Reference(rs, min_col=j + 1, min_row=1, max_row=min(len(rows), 200) + 1)
                    ch.add_data(ref, titles_from_data=True)
                ch.set_categories(Reference(rs, min_col=1, min_row=2, max_row=min(len(rows), 200) + 1))
                ch.height, ch.width = 9, 18
                rs.add_chart(ch, f"{get_column_letter(len(columns) + 2)}2")

    if forecast:
        fs = wb.create_sheet("推計")
        fs.cell(row=1, column=1, value=safe(f"推計の方法: {forecast['method']}（{forecast.get('level', 95)}%予測区間）"))
        rows_f = [(p, v, None, None, "実績") for p, v in zip(forecast["labels"], forecast["values"])]
        rows_f += [(p, m, lo, hi, "推計") for p, m, lo, hi in zip(forecast["future"], forecast["mean"],
                                                                 forecast["lower"], forecast["upper"])]
        _write_table(fs, ["期間", "値", "下限", "上限", "区分"], rows_f, start_row=3)
        for k, c in enumerate(forecast.get("caveats", []), start=len(rows_f) + 5):
            fs.cell(row=k, column=1, value=safe(c))
        ch = LineChart()
        ch.title = "実績と推計"
        for j in (2, 3, 4):
            ch.add_data(Reference(fs, min_col=j, min_row=3, max_row=len(rows_f) + 3), titles_from_data=True)
        ch.set_categories(Reference(fs, min_col=1, min_row=4, max_row=len(rows_f) + 3))
        ch.height, ch.width = 9, 18
        fs.add_chart(ch, "G3")

    if relation:
        xs = wb.create_sheet("相関・回帰")
        pairs = [("x", relation["x"]), ("y", relation["y"]), ("データ数", relation["n"]),
                 ("相関係数（ピアソン）", relation["pearson"]), ("p値", relation["pearson_p"]),
                 ("順位相関（スピアマン）", relation["spearman"]), ("切片", relation["intercept"]),
                 ("傾き", relation["slope"]), ("傾きの95%信頼区間（下限）", relation["slope_low"]),
                 ("傾きの95%信頼区間（上限）", relation["slope_high"]), ("決定係数 R²", relation["r2"])]
        _write_table(xs, ["項目", "値"], pairs)
        for k, c in enumerate(relation.get("caveats", []), start=len(pairs) + 3):
            xs.cell(row=k, column=1, value=safe(c))

    for name, header, extra_rows in extra:
        _write_table(wb.create_sheet(str(name)[:31]), list(header), [list(r) for r in extra_rows])

    if profile:
        ps = wb.create_sheet("自動集計")
        prow = []
        for c in profile.get("columns", []):
            if c.get("hidden"):            # a personal-data column: counts only, never its values
                prow.append((c["name"], c["kind"], c["filled"], c["missing"], None, None, None, None, None, None, None,
                             "個人情報のため値は記載しません"))
                continue
            top = "、".join(f"{v}（{n}）" for v, n in (c.get("top") or [])[:5])
            prow.append((c["name"], c["kind"], c["filled"], c["missing"], c.get("distinct"), c.get("unreadable", 0),
                         c.get("sum"), c.get("mean"), c.get("median"), c.get("min") if "min" in c else c.get("first"),
                         c.get("max") if "max" in c else c.get("last"), top))
        _write_table(ps, ["列", "種類", "値あり", "空欄", "種類数", "読めない値", "合計", "平均", "中央値", "最小・最初",
                          "最大・最後", "上位の値"], prow)
    if images:
        gs = wb.create_sheet("グラフ")
        row = 1
        for title_, png in images:
            gs.cell(row=row, column=1, value=safe(title_)).font = Font(bold=True)
            picture = Image(io.BytesIO(png))
            gs.add_image(picture, f"A{row + 1}")
            row += 2 + int(picture.height / 20) + 1        # rows of the default height (20 px) the picture covers
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
