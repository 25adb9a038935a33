"""/law through the real LawClient over HTTP to the loopback e-Gov stand-in: search card, article card by invoke,
title + article opened directly, errors (500, timeout) as Japanese messages, cache, and the tool for other skills."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core import router
from core.law import LAW_ERROR_JA, LawError
from core.law.lookup import find_law, parse_reference
from core.store.models import UsageEvent
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.law.cardschema import assert_valid_card
from tests.standins.law import LawStandIn


@pytest.fixture
async def egov(monkeypatch):
    stand_in = await LawStandIn().start()
    monkeypatch.setenv("EGOV_LAW_API_BASE", stand_in.base_url)
    monkeypatch.setenv("LAW_TIMEOUT_SECONDS", "5")
    yield stand_in
    await stand_in.stop()


@pytest.fixture
async def services(sqlite_db, egov):
    s = make_services(sqlite_db)
    yield s
    client = s.law
    if client is not None:
        await client.close()


async def run(services, text: str = "", **fields) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(text, **fields), port, services)
    return port


def buttons(card: dict) -> list[dict]:
    return card_nodes(card, lambda n: n.get("type", "").startswith("Action."))


def card_text(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


async def test_keyword_search_card_lists_hits_with_article_buttons_and_links(services, egov):
    port = await run(services, "/law 個人情報 利用目的")
    assert [s.kind for s in port.sent] == ["card"]
    sent = port.sent[0]
    assert not sent.ai_generated and not sent.feedback          # law text is not generated
    card = sent.card
    assert_valid_card(card)
    body = card_text(card)
    assert "個人情報の保護に関する法律" in body and "第六十一条" in body
    article_buttons = [b for b in buttons(card) if b.get("verb") == "law.article"]
    assert article_buttons, "each hit inside an article gets 「条文を表示」"
    assert {b["title"] for b in article_buttons} == {"条文を表示"}
    assert article_buttons[0]["data"]["law_id"] == "415AC0000000057"
    assert article_buttons[0]["data"]["elm"] == "MainProvision-Article_61"
    links = [b["url"] for b in buttons(card) if b["type"] == "Action.OpenUrl"]
    assert "https://laws.e-gov.go.jp/law/415AC0000000057#Mp-At_61" in links
    # the keyword went to the documented /keyword endpoint
    kw = [r for r in egov.requests if r["path"].endswith("/keyword")]
    assert kw and kw[0]["query"]["keyword"] == "個人情報 利用目的"


async def test_article_button_replaces_the_card_with_the_article_text(services, egov):
    port = await run(services, verb="law.article", is_invoke=True,
                     data={"law_id": "415AC0000000057", "elm": "MainProvision-Article_61", "q": "個人情報"})
    assert [s.kind for s in port.sent] == ["refresh"]
    card = port.sent[0].card
    assert_valid_card(card)
    body = card_text(card)
    assert "第六十一条" in body and "個人情報の保有の制限等" in body
    assert "行政機関等は、個人情報を保有するに当たっては" in body
    assert "２　行政機関等は、前項の規定により" in body         # paragraphs keep their numbers
    back = [b for b in buttons(card) if b.get("verb") == "law.search"]
    assert back and back[0]["data"]["q"] == "個人情報"
    assert egov.requests[-1]["path"] == "/api/2/law_data/415AC0000000057"
    assert egov.requests[-1]["query"]["elm"] == "MainProvision-Article_61"


async def test_title_and_article_opens_the_article_directly(services, egov):
    port = await run(services, "/law 個人情報保護法 第69条")
    card = port.sent[0].card
    assert port.sent[0].kind == "card"
    assert_valid_card(card)
    body = card_text(card)
    assert "第六十九条" in body and "利用及び提供の制限" in body
    assert [r["path"].rsplit("/", 1)[-1] for r in egov.requests] == ["laws", "415AC0000000057"]
    assert egov.requests[0]["query"]["law_title"] == "個人情報保護法"


async def test_free_text_routed_here_is_turned_into_a_query(services, egov):
    port = await run(services, "地方自治法の第10条の条文を見せて")
    assert "市町村の区域内に住所を有する者は" in card_text(port.sent[0].card)


async def test_unknown_title_falls_back_to_keyword_search_and_no_hits_says_so(services, egov):
    port = await run(services, "/law 存在しない法 第3条")
    assert port.sent[0].kind == "text"
    assert "該当する条文は見つかりませんでした" in port.sent[0].text
    assert egov.requests[-1]["path"].endswith("/keyword")


@pytest.mark.parametrize("case", ["server", "timeout"])
async def test_api_errors_and_timeouts_give_the_japanese_message(services, egov, monkeypatch, case):
    if case == "server":
        egov.fail_status = 500
    else:
        services.law.settings = services.law.settings.model_copy(update={"LAW_TIMEOUT_SECONDS": 0.2})
        egov.delay = 1.0
    port = await run(services, "/law 過失")
    assert [s.kind for s in port.sent] == ["text"]
    assert port.sent[0].text == LAW_ERROR_JA[case]
    # the article button path too
    port = await run(services, verb="law.article", is_invoke=True,
                     data={"law_id": "129AC0000000089", "elm": "MainProvision-Article_709"})
    assert port.sent[0].text == LAW_ERROR_JA[case]


async def test_missing_article_and_empty_query(services, egov):
    port = await run(services, verb="law.article", is_invoke=True,
                     data={"law_id": "129AC0000000089", "elm": "MainProvision-Article_9999"})
    assert port.sent[0].text == LAW_ERROR_JA["not_found"]
    port = await run(services, "/law")
    assert "キーワードを入力してください" in port.sent[0].text
    port = await run(services, verb="law.article", is_invoke=True, data={})
    assert port.texts() == [router.BAD_CARD_DATA]          # the verb's data model refuses it before the handler


async def test_results_are_cached_and_law_search_is_not_counted_as_ai_use(services, egov):
    await run(services, "/law 過失")
    await run(services, "/law 過失")
    assert len([r for r in egov.requests if r["path"].endswith("/keyword")]) == 1
    async with services.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(UsageEvent)) == 0


async def test_find_law_tool_for_other_skills(services, egov):
    hits = await find_law(services.law, "災害応急対策", limit=2)
    assert hits and hits[0].law_title == "災害対策基本法" and hits[0].article == "第五十条"
    assert len(hits) <= 2
    ref = await find_law(services.law, "地方自治法第2条")
    assert len(ref) == 1 and ref[0].article == "第二条" and "地方公共団体は、法人とする。" in ref[0].excerpt
    assert ref[0].url.endswith("#Mp-At_2")
    egov.fail_status = 500
    egov.requests.clear()
    assert await find_law(services.law, "住民の福祉") == []             # e-Gov down: the caller's work goes on
    with pytest.raises(LawError) as e:
        await find_law(services.law, "法定受託事務", strict=True)
    assert e.value.kind == "server"
    assert await find_law(services.law, "  ") == []


@pytest.mark.parametrize("text,expected", [
    ("個人情報保護法 第69条", ("個人情報保護法", "MainProvision-Article_69")),
    ("地方自治法第2条第1項", ("地方自治法", "MainProvision-Article_2")),
    ("民法７０９条", ("民法", "MainProvision-Article_709")),
    ("番号利用法 第九条の二", ("番号利用法", "MainProvision-Article_9_2")),
    ("損害賠償", None),
    ("第9条", None),
    ("令和5年度 予算", None),
])
def test_parse_reference(text, expected):
    assert parse_reference(text) == expected
