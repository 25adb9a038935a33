"""Building digests: the candidate corpus (loaded once per run) and the per-user ranking.

Score of an item for a user = source weight + recency + matches of the item's SudachiPy terms (title + feed text,
computed once when the item was stored) against the profile: keywords (strong), department / job title (weak),
terms learned from 👍/👎 (signed), chosen tags, and the user's own sources. The ranking is an inverted-index walk:
per user it touches only the items that share a term or a tag, plus the best items by base score."""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select

from skills.news import strings as S
from skills.news.models import NewsDelivery, NewsItem, NewsProfile, NewsSource, NewsSummary
from skills.news.parse import cut_sentences

KEYWORD_WEIGHT = 3.0
ORG_WEIGHT = 1.0
TAG_WEIGHT = 2.0
OWN_SOURCE_WEIGHT = 2.0
RECENCY_WEIGHT = 1.5
LEARN_STEP = 0.5
LEARN_CAP = 3.0
LEARN_TERMS = 12
MAX_DF_RATIO = 0.25
MIN_MAX_DF = 20


@dataclass
class CorpusItem:
    id: int
    title: str
    url: str | None
    source_id: int
    source_title: str
    source_url: str
    personal_source: bool
    tags: tuple[str, ...]
    published: datetime | None
    summary: str
    ai_summary: bool
    terms: frozenset[str]
    base: float


@dataclass
class RankedItem:
    item: CorpusItem
    score: float
    group: str


@dataclass
class Digest:
    day: date
    items: list[RankedItem]

    @property
    def ai_used(self) -> bool:
        return any(r.item.ai_summary for r in self.items)

    @property
    def ids(self) -> list[int]:
        return [r.item.id for r in self.items]

    def groups(self) -> list[tuple[str, list[RankedItem]]]:
        out: dict[str, list[RankedItem]] = {}
        for r in self.items:
            out.setdefault(r.group, []).append(r)
        return list(out.items())


@dataclass
class Corpus:
    items: list[CorpusItem]
    by_id: dict[int, CorpusItem] = field(default_factory=dict)
    term_index: dict[str, list[int]] = field(default_factory=dict)
    tag_index: dict[str, list[int]] = field(default_factory=dict)
    source_index: dict[str, list[int]] = field(default_factory=dict)
    top_base: list[int] = field(default_factory=list)          # ids of public items, best base score first
    max_df: int = 0                                            # terms in more items than this are ignored

    def __post_init__(self) -> None:
        for it in self.items:
            self.by_id[it.id] = it
            for t in it.terms:
                self.term_index.setdefault(t, []).append(it.id)
            for tag in it.tags:
                self.tag_index.setdefault(tag, []).append(it.id)
            self.source_index.setdefault(it.source_url, []).append(it.id)
        key = lambda iid: (-self.by_id[iid].base, -iid)  # noqa: E731
        for index in (self.tag_index, self.source_index):
            for ids in index.values():
                ids.sort(key=key)
        self.top_base = sorted((it.id for it in self.items if not it.personal_source), key=key)
        self.max_df = max(MIN_MAX_DF, int(len(self.items) * MAX_DF_RATIO))


def recency(published: datetime | None, seen: datetime, now: datetime) -> float:
    when = min(published or seen, now)
    hours = max(0.0, (now - when).total_seconds() / 3600)
    return 0.5 ** (hours / 24)


async def load_corpus(db, now: datetime, window_days: int, *, offline_label: bool = True) -> Corpus:
    since = now - timedelta(days=window_days)
    async with db.session() as s:
        rows = (await s.execute(
            select(NewsItem.id, NewsItem.title, NewsItem.url, NewsItem.source_id, NewsItem.published_at,
                   NewsItem.first_seen_at, NewsItem.feed_summary, NewsItem.terms, NewsSource.title, NewsSource.url,
                   NewsSource.origin, NewsSource.tags, NewsSource.weight, NewsSummary.text)
            .join(NewsSource, NewsSource.id == NewsItem.source_id)
            .outerjoin(NewsSummary, NewsSummary.content_hash == NewsItem.content_hash)
            .where(NewsItem.first_seen_at >= since, NewsItem.duplicate_of.is_(None)))).all()
    items = []
    for (iid, title, url, sid, pub, seen, feed_summary, terms, stitle, surl, origin, tags, weight, ai) in rows:
        if ai:
            summary, is_ai = ai, True
        else:
            summary, is_ai = cut_sentences(feed_summary or title), False
        items.append(CorpusItem(
            id=iid, title=title, url=url, source_id=sid, source_title=stitle or surl, source_url=surl,
            personal_source=origin == "user", tags=tuple(tags or ()), published=pub or seen, summary=summary,
            ai_summary=is_ai, terms=frozenset(terms or ()),
            base=(weight or 1.0) + RECENCY_WEIGHT * recency(pub, seen, now)))
    return Corpus(items)


