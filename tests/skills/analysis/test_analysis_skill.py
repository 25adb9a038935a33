"""The データ分析 skill through the router, on a real database: files sent in chat (inline bytes, the way a test
client sends them), the automatic profile offline, the local analyses, paging and the Excel report."""
from __future__ import annotations

import io

from openpyxl import load_workbook

from cards import analysis as acards
from core import router
from core.skills import FileAttachment
from skills.analysis import strings as S
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.analysis import samples
from tests.skills.analysis.conftest import OPENED, analysis_settings


def offline(db, tmp_path, **kw):
    services = make_services(db)
    services.settings.put(analysis_settings(tmp_path, **kw))
    OPENED.append(services)
    return services


async def run(services, text="", *, port=None, files=(), **kw):
    port = port or RecorderPort()
    atts = [FileAttachment(name=n, content_type="application/octet-stream", content=b) for n, b in files]
    await router.dispatch(make_request(text, attachments=atts, **kw), port, services)
    return port


def card_text(card) -> str:
    return "\n".join(str(n.get("text", "")).replace("\\", "")
                     for n in card_nodes(card, lambda n: n.get("type") == "TextBlock"))


def table_rows(card) -> list[list[str]]:
    tables = card_nodes(card, lambda n: n.get("type") == "Table")
    out = []
    for t in tables[-1:]:
        for row in t["rows"]:
            out.append([c["items"][0]["text"].replace("\\", "") for c in row["cells"]])
    return out


def actions(card) -> dict[str, dict]:
    return {a["verb"]: a["data"] for a in card_nodes(card, lambda n: n.get("type") == "Action.Execute")}


async def test_population_workbook_offline_profile_reads_merged_reiwa_headers(lite_db, tmp_path):
    services = offline(lite_db, tmp_path)
    port = await run(services, "分析して", files=[("区別人口.xlsx", samples.population_xlsx())])
    card = port.cards()[-1]
    text = card_text(card)
    assert acards.AUTO_LABEL in text                       # labelled as automatic, not AI
    assert not port.sent[-1].ai_generated
    # the two-row merged header became 上段・下段 names; the title rows and the note row were left out
    names = [r[0] for r in table_rows_by_header(card, "列")]
    assert names[:4] == ["地区", "令和2年・男", "令和2年・女", "令和2年・計"]
    assert "令和6年・計" in names
    assert "先頭の3行（表題など）を除き、4行目を見出しとして読みました。" in text
    assert "「総数」「合計」などの行が1行あります" in text
    # the trend of the year columns' totals (計 only, the 総数 row left out), as a Teams line chart with a fallback
    charts = card_nodes(card, lambda n: n.get("type") == "Chart.Line")
    assert charts and [p["x"] for p in charts[0]["data"][0]["values"]] == ["2020年", "2021年", "2022年", "2023年",
                                                                            "2024年"]
    first = charts[0]["data"][0]["values"][0]["y"]
    assert 500_000 < first < 700_000                       # 6 wards of about 80,000–110,000, not doubled by 総数
    assert charts[0]["fallback"]["type"] == "Container"   # its picture (see test_analysis_charts)
    # the second sheet is offered, and switching reads its 年度 column as years with a 記号 and △ handled
    verbs = actions(card)
    assert acards.SHEET_VERB in verbs and acards.XLSX_VERB in verbs
    port = await run(services, verb=acards.SHEET_VERB, data=verbs[acards.SHEET_VERB], is_invoke=True)
    sheet = port.cards()[-1]
    rows = {r[0]: r for r in table_rows_by_header(sheet, "列")}
    assert rows["年度"][1] == "年度" and "2020 〜 2024" in rows["年度"][3]
    assert rows["前年度差"][1] == "整数"
    assert "記号（- … x など）1件は空欄として扱いました" in card_text(sheet)


def table_rows_by_header(card, first_header: str) -> list[list[str]]:
    for t in card_nodes(card, lambda n: n.get("type") == "Table"):
        cells = [[c["items"][0]["text"].replace("\\", "") for c in row["cells"]] for row in t["rows"]]
        if cells and cells[0][0] == first_header:
            return cells[1:]
    raise AssertionError(f"no table headed {first_header}")


