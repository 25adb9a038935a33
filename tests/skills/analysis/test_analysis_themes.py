"""Free-text survey answers coded into themes (/analyze 分類), with the real `openai` client talking to the loopback
OpenAI-compatible stand-in over HTTP: what the model receives is masked by the guard; every count on the card is
counted here from the file (the stand-in writes bogus counts that must not appear); the quotes shown are masked;
the cross table against a closed question adds up; offline the feature says plainly that it needs an LLM."""
from __future__ import annotations

import io
import json
import re

from openpyxl import load_workbook
from sqlalchemy import select

from cards import analysis as acards
from core import router
from core.skills import FileAttachment
from core.store.models import UsageEvent
from skills.analysis import strings as S
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.analysis import samples
from tests.skills.analysis.conftest import OPENED, analysis_settings
from tests.skills.analysis.test_analysis_skill import as_rendered_by_1_5, card_text

THEMES = [{"id": "T1", "name": "窓口の待ち時間", "description": "待ち時間が長いという声", "count": 999},
          {"id": "T2", "name": "職員の対応", "description": "説明や対応への評価", "count": 999},
          {"id": "T3", "name": "駐車場", "description": "駐車場の不足", "count": 999},
          {"id": "T4", "name": "オンライン申請", "description": "オンライン・土日の利用", "count": 999}]
KEYWORDS = (("T1", "待ち"), ("T2", "説明"), ("T2", "親切"), ("T3", "駐車"), ("T4", "オンライン"), ("T4", "土日"))


def themes_of(answer: str) -> list[str]:
    out: list[str] = []
    for tid, word in KEYWORDS:
        if word in answer and tid not in out:
            out.append(tid)
    return out


def coder(body: dict) -> dict:
    """The stand-in model: reads the numbered answers it was sent and codes them by keyword; it also writes counts
    and shares of its own (wrong ones), which nothing may take."""
    user = body["messages"][-1]["content"]
    codes = {m.group(1): themes_of(m.group(2)) for m in re.finditer(r"^\[(\d+)\] (.*)$", user, re.M)}
    return {"text": json.dumps({"themes": THEMES, "codes": codes, "counts": {"T1": 999}}, ensure_ascii=False)}


def online(db, tmp_path, llm, **kw):
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url,
                                          "LLM_MAX_RETRIES": "0"})
    services.settings.put(analysis_settings(tmp_path, **kw))
    OPENED.append(services)
    return services


def offline(db, tmp_path):
    services = make_services(db)
    services.settings.put(analysis_settings(tmp_path))
    OPENED.append(services)
    return services


async def run(services, text="", *, files=(), **kw):
    port = RecorderPort()
    atts = [FileAttachment(name=n, content_type="text/csv", content=b) for n, b in files]
    await router.dispatch(make_request(text, attachments=atts, **kw), port, services)
    return port


def tables(card) -> list[list[list[str]]]:
    return [[[c["items"][0]["text"].replace("\\", "") for c in row["cells"]] for row in t["rows"]]
            for t in card_nodes(card, lambda n: n.get("type") == "Table")]


