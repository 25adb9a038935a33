"""Questions asked through /ask and their way to staff (kintone or a Teams channel) and back."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.store.models import Base, utcnow
from core.store.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class QAQuestion(Base):
    """One question. status: answered (AI, cited) | offline (passages quoted) | approved (answered from a
    staff-approved pair, core.knowledge.approved) | unanswered (declined) |
    escalating (the hand-off claimed, `escalated_at` = the claim's time; a claim older than
    escalation.stale_after was left by a process that died and is taken over) |
    escalated (sent to staff) | staff_answered (a person answered; delivered when `delivered_at` is set)."""

    __tablename__ = "qa_questions"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(200))
    conversation_id: Mapped[str] = mapped_column(String(400))
    question: Mapped[str] = mapped_column(Text)
    set_names: Mapped[list] = mapped_column(JSON, default=list)          # the sets searched
    target_set: Mapped[str | None] = mapped_column(String(100))          # where a staff answer is filed
    passages: Mapped[list] = mapped_column(JSON, default=list)           # candidate passages: Passage.to_json() each
    status: Mapped[str] = mapped_column(String(20), default="unanswered")
    backend: Mapped[str | None] = mapped_column(String(20))              # kintone | teams
    kintone_record_id: Mapped[str | None] = mapped_column(String(50), index=True)
    staff_conversation_id: Mapped[str | None] = mapped_column(String(400))
    answer_activity_id: Mapped[str | None] = mapped_column(String(200), index=True)  # our reply (for 👎 feedback)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_qa_questions_status", "status", "backend"),)
