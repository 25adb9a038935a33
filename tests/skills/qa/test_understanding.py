"""Issue #15 with an LLM: the question is rewritten into search queries and the candidates re-ranked (rerank
endpoint, else the LLM), over real HTTP on loopback: the openai client against the OpenAI stand-in, aiohttp against
the rerank stand-in. What leaves is masked and stays in its tier; every step is audited; no step fails the answer."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from core.ai import AIRefused
from core.llm import LLMError
from core.search.index import Hit
from core.search.rerank import RerankClient, RerankSettings, parse_results
from core.store.models import UsageEvent
from skills.qa.handler import handle
from skills.qa.understanding import apply_order, fuse
from tests.harness import RecorderPort, make_request
from tests.skills.qa.conftest import build, seed
from tests.standins.rerank import RerankStandIn

QUESTION = "山田太郎です。携帯090-1234-5678。年次休暇は何日ありますか"
CONTACT = "# 休暇の問い合わせ\n\n## 担当\n\n年次休暇の問い合わせは人事課の山田太郎（090-1234-5678）まで。\n"
ANSWER = "年次休暇は1年につき20日です[1]。"
REWRITE = '{"queries": ["年次休暇 日数", "休暇 取得 日数"]}'


def brain(*, rewrite: dict | None = None, rank_first: str = "病気休暇", ranking: dict | None = None):
    """The stand-in model: rewrite, re-ranking and answer calls told apart by their system prompt."""
    def reply(body: dict) -> dict:
        system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
        if "検索クエリ" in system:
            return rewrite or {"text": REWRITE, "prompt_tokens": 130, "completion_tokens": 17}
        if "役立つ順" in system:
            if ranking:
                return ranking
            first = [int(n) for n, label in re.findall(r"^\[(\d+)\] ([^\n]*)", user, re.M) if rank_first in label]
            return {"text": json.dumps({"ranking": first[:1]}), "prompt_tokens": 900, "completion_tokens": 9}
        return {"text": ANSWER}
    return reply


def rerank_settings(standin: RerankStandIn | None, **kw) -> RerankSettings:
    return RerankSettings(_env_file=None, **{"RERANK_BASE_URL": standin.base_url if standin else None,
                                             "RERANK_MODEL": "bge-reranker-v2-m3", "RERANK_API_KEY": "rk", **kw})


async def setup(db, llm, rerank: RerankStandIn | None, *, llm_env=None, seeded=False, **kw):
    llm_env = {"EMBEDDINGS_LOCAL": "false", **(llm_env or {})}        # BM25: the order the tests reason about
    services = build(db, llm=llm, llm_env=llm_env, **{"QA_REWRITE": True, "QA_RERANK": True, **kw})
    services.settings.put(rerank_settings(rerank))
    if seeded:
        return services
    await seed(services)
    await services.knowledge.upsert_document("soumu", "folder", "contact.md", "休暇の問い合わせ", None, CONTACT)
    return services


async def ask(services, text, **kw):
    port = RecorderPort()
    await handle(make_request(text, command="ask", **kw), port, services)
    return port


def answer_request(llm) -> dict:
    return [b for b in llm.chat_requests() if "登録文書からは回答できません" in b["messages"][0]["content"]][-1]


def first_passage(llm) -> str:
    user = answer_request(llm)["messages"][1]["content"]
    return re.search(r"^\[1\] ([^\n]*)", user, re.M).group(1)


async def steps(services) -> list[UsageEvent]:
    async with services.db.session() as s:
        return list(await s.scalars(select(UsageEvent).where(UsageEvent.outcome == "step").order_by(UsageEvent.id)))


@pytest.fixture
async def reranker():
    s = await RerankStandIn(prefer="夏季休暇").start()
    yield s
    await s.stop()


# ------------------------------------------------------------------ the whole path
async def test_rewrite_masked_endpoint_reranks_masked_and_its_order_is_used(db, llm, reranker):
    llm.default = brain()
    services = await setup(db, llm, reranker)
    port = await ask(services, QUESTION)
    assert port.last().text == ANSWER and port.last().ai_generated

    # the rewrite call: the question masked on the wire, a small JSON request
    rewrite = llm.chat_requests()[0]
    assert "検索クエリ" in rewrite["messages"][0]["content"] and rewrite["max_tokens"] == 200
    sent = rewrite["messages"][1]["content"]
    assert "［氏名1］" in sent and "山田" not in sent and "1234-5678" not in sent
    assert "山田" not in llm.seen() and "1234-5678" not in llm.seen()

    # the rerank endpoint: masked query and documents (one session: the same placeholder on both sides), its order
    assert len(reranker.requests) == 1 and reranker.auth == ["Bearer rk"]
    body = reranker.requests[0]
    assert body["model"] == "bge-reranker-v2-m3" and body["top_n"] == len(body["documents"]) > 3
    assert "山田" not in reranker.seen() and "1234-5678" not in reranker.seen()
    contact = [d for d in body["documents"] if "人事課の" in d]
    assert contact and "［氏名1］" in contact[0] and "［氏名1］" in body["query"]
    assert first_passage(llm) == "職員の休暇に関する規程 — 夏季休暇"        # the endpoint preferred it
    assert len(llm.chat_requests()) == 2                                    # rewrite + answer: no LLM re-ranking

    # the audit: one row per step with its cost, not counted as a use; the answer's own row as before
    rows = await steps(services)
    assert [(r.reason, r.skill, r.endpoint) for r in rows] == [("rewrite", "qa", "openai"), ("rerank", "qa", "rerank")]
    rw, rr = rows
    assert (rw.prompt_tokens, rw.completion_tokens) == (130, 17) and rw.latency_ms > 0 and rw.tier == "internet"
    assert rr.prompt_tokens == 42 and rr.latency_ms > 0 and rr.model == "bge-reranker-v2-m3"
    assert rw.masked.get("name") and rr.masked.get("name")
    async with services.db.session() as s:
        uses = list(await s.scalars(select(UsageEvent).where(UsageEvent.outcome == "ok")))
    assert len(uses) == 1 and uses[0].reason is None


async def test_rewritten_queries_are_searched_and_fused(db, llm):
    """No rerank: the extra queries' results join the question's (RRF), and their passages reach the model."""
    llm.default = brain(rewrite={"text": '```json\n{"queries": ["粗大ごみ 申込み"]}\n```'})
    services = await setup(db, llm, None, QA_RERANK=False)
    await ask(services, "年次休暇は何日ありますか")
    user = answer_request(llm)["messages"][1]["content"]
    assert "年次休暇" in user and "粗大ごみ" in user                      # found by the rewritten query only
    assert [r.reason for r in await steps(services)] == ["rewrite"]


# ------------------------------------------------------------------ failures never fail the answer
async def test_rerank_endpoint_down_llm_reranks_and_the_answer_comes(db, llm):
    down = await RerankStandIn(status=503).start()
    try:
        llm.default = brain(rank_first="病気休暇")
        services = await setup(db, llm, down)
        port = await ask(services, QUESTION)
        assert port.last().text == ANSWER
        assert len(down.requests) == 1
        assert first_passage(llm) == "職員の休暇に関する規程 — 病気休暇"   # the LLM's order
        ranking = [b for b in llm.chat_requests() if "役立つ順" in b["messages"][0]["content"]]
        assert len(ranking) == 1 and "山田" not in json.dumps(ranking, ensure_ascii=False)
        rows = await steps(services)
        assert [r.reason for r in rows] == ["rewrite", "rerank:unavailable", "rerank"]
        assert rows[2].endpoint == "openai" and rows[2].prompt_tokens == 900 and rows[2].latency_ms > 0
    finally:
        await down.stop()
    # the port closed (nothing listening): the same
    llm.requests.clear()
    services = await setup(db, llm, down, seeded=True)
    port = await ask(services, QUESTION)
    assert port.last().text == ANSWER and first_passage(llm) == "職員の休暇に関する規程 — 病気休暇"


async def test_every_step_failing_keeps_the_search_order(db, llm):
    llm.default = brain(rewrite={"status": 500}, ranking={"text": "わかりません"})
    services = await setup(db, llm, None)
    port = await ask(services, "年次休暇は何日ありますか")
    assert port.last().text == ANSWER
    assert first_passage(llm) == "職員の休暇に関する規程 — 年次休暇"        # BM25's own best passage
    assert [r.reason for r in await steps(services)] == ["rewrite:unavailable", "rerank"]


async def test_slow_rerank_endpoint_times_out_to_the_llm(db, llm):
    slow = await RerankStandIn(delay=2.0).start()
    try:
        llm.default = brain(rank_first="病気休暇")
        services = await setup(db, llm, None)
        services.settings.put(rerank_settings(slow, RERANK_TIMEOUT_SECONDS=0.3))
        port = await ask(services, "年次休暇は何日ありますか")
        assert port.last().text == ANSWER and first_passage(llm) == "職員の休暇に関する規程 — 病気休暇"
        assert [r.reason for r in await steps(services)] == ["rewrite", "rerank:timeout", "rerank"]
    finally:
        await slow.stop()


# ------------------------------------------------------------------ tiers and offline
async def test_a_question_of_a_tier_without_endpoint_reaches_no_endpoint(db, llm, reranker):
    llm.default = brain()
    services = await setup(db, llm, reranker)
    port = await ask(services, QUESTION, tier="lgwan")
    assert llm.chat_requests() == [] and reranker.requests == []
    assert "「LGWAN接続系」の区分で扱う必要があります" in port.sent[-2].text   # then the search results
    assert [r.reason for r in await steps(services)] == ["rewrite:no_endpoint_for_tier"]


async def test_lgwan_question_uses_the_lgwan_llm_never_the_default_tier_reranker(db, llm, reranker):
    llm.default = brain(rank_first="病気休暇")
    lgwan = json.dumps([{"name": "lgwan", "tier": "lgwan", "base_url": llm.base_url, "api_key": "k",
                         "model": "lgwan-model"}])
    services = await setup(db, llm, reranker, llm_env={"LLM_ENDPOINTS": lgwan})
    port = await ask(services, QUESTION, tier="lgwan")
    assert port.last().text == ANSWER
    assert reranker.requests == []                                          # internet tier: never for this question
    assert {b["model"] for b in llm.chat_requests()} == {"lgwan-model"}
    assert first_passage(llm) == "職員の休暇に関する規程 — 病気休暇"
    rows = await steps(services)
    assert [(r.reason, r.tier) for r in rows] == [("rewrite", "lgwan"), ("rerank:no_endpoint_for_tier", "lgwan"),
                                                  ("rerank", "lgwan")]


async def test_rerank_endpoint_of_another_tier_by_setting(db, llm, reranker):
    services = await setup(db, llm, reranker)
    client = RerankClient(rerank_settings(reranker, RERANK_TIER="lgwan"))
    with pytest.raises(AIRefused) as e:
        await services.ai.rerank(make_request("q"), "年次休暇", ["a", "b"], client=client)
    assert e.value.reason == "no_endpoint_for_tier" and reranker.requests == []
    assert await services.ai.rerank(make_request("q", tier="lgwan"), "年次休暇", ["a", "b"], client=client) == [1, 0]


async def test_offline_nothing_changes(db, reranker):
    services = build(db, QA_REWRITE=True, QA_RERANK=True)
    services.settings.put(rerank_settings(reranker))
    await seed(services)
    port = await ask(services, "年次休暇は何日ありますか")
    assert not port.last().ai_generated and port.last().citations
    assert reranker.requests == [] and await steps(services) == []


# ------------------------------------------------------------------ pieces
def _hit(cid: int) -> Hit:
    return Hit(cid, 1.0, f"t{cid}", "", None, None, "x", 1, "s")


def test_fusion_dedupes_by_chunk_and_rewards_agreement():
    a, b, c, d = (_hit(i) for i in (1, 2, 3, 4))
    fused = fuse([[a, b, c], [c, d], [c, b]])
    assert [h.chunk_id for h in fused] == [3, 2, 1, 4]
    assert fused[2] is a
    assert [h.chunk_id for h in apply_order(fused, [3, 3, 9, -1, 0])] == [4, 3, 2, 1]


def test_parse_results_reads_both_shapes():
    assert parse_results({"results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.1}]},
                         2) == [(1, 0.9), (0, 0.1)]
    assert parse_results([{"index": 0, "score": 0.2}, {"index": 1, "score": 0.7}, {"index": 5, "score": 1}], 2) \
        == [(1, 0.7), (0, 0.2)]
    with pytest.raises(LLMError):
        parse_results({"results": []}, 2)


async def test_tei_native_api_is_tried_when_the_common_body_is_refused():
    tei = await RerankStandIn(tei=True, prefer="b").start()
    try:
        result = await RerankClient(rerank_settings(tei)).rerank("q", ["a", "b", "c"])
        assert [i for i, _ in result.order] == [1, 2, 0]
        assert "documents" in tei.requests[0] and tei.requests[1]["texts"] == ["a", "b", "c"]
    finally:
        await tei.stop()
