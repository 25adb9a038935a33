"""Tables of the KPI / adoption skill: skill-check results, help-desk tickets, the nudge log."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.store.models import Base, utcnow
from core.store.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class QuizResult(Base):
    """One completed /skillcheck (AIスキルアセスメント)."""

    __tablename__ = "kpi_quiz_results"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(50))
    score: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict] = mapped_column(JSON, default=dict)      # {question id: chosen choice number}


class HelpdeskTicket(Base):
    """A /helpdesk question and, once the DX staff answered, its answer."""

    __tablename__ = "kpi_helpdesk_tickets"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    conversation_id: Mapped[str | None] = mapped_column(String(400))     # where the question was asked
    question: Mapped[str] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(20))                     # teams | kintone
    external_id: Mapped[str | None] = mapped_column(String(100), index=True)   # kintone record id
    channel_activity_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open | answered | failed
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)


class NudgeLog(Base):
    """One weekly tip per user and week (claimed before sending: several replicas never double-send)."""

    __tablename__ = "kpi_nudge_log"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(200))
    week: Mapped[str] = mapped_column(String(10))                        # JST Monday, "2026-11-30"
    conversation_id: Mapped[str | None] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(20), default="claimed")   # claimed | sent | gone
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "week", name="uq_kpi_nudge_user_week"),)
