"""Cards of the データ分析 skill: the automatic profile (自動集計), a query's result (paged table, chart, the SQL
folded), a forecast (推計) and a correlation. Pure functions: data in, Adaptive Card 1.5 JSON out.

Charts are Teams' chart elements (Chart.VerticalBar, Chart.VerticalBar.Grouped, Chart.Line); each carries a
`fallback`, which any other 1.5 renderer (Web Chat, older Teams clients) shows instead: a table, which
`with_chart_images` replaces by a picture of the chart (a PNG as a data URL, drawn by the skill) as long as the whole
card stays within MAX_CARD_BYTES. Untrusted text (cell values, column names, the
model's SQL and explanation) goes through `plain()` (cards.common.text)."""
from __future__ import annotations

import base64
import copy
import json
from typing import Any, Callable, Iterable, Sequence

from cards.common import card, container, execute, facts, heading, note, plain, text, title

PAGE_VERB = "analysis.page"
XLSX_VERB = "analysis.xlsx"
SHEET_VERB = "analysis.sheet"
FORECAST_VERB = "analysis.forecast"
THEMES_VERB = "analysis.themes"

AUTO_LABEL = "【自動集計】AIは使用していません。ファイルの値をそのまま機械的に集計した結果です。"
AI_LABEL = ("AIが作成した問い合わせ（SQL）を、この庁内システムの中でファイルに対して実行した結果です。"
            "AIにはデータ本体を渡していません（列名・集計値・伏せ字にした数行のみ）。SQLを確認のうえご利用ください。")
ESTIMATE_LABEL = "【推計】統計モデルによる将来の見込みです。確定値ではありません。"
THEMES_LABEL = ("AIが回答を読んでテーマに分類しました（分類は目安です）。件数と割合は、その分類をもとにこのシステムが"
                "ファイルの回答を数えたものです。AIに送った回答と、ここに示す回答は、個人情報を伏せ字にしています。")
THEMES_OFFLINE_NOTE = ("自由記述の分類（テーマ分け）にはAIが必要です。AIが設定されていないため（オフラインモード）、"
                       "準備中です。")
MAX_CHART_POINTS = 40
CHART_TYPES = ("Chart.VerticalBar", "Chart.VerticalBar.Grouped", "Chart.Line")
# Teams refuses a bot message above its size limit (413 MessageSizeTooBig): documented as 40 KB, later 100 KB with
# 80 KB advised, counted as UTF-16 and without base64 images. The cards keep to the project's stricter rule of about
# 28 KB and count the images in, as UTF-8 bytes of the card's JSON (an image is ASCII: 1 byte a character).
MAX_CARD_BYTES = 28_000
MAX_CELL = 60
MAX_COLUMNS = 8


def _label(x: Any) -> str:
    """Chart labels are not markdown: only control characters are removed and the length capped."""
    return "".join(ch for ch in str(x) if ch >= " ")[:40]


