import json

import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select, text

from core.search.index import VECTOR_WEIGHT, Index, SearchError, UnknownSet, fuse_scores, readable_sets
from core.search.models import Chunk, Document, IndexChange
from tests.core.search.embed_stub import embeddings_endpoint, make_app, vector

GOMI = """# ごみの出し方

## 粗大ごみ

粗大ごみは事前の申込みが必要です。粗大ごみ受付センターへ電話してください。

## 資源ごみ

びん・缶・ペットボトルは毎週水曜日に出してください。
"""
LIB = "# 図書館\n\n市立図書館は毎週月曜日が休館日です。本の返却はブックポストへどうぞ。"


@pytest.fixture
async def ix(db):
    index = Index(db)
    await index.create_set("gomi", title="ごみ")
    await index.create_set("lib", title="図書館")
    return index


async def test_upsert_and_search_hit_fields(ix):
    doc_id = await ix.upsert_document("gomi", "sharepoint", "item-1", "ごみの出し方", "https://x/gomi.docx", GOMI)
    await ix.upsert_document("lib", "folder", "lib.md", "図書館", None, LIB)
    hits = await ix.search("粗大ゴミを捨てたい", ["gomi", "lib"], k=3)
    top = hits[0]
    assert (top.title, top.section, top.url, top.document_id, top.set_name) == \
        ("ごみの出し方", "粗大ごみ", "https://x/gomi.docx", doc_id, "gomi")
    assert "受付センター" in top.text and top.page is None and top.staff_written is False
    assert top.score > 0 and 0 < top.coverage <= 1
    assert all(h.score >= h2.score for h, h2 in zip(hits, hits[1:]))
    lib = await ix.search("図書館の休館日はいつ", ["gomi", "lib"], k=1)
    assert lib[0].set_name == "lib"


async def test_set_filter_and_unknown_sets(ix):
    await ix.upsert_document("lib", "folder", "lib.md", "図書館", None, LIB)
    assert await ix.search("図書館の休館日", ["gomi"]) == []
    assert await ix.search("図書館の休館日", ["no-such-set"]) == []
    assert await ix.search("図書館の休館日", []) == []
    with pytest.raises(UnknownSet) as ei:
        await ix.upsert_document("nope", "chat", "k", "t", None, "本文")
    assert "「nope」" in ei.value.message
    with pytest.raises(SearchError):
        await ix.create_set("gomi")


async def test_incremental_upsert_and_delete(ix, db):
    r1 = await ix.upsert("gomi", "sharepoint", "item-1", "ごみの出し方", "https://x/1", GOMI, etag="v1")
    assert r1.status == "added" and r1.chunks == 2
    async with db.session() as s:
        ids_before = list(await s.scalars(select(Chunk.id).where(Chunk.document_id == r1.document_id)))
    r2 = await ix.upsert("gomi", "sharepoint", "item-1", "ごみの出し方", "https://x/1", GOMI, etag="v2")
    assert (r2.status, r2.document_id) == ("unchanged", r1.document_id)
    async with db.session() as s:
        ids_after = list(await s.scalars(select(Chunk.id).where(Chunk.document_id == r1.document_id)))
    assert ids_before == ids_after  # not re-indexed
    assert (await ix.list_documents("gomi"))["item-1"].etag == "v2"

    changed = GOMI.replace("毎週水曜日", "毎週金曜日")
    r3 = await ix.upsert("gomi", "sharepoint", "item-1", "ごみの出し方", "https://x/1", changed)
    assert (r3.status, r3.document_id) == ("updated", r1.document_id)
    hits = await ix.search("ペットボトルは何曜日", ["gomi"], k=1)
    assert "金曜日" in hits[0].text and "水曜日" not in hits[0].text
    async with db.session() as s:
        assert await s.scalar(select(text("count(*)")).select_from(Chunk)) == 2

    assert await ix.delete_document("gomi", "item-1") is True
    assert await ix.delete_document("gomi", "item-1") is False
    assert await ix.search("ペットボトル", ["gomi"]) == []
    async with db.session() as s:
        assert await s.scalar(select(text("count(*)")).select_from(Chunk)) == 0


