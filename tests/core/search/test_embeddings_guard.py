"""Search embeddings in production: `core.ai.AI.embed` → guard → `core.llm.Endpoint.embed` → real openai client →
loopback /v1/embeddings. What leaves is masked like a chat message, carries the endpoint's prefix for its purpose,
and a refusal leaves search to BM25."""
from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestServer

from core.ai import AI
from core.guard.policy import Guard, GuardSettings
from core.llm import LLMGateway, LLMSettings
from core.search.index import Index
from core.store import Database
from tests.core.search.embed_stub import make_app

DOC = ("# 住民票の写しの請求\n\n窓口担当は山田太郎（電話 090-1234-5678）です。住民票の写しは市民課の窓口で請求できます。"
       "手数料は1通300円です。")


def gateway(base_url: str, *, local: bool = True, **endpoint) -> LLMGateway:
    spec = {"name": "embed", "tier": "internet", "base_url": base_url, "api_key": "test-key", "model": "chat",
            "embeddings_model": "e5", "embeddings_query_prefix": "query: ", "embeddings_document_prefix": "passage: ",
            **endpoint}
    return LLMGateway(LLMSettings(_env_file=None, OPENAI_API_KEY=None, OPENAI_BASE_URL=None,
                                  AZURE_OPENAI_ENDPOINT=None, LLM_ENDPOINTS=json.dumps([spec]), EMBEDDINGS_LOCAL=local))


@pytest.fixture
async def wire(tmp_path):
    calls: list = []
    server = TestServer(make_app(calls=calls), host="127.0.0.1")
    await server.start_server()
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    await db.migrate()
    try:
        yield calls, str(server.make_url("/v1")), db
    finally:
        await db.dispose()
        await server.close()


async def test_personal_data_is_masked_and_each_purpose_has_its_prefix(wire):
    calls, url, db = wire
    gw = gateway(url)
    ai = AI(gw, Guard(GuardSettings(_env_file=None), gw), db)
    assert ai.can_embed
    ix = Index(db, embed=ai.embed)
    await ix.create_set("shimin")
    await ix.upsert_document("shimin", "folder", "1", "住民票の写しの請求", None, DOC)
    hits = await ix.search("住民票の写しは 090-1234-5678 の山田太郎さんに頼めばいいですか", ["shimin"])
    await gw.close()
    assert hits and hits[0].title == "住民票の写しの請求"
    assert [c["model"] for c in calls] == ["e5", "e5"]
    (passage,), (query,) = calls[0]["input"], calls[1]["input"]
    assert passage.startswith("passage: ") and "住民票の写しは市民課の窓口で請求できます" in passage
    assert query.startswith("query: 住民票の写しは")
    wire_text = json.dumps(calls, ensure_ascii=False)
    for raw in ("山田", "090-1234-5678"):
        assert raw not in wire_text
    assert "［氏名1］" in passage and "［電話1］" in query


async def test_an_endpoint_allowed_personal_data_gets_the_text_as_written(wire):
    calls, url, db = wire
    gw = gateway(url, tier="lgwan", personal_data=True)
    ai = AI(gw, Guard(GuardSettings(_env_file=None, GUARD_DEFAULT_TIER="lgwan"), gw), db)
    await ai.embed(["山田太郎さんの件"], "query")
    await gw.close()
    assert calls[0]["input"] == ["query: 山田太郎さんの件"]


async def test_a_forbidden_word_keeps_the_question_off_the_wire_and_search_goes_on(wire):
    calls, url, db = wire
    gw = gateway(url)
    ai = AI(gw, Guard(GuardSettings(_env_file=None, GUARD_FORBIDDEN_WORDS="人事異動"), gw), db)
    ix = Index(db, embed=ai.embed)
    await ix.create_set("shimin")
    await ix.upsert_document("shimin", "folder", "1", "住民票の写しの請求", None, DOC)
    sent = len(calls)
    hits = await ix.search("人事異動の前に住民票の写しの手数料を知りたい", ["shimin"])
    await gw.close()
    assert len(calls) == sent                      # nothing left for the question
    assert hits and hits[0].title == "住民票の写しの請求"   # BM25 alone still answers


async def test_embeddings_only_from_the_default_tiers_endpoint(wire):
    calls, url, db = wire
    gw = gateway(url, tier="lgwan", local=False)  # the only embedder is on the LGWAN; the default tier is internet
    ai = AI(gw, Guard(GuardSettings(_env_file=None), gw), db)
    assert not ai.can_embed
    # With the in-process model on (the default), it embeds instead: still nothing goes to the LGWAN endpoint.
    gw_local = gateway(url, tier="lgwan")
    ai_local = AI(gw_local, Guard(GuardSettings(_env_file=None), gw_local), db)
    if ai_local.embeds_locally:
        assert ai_local.embeddings_space.startswith("local:")
        assert len((await ai_local.embed(["住民票の写し"], "query"))[0]) == 384
    await gw_local.close()
    gw_lg = gateway(url, tier="lgwan")
    assert AI(gw_lg, Guard(GuardSettings(_env_file=None, GUARD_DEFAULT_TIER="lgwan"), gw_lg), db).can_embed
    await gw.close()
    await gw_lg.close()
    assert calls == []