def fmt(v: Any) -> str:
    """A cell as shown: numbers with thousands separators, at most 4 significant decimals; None as blank."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.2f}" if abs(v) >= 100 else f"{v:.4g}"
    s = str(v).replace("\n", " ")
    return s if len(s) <= MAX_CELL else s[:MAX_CELL - 1] + "…"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> dict:
    """A 1.5 Table with a header row; cells are plain text (at most MAX_COLUMNS columns)."""
    header = [str(h) for h in list(header)[:MAX_COLUMNS]]

    def cell(v: Any, bold: bool = False) -> dict:
        return {"type": "TableCell", "items": [text(fmt(v) if not bold else str(v), weight="Bolder" if bold else None,
                                                    size="Small")]}

    return {"type": "Table", "firstRowAsHeader": True, "showGridLines": True,
            "columns": [{"width": 1} for _ in header],
            "rows": [{"type": "TableRow", "cells": [cell(h, True) for h in header]}]
            + [{"type": "TableRow", "cells": [cell(v) for v in list(r)[:MAX_COLUMNS]]} for r in rows]}


def bar_chart(title_: str, points: Sequence[tuple[Any, float]], *, x_title: str, y_title: str) -> dict:
    pts = list(points)[:MAX_CHART_POINTS]
    return {"type": "Chart.VerticalBar", "title": _label(title_), "xAxisTitle": _label(x_title),
            "yAxisTitle": _label(y_title), "colorSet": "categorical", "showBarValues": len(pts) <= 12,
            "data": [{"x": _label(x), "y": float(y)} for x, y in pts],
            "fallback": table([x_title, y_title], [(x, y) for x, y in pts])}


def grouped_chart(title_: str, series: Sequence[tuple[str, Sequence[tuple[Any, float]]]], *, x_title: str,
                  y_title: str) -> dict:
    data = [{"legend": _label(name), "values": [{"x": _label(x), "y": float(y)} for x, y in pts[:MAX_CHART_POINTS]]}
            for name, pts in list(series)[:8]]
    xs = [x for x, _ in series[0][1]][:MAX_CHART_POINTS] if series else []
    rows = [[x] + [dict(pts).get(x) for _, pts in series[:MAX_COLUMNS - 1]] for x in xs]
    return {"type": "Chart.VerticalBar.Grouped", "title": _label(title_), "xAxisTitle": _label(x_title),
            "yAxisTitle": _label(y_title), "colorSet": "categorical", "data": data,
            "fallback": table([x_title] + [name for name, _ in series[:MAX_COLUMNS - 1]], rows)}


def line_chart(title_: str, series: Sequence[tuple[str, Sequence[tuple[Any, float]]]], *, x_title: str,
               y_title: str) -> dict:
    data = [{"legend": _label(name), "values": [{"x": _label(x), "y": float(y)} for x, y in pts[-MAX_CHART_POINTS:]]}
            for name, pts in series]
    xs: list[Any] = []
    for _, pts in series:
        for x, _y in pts:
            if x not in xs:
                xs.append(x)
    xs = xs[-MAX_CHART_POINTS:]
    rows = [[x] + [dict(pts).get(x) for _, pts in series[:MAX_COLUMNS - 1]] for x in xs]
    return {"type": "Chart.Line", "title": _label(title_), "xAxisTitle": _label(x_title), "yAxisTitle": _label(y_title),
            "data": data, "fallback": table([x_title] + [name for name, _ in series[:MAX_COLUMNS - 1]], rows)}


def card_bytes(c: dict) -> int:
    """The size the card adds to a message: its JSON as UTF-8 bytes."""
    return len(json.dumps(c, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def image_fallback(chart: dict, png: bytes) -> dict:
    """The fallback element of a chart: its picture (a PNG data URL) with the chart's title as alternative text."""
    alt = _label(chart.get("title") or "グラフ") or "グラフ"
    return {"type": "Container", "items": [
        {"type": "Image", "url": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
         "altText": f"グラフ: {alt}", "size": "Stretch"}]}


def charts_of(c: dict) -> list[dict]:
    """The chart elements of a card, in card order."""
    found: list[dict] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in CHART_TYPES:
                found.append(node)
                return
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(c)
    return found


def with_chart_images(c: dict, render: Callable[[dict, tuple[int, int]], bytes | None],
                      sizes: Sequence[tuple[int, int]] = ((560, 280), (420, 210)),
                      limit: int = MAX_CARD_BYTES) -> dict:
    """A copy of the card whose charts fall back to their picture instead of a table, as many as keep the card within
    `limit`: first every chart in card order at the smallest size, then, room permitting, each at a larger size. A
    chart whose picture does not fit (or cannot be drawn) keeps its table. `render(chart, (width, height))` draws
    the PNG; `sizes` go from the largest to the smallest."""
    out = copy.deepcopy(c)
    size = card_bytes(out)
    order = list(reversed(list(sizes)))
    for step, wh in enumerate(order):
        for chart in charts_of(out):
            current = chart.get("fallback")
            if step and (current or {}).get("type") != "Container":
                continue                      # no picture at the smaller size: none at a larger one either
            png = render({k: v for k, v in chart.items() if k != "fallback"}, wh)
            if png is None:
                continue
            element = image_fallback(chart, png)
            change = card_bytes(element) - card_bytes(current or {})
            if size + change <= limit:
                chart["fallback"] = element
                size += change
    return out