async def test_shift_jis_survey_reports_unreadable_values_per_column(lite_db, tmp_path):
    services = offline(lite_db, tmp_path)
    port = await run(services, "アンケートを集計して", files=[("アンケート.csv", samples.survey_csv())])
    card = port.cards()[-1]
    text = card_text(card)
    assert "文字コード: Shift_JIS" in text
    rows = {r[0]: r for r in table_rows_by_header(card, "列")}
    assert rows["回答日"][1] == "日付" and rows["回答日"][3].startswith("2025-04")    # 令和7年4月… read as dates
    assert rows["満足度"][1] == "整数"                                                 # 全角 digits read as numbers
    assert "「満足度」: 整数として読めない値が1件（例: 「無回答」）。空欄として扱いました。" in text


async def test_offline_aggregate_cross_tab_trend_and_free_question(lite_db, tmp_path):
    services = offline(lite_db, tmp_path)
    await run(services, "分析", files=[("survey.csv", samples.survey_csv())])
    port = await run(services, "/analyze 集計 区")
    card = port.cards()[-1]
    rows = table_rows(card)
    assert rows[0][:3] == ["区", "件数", "割合(%)"]
    counts = {r[0]: int(r[1].replace(",", "")) for r in rows[1:]}
    expected: dict[str, int] = {}
    for r in samples.survey_rows()[1:]:
        expected[r[2]] = expected.get(r[2], 0) + 1
    assert counts == expected
    assert card_nodes(card, lambda n: n.get("type") == "Chart.VerticalBar")

    port = await run(services, "/analyze 集計 区 年代")
    cross = table_rows(port.cards()[-1])
    assert cross[0][0] == "区" and cross[0][-1] == "計"
    assert sum(int(r[-1].replace(",", "")) for r in cross[1:]) == 60
    assert card_nodes(port.cards()[-1], lambda n: n.get("type") == "Chart.VerticalBar.Grouped")

    port = await run(services, "/analyze 推移")
    trend = table_rows(port.cards()[-1])
    assert trend[0] == ["期間", "件数", "前期からの増減", "増減率(%)"]
    assert sum(int(r[1]) for r in trend[1:]) == 60

    port = await run(services, "/analyze 20代の満足度が低い理由は？")
    assert port.texts() == [S.OFFLINE_QUESTION]


async def test_paging_and_excel_report(lite_db, tmp_path):
    services = offline(lite_db, tmp_path, ANALYSIS_PAGE_ROWS=10)
    await run(services, "分析して", files=[("eltax.csv", samples.eltax_csv())])
    port = await run(services, "/analyze 集計 法人名 合計 差引税額")
    card = port.cards()[-1]
    assert len(table_rows(card)) == 11                      # header + 10 rows of 40
    verbs = actions(card)
    assert verbs[acards.PAGE_VERB]["page"] == 1
    port = await run(services, verb=acards.PAGE_VERB, data=verbs[acards.PAGE_VERB], is_invoke=True)
    page2 = port.last()
    assert page2.kind == "refresh"
    assert "全40行（2/4ページ）" in card_text(page2.card)

    port = await run(services, verb=acards.XLSX_VERB, data={"token": verbs[acards.XLSX_VERB]["token"]})
    name, data, ctype = port.last().file
    assert name == "分析結果_eltax.xlsx" and ctype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames[:2] == ["概要", "結果"]
    res = wb["結果"]
    assert res.cell(1, 1).value == "法人名" and res.max_row == 41
    assert res._charts                                       # the result's chart travels with the table
    assert "自動集計" in wb.sheetnames