async def test_tokens_column_holds_analysed_terms(ix, db):
    await ix.upsert_document("gomi", "chat", "c1", "粗大ゴミ", None, "粗大ゴミの申込み")
    async with db.session() as s:
        tokens = (await s.scalars(select(Chunk.tokens))).one().split()
    assert "粗大ごみ" in tokens and "の" not in tokens


async def test_synonyms_stand_in_only_for_words_the_set_never_uses(ix, db):
    await ix.upsert_document("lib", "folder", "net.md", "予約", None, "# 予約\n\nインターネットで本を予約できます。")
    await ix.upsert_document("lib", "folder", "hours.md", "開館時間", None, "# 開館時間\n\n午前9時から午後7時までです。")
    hits = await ix.search("ネットで予約", ["lib"], k=2)
    assert hits[0].title == "予約" and hits[0].coverage == 1.0  # ネット reached インターネット through its group
    only_group = await ix.search("ネット", ["lib"], k=2)
    assert [h.title for h in only_group] == ["予約"]
    # once the set uses the word itself, only the word counts: its synonyms no longer widen the search
    await ix.upsert_document("lib", "folder", "wifi.md", "無線", None, "# 無線\n\n館内でネットが使えます。")
    assert [h.title for h in await ix.search("ネット", ["lib"], k=3)] == ["無線"]
    # group terms are stored with the chunk but do not lengthen it
    async with db.session() as s:
        tokens = (await s.scalars(select(Chunk.tokens).where(Chunk.title == "予約"))).one()
    assert any(t.startswith("~") for t in tokens.split())
    cid = next(c for c, m in ix._meta.items() if m.title == "予約")
    assert ix._sets[ix._set_names["lib"]].lengths[cid] == sum(1 for t in tokens.split() if not t.startswith("~"))


async def test_headings_weigh_double(ix):
    # the same words, once in a heading and once in body text: the heading wins
    await ix.upsert_document("lib", "folder", "a.md", "返却", None, "# 返却\n\n## 延長の手続\n\n窓口で申し出てください。")
    await ix.upsert_document("lib", "folder", "b.md", "貸出", None, "# 貸出\n\n## 貸出冊数\n\n延長の手続は窓口です。")
    hits = await ix.search("延長の手続", ["lib"], k=2)
    assert [h.title for h in hits] == ["返却", "貸出"] and hits[0].score > hits[1].score


async def test_unused_question_words_do_not_lower_coverage(ix):
    await ix.upsert_document("lib", "folder", "lib.md", "図書館", None, LIB)
    plain = await ix.search("図書館の休館日", ["lib"], k=1)
    asked = await ix.search("図書館の休館日はいつ", ["lib"], k=1)
    absent = await ix.search("図書館の休館日と駐車場", ["lib"], k=1)
    assert plain[0].coverage == asked[0].coverage == 1.0
    assert absent[0].coverage < 1.0


async def test_other_replica_sees_writes_and_deletes(db):
    a, b = Index(db), Index(db, refresh_interval=0)
    await a.create_set("gomi")
    await a.upsert_document("gomi", "folder", "1", "ごみの出し方", None, GOMI)
    assert (await b.search("粗大ごみ", ["gomi"]))[0].section == "粗大ごみ"   # b loads lazily
    await a.create_set("lib")
    await a.upsert_document("lib", "folder", "lib", "図書館", None, LIB)
    assert (await b.search("休館日", ["lib"]))[0].title == "図書館"          # new set and doc, seen incrementally
    await a.upsert_document("lib", "folder", "lib", "図書館", None, LIB.replace("月曜日", "火曜日"))
    assert "火曜日" in (await b.search("休館日", ["lib"]))[0].text
    await a.delete_document("gomi", "1")
    assert await b.search("粗大ごみ", ["gomi"]) == []


