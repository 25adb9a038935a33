"""Tables of the news digest: sources (with fetch state and health), items, shared summaries, user profiles and
daily deliveries (claimed before they are sent: UNIQUE(user_id, day))."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.store.models import Base, utcnow
from core.store.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class NewsSource(Base):
    """One feed URL, shared by everybody who follows it (admin config or a user's /news add)."""

    __tablename__ = "news_sources"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    origin: Mapped[str] = mapped_column(String(10), default="config")      # config | user
    tags: Mapped[list] = mapped_column(JSON, default=list)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    jst_dates: Mapped[bool] = mapped_column(Boolean, default=False)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NewsItem(Base):
    """One article, stored once. `identity` is stable per source; `duplicate_of` points at the first copy of the
    same story from another source (such rows are kept so they are not re-inserted, but never shown)."""

    __tablename__ = "news_items"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    identity: Mapped[str] = mapped_column(String(64), unique=True)
    source_id: Mapped[int] = mapped_column(_ID, index=True)
    url: Mapped[str | None] = mapped_column(String(2000))
    canonical_url: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(1000))
    norm_title: Mapped[str] = mapped_column(String(1000), default="")
    feed_summary: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    terms: Mapped[list] = mapped_column(JSON, default=list)
    duplicate_of: Mapped[int | None] = mapped_column(_ID)

    __table_args__ = (Index("ix_news_items_seen", "first_seen_at"), Index("ix_news_items_canon", "canonical_url"))


class NewsSummary(Base):
    """The LLM summary of one item's content (keyed by content hash): one call per unique content, ever."""

    __tablename__ = "news_summaries"
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NewsProfile(Base):
    """A reader's preferences and what the bot learned from their 👍/👎."""

    __tablename__ = "news_profiles"
    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(String(400))
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    sources: Mapped[list] = mapped_column(JSON, default=list)            # personal feed URLs
    delivery_time: Mapped[str] = mapped_column(String(5), default="08:30")
    mail: Mapped[bool] = mapped_column(Boolean, default=False)
    mail_address: Mapped[str | None] = mapped_column(String(300))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    undeliverable: Mapped[bool] = mapped_column(Boolean, default=False)
    department: Mapped[str | None] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(200))
    graph_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    term_weights: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class NewsDelivery(Base):
    """One user's digest for one (JST) day. The INSERT is the claim: whoever inserts first delivers."""

    __tablename__ = "news_deliveries"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(200))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="claimed")   # claimed|retry|sent|gone|failed
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    activity_id: Mapped[str | None] = mapped_column(String(200))
    item_ids: Mapped[list] = mapped_column(JSON, default=list)
    mail_status: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_news_deliveries_user_day"),
                      Index("ix_news_deliveries_day_status", "day", "status"))