def expected_counts() -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Rows per theme and per (theme, age), counted from the file's own rows by the stand-in's keyword rule."""
    names = {t["id"]: t["name"] for t in THEMES}
    per: dict[str, int] = {}
    cross: dict[tuple[str, str], int] = {}
    for _day, age, _score, answer in samples.survey_free_rows()[1:]:
        if not answer.strip():
            continue
        for tid in themes_of(answer) or ["T0"]:
            name = names.get(tid, "分類できなかった回答")
            per[name] = per.get(name, 0) + 1
            cross[(name, age)] = cross.get((name, age), 0) + 1
    return per, cross


async def test_free_text_is_coded_by_the_model_masked_and_counted_here(lite_db, tmp_path, llm, testdata):
    llm.default = coder
    services = online(lite_db, tmp_path, llm)
    port = await run(services, "分析して", files=[("アンケート.csv", samples.survey_free_csv())])
    profile = port.cards()[-1]
    button = next(n for n in card_nodes(profile, lambda n: n.get("type") == "Action.Execute")
                  if n["data"]["verb"] == acards.THEMES_VERB)
    assert button["title"] == "「ご意見」をAIで分類" and llm.requests == []
    port = await run(services, verb=acards.THEMES_VERB, data=button["data"], is_invoke=True)

    # what left: the answers, masked (the phone number and the name in two answers never reach the model)
    sent = llm.seen()
    assert len(llm.chat_requests()) == 1
    assert "06-6489-1234" not in sent and "山田花子" not in sent and "［電話1］" in sent
    assert "窓口の待ち時間が長い。" in sent and "年代" not in llm.chat_requests()[0]["messages"][-1]["content"]

    card = port.cards()[-1]
    assert port.sent[-1].ai_generated and port.sent[-1].feedback
    assert acards.THEMES_LABEL in card_text(card)
    assert "電話番号1件" in card_text(card) and "伏せました" in card_text(card)
    per, cross = expected_counts()
    theme_table = next(t for t in tables(card) if t[0] == ["テーマ", "件数", "割合(%)", "説明"])
    shown = {r[0]: int(r[1]) for r in theme_table[1:]}
    assert shown == per                                  # counted from the file's rows…
    assert "999" not in card_text(card) and all("999" not in " ".join(r) for r in theme_table)   # …not the model's
    answered = sum(n for a, n in samples.FREE_ANSWERS if a)
    share = {r[0]: float(r[2]) for r in theme_table[1:]}
    assert share["窓口の待ち時間"] == round(100 * per["窓口の待ち時間"] / answered, 1)
    # quotes: the file's own answers, masked
    text = card_text(card)
    assert "「窓口の待ち時間が長い。」（7件）" in text
    assert "06-6489-1234" not in text and "［電話1］" in text and "山田花子" not in text
    # cross table against the first closed question (年代): counted here, rows add up to the theme counts
    grid = next(t for t in tables(card) if t[0][0] == "テーマ" and "20代" in t[0])
    heads = grid[0]
    assert heads == ["テーマ", "20代", "30代", "40代", "50代", "計"]
    for row in grid[1:]:
        assert [int(x) for x in row[1:5]] == [cross.get((row[0], age), 0) for age in heads[1:5]]
        assert int(row[5]) == per[row[0]]

    import jsonschema
    schema = json.loads((testdata / "schemas" / "adaptive-cards" / "1.5.0" / "adaptive-card.json").read_text())
    errors = list(jsonschema.Draft6Validator(schema).iter_errors(as_rendered_by_1_5(card)))
    assert not errors, [e.message[:200] for e in errors[:5]]

    # the Excel report holds the theme table, the cross table and the masked quotes
    token = next(n["data"]["token"] for n in card_nodes(card, lambda n: n.get("type") == "Action.Execute")
                 if n["data"].get("verb") == acards.XLSX_VERB)
    port = await run(services, verb=acards.XLSX_VERB, data={"token": token})
    wb = load_workbook(io.BytesIO(port.last().file[1]))
    assert {"結果", "テーマ×年代", "代表的な回答"} <= set(wb.sheetnames)
    cells = " ".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert "06-6489-1234" not in cells and "山田花子" not in cells and "999" not in cells
    async with lite_db.session() as s:
        uses = (await s.execute(select(UsageEvent.outcome).where(UsageEvent.skill == "analysis"))).scalars().all()
    assert uses == ["offline", "ok"]                     # the profile, then one audited AI use


async def test_many_answers_are_coded_in_batches_against_the_first_themes(lite_db, tmp_path, llm):
    llm.default = coder
    services = online(lite_db, tmp_path, llm, ANALYSIS_THEME_BATCH=3, ANALYSIS_THEME_MAX_ANSWERS=7)
    await run(services, "分析して", files=[("アンケート.csv", samples.survey_free_csv())])
    port = await run(services, "/analyze 分類 ご意見 満足度")
    requests = llm.chat_requests()
    assert len(requests) == 3                            # 7 answers in batches of 3
    later = requests[1]["messages"][-1]["content"]
    assert "T1 窓口の待ち時間" in later and "新しいテーマは作らないでください" in later
    numbers = [set(re.findall(r"^\[(\d+)\]", r["messages"][-1]["content"], re.M)) for r in requests]
    assert numbers == [{"1", "2", "3"}, {"4", "5", "6"}, {"7"}]
    card = port.cards()[-1]
    assert "それ以外の回答（1件）は分類していません" in card_text(card)    # the 8th answer (1 row)
    grid = next(t for t in tables(card) if t[0][0] == "テーマ" and t[0][-1] == "計" and "1" in t[0])
    assert grid[0] == ["テーマ", "1", "2", "3", "4", "5", "計"]         # 満足度 in its natural order
    async with lite_db.session() as s:
        steps = (await s.execute(select(UsageEvent.reason).where(UsageEvent.outcome == "step"))).scalars().all()
    assert steps == ["theme-coding", "theme-coding"]


async def test_an_unreadable_reply_is_retried_once_then_the_user_is_told(lite_db, tmp_path, llm):
    services = online(lite_db, tmp_path, llm)
    await run(services, "分析して", files=[("アンケート.csv", samples.survey_free_csv())])
    llm.script = [{"text": "テーマは待ち時間などです。"}, {"text": "{\"themes\": []}"}]
    port = await run(services, "/analyze 自由記述をテーマ分けして")
    assert port.texts()[-1] == S.THEMES_GAVE_UP
    assert "指定の JSON だけを返してください" in llm.chat_requests()[1]["messages"][-1]["content"]


async def test_offline_the_themes_say_they_need_an_llm(lite_db, tmp_path):
    services = offline(lite_db, tmp_path)
    port = await run(services, "自由記述を分類して", files=[("アンケート.csv", samples.survey_free_csv())])
    profile = port.cards()[-1]
    assert acards.THEMES_OFFLINE_NOTE in card_text(profile)
    assert not [n for n in card_nodes(profile, lambda n: n.get("type") == "Action.Execute")
                if n["data"]["verb"] == acards.THEMES_VERB]
    assert port.texts()[-1] == S.THEMES_OFFLINE and "AIが必要です" in S.THEMES_OFFLINE
    port = await run(services, "/analyze 分類")
    assert port.texts() == [S.THEMES_OFFLINE]
    port = await run(services, "/analyze 使い方")
    assert "AIが必要です" in port.texts()[-1]
