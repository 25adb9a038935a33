"""The residents' questions, kept for improving the public knowledge: masked text only, deleted after
CITIZEN_RETENTION_DAYS (the retention job). A question handed to staff keeps its kintone record id here until the
staff answer has become an approved answer of a public set."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.store.models import Base, utcnow
from core.store.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class CitizenTranscript(Base):
    """One resident's question and what the bot did with it. `question` and `answer` hold masked text only (personal
    data replaced by ［氏名1］-style placeholders before anything was stored or sent). `conversation` is a hash of the
    Web Chat conversation id (turns of one conversation group together; the id itself is not kept).
    outcome: answered | handed_off | declined (core.store.models.CITIZEN_OUTCOMES); reason: a short code
    (llm, offline, approved, not_found, staff_command, too_long, rate_limit, …).
    handoff: escalated (a kintone record waits for staff) | approved (the staff answer became an approved answer)."""

    __tablename__ = "citizen_transcripts"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    conversation: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16), default="ja")
    question: Mapped[str] = mapped_column(Text)
    masked: Mapped[dict] = mapped_column(JSON, default=dict)             # {"phone": 1}: kinds and counts only
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    answer: Mapped[str | None] = mapped_column(Text)
    sets: Mapped[list] = mapped_column(JSON, default=list)               # the public sets searched
    target_set: Mapped[str | None] = mapped_column(String(100))          # where a staff answer is filed
    sources: Mapped[list] = mapped_column(JSON, default=list)            # the pages cited: [{"title", "url"}]
    handoff: Mapped[str | None] = mapped_column(String(20))
    kintone_record_id: Mapped[str | None] = mapped_column(String(50))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_citizen_transcripts_handoff", "handoff", "kintone_record_id"),)
