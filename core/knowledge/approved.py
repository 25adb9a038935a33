"""Approved answers: question/answer pairs written by staff (in kintone, in the Teams fallback channel, or imported
from a CSV file) that answer a new question directly, without retrieval or the LLM, when it is close enough.

Each pair belongs to one knowledge set, has an owner (who answered), a source, and an expiry; a pair that expired or
was revoked never matches, and only pairs of the sets the caller passes (the sets the asker may read) are looked at.

Closeness is judged on the question only, conservatively, because the answer goes out without any model checking it:

* Words: both questions are analysed by the index's Japanese analyser (`core.search.text.query_terms`: Sudachi
  normalized forms, compounds with their parts, SudachiDict synonym groups). A whole word of one question is found
  in the other when the same term, a term of the same synonym group (年休 / 年次休暇), or all the parts of a compound
  occur there. `overlap` is the smaller of the two shares of whole words found (a short approved question does not
  match a long question that merely contains it, nor the other way round).
* Meaning: when an embedder is given (the knowledge index's, so the same vectors), the two questions' cosine must
  also reach `min_similarity`. It confirms a word match; it never makes one on its own (embedding models rate
  「年次休暇は何日ありますか」 and 「年次休暇は何日繰り越せますか」 as near-identical)."""
from __future__ import annotations

import csv
import inspect
import io
import logging
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
from sqlalchemy import delete, func, or_, select, update

from core.knowledge.models import ApprovedAnswer
from core.search.index import Embedder
from core.search.text import QueryTerm, query_terms
from core.timeutil import JST, as_jst

log = logging.getLogger(__name__)

SOURCES = ("kintone", "teams", "csv")
MAX_QUESTION = 1000
MAX_ANSWER = 4000
MAX_CANDIDATES = 5000          # active pairs looked at per question (newest first)
MAX_CSV_ROWS = 1000


@dataclass(frozen=True)
class Approved:
    id: int
    set_name: str
    question: str
    answer: str
    owner_name: str
    owner_id: str | None
    source: str
    source_ref: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """"active", "expired" or "revoked"."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def active(self, now: datetime) -> bool:
        return self.state(now) == "active"


def _of(row: ApprovedAnswer) -> Approved:
    return Approved(row.id, row.set_name, row.question, row.answer, row.owner_name or "", row.owner_id, row.source,
                    row.source_ref, row.created_at, row.updated_at, row.expires_at, row.revoked_at)


@dataclass(frozen=True)
class NewApproved:
    set_name: str
    question: str
    answer: str
    source: str
    expires_at: datetime | None
    owner_name: str = ""
    owner_id: str | None = None
    source_ref: str | None = None


@dataclass(frozen=True)
class ApprovedMatch:
    approved: Approved
    overlap: float                 # share of whole words found both ways (the smaller), 0–1
    similarity: float | None       # cosine of the two questions, when vectors were compared


# ------------------------------------------------------------------------------------------------ expiry dates

def expiry_from_date(day: date) -> datetime:
    """A pair valid through `day` (JST) expires at the start of the next day, JST."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=JST)


def expiry_date(expires_at: datetime | None) -> date | None:
    """The last JST day a pair is valid (for display and the edit form)."""
    jst = as_jst(expires_at)
    return (jst - timedelta(microseconds=1)).date() if jst is not None else None


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


def parse_date(value: str) -> date | None:
    """2026-03-31, 2026/3/31, 2026年3月31日 (full-width digits too); "" → None; anything else raises ValueError."""
    text = unicodedata.normalize("NFKC", value or "").strip()
    if not text:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(value)


# ------------------------------------------------------------------------------------------------ word overlap

@dataclass(frozen=True)
class _Words:
    whole: tuple[QueryTerm, ...]           # whole words (compounds and simple words)
    parts: dict[str, tuple[str, ...]]      # compound → its part terms
    terms: frozenset[str]                  # every term, parts included
    groups: frozenset[str]                 # synonym-group terms of the whole words


