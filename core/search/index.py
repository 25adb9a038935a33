"""The search index: knowledge sets, documents and chunks in the database; BM25 (and vectors) in memory.

The database is the truth (SQLite by default, PostgreSQL for several replicas). Each process keeps an inverted
index per knowledge set, loaded lazily on first use and refreshed incrementally from the `search_changes` log, so a
write made by another replica is visible to the next query here. Scoring is Okapi BM25 (k1=1.2, b=0.75) over the
analysed terms of title + section + text. When an embedder is given, chunk embeddings are stored at ingest and the
query's cosine ranking is fused with BM25 by a weighted sum of the two scores, each scaled to 0-1 over the question's
own results (`fuse_scores`); without one, BM25 alone.

Headings (document title and section path) count twice, as in BM25F with a heading weight of 2: a passage whose
heading is the question asked is the best evidence there is (FAQ entries, 第○条（見出し）). A query word that no
passage of the searched sets uses is replaced by its SudachiDict synonym groups (ネット → インターネット; 年休 →
年次休暇), and a word the administrators gave synonyms (`core.search.synonyms`) also matches those; either way the
word's stand-ins count as one term with it (see `_bm25`). A noun neither reaches is stood in for by the sets' words
nearest to it in word vectors (`_stand_ins`, `core.search.wordvec`: ガラケー → 携帯電話), which rank passages but do
not count as covering the question."""
from __future__ import annotations

import asyncio
import hashlib
import heapq
import inspect
import itertools
import logging
import math
import time
import weakref
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Awaitable, Callable, Iterable, Sequence, Union

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from core.search import wordvec
from core.search.chunking import chunk_markdown, faq_question
from core.search.models import Chunk, Document, IndexChange, KnowledgeSet
from core.search.postings import Postings
from core.search.synonyms import SynonymMap
from core.search.text import (
    QUESTION_WORDS,
    SYNONYM_PREFIX,
    Analyzer,
    QueryTerm,
    kana_words,
    query_terms,
    spelling_key,
    sudachi,
)
from core.search.vectors import (
    QuantizedScan,
    VectorFormatError,
    decode_vector,
    encode_vector,
    faiss_module,
    vector_dim,
)
from core.store.models import utcnow

log = logging.getLogger(__name__)

K1 = 1.2
B = 0.75
# Fusion of the BM25 and vector rankings (`fuse_scores`): (1 - w) x BM25 / best BM25 + w x the cosine scaled
# between the FUSION_DEPTH-th and the best. Reciprocal rank fusion (k=20 before) counts ranks only, so a passage
# ranked tenth by both beat one ranked first by the vectors when BM25 had matched nothing but 燃える・ごみ (scores
# 0.16-0.18, a flat list). bench/retrieval_eval.py (e), sets 1-7, recall@5 / MRR over all 439 questions: RRF k=20
# 0.918 / 0.823, this with w=0.5 0.918 / 0.840 (0.45-0.55 about the same); targets met on 4 of the 7 sets, was 2.
VECTOR_WEIGHT = 0.5
FUSION_DEPTH = 50
# A query word that no passage of the searched sets uses, even through its synonyms or reading, is stood in for by
# the STAND_INS words of the index nearest to it in chiVe's word vectors (`core.search.wordvec`), at a cosine of at
# least STAND_IN_SIMILARITY: ガラケー → 携帯電話, ウィッグ → かつら. bench/retrieval_eval.py (e), sets 1-9, recall@5 /
# MRR over all 559 questions: 0.925 / 0.851 without; 0.939-0.950 / 0.866-0.869 for 2-5 words at 0.5-0.7 (this: the
# best); weighing a stand-in at half or three quarters of the word did worse (0.936, 0.945).
STAND_INS = 3
STAND_IN_SIMILARITY = 0.5
READING_WEIGHT = 0.5  # a spelling found only by its reading (ビン for 瓶) counts half the word itself
QUESTION_WEIGHT = 2  # extra times an FAQ passage's question is counted (see `chunk_terms`)
SOURCES = ("chat", "sharepoint", "folder", "staff")
# The vector ranking's first pass: from this many vectors, where faiss is installed, a question scans 8-bit codes
# of every row (faiss's SIMD scalar quantizer) for its QUANTIZED_CANDIDATES best and computes the exact cosine for
# those alone; the ranking stays exact (see `Index._cosine`). Below it the float32 product is a few milliseconds.
# 800 candidates: at 200,007 chunks the exact top 50 was provably among them for all 523 municipal questions (400:
# 95 %; otherwise the full product runs after the scan); the scan took 5.9 ms for 800, 5.6 for 400 and 16 ms from
# 1,024 up (faiss changes its method there), hence the ceiling (bench/scale_index.py, docs/scale.md).
QUANTIZED_MIN_ROWS = 20_000
QUANTIZED_CANDIDATES = 800
QUANTIZED_MAX_CANDIDATES = 1_000
_CHANGE_WINDOW = 500  # change ids re-checked behind the newest seen (transactions may commit out of id order)

# embed(texts, purpose): purpose is "query" for a search question, "document" for passages at ingest
Embedder = Callable[[list[str], str], Union[list[list[float]], Awaitable[list[list[float]]]]]


class SearchError(Exception):
    """A request the index cannot serve; `message` is Japanese and safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownSet(SearchError):
    pass


@dataclass(frozen=True)
class Hit:
    """One retrieved passage. `score`: BM25, or the fused score (0–1, `fuse_scores`) in hybrid mode. `coverage`: the share of the
    query's term weight (idf) found in the passage, 0–1 — a plain signal for "retrieval is weak"."""

    chunk_id: int
    score: float
    title: str
    section: str
    page: str | None
    url: str | None
    text: str
    document_id: int
    set_name: str
    staff_written: bool = False
    coverage: float = 0.0
    similarity: float | None = None   # cosine between question and passage (hybrid mode, when both have vectors)
    # how far `similarity` stands above the question's mean similarity to the passages searched, on the way to 1:
    # (similarity - mean) / (1 - mean). Unlike the cosine it needs no knowledge of the model's scale (e5's cosines
    # sit in 0.75-0.95, other models' far lower), so the weak-retrieval rule can use it with any embeddings model
    lift: float | None = None


@dataclass(frozen=True)
class SetInfo:
    id: int
    name: str
    title: str
    owner: str | None
    members: list[str]
    created_at: datetime | None


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    source: str
    source_key: str
    title: str
    url: str | None
    etag: str | None
    content_hash: str
    updated_at: datetime | None
    staff_written: bool


@dataclass(frozen=True)
class UpsertResult:
    document_id: int
    status: str            # "added" | "updated" | "unchanged"
    chunks: int


@dataclass
class ReembedReport:
    documents: int = 0     # documents given new vectors
    chunks: int = 0        # chunks embedded
    failed: int = 0        # chunks the endpoint did not embed (tried again on the next run)
    current: int = 0       # documents already embedded by the configured embeddings

    def summary(self) -> str:
        text = f"ベクトルを作成した文書 {self.documents} 件（パッセージ {self.chunks} 件）、作成済みで変更なし {self.current} 件"
        return text + (f"、失敗したパッセージ {self.failed} 件（再実行で再試行します）" if self.failed else "")


LIFT_MIN_PASSAGES = 30       # `Hit.lift` is computed over at least this many passages (`Index.search`)


