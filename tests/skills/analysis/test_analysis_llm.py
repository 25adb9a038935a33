"""The question → SQL path with the real `openai` client talking to the loopback OpenAI-compatible stand-in over HTTP:
what the model is given (schema, statistics, a few masked rows — never the data), the SQL run locally, the retry
with the error, the refusal of anything but a read query, and the tier rule for files with personal data."""
from __future__ import annotations

import json

from sqlalchemy import select

from cards import analysis as acards
from core import router
from core.skills import FileAttachment
from core.store.models import UsageEvent
from core.tiers import set_user_tier
from skills.analysis import strings as S
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.analysis import samples
from tests.skills.analysis.conftest import OPENED, analysis_settings
from tests.skills.analysis.test_analysis_skill import card_text, table_rows
from tests.standins.openai_server import OpenAIStandIn


def online(db, tmp_path, llm, **llm_env):
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url,
                                          "LLM_MAX_RETRIES": "0", **llm_env})
    services.settings.put(analysis_settings(tmp_path))
    OPENED.append(services)
    return services


async def run(services, text="", *, files=(), **kw):
    port = RecorderPort()
    atts = [FileAttachment(name=n, content_type="text/csv", content=b) for n, b in files]
    await router.dispatch(make_request(text, attachments=atts, **kw), port, services)
    return port


def plan(sql: str, **kw) -> dict:
    return {"text": json.dumps({"analysis": "table", "title": "申告区分別の件数", "sql": sql,
                                "chart": {"type": "bar", "x": "申告区分", "y": ["件数"]},
                                "explanation": "申告区分ごとに件数を数えました。", **kw}, ensure_ascii=False)}


COUNT_SQL = 'SELECT "申告区分", count(*) AS "件数" FROM "data" GROUP BY 1 ORDER BY 2 DESC, 1'


async def test_question_becomes_sql_run_locally_and_the_model_never_sees_the_data(lite_db, tmp_path, llm):
    services = online(lite_db, tmp_path, llm)
    await run(services, "分析して", files=[("eltax.csv", samples.eltax_csv())])
    assert llm.requests == []                                    # the profile needs no LLM
    llm.script = [plan(COUNT_SQL)]
    port = await run(services, "/analyze 申告区分ごとの件数は？")
    sent = llm.chat_requests()
    assert len(sent) == 1
    prompt = "\n".join(m["content"] for m in sent[0]["messages"])
    assert '表 "data"' in prompt and '"差引税額" 整数' in prompt and "質問: 申告区分ごとの件数は" in prompt
    assert "株式会社サンプル01" in prompt                             # a sample row / top value…
    assert "株式会社サンプル40" not in prompt                         # …but never the rest of the file
    card = port.cards()[-1]
    last = port.sent[-1]
    assert last.ai_generated and last.feedback
    rows = table_rows(card)
    assert rows[0] == ["申告区分", "件数"]
    expected: dict[str, int] = {}
    for r in _eltax_rows()[1:]:
        expected[r[3]] = expected.get(r[3], 0) + 1
    assert {r[0]: int(r[1]) for r in rows[1:]} == expected
    assert acards.AI_LABEL in card_text(card)
    # the SQL is on the card, folded: a hidden container and the button that shows it
    hidden = card_nodes(card, lambda n: n.get("type") == "Container" and n.get("isVisible") is False)
    assert COUNT_SQL in card_text(hidden[0]).replace("\\", "")
    toggle = card_nodes(card, lambda n: n.get("type") == "Action.ToggleVisibility")
    assert toggle and toggle[0]["targetElements"] == [hidden[0]["id"]]
    assert card_nodes(card, lambda n: n.get("type") == "Chart.VerticalBar")
    async with lite_db.session() as s:
        uses = (await s.execute(select(UsageEvent).where(UsageEvent.skill == "analysis"))).scalars().all()
    assert [u.outcome for u in uses] == ["offline", "ok"]        # the profile, then one audited AI use


def _eltax_rows():
    import csv
    import io
    return list(csv.reader(io.StringIO(samples.eltax_csv().decode("utf-8-sig"))))


async def test_a_write_query_is_refused_and_the_retry_carries_the_error(lite_db, tmp_path, llm):
    services = online(lite_db, tmp_path, llm)
    await run(services, "分析して", files=[("eltax.csv", samples.eltax_csv())])
    llm.script = [plan('WITH x AS (DELETE FROM "data" RETURNING *) SELECT count(*) AS "件数" FROM x'), plan(COUNT_SQL)]
    port = await run(services, "/analyze 申告区分ごとの件数は？")
    retry = llm.chat_requests()[1]["messages"]
    assert retry[-2]["role"] == "assistant" and "DELETE" in retry[-2]["content"]
    assert "データを変更する操作は実行しません" in retry[-1]["content"]
    assert sum(int(r[1]) for r in table_rows(port.cards()[-1])[1:]) == 40      # nothing was deleted

    llm.script = [plan('DROP TABLE "data"'), plan('INSERT INTO "data" SELECT * FROM "data"')]
    port = await run(services, "/analyze 全部消して")
    assert port.texts()[-1] == S.SQL_GAVE_UP
    llm.script = [plan('SELECT count(*) AS "件数" FROM "data"')]
    port = await run(services, "/analyze 件数は？")
    assert table_rows(port.cards()[-1])[1] == ["40"]
    async with lite_db.session() as s:
        steps = (await s.execute(select(UsageEvent.reason).where(UsageEvent.outcome == "step"))).scalars().all()
    assert steps == ["sql-retry", "sql-retry"]                 # each retry audited as a step of its use


