"""Issue #15: chunk vectors stored as packed float32 (codec, migration 0013 from JSON, odd blobs, the contiguous
in-memory matrix), on SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
import json
import logging

import numpy as np
import pytest
from sqlalchemy import inspect, select, text, update

from core.search.index import Index, _Vectors
from core.search.models import Chunk, Document, IndexChange
from core.search.vectors import VectorFormatError, decode_vector, encode_vector
from core.store import Database

DIM = 8
SPACE = "stub-embed|"


def embed(texts: list[str], purpose: str) -> list[list[float]]:
    """Deterministic vectors: a hash of the text spread over DIM dimensions, plus a shared component."""
    out = []
    for t in texts:
        h = hashlib.sha256(t.encode()).digest()
        out.append([1.0] + [b / 255 for b in h[:DIM - 1]])
    return out


def unit(v) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


# ------------------------------------------------------------------ codec
def test_codec_round_trip():
    values = [0.1, -2.5, 3.0e-8, 1.0e6, 0.0, -0.0, 7.25]
    blob = encode_vector(values)
    assert isinstance(blob, bytes) and len(blob) == 4 * len(values)
    assert blob == np.asarray(values, dtype="<f4").tobytes()        # little-endian float32, whatever the host
    back = decode_vector(blob, len(values))
    assert back.dtype == np.dtype("<f4") and back.tolist() == np.asarray(values, dtype=np.float32).tolist()
    arr = np.random.default_rng(1).standard_normal(384)
    assert np.array_equal(decode_vector(encode_vector(arr), 384), arr.astype(np.float32))
    assert np.array_equal(decode_vector(memoryview(encode_vector(arr))), arr.astype(np.float32))  # dim unknown


@pytest.mark.parametrize("blob,dim", [(b"", 3), (b"\x00" * 5, None), (b"\x00" * 12, 4), (b"\x00" * 16, 3),
                                      (b"\x00" * 8, 0), (b"\x00" * 8, -2)])
def test_decode_refuses_blobs_of_the_wrong_length(blob, dim):
    with pytest.raises(VectorFormatError):
        decode_vector(blob, dim)


@pytest.mark.parametrize("vec", [[], [[1.0, 2.0]], [float("nan"), 1.0], [float("inf")], np.zeros((2, 2))])
def test_encode_refuses_what_is_not_a_finite_vector(vec):
    with pytest.raises(VectorFormatError):
        encode_vector(vec)


# ------------------------------------------------------------------ migration
async def test_migration_converts_json_vectors_to_the_same_binary(db_url):
    values = [0.125, -0.5, 0.333333, 1e-3, 2.0, -7.75, 0.0, 0.9]
    database = Database(db_url)
    try:
        await database.migrate("0010_search_embed_space")
        async with database.engine.begin() as conn:
            await conn.execute(text("INSERT INTO search_sets (id, name, title, members, created_at) "
                                    "VALUES (1, 'lib', 'lib', '[]', CURRENT_TIMESTAMP)"))
            for doc_id, space in ((1, SPACE), (2, SPACE), (3, None)):
                await conn.execute(text(
                    "INSERT INTO search_documents (id, set_id, source, source_key, title, content_hash, updated_at, "
                    "staff_written, embed_space) VALUES (:id, 1, 'folder', :key, '予約', 'x', CURRENT_TIMESTAMP, "
                    "false, :space)"), {"id": doc_id, "key": f"d{doc_id}.md", "space": space})
            chunk = text("INSERT INTO search_chunks (id, document_id, ordinal, title, section, text, tokens, "
                         "embedding) VALUES (:id, :doc, 0, '予約', '', '本を予約できます。', '予約 本 予約', :emb)")
            await conn.execute(chunk, {"id": 1, "doc": 1, "emb": json.dumps(values)})
            await conn.execute(chunk, {"id": 2, "doc": 2, "emb": json.dumps(["not", "numbers"])})  # odd: dropped
            await conn.execute(chunk, {"id": 3, "doc": 3, "emb": None})
        await database.migrate()
        assert (await database.ready())[0]
        async with database.session() as s:
            blobs = dict((await s.execute(select(Chunk.id, Chunk.vector))).all())
            docs = {d.id: (d.embed_space, d.embed_dim) for d in await s.scalars(select(Document))}
            columns = await s.run_sync(lambda ss: [c["name"] for c in inspect(ss.connection())
                                                   .get_columns("search_chunks")])
        assert blobs == {1: encode_vector(values), 2: None, 3: None}
        assert np.array_equal(decode_vector(blobs[1], len(values)), np.asarray(values, dtype=np.float32))
        assert docs == {1: (SPACE, len(values)), 2: (None, None), 3: (None, None)}   # 2: to be re-embedded
        assert "embedding" not in columns and "vector" in columns
        ix = Index(database, embed=embed, embed_space=SPACE)
        await ix.refresh()
        assert np.allclose(ix._sets[1].vectors.get(1), unit(values))
        assert ix._sets[1].vectors.get(2) is None
        assert (await ix.reembed()).documents == 2          # the document whose vectors were dropped, and 3
    finally:
        await database.dispose()


# ------------------------------------------------------------------ odd blobs
async def test_a_blob_of_the_wrong_length_is_ignored_with_a_warning(db, caplog):
    writer = Index(db, embed=embed, embed_space=SPACE)
    await writer.create_set("lib")
    await writer.upsert_document("lib", "folder", "a.md", "図書館", None, "市立図書館は月曜日が休館日です。")
    await writer.upsert_document("lib", "folder", "b.md", "返却", None, "本の返却はブックポストへどうぞ。")
    follower = Index(db, embed=embed, embed_space=SPACE, refresh_interval=0)
    await follower.refresh()
    async with db.session() as s:
        first, second = (await s.scalars(select(Chunk.id).order_by(Chunk.id))).all()
        await s.execute(update(Chunk).where(Chunk.id == first).values(vector=b"\x01\x02\x03\x04\x05"))
        await s.execute(update(Chunk).where(Chunk.id == second).values(vector=b"\x00" * 4 * (DIM + 1)))
        doc_ids = (await s.scalars(select(Document.id).order_by(Document.id))).all()
        set_id = (await s.scalars(select(Document.set_id))).first()
        s.add_all([IndexChange(set_id=set_id, document_id=d, op="upsert") for d in doc_ids])
    caplog.set_level(logging.WARNING, logger="core.search.index")
    await follower.refresh()                                 # catch-up from the change log
    fresh = Index(db, embed=embed, embed_space=SPACE)
    hits = await fresh.search("図書館の休館日", ["lib"])      # cold load
    assert hits and hits[0].title == "図書館" and hits[0].similarity is None
    assert len(fresh._sets[set_id].vectors) == 0 and len(follower._sets[set_id].vectors) == 0
    warned = [r.getMessage() for r in caplog.records if "stored vector ignored" in r.getMessage()]
    assert len(warned) == 4 and any(f"chunk {first}:" in m for m in warned)
    assert await follower.search("返却", ["lib"])


# ------------------------------------------------------------------ in memory
def test_set_vectors_live_in_one_matrix_through_adds_and_removals():
    rng = np.random.default_rng(7)
    vecs = _Vectors()
    kept: dict[int, np.ndarray] = {}
    for cid in range(1, 301):
        v = unit(rng.standard_normal(DIM))
        assert vecs.put(cid, v)
        kept[cid] = v
    for cid in range(1, 301, 3):
        assert vecs.pop(cid)
        del kept[cid]
    assert not vecs.pop(1) and not vecs.put(999, np.ones(DIM + 1, dtype=np.float32))   # wrong dimension
    vecs.put(2, kept[2] * -1)                                       # replacing keeps one row
    kept[2] = kept[2] * -1
    ids, mat = vecs.matrix()
    assert len(vecs) == len(kept) == len(ids) and mat.shape == (len(kept), DIM) and mat.flags.c_contiguous
    assert sorted(ids.tolist()) == sorted(kept)
    for cid, row in zip(ids.tolist(), mat):
        assert np.array_equal(row, kept[cid]) and np.array_equal(vecs.get(cid), kept[cid])
    for cid in list(kept):
        vecs.pop(cid)
    assert len(vecs) == 0 and vecs.matrix()[1].shape[0] == 0
    assert vecs.put(5, np.ones(DIM + 3, dtype=np.float32))         # an empty set takes a new dimension


async def test_hybrid_search_after_deleting_and_replacing_documents(db):
    ix = Index(db, embed=embed, embed_space=SPACE)
    await ix.create_set("lib")
    for i in range(6):
        await ix.upsert_document("lib", "folder", f"{i}.md", f"文書{i}", None, f"本文{i}の内容です。")
    await ix.delete_document("lib", "2.md")
    await ix.upsert_document("lib", "folder", "4.md", "文書4", None, "差し替えた本文4です。")
    hits = await ix.search("差し替えた本文4です。", ["lib"], k=6)
    assert "文書2" not in [h.title for h in hits] and len(hits) == 5
    q = unit(embed(["差し替えた本文4です。"], "query")[0])
    async with db.session() as s:
        stored = dict((await s.execute(select(Chunk.document_id, Chunk.vector))).all())
    for h in hits:      # each passage's similarity is the cosine with its stored vector (row moves kept it right)
        assert h.similarity == pytest.approx(float(unit(decode_vector(stored[h.document_id], DIM)) @ q), abs=1e-4)
    other = Index(db, embed=embed, embed_space=SPACE)     # a cold load gives the same ranking
    assert [(h.title, h.similarity) for h in await other.search("差し替えた本文4です。", ["lib"], k=6)] == \
        [(h.title, h.similarity) for h in hits]


# ------------------------------------------------------------------ the question's embedding beside BM25
async def test_the_question_is_embedded_while_bm25_ranks(db):
    """The question's embedding is handed to the embedder before BM25 runs, and BM25's ranking is fused with it."""
    import asyncio

    events: list[str] = []
    release = asyncio.Event()

    async def slow_embed(texts: list[str], purpose: str) -> list[list[float]]:
        if purpose == "query":
            events.append("embedding started")
            await release.wait()
            events.append("embedding done")
        return embed(texts, purpose)

    ix = Index(db, embed=slow_embed, embed_space=SPACE)
    await ix.create_set("lib")
    for i in range(4):
        await ix.upsert_document("lib", "folder", f"{i}.md", f"文書{i}", None, f"本文{i}の内容です。")
    bm25 = ix._bm25

    def traced(*args):
        events.append("bm25")
        release.set()
        return bm25(*args)

    ix._bm25 = traced
    hits = await ix.search("本文2の内容", ["lib"], k=4)
    assert events == ["embedding started", "bm25", "embedding done"]
    # fused: every passage has its cosine, and the scores are the fusion's 0-1 (the stub's vectors are random, so
    # which passage comes first is theirs to decide; BM25's best is among the results)
    assert "文書2" in [h.title for h in hits] and all(h.similarity is not None and 0 <= h.score <= 1 for h in hits)

    # BM25 failing: the embedding is cancelled, not left running unawaited
    events.clear()
    release.clear()

    def broken(*args):
        raise RuntimeError("bm25 broke")

    ix._bm25 = broken
    with pytest.raises(RuntimeError):
        await ix.search("本文3", ["lib"], k=2)
    await asyncio.sleep(0)
    assert events == ["embedding started"]