@dataclass
class ProfileView:
    """What ranking needs from a profile (a plain snapshot, no ORM)."""
    user_id: str
    term_weights: dict[str, float]
    tags: frozenset[str]
    sources: frozenset[str]

    @classmethod
    def of(cls, p: NewsProfile | None, user_id: str, analyse) -> "ProfileView":
        weights: dict[str, float] = {}
        if p is not None:
            for t in analyse(" ".join(filter(None, [p.department or "", p.job_title or ""]))):
                weights[t] = weights.get(t, 0.0) + ORG_WEIGHT
            for kw in p.keywords or []:
                for t in analyse(kw):
                    weights[t] = max(weights.get(t, 0.0), KEYWORD_WEIGHT)
            for t, w in (p.term_weights or {}).items():
                weights[t] = weights.get(t, 0.0) + float(w)
        return cls(user_id=user_id, term_weights=weights,
                   tags=frozenset(p.tags or ()) if p else frozenset(),
                   sources=frozenset(p.sources or ()) if p else frozenset())


def rank(corpus: Corpus, prof: ProfileView, *, top_n: int, exclude: set[int] | frozenset[int] = frozenset()
         ) -> list[RankedItem]:
    """The user's top N. Exact, but touching few items: candidates are the items sharing a (discriminating) term
    with the profile, plus the best-by-base items overall, in each chosen tag and in each own source — an item
    with no term match can only beat those through its base score, so nothing else can reach the top N."""
    by_id = corpus.by_id
    bonus: dict[int, float] = {}
    max_df = corpus.max_df
    for t, w in prof.term_weights.items():
        post = corpus.term_index.get(t)
        if not post or len(post) > max_df:        # a term most items share says nothing (idf ~ 0)
            continue
        for iid in post:
            bonus[iid] = bonus.get(iid, 0.0) + w
    cand = set(bonus)

    def visible(it: CorpusItem) -> bool:
        return not it.personal_source or it.source_url in prof.sources

    def best_of(ids) -> None:
        k = 0
        for iid in ids:
            if k >= top_n:
                break
            if iid in bonus or iid in exclude or not visible(by_id[iid]):
                continue
            cand.add(iid)
            k += 1

    best_of(corpus.top_base)
    for tag in prof.tags:
        best_of(corpus.tag_index.get(tag, ()))
    for url in prof.sources:
        best_of(corpus.source_index.get(url, ()))
    scored = []
    tags, sources = prof.tags, prof.sources
    for iid in cand:
        if iid in exclude:
            continue
        it = by_id[iid]
        if it.personal_source and it.source_url not in sources:
            continue
        score = it.base + bonus.get(iid, 0.0)
        if tags and not tags.isdisjoint(it.tags):
            score += TAG_WEIGHT
        if sources and it.source_url in sources:
            score += OWN_SOURCE_WEIGHT
        scored.append((score, iid))
    best = heapq.nlargest(top_n, scored)
    out = []
    for score, iid in best:
        it = by_id[iid]
        group = next((t for t in it.tags if t in prof.tags), it.tags[0] if it.tags else S.OTHER_TAG)
        out.append(RankedItem(item=it, score=score, group=group))
    # group order: by the best item of each group; items keep their score order inside a group
    order: dict[str, float] = {}
    for r in out:
        order.setdefault(r.group, r.score)
    out.sort(key=lambda r: (-order[r.group], -r.score))
    return out


async def delivered_recently(db, user_ids: list[str] | None, today: date, days: int) -> dict[str, set[int]]:
    """Items already delivered to each user in the last `days` days (so a digest does not repeat them)."""
    since = today - timedelta(days=days)
    q = select(NewsDelivery.user_id, NewsDelivery.item_ids).where(NewsDelivery.day >= since,
                                                                   NewsDelivery.day < today,
                                                                   NewsDelivery.status == "sent")
    if user_ids is not None and len(user_ids) <= 500:
        q = q.where(NewsDelivery.user_id.in_(user_ids))
    out: dict[str, set[int]] = {}
    async with db.session() as s:
        for uid, ids in (await s.execute(q)).all():
            out.setdefault(uid, set()).update(ids or [])
    return out


def learn(term_weights: dict[str, float], item_terms: list[str] | frozenset[str], like: bool) -> dict[str, float]:
    """👍 raises, 👎 lowers the weights of the item's leading terms (bounded)."""
    new = dict(term_weights or {})
    step = LEARN_STEP if like else -LEARN_STEP
    for t in list(item_terms)[:LEARN_TERMS]:
        v = max(-LEARN_CAP, min(LEARN_CAP, new.get(t, 0.0) + step))
        if math.isclose(v, 0.0):
            new.pop(t, None)
        else:
            new[t] = round(v, 3)
    return new