async def test_a_failing_query_is_retried_once_with_the_database_error(lite_db, tmp_path, llm):
    services = online(lite_db, tmp_path, llm)
    await run(services, "分析して", files=[("eltax.csv", samples.eltax_csv())])
    llm.script = [plan('SELECT "区分", count(*) FROM "data" GROUP BY 1'), plan(COUNT_SQL)]
    port = await run(services, "/analyze 申告区分ごとの件数は？")
    assert "Binder Error" in llm.chat_requests()[1]["messages"][-1]["content"]
    assert table_rows(port.cards()[-1])[0] == ["申告区分", "件数"]


async def test_forecast_through_the_model_is_computed_locally_and_labelled(lite_db, tmp_path, llm):
    services = online(lite_db, tmp_path, llm)
    await run(services, "分析して", files=[("人口.xlsx", samples.population_xlsx())])
    sql = ('SELECT "年度" AS "期間", "世帯数" AS "値" FROM "世帯数" ORDER BY 1')
    llm.script = [{"text": json.dumps({"analysis": "forecast", "title": "世帯数の推計", "sql": sql, "horizon": 3,
                                       "chart": {"type": "line"}}, ensure_ascii=False)}]
    port = await run(services, "/analyze 世帯数の今後3年の見込みは？")
    card = port.cards()[-1]
    assert port.sent[-1].ai_generated
    assert acards.ESTIMATE_LABEL in card_text(card)
    assert [r[0] for r in table_rows(card)[1:]] == ["2025年", "2026年", "2027年"]


async def test_personal_data_file_is_not_sent_outside_an_approved_tier(lite_db, tmp_path, llm):
    services = online(lite_db, tmp_path, llm)
    port = await run(services, "分析して", files=[("相談記録.csv", samples.personal_csv())])
    profile = card_text(port.cards()[-1])
    assert "個人情報を含む列があります" in profile and "氏名（氏名）" in profile and "個人番号（個人番号）" in profile
    assert "山田" not in profile                                 # their values are not shown either
    port = await run(services, "/analyze 相談区分ごとの件数は？")
    assert port.texts()[-1].startswith("このファイルには個人情報を含む列があります")
    assert "AIでの分析は行いません" in port.texts()[-1]
    assert llm.requests == []                                    # nothing left for the unapproved endpoint
    port = await run(services, "/analyze 集計 相談区分")          # local analyses still work
    assert table_rows(port.cards()[-1])[0][:2] == ["相談区分", "件数"]


async def test_personal_data_file_in_an_approved_tier_sends_no_personal_values(lite_db, tmp_path, llm):
    lgwan = await OpenAIStandIn(plan('SELECT "相談区分", count(*) AS "件数" FROM "data" GROUP BY 1 ORDER BY 1')).start()
    try:
        services = online(lite_db, tmp_path, llm, LLM_ENDPOINTS=json.dumps([
            {"name": "lgwan-llm", "tier": "lgwan", "base_url": lgwan.base_url, "api_key": "x", "model": "local",
             "personal_data": True}]))
        await run(services, "分析して", files=[("相談記録.csv", samples.personal_csv())])
        port = await run(services, "/analyze 相談区分ごとの件数は？")
        assert "/tier で切り替えると" in port.texts()[-1] and "LGWAN接続系" in port.texts()[-1]
        await set_user_tier(services, "29:user-1", "lgwan")
        port = await run(services, "/analyze 相談区分ごとの件数は？")
        assert sorted(table_rows(port.cards()[-1])[1:]) == [["子育て", "6"], ["福祉", "6"], ["税", "6"]]
        assert llm.requests == [] and len(lgwan.chat_requests()) == 1
        seen = lgwan.seen()
        for value in ("山田", "佐藤 花子", "06-6489-1000", samples.mynumber(12345678900), "東七松町1丁目2番1号"):
            assert value not in seen
        prompt = lgwan.chat_requests()[0]["messages"][1]["content"]
        assert '"氏名" 文字 空欄0 個人情報の列（値は非公開）' in prompt
    finally:
        await lgwan.stop()


async def test_a_question_sent_with_the_file_is_answered_after_the_profile(lite_db, tmp_path, llm):
    services = online(lite_db, tmp_path, llm)
    llm.script = [plan(COUNT_SQL)]
    port = await run(services, "申告区分ごとの件数を集計して", files=[("eltax.csv", samples.eltax_csv())])
    cards = port.cards()
    assert len(cards) == 2 and acards.AUTO_LABEL in card_text(cards[0]) and acards.AI_LABEL in card_text(cards[1])
    assert "質問: 申告区分ごとの件数を集計して" in llm.chat_requests()[0]["messages"][1]["content"]


async def test_the_excel_report_of_a_personal_file_holds_no_personal_values(lite_db, tmp_path, llm):
    import io

    from openpyxl import load_workbook

    services = online(lite_db, tmp_path, llm)
    port = await run(services, "分析して", files=[("相談記録.csv", samples.personal_csv())])
    token = next(n["data"]["token"] for n in card_nodes(port.cards()[-1], lambda n: n.get("type") == "Action.Execute")
                 if n["data"].get("verb") == acards.XLSX_VERB)
    port = await run(services, verb=acards.XLSX_VERB, data={"token": token})
    wb = load_workbook(io.BytesIO(port.last().file[1]))
    cells = " ".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert "氏名" in cells and "個人情報のため値は記載しません" in cells
    for value in ("山田", "東七松町", "06-6489", samples.mynumber(12345678900)):
        assert value not in cells
