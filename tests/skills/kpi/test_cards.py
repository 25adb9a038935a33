"""Cards against the official Adaptive Card 1.5 schema.

Two Teams extensions are not in the 1.5 schema and are checked separately:
* `msteams` (card width) on the card root — a documented Teams property the schema's additionalProperties=false rejects;
* the chart elements (Chart.VerticalBar, Chart.Line) — Teams renders them; any other 1.5 renderer renders their
  `fallback`. So the card is validated as a 1.5 renderer sees it: each chart replaced by its fallback."""
from __future__ import annotations

import copy
from datetime import date

from cards.kpi import (
    examples_category_card,
    examples_index_card,
    helpdesk_answer_card,
    helpdesk_answered_card,
    helpdesk_channel_card,
    kpi_card,
    nudge_card,
    quiz_card,
    quiz_result_card,
    roles_card,
)
from skills.kpi.content import load_library, load_quiz, score
from skills.kpi.report import build_report
from skills.kpi.settings import DATA_DIR
from tests.skills.kpi.conftest import NOW, kpi_settings

CHARTS = {"Chart.VerticalBar", "Chart.Line"}


def as_rendered_by_1_5(node):
    """The card a plain 1.5 renderer displays: charts replaced by their fallback, Teams' root extension removed."""
    if isinstance(node, dict):
        if node.get("type") in CHARTS:
            return as_rendered_by_1_5(node["fallback"])
        return {k: as_rendered_by_1_5(v) for k, v in node.items() if k != "msteams"}
    if isinstance(node, list):
        return [as_rendered_by_1_5(v) for v in node]
    return node


def charts_in(node) -> list[dict]:
    out = []
    if isinstance(node, dict):
        if node.get("type") in CHARTS:
            out.append(node)
        for v in node.values():
            out += charts_in(v)
    elif isinstance(node, list):
        for v in node:
            out += charts_in(v)
    return out


def assert_valid(card_schema, card: dict) -> None:
    rendered = as_rendered_by_1_5(copy.deepcopy(card))
    errors = sorted(card_schema.iter_errors(rendered), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]
    assert card["version"] == "1.5"


def texts_of(node) -> str:
    if isinstance(node, dict):
        return " ".join([str(node.get("text", "")), str(node.get("title", "")), str(node.get("value", ""))]
                        + [texts_of(v) for v in node.values() if isinstance(v, (dict, list))])
    if isinstance(node, list):
        return " ".join(texts_of(v) for v in node)
    return ""


async def test_kpi_card_valid_with_chart_fallbacks(seeded_db, card_schema):
    r = await build_report(seeded_db, kpi_settings(), NOW)
    card = kpi_card(r, {"drafting": "文書作成", "qa": "庁内Q&A"})
    assert_valid(card_schema, card)

    charts = charts_in(card)
    assert [c["type"] for c in charts] == ["Chart.VerticalBar", "Chart.Line"]
    bar, line = charts
    assert {p["x"]: p["y"] for p in bar["data"]}["文書作成"] == 1.0
    assert [v["y"] for v in line["data"][0]["values"]] == [0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 1, 1]
    for c in charts:                      # the fallback is a real table, never "drop"
        assert c["fallback"]["type"] == "Table" and len(c["fallback"]["rows"]) > 1
    shown = texts_of(as_rendered_by_1_5(card))
    assert "令和8年度（2026年度）" in shown and "4月1日" in shown
    assert "7回" in shown and "4回" in shown                 # FY to date, this month
    assert "467,945回" in shown and "700,000回" in shown     # pro-rated target and the annual one
    assert "75.0%" in shown                                   # 👍 ratio
    assert "87%" in shown or "88%" in shown                   # quiz average by department