class _Meta:
    """What a hit shows of a chunk (its terms are in the postings, `core.search.postings`)."""

    __slots__ = ("document_id", "set_id", "title", "section", "page", "text")

    def __init__(self, document_id: int, set_id: int, title: str, section: str, page: str | None,
                 text: str) -> None:
        self.document_id, self.set_id, self.title, self.section = document_id, set_id, title, section
        self.page, self.text = page, text


class _Vectors:
    """The unit vectors of every set's chunks as one contiguous float32 matrix (row i is chunk ids[i], of the set
    in slot slots[i]), grown by a quarter when full and trimmed after a full load; a removed row is filled by the
    last one. One 384-d vector costs its 1,536 bytes plus a dict entry (~100 bytes), not a numpy object of its own
    and a second copy stacked for search (together about twice the matrix: bench/vector_storage.py). One matrix
    for all sets, not one per set: a question over the whole city's sets is one matrix-vector product, where one
    per set cost a BLAS call (and its thread hand-off) per set (bench/scale_index.py)."""

    __slots__ = ("dim", "_ids", "_mat", "_slots", "_rows", "_n", "_hint", "_sq", "quantize")

    def __init__(self) -> None:
        self.dim: int | None = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._mat = np.zeros((0, 1), dtype=np.float32)
        self._slots = np.zeros(0, dtype=np.int32)
        self._rows: dict[int, int] = {}     # chunk id → row
        self._n = 0
        self._hint = 64
        self._sq: QuantizedScan | None = None   # the 8-bit first pass, when faiss is there and the rows are many
        self.quantize = QUANTIZED_MIN_ROWS      # rows from which it is built (None: never)

    def reserve(self, rows: int) -> None:
        """Rows to allocate at the first vector (a full load knows the number: no growing copies)."""
        self._hint = max(64, rows)

    def __len__(self) -> int:
        return self._n

    def __contains__(self, cid: object) -> bool:
        return cid in self._rows

    def get(self, cid: int, slot: int | None = None) -> np.ndarray | None:
        """The chunk's vector (None without one, or when `slot` is given and the chunk is not that set's)."""
        row = self._rows.get(cid)
        if row is None or (slot is not None and self._slots[row] != slot):
            return None
        return self._mat[row]

    def put(self, cid: int, vec: np.ndarray, slot: int = 0) -> bool:
        """Store a unit vector for `cid` (replacing any); False when its dimension is not the others'."""
        if self._n == 0 and self.dim != vec.shape[0]:
            self.dim = vec.shape[0]
            self._ids, self._slots = np.zeros(self._hint, dtype=np.int64), np.zeros(self._hint, dtype=np.int32)
            self._mat = np.zeros((self._hint, self.dim), dtype=np.float32)
            self._sq = None
        if vec.shape[0] != self.dim:
            return False
        row = self._rows.get(cid)
        if row is None:
            if self._n == len(self._ids):
                self._resize(self._n + max(64, self._n // 4))
            row = self._rows[cid] = self._n
            self._ids[row] = cid
            self._n += 1
        self._mat[row] = vec
        self._slots[row] = slot
        if self._sq is not None:
            self._sq.put(row, self._mat[row])
        return True

    def pop(self, cid: int) -> bool:
        row = self._rows.pop(cid, None)
        if row is None:
            return False
        last = self._n - 1
        if row != last:
            moved = int(self._ids[last])
            self._ids[row], self._mat[row], self._slots[row] = moved, self._mat[last], self._slots[last]
            self._rows[moved] = row
            if self._sq is not None:
                self._sq.move(last, row)
        self._n = last
        if self._sq is not None:
            self._sq.truncate(last)
        if 64 < 2 * self._n < len(self._ids):     # give memory back after large deletions
            self._resize(self._n + self._n // 4)
        return True

    def trim(self) -> None:
        """Drop the spare rows (after a full load, when no growth is expected soon)."""
        if len(self._ids) > self._n:
            self._resize(self._n)
        self.quantized()

    def quantized(self) -> QuantizedScan | None:
        """The 8-bit copy of the rows for a first pass (built on first need), or None: too few rows for it to
        pay (the float32 product over them takes a few milliseconds), or no faiss in this environment."""
        if self._sq is None and self.quantize is not None and self._n >= self.quantize:
            faiss = faiss_module()
            if faiss is not None:
                t0 = time.perf_counter()
                self._sq = QuantizedScan(faiss, self._mat[:self._n])
                log.info("vectors: 8-bit first pass over %d rows built in %.1f s", self._n, time.perf_counter() - t0)
        return self._sq

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, their unit vectors): views of the live arrays, valid until the next change."""
        return self._ids[:self._n], self._mat[:self._n]

    def slots(self) -> np.ndarray:
        """Each row's set slot (a view, like `matrix`)."""
        return self._slots[:self._n]

    def _resize(self, capacity: int) -> None:
        ids, mat = np.zeros(capacity, dtype=np.int64), np.zeros((capacity, self._mat.shape[1]), dtype=np.float32)
        slots = np.zeros(capacity, dtype=np.int32)
        ids[:self._n], mat[:self._n], slots[:self._n] = self._ids[:self._n], self._mat[:self._n], self._slots[:self._n]
        self._ids, self._mat, self._slots = ids, mat, slots


class _SetVectors:
    """A set's view of the index's vectors, and the sum of its unit vectors: a question's mean similarity to the
    set's passages is one dot product with it (`Hit.lift`)."""

    __slots__ = ("_all", "_slot", "n", "total")

    def __init__(self, vectors: _Vectors, slot: int) -> None:
        self._all, self._slot, self.n = vectors, slot, 0
        self.total: np.ndarray | None = None      # float64, so that adding and removing leaves no drift that matters

    def add(self, vec: np.ndarray, sign: int = 1) -> None:
        if self.total is None or self.total.shape != vec.shape:
            self.total = np.zeros(vec.shape, dtype=np.float64)
        self.total += sign * vec.astype(np.float64)

    def get(self, cid: int) -> np.ndarray | None:
        return self._all.get(cid, self._slot)

    def __len__(self) -> int:
        return self.n


class _Lengths:
    """A set's chunk lengths by chunk id (a view of the postings store)."""

    __slots__ = ("_postings", "_ix")

    def __init__(self, postings: Postings, ix: "_SetIdx") -> None:
        self._postings, self._ix = postings, ix

    def __getitem__(self, cid: int) -> int:
        n = self._postings.length(cid, self._ix.slot)
        if n is None:
            raise KeyError(cid)
        return n

    def __len__(self) -> int:
        return self._ix.n


class _SetIdx:
    """A knowledge set in memory: its slot in the index's postings and vectors (every set's terms and vectors
    live in one store each), its number of chunks and their total length (BM25's document count and average
    length) and its number of vectors."""

    __slots__ = ("slot", "n", "total_len", "vectors", "lengths")

    def __init__(self, slot: int, postings: Postings, vectors: _Vectors) -> None:
        self.slot = slot
        self.n = 0
        self.total_len = 0
        self.vectors = _SetVectors(vectors, slot)
        self.lengths = _Lengths(postings, self)


def content_hash(title: str, markdown: str) -> str:
    return hashlib.sha256(f"{title}\x00{markdown}".encode("utf-8")).hexdigest()


def _unit(vec: Sequence[float] | np.ndarray | None) -> np.ndarray | None:
    if vec is None or len(vec) == 0:
        return None
    v = np.asarray(vec, dtype=np.float32)
    n = math.sqrt(float(v @ v))
    return v / n if n > 0 and math.isfinite(n) else None


class _VectorRows:
    """The index's words by their word-vector row (`Index._stand_ins`), kept up to date a new word at a time: the
    vocabulary only grows at its end until a compaction or a reload (then it is read again, the rows of words seen
    before coming from `WordVectors`' cache)."""

    def __init__(self) -> None:
        self._store: weakref.ref[Postings] | None = None     # not kept alive by this
        self._compactions = -1
        self._seen = 0
        self._by_row: dict[int, list[str]] = {}
        self._rows: np.ndarray | None = None
        self._matrix: np.ndarray | None = None   # those rows' vectors, contiguous

    def update(self, store: Postings, wv: wordvec.WordVectors
               ) -> tuple[np.ndarray, np.ndarray, dict[int, list[str]]]:
        """(rows, their vectors, row → the index's words), up to date with `store`'s vocabulary."""
        vocab = store.vocabulary()
        if (self._store is None or self._store() is not store or self._compactions != store.compactions
                or len(vocab) < self._seen):
            self._store, self._compactions = weakref.ref(store), store.compactions
            self._seen, self._by_row, self._rows, self._matrix = 0, {}, None, None
        if len(vocab) > self._seen:
            for t in itertools.islice(vocab, self._seen, None):
                if not t.startswith(SYNONYM_PREFIX) and (r := wv.row(t)) >= 0:
                    self._by_row.setdefault(r, []).append(t)
            self._seen = len(vocab)
            self._rows = None
        if self._rows is None or self._matrix is None:
            self._rows = np.fromiter(self._by_row.keys(), dtype=np.int64, count=len(self._by_row))
            self._matrix = np.ascontiguousarray(wv.vectors[self._rows])
        return self._rows, self._matrix, self._by_row


class Index:
    """Knowledge sets and hybrid retrieval over `core.store.Database`. One instance per process (it caches)."""

    def __init__(self, db, *, embed: Embedder | None = None, analyzer: Analyzer | None = None,
                 refresh_interval: float = 1.0, embed_batch: int = 64, synonyms: SynonymMap | None = None,
                 embed_space: str = "default") -> None:
        self.db = db
        self.embed = embed
        # Names the embeddings `embed` produces (model and document prefix). Stored vectors from another space are
        # not used: after a model change, search runs on BM25 for those documents until `reembed` brings them over.
        self.embed_space = embed_space[:300]
        self.analyzer = analyzer or sudachi()
        # administrators' synonym rules (SEARCH_SYNONYMS_FILE); with another analyser (the bigram baseline), none
        self.synonyms = synonyms or (SynonymMap.from_settings() if analyzer is None else SynonymMap())
        # Seconds between checks for other replicas' writes (0 = before every query). This process's own writes are
        # applied to memory at once; another replica's become visible within this interval.
        self.refresh_interval = refresh_interval
        self.embed_batch = embed_batch
        self._lock = asyncio.Lock()
        self._loaded = False
        self._last_check = 0.0
        self._sets: dict[int, _SetIdx] = {}
        self._postings = Postings()           # the BM25 terms of every set's chunks
        self._vectors = _Vectors()            # the vectors of every set's chunks
        self._slots: dict[int, int] = {}      # set id → its slot in the postings store (small ints, kept)
        self._set_names: dict[str, int] = {}
        self._set_by_id: dict[int, str] = {}
        self._meta: dict[int, _Meta] = {}
        self._doc_chunks: dict[int, list[int]] = {}
        self._docs: dict[int, tuple[str | None, bool]] = {}    # document id → (url, staff_written)
        self._seen_max = 0
        self._seen_count = -1
        self._applied: set[int] = set()
        self._vector_rows = _VectorRows()
        self._spelling_map: tuple[int, dict[str, tuple[str, ...]]] | None = None   # (vocabulary size, key → words)

    # ---------------------------------------------------------------- knowledge sets
    async def create_set(self, name: str, *, title: str = "", owner: str | None = None,
                         members: Iterable[str] = ()) -> SetInfo:
        """Create a knowledge set. No members = readable by all staff."""
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise SearchError("ナレッジセットの名前は1文字以上100文字以内で指定してください。")
        async with self.db.session() as s:
            if await s.scalar(select(KnowledgeSet.id).where(KnowledgeSet.name == name)) is not None:
                raise SearchError(f"ナレッジセット「{name}」は既に登録されています。")
            ks = KnowledgeSet(name=name, title=title or name, owner=owner, members=list(members),
                              created_at=utcnow())
            s.add(ks)
            await s.flush()
            info = _set_info(ks)
        self._set_names[name] = info.id
        self._set_by_id[info.id] = name
        return info

    async def update_set(self, name: str, *, title: str | None = None, owner: str | None = None,
                         members: Iterable[str] | None = None) -> SetInfo:
        async with self.db.session() as s:
            ks = await s.scalar(select(KnowledgeSet).where(KnowledgeSet.name == name))
            if ks is None:
                raise UnknownSet(f"ナレッジセット「{name}」は登録されていません。")
            if title is not None:
                ks.title = title
            if owner is not None:
                ks.owner = owner
            if members is not None:
                ks.members = list(members)
            return _set_info(ks)

    async def get_set(self, name: str) -> SetInfo | None:
        async with self.db.session() as s:
            ks = await s.scalar(select(KnowledgeSet).where(KnowledgeSet.name == name))
            return _set_info(ks) if ks else None

    async def list_sets(self) -> list[SetInfo]:
        async with self.db.session() as s:
            return [_set_info(k) for k in await s.scalars(select(KnowledgeSet).order_by(KnowledgeSet.name))]

    async def delete_set(self, name: str) -> bool:
        """Remove a set with all its documents."""
        async with self.db.session() as s:
            set_id = await s.scalar(select(KnowledgeSet.id).where(KnowledgeSet.name == name))
            if set_id is None:
                return False
            doc_ids = list(await s.scalars(select(Document.id).where(Document.set_id == set_id)))
            if doc_ids:
                await s.execute(delete(Chunk).where(Chunk.document_id.in_(doc_ids)))
                await s.execute(delete(Document).where(Document.id.in_(doc_ids)))
                s.add_all([IndexChange(set_id=set_id, document_id=d, op="delete") for d in doc_ids])
            await s.execute(delete(KnowledgeSet).where(KnowledgeSet.id == set_id))
        for d in doc_ids:
            self._drop_doc(d)
        self._set_names.pop(name, None)
        self._set_by_id.pop(set_id, None)
        self._sets.pop(set_id, None)
        return True

    # ---------------------------------------------------------------- documents
    async def upsert_document(self, set_name: str, source: str, source_key: str, title: str, url: str | None,
                              markdown: str, *, staff_written: bool = False, etag: str | None = None) -> int:
        """Add or replace a document; returns its id. Re-indexes only when title or content changed."""
        return (await self.upsert(set_name, source, source_key, title, url, markdown,
                                  staff_written=staff_written, etag=etag)).document_id

    async def upsert(self, set_name: str, source: str, source_key: str, title: str, url: str | None,
                     markdown: str, *, staff_written: bool = False, etag: str | None = None) -> UpsertResult:
        """Like `upsert_document`, telling whether the document was added, updated or unchanged."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        title = (title or source_key)[:500]
        digest = content_hash(title, markdown)
        set_id = await self._set_id(set_name)
        async with self.db.session() as s:
            doc = await s.scalar(select(Document).where(Document.set_id == set_id,
                                                        Document.source_key == source_key))
            if doc is not None and doc.content_hash == digest and not self._vectors_missing(doc.embed_space):
                changed_meta = (doc.url, doc.staff_written, doc.etag, doc.source) != (url, staff_written, etag, source)
                if changed_meta:
                    doc.url, doc.staff_written, doc.etag, doc.source = url, staff_written, etag, source
                    s.add(IndexChange(set_id=set_id, document_id=doc.id, op="upsert"))
                    self._docs[doc.id] = (url, staff_written)
                return UpsertResult(doc.id, "unchanged", len(self._doc_chunks.get(doc.id, ())))
        # Work outside the transaction: chunking, analysis and embeddings can take a while.
        pieces = chunk_markdown(markdown, title=title)
        index_texts = [_index_text(c.title, c.section, c.text) for c in pieces]
        term_lists = [chunk_terms(self.analyzer, c.title, c.section, c.text) for c in pieces]
        vectors: list[list[float] | None] = \
            await self._embed_many(index_texts) if self.embed and pieces else [None] * len(pieces)
        packed = self._pack(vectors)        # a document is embedded whole, or not at all
        blobs, dim = packed or ([None] * len(pieces), None)
        space = self.embed_space if packed is not None else None
        for attempt in (1, 2):
            try:
                async with self.db.session() as s:
                    doc = await s.scalar(select(Document).where(Document.set_id == set_id,
                                                                Document.source_key == source_key))
                    status = "updated" if doc is not None else "added"
                    if doc is None:
                        doc = Document(set_id=set_id, source=source, source_key=source_key)
                        s.add(doc)
                    else:
                        await s.execute(delete(Chunk).where(Chunk.document_id == doc.id))
                    doc.source, doc.title, doc.url, doc.etag = source, title, url, etag
                    doc.content_hash, doc.staff_written, doc.updated_at = digest, staff_written, utcnow()
                    doc.embed_space, doc.embed_dim = space, dim
                    await s.flush()
                    rows = [Chunk(document_id=doc.id, ordinal=c.ordinal, title=c.title, section=c.section[:1000],
                                  page=c.page, text=c.text, tokens=" ".join(terms), vector=blob)
                            for c, terms, blob in zip(pieces, term_lists, blobs)]
                    s.add_all(rows)
                    change = IndexChange(set_id=set_id, document_id=doc.id, op="upsert")
                    s.add(change)
                    await s.flush()
                    doc_id = doc.id
                    loaded = [(r.id, r.title, r.section, r.page, r.text, terms, self._usable(blob, space, dim))
                              for r, terms, blob in zip(rows, term_lists, blobs)]
                break
            except IntegrityError:
                # Another replica added the same document at the same moment: the retry updates its row.
                if attempt == 2:
                    raise
        if self._loaded:
            self._drop_doc(doc_id)
            self._docs[doc_id] = (url, staff_written)
            for cid, ctitle, section, page, text, terms, vec in loaded:
                self._add_chunk(cid, doc_id, set_id, ctitle, section, page, text, terms, vec)
            self._applied.add(change.id)
        return UpsertResult(doc_id, status, len(rows))

    async def delete_document(self, set_name: str, source_key: str) -> bool:
        """Remove a document and its chunks. False when there was no such document."""
        set_id = await self._set_id(set_name)
        async with self.db.session() as s:
            doc_id = await s.scalar(select(Document.id).where(Document.set_id == set_id,
                                                              Document.source_key == source_key))
            if doc_id is None:
                return False
            await s.execute(delete(Chunk).where(Chunk.document_id == doc_id))
            await s.execute(delete(Document).where(Document.id == doc_id))
            change = IndexChange(set_id=set_id, document_id=doc_id, op="delete")
            s.add(change)
            await s.flush()
        self._drop_doc(doc_id)
        self._applied.add(change.id)
        return True

    async def reembed(self, set_names: Iterable[str] | None = None) -> ReembedReport:
        """Compute vectors for stored chunks that have none from the configured embeddings (after EMBEDDINGS_MODEL
        is set or changed), from their own text: no source needs to be read again. Other replicas pick the new
        vectors up from the change log. Documents whose vectors are current are skipped, so it can be re-run."""
        if self.embed is None:
            raise SearchError("埋め込み（EMBEDDINGS_MODEL）が設定されていないため、ベクトルを作成できません。")
        async with self.db.session() as s:
            await self._reload_set_names(s)
            query = select(Document.id, Document.set_id, Document.embed_space)
            if set_names is not None:
                names = list(set_names)
                unknown = [n for n in names if n not in self._set_names]
                if unknown:
                    raise UnknownSet(f"ナレッジセット「{unknown[0]}」は登録されていません。")
                query = query.where(Document.set_id.in_([self._set_names[n] for n in names]))
            docs = (await s.execute(query.order_by(Document.id))).all()
        report = ReembedReport()
        for doc_id, set_id, space in docs:
            if not self._vectors_missing(space):
                report.current += 1
                continue
            async with self.db.session() as s:
                chunks = (await s.execute(select(Chunk.id, Chunk.title, Chunk.section, Chunk.text)
                                          .where(Chunk.document_id == doc_id).order_by(Chunk.id))).all()
            vectors = await self._embed_many([_index_text(c.title, c.section, c.text) for c in chunks])
            packed = self._pack(vectors)
            if packed is None:           # left as it was: tried again on the next run
                report.failed += sum(v is None for v in vectors) or len(vectors)
                continue
            blobs, dim = packed
            async with self.db.session() as s:
                doc = await s.get(Document, doc_id)
                if doc is None:          # deleted meanwhile
                    continue
                for c, blob in zip(chunks, blobs):
                    row = await s.get(Chunk, c.id)
                    if row is not None:
                        row.vector = blob
                doc.embed_space, doc.embed_dim = self.embed_space, dim
                s.add(IndexChange(set_id=set_id, document_id=doc_id, op="upsert"))
            report.documents += 1
            report.chunks += len(vectors)
        if self._loaded:
            await self._ensure_current(force=True)
        return report

    async def list_documents(self, set_name: str) -> dict[str, DocumentInfo]:
        """The set's documents by source key (for sync: compare etags, find what disappeared)."""
        set_id = await self._set_id(set_name)
        async with self.db.session() as s:
            docs = await s.scalars(select(Document).where(Document.set_id == set_id))
            return {d.source_key: DocumentInfo(d.id, d.source, d.source_key, d.title, d.url, d.etag,
                                               d.content_hash, d.updated_at, d.staff_written) for d in docs}

    # ---------------------------------------------------------------- search
    async def search(self, query: str, set_names: Iterable[str], k: int = 5, *, vectors: bool = True) -> list[Hit]:
        """The best `k` passages for `query` within the named sets (unknown names are ignored). `vectors=False`
        keeps the question off the embeddings endpoint (BM25 alone), e.g. when it belongs to another network tier."""
        await self._ensure_current()
        names = list(dict.fromkeys(set_names))
        for n in names:
            if n not in self._set_names:
                await self._reload_set_names()
                break
        set_ids = [self._set_names[n] for n in names if n in self._set_names]
        idxs = [self._sets[i] for i in set_ids if i in self._sets]
        if not idxs or k <= 0:
            return []
        hybrid = self.embed is not None and vectors
        embedding: asyncio.Future | None = None
        if hybrid:
            # The question's embedding runs on the embedder's thread (or over the network) while the question is
            # analysed and ranked by BM25 here; one turn of the loop hands it to that thread first.
            embedding = asyncio.ensure_future(self._embed_call([query], "query"))
            await asyncio.sleep(0)
        try:
            weights, ranked, words, guessed = self._rank_bm25(query, idxs, k, hybrid)
        except BaseException:
            if embedding is not None:
                embedding.cancel()
            raise
        depth = max(50, k * 10)
        qvec = None
        mean: float | None = None      # the question's mean cosine, for Hit.lift
        if embedding is not None:
            try:
                qvec = _unit((await embedding)[0])
            except Exception as e:  # noqa: BLE001 - the embeddings endpoint failing must not break search
                log.warning("query embedding failed, BM25 only: %s", e)
            if qvec is not None:
                mean_cos, n_vectors = self._mean_cosine(qvec, idxs)
                fused = fuse_scores(ranked, self._cosine(qvec, idxs, depth), floor=mean_cos)
                ranked = heapq.nlargest(k, fused.items(), key=lambda kv: kv[1])
                # Hit.lift: not over a handful of passages (their mean says little of the question's usual
                # similarity, and the best passage itself weighs on it), nor when the mean is ~1
                if n_vectors >= LIFT_MIN_PASSAGES and mean_cos is not None and mean_cos < 0.999:
                    mean = mean_cos
        # A word the sets never use weighs like the rarest term: a query about something absent is weakly covered.
        # Question words are the exception: documents state answers, so an unused いつ or どこ is no gap. A word
        # found only through its nearest words (`_stand_ins`) ranks passages but counts as unused here: a guess
        # from word vectors is no evidence that the sets cover the question (the weak-retrieval rule reads this).
        weights = {t: v for t, v in weights.items() if t not in guessed}
        n_docs = sum(ix.n for ix in idxs)
        rarest = math.log(1.0 + (n_docs + 0.5) / 0.5)
        unseen = rarest * sum(1 for w in words if w.term not in weights and w.term not in QUESTION_WORDS)
        total = (sum(wt for wt, _ in weights.values()) + unseen) or 1.0
        hits = []
        for cid, score in ranked[:k]:
            m = self._meta.get(cid)
            row = self._postings.row(cid)
            if m is None or row is None:     # removed while the question was being embedded
                continue
            url, staff = self._docs.get(m.document_id, (None, False))
            coverage = sum(wt for wt, alts in weights.values() if self._postings.has_any(row, alts)) / total
            sim = self._similarity(qvec, m.set_id, cid)
            lift = round((sim - mean) / (1.0 - mean), 4) if sim is not None and mean is not None else None
            hits.append(Hit(cid, float(score), m.title, m.section, m.page, url, m.text, m.document_id,
                            self._set_by_id.get(m.set_id, ""), staff, round(coverage, 4), sim, lift))
        return hits

    @staticmethod
    def _mean_cosine(qvec: np.ndarray, idxs: list[_SetIdx]) -> tuple[float | None, int]:
        """The question's mean cosine to the searched sets' passages, and their number (None, 0 without vectors)."""
        n, total = 0, None
        for ix in idxs:
            t = ix.vectors.total
            if ix.vectors.n > 0 and t is not None and t.shape == qvec.shape:
                n += ix.vectors.n
                total = t if total is None else total + t
        if total is None or n == 0:
            return None, 0
        return float(total @ qvec.astype(np.float64)) / n, n

    def _rank_bm25(self, query: str, idxs: list[_SetIdx], k: int, hybrid: bool
                   ) -> tuple[dict[str, tuple[float, tuple[str, ...]]], list[tuple[int, float]], list[QueryTerm],
                              set[str]]:
        """The question's words and their BM25 ranking (deep enough to fuse with the vectors when `hybrid`); see
        `_bm25` for the rest."""
        if self.analyzer is sudachi():
            words = list(query_terms(query))
            # hiragana the dictionary cut into fragments, read as the words the index knows (せんぷうき → 扇風機)
            kana, replaced = kana_words(query, self._postings.has_term)
            if kana:
                have = {w.term for w in words}
                words = [w for w in words if w.term not in replaced] + [w for w in kana if w.term not in have]
            # a loanword the index spells another way (サーキュレイター for サーキュレーター) stands in for it
            words = [w._replace(synonyms=(*w.synonyms, *variants)) if (variants := self._spellings(w.term)) else w
                     for w in words]
        else:
            words = [QueryTerm(t) for t in dict.fromkeys(self.analyzer.terms(query))]
        weights, ranked, guessed = self._bm25(words, idxs, self.synonyms.rules(), max(50, k * 10) if hybrid else k)
        return weights, ranked, words, guessed

    def _spellings(self, term: str) -> tuple[str, ...]:
        """The index's words spelt like `term` but for long vowels and foreign sounds (`spelling_key`), when the
        index does not have `term` itself."""
        store = self._postings
        if store.has_term(term) or not (key := spelling_key(term)):
            return ()
        size = len(store.vocabulary())
        if self._spelling_map is None or self._spelling_map[0] != size:
            by_key: dict[str, list[str]] = {}
            for t in store.vocabulary():
                if not t.startswith(SYNONYM_PREFIX) and (k := spelling_key(t)):
                    by_key.setdefault(k, []).append(t)
            self._spelling_map = (size, {k: tuple(v) for k, v in by_key.items()})
        return self._spelling_map[1].get(key, ())

    def _stand_ins(self, term: str, postings: Callable[[str], tuple[np.ndarray, np.ndarray] | None]
                   ) -> list[tuple[str, tuple[np.ndarray, np.ndarray]]]:
        """The index's words nearest to `term` by word vectors, for a word no passage uses, with their `postings`
        in the sets searched: the words of the STAND_INS nearest vector rows (at a cosine of STAND_IN_SIMILARITY or
        more) that have postings there. The map from vector rows to the index's words follows the vocabulary
        (`_VectorRows`). None with another analyser than Sudachi's, without word vectors, or for a word they do not
        know."""
        wv = wordvec.load() if STAND_INS and self.analyzer is sudachi() else None
        if wv is None or (r := wv.row(term)) < 0:
            return []
        rows, matrix, terms = self._vector_rows.update(self._postings, wv)
        if not len(rows):
            return []
        # einsum's own loop, not a BLAS product: OpenBLAS's threads spin after each product and take the core the
        # question's embedding is computed on (docs/scale.md); 0.4 ms for 5,000 rows, 2 ms for all 20,000.
        sims = np.einsum("ij,j->i", matrix, wv.vectors[r])
        out: list[tuple[str, tuple[np.ndarray, np.ndarray]]] = []
        taken = 0
        for i in np.argsort(-sims):
            if sims[i] < STAND_IN_SIMILARITY or taken == STAND_INS:
                break
            found = [(t, pl) for t in terms[int(rows[i])] if (pl := postings(t)) is not None]
            if found:
                out.extend(found)
                taken += 1
        return out

    def _bm25(self, words: list[QueryTerm], idxs: list[_SetIdx], synonyms: dict[str, tuple[str, ...]], n: int
              ) -> tuple[dict[str, tuple[float, tuple[str, ...]]], list[tuple[int, float]], set[str]]:
        """The `n` best chunks by BM25 as (chunk id, score), for each query word found: (its idf, the terms
        that matched for it), and the words found only through their nearest words (`_stand_ins`).

        A word may match through several terms: the administrators' synonyms of it, or, when the sets never use
        the word, its SudachiDict synonym groups. Those terms count as one term, as Lucene's SynonymQuery does:
        their frequencies in a passage add up and they share one idf, from the largest document frequency among
        them, so that a rare colloquial word does not outweigh the common word it stands for. A word's reading
        term (`QueryTerm.reading`: 瓶 in a query finds ビン and the reverse) scores passages that lack the word
        itself, at READING_WEIGHT.

        Each term's postings are arrays (`core.search.postings`) and are scored a term at a time, vectorised;
        chunks of equal score are ranked in the order they were first scored (word by word, set by set, in posting
        order), as a ranking of a dict filled in that order would."""
        n_docs = sum(ix.n for ix in idxs)
        total = sum(ix.total_len for ix in idxs)
        found: dict[str, tuple[float, tuple[str, ...]]] = {}
        guessed: set[str] = set()
        if not n_docs:
            return found, [], guessed
        avgdl = total / n_docs or 1.0
        c1 = K1 * (1 - B)
        c2 = K1 * B / avgdl
        store = self._postings
        pos = store.positions(ix.slot for ix in idxs)
        lengths = store.lengths
        acc = store.scores()

        def postings(term: str) -> tuple[np.ndarray, np.ndarray] | None:
            return store.lookup(term, pos)

        for w in words:
            alts = [(t, pl) for t in (w.term, *synonyms.get(w.term, ())) if (pl := postings(t)) is not None]
            if not alts:  # the sets never use the word: let its synonym groups stand in
                alts = [(g, pl) for g in w.synonyms if (pl := postings(g)) is not None]
            reading = postings(w.reading) if w.reading and all(t != w.reading for t, _ in alts) else None
            if not alts and reading is None and w.noun:  # nor those: its nearest words by word vectors
                alts = self._stand_ins(w.term, postings)
                if alts:
                    guessed.add(w.term)
            if not alts and reading is None:
                continue
            df = max((len(rows) for _, (rows, _) in alts), default=0)
            if alts:
                idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
                found[w.term] = (idf, tuple(t for t, _ in alts))
                wgt = idf * (K1 + 1)
                if len(alts) == 1:
                    rows, tfs = alts[0][1]
                    acc.add(rows, wgt * tfs / (tfs + c1 + c2 * lengths[rows]), acc.visit())
                else:
                    tf_sum = np.zeros(len(lengths), dtype=np.int64)
                    met = np.zeros(len(lengths), dtype=np.int32)     # the visit that met a chunk first
                    for _, (rows, tfs) in alts:
                        visit = acc.visit()
                        met[rows[tf_sum[rows] == 0]] = visit
                        tf_sum[rows] += tfs
                    rows = np.flatnonzero(tf_sum)
                    tf = tf_sum[rows]
                    acc.add(rows, wgt * tf / (tf + c1 + c2 * lengths[rows]), met[rows])
            if reading is not None:
                # Other spellings found by reading (ビン → 瓶): passages without the word itself score at
                # READING_WEIGHT of it, with an idf from the larger document frequency of the two.
                rows, tfs = reading
                df = max(df, len(rows))
                idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
                if w.term not in found:
                    found[w.term] = (idf, (w.reading,))
                else:
                    found[w.term] = (found[w.term][0], (*found[w.term][1], w.reading))
                if alts:
                    has_word = np.zeros(len(lengths), dtype=bool)
                    for _, (alt_rows, _) in alts:
                        has_word[alt_rows] = True
                    keep = ~has_word[rows]
                    rows, tfs = rows[keep], tfs[keep]
                wgt = READING_WEIGHT * idf * (K1 + 1)
                if len(rows):
                    acc.add(rows, wgt * tfs / (tfs + c1 + c2 * lengths[rows]), acc.visit())
        rows, scores = acc.top(n, pos)
        return found, [(int(c), float(sc)) for c, sc in zip(store.cids(rows), scores)], guessed

    def _similarity(self, qvec: np.ndarray | None, set_id: int, cid: int) -> float | None:
        ix = self._sets.get(set_id)
        if ix is None or qvec is None:
            return None
        vec = ix.vectors.get(cid)
        return round(float(vec @ qvec), 4) if vec is not None and vec.shape == qvec.shape else None

    def _cosine(self, qvec: np.ndarray, idxs: list[_SetIdx], depth: int) -> list[tuple[int, float]]:
        """The `depth` chunks of the searched sets most similar to the question (cosine of unit vectors), best
        first; equal similarities in the order of the sets asked, then by chunk id. One matrix-vector product over
        all sets' vectors (or over the searched sets' rows, when they are a small part of them)."""
        ids, mat = self._vectors.matrix()
        if not len(ids) or mat.shape[1] != qvec.shape[0] or depth <= 0:
            return []
        lut = np.full(len(self._slots) + 1, -1, dtype=np.int32)       # set slot → position among the asked sets
        for i, ix in enumerate(idxs):
            if lut[ix.slot] < 0:
                lut[ix.slot] = i
        pos = lut[self._vectors.slots()]
        rows = np.flatnonzero(pos >= 0)
        first = self._quantized_first_pass(qvec, mat, pos, len(rows), depth) if 4 * len(rows) >= 3 * len(ids) else None
        if first is not None:
            rows, sims = first
        elif len(rows) == len(ids):
            sims = mat @ qvec
        elif 3 * len(rows) < len(ids):
            sims = mat[rows] @ qvec
        else:
            sims = (mat @ qvec)[rows]
        if len(rows) > depth:
            kth = np.partition(sims, len(sims) - depth)[len(sims) - depth]
            keep = np.flatnonzero(sims >= kth)
            rows, sims = rows[keep], sims[keep]
        order = np.lexsort((ids[rows], pos[rows], -sims))[:depth]
        return [(int(ids[r]), float(sc)) for r, sc in zip(rows[order], sims[order])]

    def _quantized_first_pass(self, qvec: np.ndarray, mat: np.ndarray, pos: np.ndarray, asked: int, depth: int
                              ) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, exact cosines) of the asked rows among the quantized scan's best candidates, when they provably
        hold the exact top `depth`; None when they may not (or there is no quantized scan): then the caller
        computes the exact product over all rows. The proof: every row left out scores at most `floor` (the
        lowest approximate score among the candidates plus the scan's error bound), and the asked candidates'
        `depth`-th exact cosine is above it, so no row left out can be among the `depth` best or tie with them."""
        sq = self._vectors.quantized()
        if sq is None or len(sq) != len(mat) or asked <= depth:
            return None
        n = max(QUANTIZED_CANDIDATES, 8 * depth) * len(mat) // asked    # as many of the asked sets' rows
        if n > QUANTIZED_MAX_CANDIDATES or n >= len(mat) // 2:
            return None
        cand, lowest = sq.best(qvec, n)
        cand = cand[pos[cand] >= 0]
        if len(cand) < depth:
            return None
        sims = mat[cand] @ qvec
        kth = np.partition(sims, len(sims) - depth)[len(sims) - depth]
        if not kth > lowest + sq.bound(qvec):
            return None
        return cand, sims

    # ---------------------------------------------------------------- embeddings
    async def _embed_call(self, texts: list[str], purpose: str) -> list[list[float]]:
        if self.embed is None:  # callers check first; this guards a misuse
            raise RuntimeError("no embeddings endpoint configured")
        res = self.embed(texts, purpose)
        if inspect.isawaitable(res):
            res = await res
        return list(res)

    async def _embed_many(self, texts: list[str]) -> list[list[float] | None]:
        out: list[list[float] | None] = []
        for i in range(0, len(texts), self.embed_batch):
            batch = texts[i:i + self.embed_batch]
            try:
                vecs = await self._embed_call(batch, "document")
                if len(vecs) != len(batch):
                    raise ValueError(f"{len(vecs)} embeddings for {len(batch)} texts")
                out.extend([list(map(float, v)) for v in vecs])
            except Exception as e:  # noqa: BLE001 - ingest goes on with BM25 only for these chunks
                log.warning("embedding failed for %d chunks, indexed for BM25 only: %s", len(batch), e)
                out.extend([None] * len(batch))
        return out

    # ---------------------------------------------------------------- in-memory index upkeep
    async def refresh(self) -> None:
        """Load the index (first call) or replay changes made since (by this or another process)."""
        await self._ensure_current(force=True)

    async def _ensure_current(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and self._loaded and self.refresh_interval and now - self._last_check < self.refresh_interval:
            return
        async with self._lock:
            if not self._loaded:
                await self._load_all()
            else:
                await self._catch_up()
            self._last_check = time.monotonic()

    async def _load_all(self) -> None:
        async with self.db.session() as s:
            low = await s.scalar(select(func.max(IndexChange.id))) or 0
            low = max(0, low - _CHANGE_WINDOW)
            changes = list(await s.scalars(select(IndexChange.id).where(IndexChange.id > low)))
            await self._reload_set_names(s)
            sizes = dict((await s.execute(select(Document.set_id, func.count(Chunk.id))
                                          .join(Document, Document.id == Chunk.document_id)
                                          .group_by(Document.set_id))).tuples().all())
            self._reset()
            self._vectors.reserve(sum(sizes.values()))
            # Streamed in batches: the rows (texts, terms, vectors) are never all in memory at once.
            result = await s.stream(
                select(Chunk.id, Chunk.document_id, Document.set_id, Chunk.title, Chunk.section, Chunk.page,
                       Chunk.text, Chunk.tokens, Chunk.vector, Document.url, Document.staff_written,
                       Document.embed_space, Document.embed_dim)
                .join(Document, Document.id == Chunk.document_id).order_by(Chunk.id))
            other_space: set[int] = set()
            strings: dict[str, str] = {}      # one copy of each title and section path, shared by its chunks
            self._postings.begin_bulk()
            try:
                async for part in result.partitions(2000):
                    for r in part:
                        self._docs[r.document_id] = (r.url, r.staff_written)
                        vec = self._usable(r.vector, r.embed_space, r.embed_dim, r.id)
                        if self.embed and vec is None:
                            other_space.add(r.document_id)
                        self._add_chunk(r.id, r.document_id, r.set_id, strings.setdefault(r.title, r.title),
                                        strings.setdefault(r.section, r.section), r.page, r.text,
                                        r.tokens.split(), vec)
            finally:
                self._postings.end_bulk()
        self._vectors.trim()
        if other_space:
            log.warning("%d documents have no vectors from the configured embeddings (%s): they are searched by "
                        "BM25 only until `python -m bot reembed`", len(other_space), self.embed_space)
        self._applied = set(changes)
        self._seen_max = max(changes, default=low)
        self._seen_count = len(changes)
        self._loaded = True
        if STAND_INS and self.analyzer is sudachi():
            # the vocabulary's word-vector rows, looked up on a thread before the first unknown word needs them
            words = [t for t in self._postings.vocabulary() if not t.startswith(SYNONYM_PREFIX)]
            asyncio.get_running_loop().run_in_executor(None, _warm_rows, words)

    async def _catch_up(self) -> None:
        """Replay changes not applied yet. The log is re-read a window behind the newest id seen, because with
        several writers a smaller id can commit after a larger one; a cheap count/max probe skips the read when
        nothing in that window changed."""
        low = max(0, self._seen_max - _CHANGE_WINDOW)
        async with self.db.session() as s:
            count, top = (await s.execute(select(func.count(IndexChange.id), func.max(IndexChange.id))
                                          .where(IndexChange.id > low))).one()
            if (count, top or self._seen_max) == (self._seen_count, self._seen_max):
                return
            rows = (await s.execute(select(IndexChange.id, IndexChange.document_id)
                                    .where(IndexChange.id > low))).all()
            doc_ids = sorted({r.document_id for r in rows if r.id not in self._applied})
            if doc_ids:
                await self._reload_set_names(s)
                docs = {d.id: d for d in await s.scalars(select(Document).where(Document.id.in_(doc_ids)))}
                chunks = (await s.execute(
                    select(Chunk.id, Chunk.document_id, Chunk.title, Chunk.section, Chunk.page, Chunk.text,
                           Chunk.tokens, Chunk.vector).where(Chunk.document_id.in_(doc_ids))
                    .order_by(Chunk.id))).all()
                for d in doc_ids:
                    self._drop_doc(d)
                for d in docs.values():
                    self._docs[d.id] = (d.url, d.staff_written)
                for r in chunks:
                    d = docs.get(r.document_id)
                    if d is not None:
                        self._add_chunk(r.id, r.document_id, d.set_id, r.title, r.section, r.page, r.text,
                                        r.tokens.split(),
                                        self._usable(r.vector, d.embed_space, d.embed_dim, r.id))
        ids = [r.id for r in rows]
        self._seen_max = max([self._seen_max, *ids])
        new_low = max(0, self._seen_max - _CHANGE_WINDOW)
        self._applied = {i for i in self._applied.union(ids) if i > new_low}
        self._seen_count = sum(1 for i in ids if i > new_low)

    async def _reload_set_names(self, s=None) -> None:
        if s is None:
            async with self.db.session() as s2:
                rows = (await s2.execute(select(KnowledgeSet.id, KnowledgeSet.name))).all()
        else:
            rows = (await s.execute(select(KnowledgeSet.id, KnowledgeSet.name))).all()
        self._set_names = {r.name: r.id for r in rows}
        self._set_by_id = {r.id: r.name for r in rows}

    async def _set_id(self, name: str) -> int:
        sid = self._set_names.get(name)
        if sid is None:
            await self._reload_set_names()
            sid = self._set_names.get(name)
        if sid is None:
            raise UnknownSet(f"ナレッジセット「{name}」は登録されていません。")
        return sid

    def _reset(self) -> None:
        self._sets.clear()
        self._postings = Postings()
        self._vectors = _Vectors()
        self._meta.clear()
        self._doc_chunks.clear()
        self._docs.clear()

    def _usable(self, blob: bytes | None, space: str | None, dim: int | None, cid: int | None = None
                ) -> np.ndarray | None:
        """A stored vector, if search can use it: embeddings are configured and it is from their space. A blob
        that is not a vector of the document's dimension is ignored with a warning (that passage: BM25 only)."""
        if blob is None or self.embed is None or space != self.embed_space:
            return None
        try:
            return decode_vector(blob, dim)
        except VectorFormatError as e:
            log.warning("chunk %s: stored vector ignored (BM25 only; register the document again): %s", cid, e)
            return None

    def _vectors_missing(self, space: str | None) -> bool:
        """With embeddings configured: the document has no complete set of vectors from them. A document's
        `embed_space` is set only when every chunk got a vector, so this needs no look at the chunks."""
        return self.embed is not None and space != self.embed_space

    def _pack(self, vectors: list[list[float] | None]) -> tuple[list[bytes | None], int | None] | None:
        """The stored form of one document's chunk vectors (core.search.vectors) and their dimension (None for a
        document without chunks); None unless embeddings are configured and every vector is there, finite and of
        one dimension: the document is then stored without vectors (`embed_space` NULL)."""
        if self.embed is None or any(v is None for v in vectors):
            return None
        try:
            blobs: list[bytes | None] = [encode_vector(v) for v in vectors if v is not None]
        except VectorFormatError as e:
            log.warning("embeddings returned an unusable vector, indexed for BM25 only: %s", e)
            return None
        dims = {vector_dim(b) for b in blobs}
        if len(dims) > 1:
            log.warning("embeddings returned vectors of %d different dimensions, indexed for BM25 only", len(dims))
            return None
        return blobs, (dims.pop() if dims else None)

    def _set_idx(self, set_id: int) -> _SetIdx:
        ix = self._sets.get(set_id)
        if ix is None:
            slot = self._slots.setdefault(set_id, len(self._slots))
            self._sets[set_id] = ix = _SetIdx(slot, self._postings, self._vectors)
        return ix

    def _add_chunk(self, cid, doc_id, set_id, title, section, page, text, terms, embedding) -> None:
        counts = Counter(terms)
        self._meta[cid] = _Meta(doc_id, set_id, title, section, page, text)
        self._doc_chunks.setdefault(doc_id, []).append(cid)
        ix = self._set_idx(set_id)
        if cid in self._postings:
            self._remove_chunk(cid, ix)
        length = sum(tf for t, tf in counts.items() if not t.startswith(SYNONYM_PREFIX))
        self._postings.add(cid, ix.slot, counts, length)
        ix.n += 1
        ix.total_len += length
        vector = _unit(embedding)
        if vector is not None:
            if self._vectors.put(cid, vector, ix.slot):
                ix.vectors.n += 1
                ix.vectors.add(vector)
            else:
                log.warning("chunk %d: vector of dimension %d where the others have %s, ignored (BM25 only)",
                            cid, vector.shape[0], self._vectors.dim)

    def _remove_chunk(self, cid: int, ix: _SetIdx | None) -> None:
        length = self._postings.remove(cid)
        vec = self._vectors.get(cid)
        if ix is not None and vec is not None:
            ix.vectors.add(vec, -1)                 # before pop() fills the row with another chunk's vector
        had_vector = self._vectors.pop(cid)
        if ix is not None:
            if length is not None:
                ix.n -= 1
                ix.total_len -= length
            ix.vectors.n -= had_vector

    def _drop_doc(self, doc_id: int) -> None:
        for cid in self._doc_chunks.pop(doc_id, []):
            m = self._meta.pop(cid, None)
            if m is not None:
                self._remove_chunk(cid, self._sets.get(m.set_id))
        self._docs.pop(doc_id, None)


def _warm_rows(words: list[str]) -> None:
    try:
        wv = wordvec.load()
        if wv is not None:
            wv.warm(words)
    except Exception:  # noqa: BLE001 - a warm-up only: the rows are looked up again when needed
        log.warning("word-vector rows not warmed", exc_info=True)


def fuse_scores(bm25: list[tuple[int, float]], cosine: list[tuple[int, float]], *, floor: float | None = None
                ) -> dict[int, float]:
    """One score per chunk from the two rankings (each best first): (1 - VECTOR_WEIGHT) x its BM25 score over the
    best one, plus VECTOR_WEIGHT x its cosine scaled from a floor (0) to the best (1), not below 0 — so a passage
    far down the vector list counts as if it were not in it. The floor is the FUSION_DEPTH-th cosine, or `floor`
    (the question's mean cosine to the passages searched) when that is higher: in a set of a handful of passages
    the last of them is no measure of "unrelated", and scaling to it would make every small difference in meaning
    as large as a whole BM25 ranking. The scales are the question's own, so a flat BM25 list of common words weighs
    little beside a clear vector ranking, and the other way round; the cosine's scale is the model's, but only its
    order and spread within the question's results matter here."""
    fused: dict[int, float] = {}
    if bm25 and bm25[0][1] > 0:
        best = bm25[0][1]
        for cid, score in bm25:
            fused[cid] = (1.0 - VECTOR_WEIGHT) * score / best
    if cosine:
        hi, lo = cosine[0][1], cosine[min(len(cosine), FUSION_DEPTH) - 1][1]
        if floor is not None and lo < floor < hi:
            lo = floor
        span = hi - lo
        for cid, sim in cosine:
            scaled = (sim - lo) / span if span > 0 else 1.0
            fused[cid] = fused.get(cid, 0.0) + VECTOR_WEIGHT * max(0.0, scaled)
    return fused


def chunk_terms(analyzer: Analyzer, title: str, section: str, text: str) -> list[str]:
    """The terms BM25 counts for a passage: its headings twice, then its text (with the Sudachi analyser, plus
    synonym-group and reading terms), then QUESTION_WEIGHT times more the question of an FAQ-shaped passage
    (`faq_question`: a question it opens with, or a heading that asks one), so that a user's question meets the
    FAQ's question before words its answer happens to share. Stored in
    `search_chunks.tokens`; a migration recomputes them when this changes (0009, 0015)."""
    analyse = getattr(analyzer, "index_terms", analyzer.terms)
    headings = analyse(_index_text(title, section, ""))
    question = faq_question(title, section, text)
    return headings + headings + analyse(text) + (analyse(question) * QUESTION_WEIGHT if question else [])


def _index_text(title: str, section: str, text: str) -> str:
    return "\n".join(p for p in (title, section, text) if p)


def _set_info(ks: KnowledgeSet) -> SetInfo:
    return SetInfo(ks.id, ks.name, ks.title, ks.owner, list(ks.members or []), ks.created_at)


async def readable_sets(user_aad_id: str | None, group_ids: Iterable[str], db) -> list[str]:
    """Names of the knowledge sets this person may search: sets without members (everyone), sets listing the
    user's AAD object id or one of their groups, and sets they own. Ids compare case-insensitively."""
    me = (user_aad_id or "").strip().lower()
    groups = {g.strip().lower() for g in group_ids if g and g.strip()}
    async with db.session() as s:
        rows = (await s.execute(select(KnowledgeSet.name, KnowledgeSet.owner, KnowledgeSet.members)
                                .order_by(KnowledgeSet.name))).all()
    out = []
    for name, owner, members in rows:
        ids = {str(m).strip().lower() for m in (members or []) if str(m).strip()}
        if not ids or (me and (me in ids or me == (owner or "").strip().lower())) or (ids & groups):
            out.append(name)
    return out


__all__ = ["Index", "Hit", "SetInfo", "DocumentInfo", "UpsertResult", "SearchError", "UnknownSet",
           "readable_sets", "Embedder", "content_hash", "chunk_terms", "K1", "B", "VECTOR_WEIGHT", "SOURCES",
           "fuse_scores"]
