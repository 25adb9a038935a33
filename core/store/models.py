"""Foundation tables: user profiles, conversation references, feedback, usage (audit) events.

Times are stored as timezone-aware UTC. JSON columns use SQLAlchemy's generic JSON (JSONB-compatible)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.store.types import UTCDateTime


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


SYSTEM_USER_PREFIX = "system:"
"""`UsageEvent.user_id` prefix of work the assistant does on its own, not at a staff member's request (e.g.
"system:news" summarising feed articles in the background). Such calls are audited like every other AI call, but
they are no staff use: the KPI figures leave them out."""

CITIZEN_USER_PREFIX = "citizen:"
"""`UsageEvent.user_id` prefix of residents' requests (the citizen chatbot on the city's website, followed by a hash
of the Web Chat user id). They are no staff use either: the staff KPI figures leave them out and count them apart."""

CITIZEN_OUTCOMES = ("answered", "handed_off", "declined")
"""The outcome of the one audit record written per resident's question: answered (AI answer with citations, search
results offline, or a staff-approved answer), handed_off (could not answer: sent to staff, e.g. kintone), declined
(refused or could not answer and nothing was handed off: staff commands, limits, no hand-off configured). The AI
calls made for a question are audited as well, with their own outcomes (ok, step, error, refused)."""


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSON, list: JSON}


class UserProfile(Base):
    """One row per staff member who has talked to the bot (keyed by the Teams user id)."""

    __tablename__ = "user_profiles"
    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64), index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(20))
    prefs: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ConversationRef(Base):
    """The Bot Framework conversation reference needed for proactive sends (stored as JSON, SDK-agnostic)."""

    __tablename__ = "conversation_refs"
    conversation_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(200), index=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64), index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    conversation_type: Mapped[str] = mapped_column(String(20), default="personal")
    service_url: Mapped[str] = mapped_column(String(500))
    reference: Mapped[dict] = mapped_column(JSON)
    installed: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Feedback(Base):
    """👍/👎 on an AI answer (Teams feedback loop) or on a digest item."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(String(400))
    reply_to_id: Mapped[str | None] = mapped_column(String(200), index=True)
    skill: Mapped[str | None] = mapped_column(String(50))
    reaction: Mapped[str] = mapped_column(String(20))          # like | dislike
    text: Mapped[str | None] = mapped_column(Text)


class UsageEvent(Base):
    """One AI use (or refused/failed attempt): the audit record that also feeds the city's KPI. Rows whose user_id
    starts with SYSTEM_USER_PREFIX are background work: audited, never counted as a staff use."""

    __tablename__ = "usage_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(String(200), index=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(200))
    conversation_id: Mapped[str | None] = mapped_column(String(400))
    skill: Mapped[str] = mapped_column(String(50), index=True)
    command: Mapped[str | None] = mapped_column(String(50))
    tier: Mapped[str | None] = mapped_column(String(20))
    endpoint: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    masked: Mapped[dict] = mapped_column(JSON, default=dict)   # {"name": 2, "phone": 1}
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    outcome: Mapped[str] = mapped_column(String(20))           # ok | refused | error | offline
    reason: Mapped[str | None] = mapped_column(String(200))
    prompt_text: Mapped[str | None] = mapped_column(Text)      # masked text, only when retention says so
    correlation_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_usage_skill_time", "skill", "created_at"),)


class KeyValue(Base):
    """Small shared state across replicas (leases, cursors)."""

    __tablename__ = "kv"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class RateCounter(Base):
    """Fixed-window request counters shared by every replica (core.ratelimit). `key` is a hash of what is limited
    (a conversation, a client, an address), never the raw value; `expires` (epoch seconds) is the window's end."""

    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)      # epoch seconds // window length
    hits: Mapped[int] = mapped_column(Integer, default=0)
    expires: Mapped[int] = mapped_column(BigInteger, index=True)


__all__ = ["Base", "UserProfile", "ConversationRef", "Feedback", "UsageEvent", "KeyValue", "RateCounter",
           "UniqueConstraint",
           "utcnow", "SYSTEM_USER_PREFIX", "CITIZEN_USER_PREFIX", "CITIZEN_OUTCOMES"]