def test_quiz_cards_valid(card_schema):
    quiz = load_quiz(DATA_DIR / "skillcheck.yaml")
    assert_valid(card_schema, roles_card(quiz.roles))
    for role in quiz.roles:
        card = quiz_card(role)
        assert_valid(card_schema, card)
        inputs = [i for c in card["body"] if c["type"] == "Container" for i in c["items"]
                  if i["type"] == "Input.ChoiceSet"]
        assert [i["id"] for i in inputs] == [f"q_{q.id}" for q in role.questions]
        assert all(i["style"] == "expanded" and i["isRequired"] for i in inputs)
        assert card["actions"][0]["verb"] == "kpi.skillcheck.submit"
        assert card["actions"][0]["data"]["role"] == role.id
        result = score(role, {f"q_{q.id}": str(q.answer) for q in role.questions[:-1]})
        rcard = quiz_result_card(role, result, quiz.pass_percent)
        assert_valid(card_schema, rcard)
        shown = texts_of(rcard)
        assert f"{len(role.questions)}問中 {len(role.questions) - 1}問 正解" in shown and "未回答" in shown
        assert role.questions[0].explanation in shown.replace("\\", "")


def test_examples_cards_valid(card_schema):
    lib = load_library(DATA_DIR / "examples.yaml")
    assert_valid(card_schema, examples_index_card(lib.categories))
    for c in lib.categories:
        card = examples_category_card(c)
        assert_valid(card_schema, card)
        runs = [a for a in _actions(card) if a["verb"] == "kpi.examples.run"]
        assert [a["data"]["text"] for a in runs] == [e.text for e in c.entries]


def test_helpdesk_and_nudge_cards_valid(card_schema):
    hostile = "質問です <at>x</at> [link](http://evil) **太字**"
    channel = helpdesk_channel_card(12, "尼崎 太郎", None, "2026-11-30 09:30", hostile, error="回答が入力されていません。")
    assert_valid(card_schema, channel)
    assert "[link](http://evil)" not in texts_of(channel)     # untrusted text is neutralised
    assert channel["actions"][0]["data"] == {"verb": "kpi.helpdesk.answer", "ticket": 12}
    assert_valid(card_schema, helpdesk_answered_card(12, "尼崎 太郎", "Q", "A", "DX 花子", "2026-11-30 10:00", False))
    assert_valid(card_schema, helpdesk_answer_card(12, "Q", "A", "DX 花子"))
    assert_valid(card_schema, nudge_card("ヒント", "/examples 要約"))


def _actions(node) -> list[dict]:
    out = []
    if isinstance(node, dict):
        if node.get("type") == "Action.Execute":
            out.append(node)
        for v in node.values():
            out += _actions(v)
    elif isinstance(node, list):
        for v in node:
            out += _actions(v)
    return out


def test_report_dates_on_card_are_jst(card_schema):
    from skills.kpi.report import KpiReport

    r = KpiReport(today=date(2027, 3, 31), fiscal_year=2026, weeks=[(date(2027, 3, 29), 0)])
    card = kpi_card(r)
    assert_valid(card_schema, card)
    assert "2027年3月31日時点" in texts_of(card)


def test_the_validation_itself_rejects_what_1_5_does_not_know(card_schema):
    """Guards the helper: an unreplaced chart element or a misspelt property does fail the 1.5 schema."""
    bad_chart = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Chart.Line", "data": []}]}
    assert list(card_schema.iter_errors(bad_chart))
    bad_prop = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x", "wrapp": True}]}
    assert list(card_schema.iter_errors(bad_prop))


def test_kpi_card_stays_under_the_teams_message_size_for_a_large_city(card_schema):
    """Teams refuses bot messages above about 28 KB: with 40 departments the card lists the 15 lowest shares."""
    import json

    from skills.kpi.report import DeptRow, KpiReport, QuizRow, SkillRow

    r = KpiReport(today=date(2026, 11, 30), fiscal_year=2026, uses_fytd=400_000, staff_total=3000,
                  departments=[DeptRow(f"部署名がやや長い局{i:02d}", 100, 50, 1000, 150) for i in range(40)],
                  skills=[SkillRow(s, 1000, 10) for s in ("drafting", "qa", "news", "planning", "law", "chat")],
                  weeks=[(date(2026, 9, 14), 100)] * 12, quiz=[QuizRow(f"部署{i}", 10, 12, 80.0) for i in range(40)])
    card = kpi_card(r)
    assert_valid(card_schema, card)
    assert len(json.dumps(card, ensure_ascii=False).encode("utf-8")) < 26_000
    assert "ほか 25部署は CSV 出力でご確認ください。" in texts_of(card)