async def test_refresh_interval_bounds_staleness(db):
    a, b = Index(db), Index(db, refresh_interval=3600)
    await a.create_set("lib")
    assert await b.search("休館日", ["lib"]) == []                       # b loaded: empty
    await a.upsert_document("lib", "folder", "lib", "図書館", None, LIB)
    assert await b.search("休館日", ["lib"]) == []                       # not checked again within the interval
    await b.refresh()                                                    # explicit refresh (or the interval passing)
    assert (await b.search("休館日", ["lib"]))[0].title == "図書館"


async def test_change_committed_out_of_id_order_is_not_missed(db):
    """With several writers a smaller change id can become visible after a larger one: b must still apply it."""
    a, b = Index(db), Index(db, refresh_interval=0)
    await a.create_set("gomi")
    first = await a.upsert("gomi", "folder", "1", "ごみの出し方", None, GOMI)
    second = await a.upsert("gomi", "folder", "2", "図書館", None, LIB)
    async with db.session() as s:  # hide the first document's change, as if its transaction had not committed yet
        row = (await s.scalars(select(IndexChange).where(IndexChange.document_id == first.document_id))).one()
        hidden = {"id": row.id, "set_id": row.set_id, "document_id": row.document_id, "op": row.op,
                  "created_at": row.created_at}
        await s.delete(row)
        await s.execute(text("DELETE FROM search_chunks WHERE document_id = :d"), {"d": first.document_id})
    assert await b.search("粗大ごみ", ["gomi"]) == []          # b has caught up past the gap
    assert (await b.search("休館日", ["gomi"]))[0].document_id == second.document_id
    # the late transaction commits: chunks back and the change row with its smaller id
    await a.upsert("gomi", "folder", "1", "ごみの出し方", None, GOMI + "\n追記")
    async with db.session() as s:
        s.add(IndexChange(**hidden))
    hits = await b.search("粗大ごみ", ["gomi"])
    assert hits and hits[0].document_id == first.document_id


async def test_staff_written_flag(ix):
    await ix.upsert_document("gomi", "staff", "qa-1", "蛍光灯の捨て方", None,
                             "# 蛍光灯の捨て方\n\n蛍光灯は有害ごみとして第2水曜日に出してください。", staff_written=True)
    hit = (await ix.search("蛍光灯はどう捨てる", ["gomi"]))[0]
    assert hit.staff_written is True and hit.title == "蛍光灯の捨て方"


async def test_delete_set(ix):
    await ix.upsert_document("gomi", "folder", "1", "ごみの出し方", None, GOMI)
    assert await ix.delete_set("gomi") is True
    assert await ix.get_set("gomi") is None
    assert await ix.search("粗大ごみ", ["gomi"]) == []
    assert await ix.delete_set("gomi") is False