def _actions_row(actions: list[dict]) -> dict:
    return {"type": "ActionSet", "actions": actions}


def profile_card(p: dict, *, filename: str, notes: Sequence[str] = (), personal: str = "",
                 sheets: Sequence[str] = (), current: int = 0, token: str = "", can_forecast: bool = False,
                 free_text: Sequence[tuple[int, str]] = (), ai: bool = True) -> dict:
    """The automatic profile of one table: size, each column (kind, missing, what could not be read, top values or
    the distribution), the time trend, and buttons for the other sheets, a forecast, the Excel report and (with an
    LLM) the themes of a free-text column; offline, a note says that the themes need an LLM."""
    body: list[dict] = [title("データの自動集計"), note(AUTO_LABEL),
                        facts([("ファイル", filename), ("表", p.get("title", "")),
                               ("行数", f"{p.get('rows', 0):,}行"), ("列数", f"{len(p.get('columns', [])):,}列")])]
    if personal:
        body.append(container([text("個人情報を含む列があります: " + personal, weight="Bolder", color="Attention"),
                               note("これらの列の値は表示せず、AIにも送りません。AIでの分析は、個人情報の扱いを"
                                    "認められた区分（/tier）でのみ行います。")], style="attention"))
    for n in notes:
        body.append(note(n))
    rows = []
    problems = []
    for c in p.get("columns", []):
        detail = _column_detail(c)
        rows.append((c["name"], KIND_JA.get(c["kind"], c["kind"]), f"{c['missing']:,}", detail))
        if c.get("unreadable"):
            ex = "、".join(f"「{e}」" for e in c.get("examples") or [])
            problems.append(f"「{c['name']}」: {KIND_JA.get(c['kind'], c['kind'])}として読めない値が{c['unreadable']:,}件"
                            + (f"（例: {ex}）" if ex else "") + "。空欄として扱いました。")
        if c.get("markers"):
            problems.append(f"「{c['name']}」: 記号（- … x など）{c['markers']:,}件は空欄として扱いました。")
    body += [heading("列の一覧"), table(["列", "種類", "空欄", "内容"], rows)]
    if problems:
        body += [heading("読み取れなかった値"), *[text(x, size="Small") for x in problems[:20]]]
    if p.get("total_rows"):
        body.append(note(f"「総数」「合計」などの行が{p['total_rows']}行あります。合計するときは二重に数えないよう"
                         "注意してください。"))
    for c in p.get("columns", []):
        if c.get("top") and len(c["top"]) >= 2 and c.get("distinct", 0) <= 50:
            body += [heading(f"「{c['name']}」の内訳（上位）"),
                     bar_chart(c["name"], [(v, n) for v, n in c["top"]], x_title=c["name"], y_title="件数")]
            break
    for c in p.get("columns", []):
        if c.get("bins") and len(c["bins"]) >= 3:
            body += [heading(f"「{c['name']}」の分布"),
                     bar_chart(c["name"], c["bins"], x_title=c["name"], y_title="件数")]
            break
    trend = p.get("trend")
    if trend:
        body += [heading(f"推移（{trend['by']}別）")] + [_trend_chart(trend)]
    actions = []
    if free_text and not ai:
        body.append(note(THEMES_OFFLINE_NOTE))
    if can_forecast and trend:
        actions.append(execute("将来推計", FORECAST_VERB, {"table": current}))
    if ai:
        for j, name in list(free_text)[:2]:
            actions.append(execute(f"「{name[:16]}」をAIで分類", THEMES_VERB, {"table": current, "column": j}))
    if token:
        actions.append(execute("Excelで保存", XLSX_VERB, {"token": token}))
    for i, name in enumerate(sheets):
        if i != current and len(actions) < 6:
            actions.append(execute(f"シート「{name[:20]}」", SHEET_VERB, {"table": i}))
    body.append(note("質問の例: 「区別の件数を集計して」「年度ごとの推移と前年度比は？」「今後5年の推計は？」"
                     "（/analyze に続けて入力。AIを使えない場合は /analyze 集計 列名 など）"))
    return card(body, actions or None)


