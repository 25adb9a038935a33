"""Chunk vectors on disk and in memory (issue #15): JSON text (before migration 0013) against packed float32.

    .venv/bin/python bench/vector_storage.py [--chunks 100000] [--dim 384]

Inserts N synthetic chunks (random unit vectors, a short passage each) into two SQLite databases, one at revision
0010 (vectors as JSON, written the way the index wrote them: Python floats) and one at 0013 (packed float32,
through the models), then reports: bytes per vector and database bytes per chunk; the cold load of the N vectors
into numpy as the index reads them (JSON: json.loads per row; binary: np.frombuffer); a full cold
`Index.refresh()` (BM25 included); the migration of the JSON database to 0013; and the memory per N vectors of
the in-memory structure before (dict of small arrays plus the stacked copy search builds) and now (one matrix for
all sets, core.search.index._Vectors), measured with tracemalloc."""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from alembic import command  # noqa: E402
from sqlalchemy import JSON, column, select, table, text  # noqa: E402

from core.search.index import Index, _unit, _Vectors  # noqa: E402
from core.search.models import Chunk, Document, KnowledgeSet  # noqa: E402
from core.search.vectors import decode_vector, encode_vector  # noqa: E402
from core.store import Database  # noqa: E402
from core.store.db import _alembic_config  # noqa: E402

SPACE = "bench|"
TEXT = "粗大ごみは事前の申込みが必要です。粗大ごみ受付センターへ電話してください。"
TOKENS = "粗大 ごみ 事前 申込み 必要 粗大 ごみ 受付 センター 電話"
_BATCH = 5000


def unit_vectors(n: int, dim: int, seed: int = 42) -> np.ndarray:
    m = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


async def fill_binary(db: Database, vecs: np.ndarray) -> None:
    async with db.session() as s:
        ks = KnowledgeSet(name="bench", title="bench")
        s.add(ks)
        await s.flush()
        doc = Document(set_id=ks.id, source="folder", source_key="bench", title="bench", content_hash="x",
                       embed_space=SPACE, embed_dim=vecs.shape[1])
        s.add(doc)
        await s.flush()
        doc_id = doc.id
    for i in range(0, len(vecs), _BATCH):
        async with db.session() as s:
            s.add_all([Chunk(document_id=doc_id, ordinal=j, title="ごみ", section="粗大ごみ", text=TEXT,
                             tokens=TOKENS, vector=encode_vector(vecs[j])) for j in range(i, min(i + _BATCH, len(vecs)))])


async def fill_json(db: Database, vecs: np.ndarray) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0010_search_embed_space"))
        await conn.execute(text("INSERT INTO search_sets (id, name, title, members, created_at) "
                                "VALUES (1, 'bench', 'bench', '[]', CURRENT_TIMESTAMP)"))
        await conn.execute(text("INSERT INTO search_documents (id, set_id, source, source_key, title, content_hash, "
                                "updated_at, staff_written, embed_space) VALUES (1, 1, 'folder', 'bench', 'bench', "
                                "'x', CURRENT_TIMESTAMP, false, :space)"), {"space": SPACE})
        ins = text("INSERT INTO search_chunks (document_id, ordinal, title, section, text, tokens, embedding) "
                   "VALUES (1, :o, 'ごみ', '粗大ごみ', :t, :k, :e)")
        for i in range(0, len(vecs), _BATCH):
            # what the index stored: the embedder's floats as Python floats, json-encoded
            await conn.execute(ins, [{"o": j, "t": TEXT, "k": TOKENS, "e": json.dumps(list(map(float, vecs[j])))}
                                     for j in range(i, min(i + _BATCH, len(vecs)))])


async def load_json(db: Database) -> tuple[float, int]:
    t = table("search_chunks", column("id"), column("embedding", JSON))
    t0 = time.perf_counter()
    async with db.session() as s:
        rows = await s.execute(select(t.c.id, t.c.embedding))
        n = sum(_unit(r.embedding) is not None for r in rows)
    return time.perf_counter() - t0, n


async def load_binary(db: Database, dim: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    async with db.session() as s:
        rows = await s.execute(select(Chunk.id, Chunk.vector))
        n = sum(_unit(decode_vector(r.vector, dim)) is not None for r in rows)
    return time.perf_counter() - t0, n


def db_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def memory(vecs: np.ndarray) -> tuple[int, int]:
    """Bytes held for the vectors: before (dict of arrays + the stacked matrix) and now (_Vectors)."""
    gc.collect()
    tracemalloc.start()
    old = {i + 1: _unit(v.tolist()) for i, v in enumerate(vecs)}
    stacked = (np.fromiter(old.keys(), dtype=np.int64, count=len(old)), np.vstack(list(old.values())))
    before = tracemalloc.get_traced_memory()[0]
    del old, stacked
    gc.collect()
    tracemalloc.stop()
    tracemalloc.start()
    new = _Vectors()
    for i, v in enumerate(vecs):
        new.put(i + 1, _unit(v))  # type: ignore[arg-type]
    new.trim()                # as Index does after a full load
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return before, after


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    args = ap.parse_args()
    n, dim = args.chunks, args.dim
    vecs = unit_vectors(n, dim)
    sample = list(map(float, vecs[0]))
    print(f"{n:,} chunks, {dim}-d vectors")
    print(f"vector value: JSON {len(json.dumps(sample)):,} bytes, binary {len(encode_vector(sample)):,} bytes")
    with tempfile.TemporaryDirectory() as tmp:
        jpath, bpath = f"{tmp}/json.db", f"{tmp}/binary.db"
        jdb, bdb = Database(f"sqlite+aiosqlite:///{jpath}"), Database(f"sqlite+aiosqlite:///{bpath}")
        try:
            await bdb.migrate()
            await fill_json(jdb, vecs)
            await fill_binary(bdb, vecs)
            for d in (jdb, bdb):
                async with d.engine.begin() as conn:
                    await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            print(f"database per chunk (whole row, indexes, pages): JSON {db_bytes(jpath) / n:,.0f} bytes, "
                  f"binary {db_bytes(bpath) / n:,.0f} bytes")
            for _ in range(2):   # the second round is with a warm OS file cache
                tj, nj = await load_json(jdb)
                tb, nb = await load_binary(bdb, dim)
                assert nj == nb == n
                print(f"load {n:,} vectors into numpy: JSON {tj:.2f} s, binary {tb:.2f} s")
            t0 = time.perf_counter()
            ix = Index(bdb, embed=lambda texts, purpose: [], embed_space=SPACE)
            await ix.refresh()
            print(f"Index.refresh() cold load of {n:,} chunks (BM25 and vectors, binary): "
                  f"{time.perf_counter() - t0:.2f} s; vectors held: {sum(len(s.vectors) for s in ix._sets.values()):,}")
            del ix
            t0 = time.perf_counter()
            async with jdb.engine.begin() as conn:
                await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0013_search_vectors_binary"))
            print(f"migration 0010 → 0013 of {n:,} JSON vectors: {time.perf_counter() - t0:.1f} s")
        finally:
            await jdb.dispose()
            await bdb.dispose()
    before, after = memory(vecs)
    print(f"memory for {n:,} vectors: before {before / 2**20:,.1f} MiB (dict of arrays + stacked copy), "
          f"now {after / 2**20:,.1f} MiB (one matrix + id map); matrix alone {n * dim * 4 / 2**20:,.1f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