async def test_hybrid_over_loopback_openai_embeddings(db):
    calls: list = []
    concepts = {"無料": "cost", "お金": "cost", "費用": "cost"}
    server = TestServer(make_app(concepts=concepts, calls=calls),
                        host="127.0.0.1")
    await server.start_server()
    ep = embeddings_endpoint(str(server.make_url("/v1")))
    try:
        hybrid, plain = Index(db, embed=ep.embed), Index(db)
        await hybrid.create_set("vax")
        await hybrid.upsert_document("vax", "folder", "2", "ワクチンの接種は無料ですか。", None, "無料です。")
        await hybrid.upsert_document("vax", "folder", "6", "接種券とは何ですか。", None,
                                     "ワクチン接種の際に必要になる券のことです。")
        async with db.session() as s:
            stored = list(await s.scalars(select(Chunk.vector)))
            dims = list(await s.scalars(select(Document.embed_dim)))
        assert all(isinstance(e, bytes) and len(e) == 256 * 4 for e in stored) and dims == [256, 256]
        assert calls[0]["model"] == "stub-embed"
        q = "お金はかかりますか"
        assert await plain.search(q, ["vax"]) == []               # no word in common: BM25 finds nothing
        hits = await hybrid.search(q, ["vax"], k=2)
        assert hits[0].title == "ワクチンの接種は無料ですか。"   # the vectors know お金 ~ 無料
        assert hits[0].score == pytest.approx(VECTOR_WEIGHT)       # first in the vector list, absent from BM25's
        embedded = next(t for c in calls for t in c["input"] if "無料です" in t)
        qv, dv = np.array(vector(q, concepts)), np.array(vector(embedded, concepts))
        assert hits[0].similarity == pytest.approx(qv @ dv / np.linalg.norm(qv) / np.linalg.norm(dv), abs=1e-4)
        assert hits[0].coverage == 0.0
        assert all(h.similarity is None for h in await plain.search("接種券", ["vax"]))
        both = await hybrid.search("接種券", ["vax"], k=2)
        assert both[0].title == "接種券とは何ですか。" and both[0].score == pytest.approx(1.0)   # first in both
    finally:
        await ep.close()
        await server.close()


async def test_embeddings_endpoint_down_falls_back_to_bm25(db):
    server = TestServer(make_app(fail=True), host="127.0.0.1")
    await server.start_server()
    ep = embeddings_endpoint(str(server.make_url("/v1")))
    try:
        ix = Index(db, embed=ep.embed)
        await ix.create_set("vax")
        await ix.upsert_document("vax", "folder", "6", "接種券とは何ですか。", None, "接種の際に必要になる券です。")
        async with db.session() as s:
            assert list(await s.scalars(select(Chunk.vector))) == [None]
        hits = await ix.search("接種券", ["vax"])
        assert hits and hits[0].title == "接種券とは何ですか。"
        report = await ix.reembed()                      # still down: nothing recorded, tried again next time
        assert (report.documents, report.chunks, report.failed, report.current) == (0, 0, 1, 0)
        async with db.session() as s:
            assert list(await s.scalars(select(Document.embed_space))) == [None]
        # once the endpoint is back, registering the same content again embeds what is missing
        up = TestServer(make_app(), host="127.0.0.1")
        await up.start_server()
        ep_up = embeddings_endpoint(str(up.make_url("/v1")))
        try:
            result = await Index(db, embed=ep_up.embed).upsert("vax", "folder", "6", "接種券とは何ですか。", None,
                                                               "接種の際に必要になる券です。")
        finally:
            await ep_up.close()
            await up.close()
        assert result.status == "updated"
        async with db.session() as s:
            assert [len(e) for e in await s.scalars(select(Chunk.vector))] == [256 * 4]
    finally:
        await ep.close()
        await server.close()


async def test_readable_sets(db):
    ix = Index(db)
    await ix.create_set("all")                                        # no members: all staff
    await ix.create_set("hr", owner="OWNER-1", members=["USER-A", "group-hr"])
    await ix.create_set("secret", members=["user-z"])
    assert await readable_sets("someone", [], db) == ["all"]
    assert await readable_sets("user-a", [], db) == ["all", "hr"]     # ids compare case-insensitively
    assert await readable_sets("someone", ["GROUP-HR"], db) == ["all", "hr"]
    assert await readable_sets("owner-1", [], db) == ["all", "hr"]    # the owner reads their set
    assert await readable_sets(None, [], db) == ["all"]
    await ix.update_set("secret", members=[])
    assert await readable_sets("someone", [], db) == ["all", "secret"]