KIND_JA = {"integer": "整数", "number": "数値", "date": "日付", "fiscal_year": "年度", "year": "年", "text": "文字"}


def _column_detail(c: dict) -> str:
    if c.get("hidden"):
        return "個人情報のため値は表示しません"
    if c["kind"] in ("integer", "number") and c.get("mean") is not None:
        return (f"合計 {fmt(c.get('sum'))}・平均 {fmt(c.get('mean'))}・中央値 {fmt(c.get('median'))}・"
                f"最小 {fmt(c.get('min'))}・最大 {fmt(c.get('max'))}")
    if c["kind"] in ("date", "fiscal_year", "year"):
        return f"{c.get('first') or ''} 〜 {c.get('last') or ''}"
    if c.get("free_text"):
        return f"自由記述（平均{c.get('mean_length', 0):g}文字）"
    if c.get("top"):
        return "、".join(f"{fmt(v)}（{n:,}）" for v, n in c["top"][:4]) + f" ほか（全{c.get('distinct', 0):,}種類）"
    return ""


def _trend_chart(trend: dict) -> dict:
    labels = trend["labels"]
    if trend.get("sums") is not None:
        series = [(trend.get("measure", "合計"), list(zip(labels, trend["sums"])))]
        y = trend.get("measure", "合計")
    else:
        series = [("件数", list(zip(labels, trend["counts"])))]
        y = "件数"
    return line_chart(f"{trend['by']}別の推移", series, x_title=trend["period"], y_title=y)


def result_card(*, heading_text: str, question: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                page: int, pages: int, total_text: str, token: str, chart: dict | None = None, sql: str = "",
                notes: Sequence[str] = (), explanation: str = "", label: str = AI_LABEL, masked_note: str = "") -> dict:
    """A query's result: the question, the chart, one page of the table, paging and Excel buttons, and the SQL
    folded under a toggle (for review)."""
    body: list[dict] = [title(heading_text)]
    if question:
        body.append(text(f"質問: {question}", subtle=True))
    body.append(note(label))
    if masked_note:
        body.append(note(masked_note))
    if explanation:
        body.append(text(explanation, size="Small"))
    if chart:
        body.append(chart)
    body.append(table(columns, rows))
    body.append(note(total_text))
    for n in notes:
        body.append(note(n))
    if sql:
        sql_id = f"sql-{token}"[:60]
        body.append({"type": "ActionSet", "actions": [
            {"type": "Action.ToggleVisibility", "title": "SQLを表示／隠す", "targetElements": [sql_id]}]})
        body.append({"type": "Container", "id": sql_id, "isVisible": False, "style": "emphasis", "items": [
            {"type": "TextBlock", "text": plain(sql, 3000), "wrap": True, "fontType": "Monospace", "size": "Small"}]})
    actions = []
    if page > 0:
        actions.append(execute("前へ", PAGE_VERB, {"token": token, "page": page - 1}))
    if page + 1 < pages:
        actions.append(execute("次へ", PAGE_VERB, {"token": token, "page": page + 1}))
    if token:
        actions.append(execute("Excelで保存", XLSX_VERB, {"token": token}))
    return card(body, actions or None)


