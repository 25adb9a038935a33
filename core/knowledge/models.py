"""Tables of core.knowledge: approved answers (staff-written Q&A pairs that answer a close question directly)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.store.models import Base, utcnow
from core.store.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class ApprovedAnswer(Base):
    """One approved pair in a knowledge set. Active while `revoked_at` is empty and `expires_at` is in the future.
    `source`: kintone | teams | csv; `source_ref`: where it came from ("q:<question id>", with
    "/kintone:<record id>" for kintone; "<file>:<line>" for a CSV row). `embedding` is the question's vector in `embed_space` (filled lazily when matching)."""

    __tablename__ = "approved_answers"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    set_name: Mapped[str] = mapped_column(String(100))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    owner_name: Mapped[str] = mapped_column(String(200), default="")
    owner_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20))
    source_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    embedding: Mapped[list | None] = mapped_column(JSON)
    embed_space: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_approved_answers_set", "set_name", "revoked_at"),
                      Index("ix_approved_answers_source", "source", "source_ref"))