async def test_ranking_on_municipal_faq(db, testdata):
    ix = Index(db)
    await ix.create_set("vax")
    path = testdata / "municipal" / "kyoto-vaccine-faq" / "kyoto_vaccine_faq_2021.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        await ix.upsert_document("vax", "folder", d["id"], d["question"], None, f"# {d['question']}\n\n{d['answer']}")
    cases = [  # (question in our words, expected FAQ title fragment, worst acceptable rank)
        ("接種券をなくしてしまった場合はどうしたらいいですか", "接種券を失くしたら", 1),
        ("ワクチンを打ったあと熱が出たときの対処", "熱が出たら", 1),
        ("接種のとき本人確認の書類を持っていくのを忘れたら受けられない？", "本人確認書類を忘れた", 1),
        ("妊娠中でもワクチンは受けられますか", "妊婦", 1),
        ("予診票を家族が代わりに書いてもいいですか", "予診票の代筆", 3),  # 代わりに書く ≈ 代筆: no shared word
    ]
    for q, expected, worst in cases:
        titles = [h.title for h in await ix.search(q, ["vax"], k=5)]
        assert any(expected in t for t in titles[:worst]), (q, titles)
    # a question about something the set does not cover is weakly covered, and the top hit says so
    off = await ix.search("図書館の本を延長したい", ["vax"], k=1)
    on = await ix.search("接種券の有効期限", ["vax"], k=1)
    assert (off[0].coverage if off else 0.0) < 0.5 <= on[0].coverage


async def test_two_replicas_ingesting_the_same_documents_at_once(db_url):
    """Two processes' indexes (separate engines) on one database ingest the same new documents concurrently:
    no error, one row per document, and both find them."""
    import asyncio

    from core.search.index import Index
    from core.store import Database

    a_db, b_db = Database(db_url), Database(db_url)
    await a_db.migrate()
    try:
        a, b = Index(a_db, refresh_interval=0), Index(b_db, refresh_interval=0)
        await a.create_set("shared", title="共有")
        docs = [(f"doc{i}.md", f"# 規程{i}\n\n第{i}条 職員は年次休暇を取得できる。申請は前日までに行う。") for i in range(8)]

        async def ingest(ix):
            return await asyncio.gather(*(ix.upsert("shared", "folder", key, key, None, md) for key, md in docs))

        ra, rb = await asyncio.gather(ingest(a), ingest(b))
        assert len({r.document_id for r in ra + rb}) == len(docs)
        assert len(await a.list_documents("shared")) == len(docs)
        assert (await b.search("年次休暇の申請", ["shared"], k=3)) and (await a.search("年次休暇", ["shared"], k=3))
    finally:
        await a_db.dispose()
        await b_db.dispose()


async def test_vectors_follow_the_configured_embeddings(db):
    """Vectors are used only from the embeddings that made them: a document indexed before embeddings were set up,
    or under another model, is searched by BM25 until it is re-embedded — by an upsert of the same content, or by
    `reembed` from the stored chunks. Another process sees the new vectors through the change log."""
    calls: list = []
    server = TestServer(make_app(concepts={"無料": "cost", "お金": "cost"}, calls=calls), host="127.0.0.1")
    await server.start_server()
    ep = embeddings_endpoint(str(server.make_url("/v1")))
    try:
        plain = Index(db)
        await plain.create_set("vax")
        await plain.upsert_document("vax", "folder", "2", "ワクチンの接種は無料ですか。", None, "無料です。")
        await plain.upsert_document("vax", "folder", "6", "接種券とは何ですか。", None, "接種に必要な券です。")
        assert calls == []

        m1 = Index(db, embed=ep.embed, embed_space="m1")
        assert (await m1.search("お金はかかりますか", ["vax"])) == []      # no vectors yet: BM25 finds nothing
        result = await m1.upsert("vax", "folder", "2", "ワクチンの接種は無料ですか。", None, "無料です。")
        passages = [c for c in calls if c["input"] != ["お金はかかりますか"]]
        assert result.status == "updated" and len(passages) == 1     # same content, but no vectors: embedded
        again = await m1.upsert("vax", "folder", "2", "ワクチンの接種は無料ですか。", None, "無料です。")
        assert again.status == "unchanged" and [c for c in calls if c["input"] != ["お金はかかりますか"]] == passages
        hits = await m1.search("お金はかかりますか", ["vax"])
        assert hits[0].title == "ワクチンの接種は無料ですか。" and hits[0].similarity is not None

        m2 = Index(db, embed=ep.embed, embed_space="m2")               # the model changed
        assert all(h.similarity is None for h in await m2.search("接種券", ["vax"]))
        other = Index(db, embed=ep.embed, embed_space="m2", refresh_interval=0)   # another replica, loaded
        assert all(h.similarity is None for h in await other.search("接種券", ["vax"]))
        report = await m2.reembed()
        assert (report.documents, report.chunks, report.failed, report.current) == (2, 2, 0, 0)
        assert (await m2.reembed(["vax"])).current == 2                 # re-running finds nothing to do
        assert (await m2.search("お金はかかりますか", ["vax"]))[0].similarity is not None
        async with db.session() as s:
            assert set(await s.scalars(select(Document.embed_space))) == {"m2"}
        assert (await other.search("お金はかかりますか", ["vax"]))[0].similarity is not None   # via the change log
        with pytest.raises(SearchError):
            await m2.reembed(["nai"])
        with pytest.raises(SearchError):
            await plain.reembed()
    finally:
        await ep.close()
        await server.close()