@lru_cache(maxsize=8192)
def _words(text: str) -> _Words:
    terms = query_terms(" ".join((text or "").split())[:MAX_QUESTION])
    names = [t.term for t in terms]
    # The analyser lists a compound's parts after it (粗大ごみ → 粗大, ごみ); a part is a term inside another term.
    parts_of = {t: tuple(p for p in names if p != t and p in t) for t in names}
    part_terms = {p for ps in parts_of.values() for p in ps}
    whole = tuple(t for t in terms if t.term not in part_terms)
    return _Words(whole, {t.term: parts_of[t.term] for t in whole if parts_of[t.term]}, frozenset(names),
                  frozenset(g for t in whole for g in t.synonyms))


def _found(word: QueryTerm, parts: tuple[str, ...], other: _Words) -> bool:
    if word.term in other.terms or not other.groups.isdisjoint(word.synonyms):
        return True
    return bool(parts) and all(p in other.terms for p in parts)


def _coverage(x: _Words, y: _Words) -> float:
    if not x.whole:
        return 0.0
    return sum(_found(w, x.parts.get(w.term, ()), y) for w in x.whole) / len(x.whole)


def _overlap(a: _Words, b: _Words) -> float:
    return round(min(_coverage(a, b), _coverage(b, a)), 4)


def overlap(a: str, b: str) -> float:
    """How closely two questions share their words, 0–1 (see the module's docstring)."""
    return _overlap(_words(a), _words(b))


def _unit(vec: Sequence[float] | None) -> np.ndarray | None:
    if not vec:
        return None
    v = np.asarray(vec, dtype=np.float32)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else None


# ------------------------------------------------------------------------------------------------ the store