def forecast_card(f: dict, *, heading_text: str, measure: str, token: str = "") -> dict:
    """A forecast: the observed series and the estimate with its 95% interval (chart and table), the method and the
    caveats, labelled as an estimate."""
    observed = list(zip(f["labels"], f["values"]))
    series = [("実績", observed),
              ("推計", [observed[-1]] + list(zip(f["future"], f["mean"]))),
              (f"{f.get('level', 95)}%区間（下限）", list(zip(f["future"], f["lower"]))),
              (f"{f.get('level', 95)}%区間（上限）", list(zip(f["future"], f["upper"])))]
    body: list[dict] = [title(heading_text), note(ESTIMATE_LABEL),
                        facts([("推計の方法", f["method"]), ("対象", measure),
                               ("使ったデータ", f"{f['labels'][0]}〜{f['labels'][-1]}（{len(f['labels'])}期）")]),
                        line_chart(f"{measure}の推計", series, x_title="期間", y_title=measure),
                        table(["期間", "推計値", f"下限（{f.get('level', 95)}%）", f"上限（{f.get('level', 95)}%）"],
                              [(p, m, lo, hi) for p, m, lo, hi in zip(f["future"], f["mean"], f["lower"],
                                                                       f["upper"])])]
    body += [note(c) for c in f.get("caveats", [])]
    actions = [execute("Excelで保存", XLSX_VERB, {"token": token})] if token else None
    return card(body, actions)


def relation_card(r: dict, *, strength: str, token: str = "") -> dict:
    """Correlation and a simple regression line, with the caveats."""
    body: list[dict] = [title(f"「{r['x']}」と「{r['y']}」の関係"), note(AUTO_LABEL.replace("集計した", "計算した")),
                        facts([("データ数", f"{r['n']:,}件"), ("相関係数（ピアソン）", f"{r['pearson']:.3f}（{strength}）"),
                               ("順位相関（スピアマン）", f"{r['spearman']:.3f}"),
                               ("p値", f"{r['pearson_p']:.3g}"),
                               ("回帰直線", f"{r['y']} ＝ {r['intercept']:,.4g} ＋ {r['slope']:,.4g} × {r['x']}"),
                               ("傾きの95%信頼区間", f"{r['slope_low']:,.4g} 〜 {r['slope_high']:,.4g}"),
                               ("決定係数 R²", f"{r['r2']:.3f}")])]
    body += [note(c) for c in r.get("caveats", [])]
    actions = [execute("Excelで保存", XLSX_VERB, {"token": token})] if token else None
    return card(body, actions)


def themes_card(*, column: str, answered: int, distinct: int, coded: int, counted: Sequence[Sequence[Any]],
                quotes: Sequence[Sequence[Any]], cross: dict | None = None, notes: Sequence[str] = (),
                masked_note: str = "", token: str = "") -> dict:
    """Free-text answers by theme: the counts (a chart and a table: テーマ, 件数, 割合, 説明), representative answers
    of each theme, and the cross table against a closed question. `table` rows are [name, rows, percent,
    description] (`counted`); `quotes` rows [theme name, answer, rows]; `cross` {"by", "columns", "rows"}."""
    body: list[dict] = [title(f"「{column}」のテーマ別集計"), note(THEMES_LABEL)]
    if masked_note:
        body.append(note(masked_note))
    body.append(facts([("設問（列）", column), ("回答", f"{answered:,}件（{distinct:,}種類）"),
                       ("AIが分類した回答", f"{coded:,}種類")]))
    for n in notes:
        body.append(note(n))
    if len(counted) >= 2:
        body.append(bar_chart(f"「{column}」のテーマ", [(r[0], r[1]) for r in counted], x_title="テーマ",
                              y_title="件数"))
    body.append(table(["テーマ", "件数", "割合(%)", "説明"], counted))
    body.append(note("1つの回答が複数のテーマに当てはまるときは、それぞれのテーマに数えています。"))
    if quotes:
        body.append(heading("代表的な回答"))
        for name, answer, n in quotes[:24]:
            body.append(text(f"［{name}］「{answer}」" + (f"（{n:,}件）" if n > 1 else ""), size="Small"))
    if cross and cross.get("rows"):
        body += [heading(f"テーマ×{cross['by']}（件数）"), table(cross["columns"], cross["rows"])]
    actions = [execute("Excelで保存", XLSX_VERB, {"token": token})] if token else None
    return card(body, actions)


def notice_card(message: str, detail: str = "") -> dict:
    body = [text(message, weight="Bolder")]
    if detail:
        body.append(text(detail, size="Small", subtle=True))
    return card(body)