def test_fusion_weighs_each_ranking_by_its_own_scale():
    """A flat BM25 list (only common words matched) barely moves a clear vector ranking; ranks alone (RRF) let a
    passage tenth in both lists beat the vectors' clear first."""
    bm25 = [(100 + i, 0.18 - 0.001 * i) for i in range(10)] + [(1, 0.17)]       # chunk 1: BM25 11th, ~flat scores
    cosine = [(1, 0.90)] + [(200 + i, 0.85 - 0.001 * i) for i in range(48)] + [(100, 0.80)]   # 100: 50th
    fused = fuse_scores(bm25, cosine)
    assert max(fused, key=fused.get) == 1
    assert fused[1] == pytest.approx((1 - VECTOR_WEIGHT) * 0.17 / 0.18 + VECTOR_WEIGHT * 1.0)
    assert fused[100] == pytest.approx(1 - VECTOR_WEIGHT)               # BM25's best, at the vectors' floor (0)
    # below the FUSION_DEPTH-th cosine counts as absent, not negative; no vectors or no BM25 leave the other alone
    assert fuse_scores([], [(5, 0.9), (6, 0.8)]) == {5: pytest.approx(VECTOR_WEIGHT), 6: 0.0}
    assert fuse_scores([(7, 2.0), (8, 1.0)], []) == {7: pytest.approx(1 - VECTOR_WEIGHT),
                                                     8: pytest.approx((1 - VECTOR_WEIGHT) / 2)}
    assert fuse_scores([(7, 0.0)], [(7, 0.5)]) == {7: pytest.approx(VECTOR_WEIGHT)}    # a zero BM25 list is ignored
    # a set of a handful of passages (test_local_embeddings' case): scaled to the worst of the four, BM25's first,
    # whose meaning is only average (0.852 against a mean of 0.848), counted as 55 % of the way to the closest and
    # won; scaled to the question's mean cosine it counts 11 %, and the passage closest in meaning comes first
    bm25, cosine = [(1, 5.8), (2, 2.4)], [(2, 0.885), (1, 0.852), (3, 0.842), (4, 0.812)]
    unfloored = fuse_scores(bm25, cosine)
    assert max(unfloored, key=unfloored.get) == 1
    floored = fuse_scores(bm25, cosine, floor=0.848)
    assert floored[3] == floored[4] == 0.0 and max(floored, key=floored.get) == 2
    assert fuse_scores(bm25, cosine, floor=0.5) == unfloored             # a floor below the last changes nothing