class ApprovedAnswers:
    """The approved pairs on `core.store.Database`. Cheap to build: make one per use with the index's embedder
    (`embed`, `embed_space` of `services.knowledge`) so that questions are compared in the index's vector space."""

    def __init__(self, db, *, embed: Embedder | None = None, embed_space: str = "") -> None:
        self.db = db
        self.embed = embed
        self.embed_space = (embed_space or "")[:300]

    async def add(self, item: NewApproved, *, now: datetime) -> Approved:
        return (await self.add_many([item], now=now))[0]

    async def add_many(self, items: Sequence[NewApproved], *, now: datetime) -> list[Approved]:
        """Add pairs in one transaction: all of them, or (on any error) none."""
        rows = []
        for it in items:
            if it.source not in SOURCES:
                raise ValueError(f"unknown source {it.source!r}")
            rows.append(ApprovedAnswer(
                set_name=it.set_name[:100], question=it.question.strip()[:MAX_QUESTION],
                answer=it.answer.strip()[:MAX_ANSWER], owner_name=(it.owner_name or "")[:200],
                owner_id=(it.owner_id or None) and it.owner_id[:64], source=it.source,
                source_ref=(it.source_ref or None) and it.source_ref[:200], created_at=now, updated_at=now,
                expires_at=it.expires_at))
        async with self.db.session() as s:
            s.add_all(rows)
            await s.flush()
            return [_of(r) for r in rows]

    async def get(self, approved_id: int) -> Approved | None:
        async with self.db.session() as s:
            row = await s.get(ApprovedAnswer, approved_id)
            return _of(row) if row is not None else None

    async def page(self, set_names: Iterable[str], *, offset: int = 0, limit: int = 10) -> tuple[list[Approved], int]:
        """The sets' pairs, newest first (active, expired and revoked alike), and how many there are in all."""
        names = list(dict.fromkeys(set_names))
        if not names:
            return [], 0
        where = ApprovedAnswer.set_name.in_(names)
        async with self.db.session() as s:
            total = await s.scalar(select(func.count(ApprovedAnswer.id)).where(where)) or 0
            rows = await s.scalars(select(ApprovedAnswer).where(where)
                                   .order_by(ApprovedAnswer.created_at.desc(), ApprovedAnswer.id.desc())
                                   .offset(max(0, offset)).limit(max(1, limit)))
            return [_of(r) for r in rows], int(total)

    async def update(self, approved_id: int, *, now: datetime, question: str | None = None,
                     answer: str | None = None, expires_at: datetime | None = None) -> Approved | None:
        """Change a pair; saving it approves it again (a revoked pair becomes active until its expiry)."""
        async with self.db.session() as s:
            row = await s.get(ApprovedAnswer, approved_id)
            if row is None:
                return None
            if question is not None and question.strip() != row.question:
                row.question = question.strip()[:MAX_QUESTION]
                row.embedding, row.embed_space = None, None
            if answer is not None:
                row.answer = answer.strip()[:MAX_ANSWER]
            if expires_at is not None:
                row.expires_at = expires_at
            row.revoked_at = None
            row.updated_at = now
            return _of(row)

    async def revoke(self, approved_id: int, *, now: datetime) -> Approved | None:
        """Expire a pair now (it stays listed, and editing it approves it again)."""
        async with self.db.session() as s:
            row = await s.get(ApprovedAnswer, approved_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = now
                row.updated_at = now
            return _of(row)

    async def delete(self, approved_id: int) -> Approved | None:
        async with self.db.session() as s:
            row = await s.get(ApprovedAnswer, approved_id)
            if row is None:
                return None
            gone = _of(row)
            await s.execute(delete(ApprovedAnswer).where(ApprovedAnswer.id == approved_id))
            return gone

    async def match(self, question: str, set_names: Iterable[str], *, now: datetime, min_overlap: float,
                    min_similarity: float | None = None, vectors: bool = True) -> ApprovedMatch | None:
        """The active pair of these sets closest to `question`, if close enough: word overlap at least
        `min_overlap` and, when vectors are compared (an embedder, `vectors`, `min_similarity` set), cosine at least
        `min_similarity`. Ties go to the newer pair."""
        names = list(dict.fromkeys(set_names))
        asked = _words(question)
        if not names or not asked.whole:
            return None
        async with self.db.session() as s:
            rows = (await s.execute(
                select(ApprovedAnswer.id, ApprovedAnswer.question, ApprovedAnswer.embedding,
                       ApprovedAnswer.embed_space)
                .where(ApprovedAnswer.set_name.in_(names), ApprovedAnswer.revoked_at.is_(None),
                       or_(ApprovedAnswer.expires_at.is_(None), ApprovedAnswer.expires_at > now))
                .order_by(ApprovedAnswer.id.desc()).limit(MAX_CANDIDATES))).all()
        scored = [(r, ov) for r in rows if (ov := _overlap(asked, _words(r.question))) >= min_overlap]
        if not scored:
            return None
        sims: dict[int, float] = {}
        if vectors and self.embed is not None and min_similarity is not None:
            sims = await self._similarities(question, [r for r, _ in scored])
        best: tuple[float, float, int] | None = None
        for r, ov in scored:
            sim = sims.get(r.id)
            if sims and (sim is None or min_similarity is None or sim < min_similarity):
                continue
            key = (ov, sim if sim is not None else 0.0, r.id)
            if best is None or key > best:
                best = key
        if best is None:
            return None
        found = await self.get(best[2])
        if found is None:            # deleted meanwhile
            return None
        return ApprovedMatch(found, best[0], sims.get(found.id))

    async def _similarities(self, question: str, rows: list) -> dict[int, float]:
        """Cosine between the question and each candidate's question (both embedded as queries). Candidates without
        a vector in the current space get one, stored for next time. Empty when the embedder fails: the word match
        alone decides then."""
        missing = [r for r in rows if not r.embedding or r.embed_space != self.embed_space]
        try:
            texts = [question] + [r.question for r in missing]
            vecs = await self._embed(texts)
            if len(vecs) != len(texts):
                raise ValueError(f"{len(vecs)} embeddings for {len(texts)} texts")
        except Exception as e:  # noqa: BLE001 - approved answers must not fail because the embedder does
            log.warning("approved answers: embedding failed, comparing words only: %s", e)
            return {}
        qvec = _unit(vecs[0])
        fresh = {r.id: list(map(float, v)) for r, v in zip(missing, vecs[1:])}
        if fresh:
            async with self.db.session() as s:
                for rid, vec in fresh.items():
                    await s.execute(update(ApprovedAnswer).where(ApprovedAnswer.id == rid)
                                    .values(embedding=vec, embed_space=self.embed_space))
        if qvec is None:
            return {}
        out: dict[int, float] = {}
        for r in rows:
            v = _unit(fresh.get(r.id) or r.embedding)
            if v is not None and v.shape == qvec.shape:
                out[r.id] = round(float(v @ qvec), 4)
        return out

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        if self.embed is None:
            raise RuntimeError("no embedder")
        res = self.embed(texts, "query")      # question against question: both as queries
        if inspect.isawaitable(res):
            res = await res
        return list(res)


# ------------------------------------------------------------------------------------------------ CSV import

@dataclass(frozen=True)
class CsvRow:
    line: int
    question: str
    answer: str
    expires: date | None


HEADER_WORDS = {"質問", "question", "問"}


def decode_csv(data: bytes) -> str | None:
    """UTF-8 (with or without BOM), else Shift_JIS (cp932, as Excel saves it); None when neither fits."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def read_csv(data: bytes, *, today: date) -> tuple[list[CsvRow], list[str]]:
    """Rows 質問,回答[,有効期限] (a header row is optional) and the problems found, one Japanese line each with its
    line number. The caller imports nothing when there is any problem."""
    text = decode_csv(data)
    if text is None:
        return [], ["文字コードを判別できませんでした。UTF-8 または Shift_JIS で保存したCSVファイルを送信してください。"]
    rows: list[CsvRow] = []
    errors: list[str] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    first = True
    try:
        for cells in reader:
            line = reader.line_num
            cells = [c.strip() for c in cells]
            if not any(cells):
                continue
            if first and unicodedata.normalize("NFKC", cells[0]).lower() in HEADER_WORDS:
                first = False
                continue
            first = False
            if len(cells) < 2:
                errors.append(f"{line}行目: 「質問,回答」の2列が必要です。")
                continue
            if any(cells[3:]):
                errors.append(f"{line}行目: 列が多すぎます（質問,回答,有効期限 の3列までです）。")
                continue
            question, answer = cells[0], cells[1]
            if not question or not answer:
                errors.append(f"{line}行目: {'質問' if not question else '回答'}が空欄です。")
                continue
            if len(question) > MAX_QUESTION or len(answer) > MAX_ANSWER:
                errors.append(f"{line}行目: 質問は{MAX_QUESTION}文字以内、回答は{MAX_ANSWER}文字以内にしてください。")
                continue
            raw = cells[2] if len(cells) > 2 else ""
            try:
                expires = parse_date(raw)
            except ValueError:
                errors.append(f"{line}行目: 有効期限「{raw[:20]}」を日付として読み取れません（例: 2026-03-31）。")
                continue
            if expires is not None and expires < today:
                errors.append(f"{line}行目: 有効期限（{expires:%Y-%m-%d}）が既に過ぎています。")
                continue
            rows.append(CsvRow(line, question, answer, expires))
    except csv.Error as e:
        errors.append(f"{reader.line_num}行目: CSVとして読み取れません（{str(e)[:80]}）。")
    if len(rows) > MAX_CSV_ROWS:
        errors.append(f"一度に取り込めるのは{MAX_CSV_ROWS}行までです（{len(rows)}行あります）。")
    if not rows and not errors:
        errors.append("取り込む行がありません。1行に「質問,回答[,有効期限]」の形で記入してください。")
    return rows, errors


__all__ = ["Approved", "ApprovedAnswers", "ApprovedMatch", "NewApproved", "CsvRow", "SOURCES", "overlap",
           "read_csv", "decode_csv", "parse_date", "expiry_from_date", "expiry_date"]