async def test_forecast_offline_labelled_as_estimate(lite_db, tmp_path):
    services = offline(lite_db, tmp_path)
    await run(services, "分析して", files=[("区別人口.xlsx", samples.population_xlsx())])
    port = await run(services, "/analyze 推計 3年")
    card = port.cards()[-1]
    text = card_text(card)
    assert acards.ESTIMATE_LABEL in text and "95%予測区間" in text
    facts = {f["title"]: f["value"] for f in card_nodes(card, lambda n: n.get("type") == "FactSet")[0]["facts"]}
    assert "指数平滑法" in facts["推計の方法"] and facts["使ったデータ"] == "2020年〜2024年（5期）"
    rows = table_rows(card)
    assert [r[0] for r in rows[1:]] == ["2025年", "2026年", "2027年"]
    for _, mean, low, high in rows[1:]:
        m, lo, hi = (float(x.replace(",", "")) for x in (mean, low, high))
        assert lo <= m <= hi
    assert not port.last().ai_generated


async def test_file_too_large_is_refused_with_a_clear_message(lite_db, tmp_path):
    services = offline(lite_db, tmp_path, ANALYSIS_MAX_FILE_MB=1)
    big = samples.big_csv(60_000)
    assert len(big) > 1024 * 1024
    port = await run(services, "分析して", files=[("big.csv", big)])
    assert port.texts() == [S.TOO_LARGE.format(name="big.csv", mb=1)]


async def test_row_limit_cuts_and_says_so(lite_db, tmp_path):
    services = offline(lite_db, tmp_path, ANALYSIS_MAX_ROWS=1000)
    port = await run(services, "分析して", files=[("log.csv", samples.big_csv(5000))])
    card = port.cards()[-1]
    assert "行が多いため、先頭の1,000行だけを読みました。" in card_text(card)
    facts = {f["title"]: f["value"] for f in card_nodes(card, lambda n: n.get("type") == "FactSet")[0]["facts"]}
    assert facts["行数"] == "1,000行"


async def test_no_file_and_group_chat(lite_db, tmp_path):
    services = offline(lite_db, tmp_path)
    port = await run(services, "/analyze 集計 区")
    assert "分析するファイルがありません" in port.texts()[0]
    port = await run(services, "分析して", files=[("a.csv", b"x,y\n1,2\n")], conversation_type="groupChat",
                     conversation_id="19:group")
    assert port.texts() == [S.PERSONAL_ONLY]


CHARTS = {"Chart.VerticalBar", "Chart.VerticalBar.Grouped", "Chart.Line"}


def as_rendered_by_1_5(node):
    """What a plain 1.5 renderer shows: each Teams chart replaced by its fallback, Teams' root extension removed."""
    if isinstance(node, dict):
        if node.get("type") in CHARTS:
            return as_rendered_by_1_5(node["fallback"])
        return {k: as_rendered_by_1_5(v) for k, v in node.items() if k != "msteams"}
    if isinstance(node, list):
        return [as_rendered_by_1_5(v) for v in node]
    return node


async def test_every_card_is_valid_adaptive_card_1_5_with_chart_fallbacks(lite_db, tmp_path, testdata):
    import json

    import jsonschema

    schema = json.loads((testdata / "schemas" / "adaptive-cards" / "1.5.0" / "adaptive-card.json").read_text())
    validator = jsonschema.Draft6Validator(schema)
    services = offline(lite_db, tmp_path)
    made = []
    made += (await run(services, "分析して", files=[("区別人口.xlsx", samples.population_xlsx())])).cards()
    made += (await run(services, "/analyze 推計")).cards()
    made += (await run(services, "/analyze 相関 令和5年・計 令和6年・計")).cards()
    made += (await run(services, "分析して", files=[("s.csv", samples.survey_csv())])).cards()
    made += (await run(services, "/analyze 集計 区 年代")).cards()
    made += (await run(services, "/analyze 推移")).cards()
    assert len(made) == 6
    kinds = {n["type"] for c in made for n in card_nodes(c, lambda n: n.get("type") in CHARTS)}
    assert kinds == CHARTS
    for c in made:
        errors = sorted(validator.iter_errors(as_rendered_by_1_5(c)), key=lambda e: list(e.path))
        assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]
