"""Tables of 通知・照会と公用文チェック: checked documents (for the /check card's buttons: pages, Word with tracked
changes, AI suggestions), read 通知 (for the reminder button) — both expire after NOTICES_KEEP_DAYS and are deleted
by the skill's purge job, the documents being the user's own — and the city's answers to earlier 照会, which staff
send back once reviewed (「回答済み」) so that the next 照会 of the same sender is drafted from them."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.store.models import Base, utcnow
from core.store.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class KobunCheck(Base):
    """One /check: the text checked (a Word file's text, or what was typed), the Word file itself when one was sent,
    the rule-based suggestions (core.kobun Suggestion.to_json()) and, once asked, the AI's (kept apart)."""

    __tablename__ = "kobun_checks"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))                  # core.kobun document kind: notice | public
    name: Mapped[str] = mapped_column(String(255), default="")     # the Word file's name; "" for typed text
    text: Mapped[str] = mapped_column(Text, default="")
    docx: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    suggestions: Mapped[list] = mapped_column(JSON, default=list)
    ai_suggestions: Mapped[list | None] = mapped_column(JSON, nullable=True)
    ai_note: Mapped[str] = mapped_column(String(500), default="")  # what was masked before the AI saw the text
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class NoticeReading(Base):
    """One 通知 read by /notice: what the card showed, so that its buttons (the Outlook reminder) work later."""

    __tablename__ = "notice_readings"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(String(500), default="")
    issuer: Mapped[str] = mapped_column(String(200), default="")
    result: Mapped[dict] = mapped_column(JSON, default=dict)        # summary, actions, sections, laws, attachments
    deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    mode: Mapped[str] = mapped_column(String(20), default="extractive")   # extractive | ai
    reminder_id: Mapped[str | None] = mapped_column(String(300), nullable=True)   # the Graph event made, once
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class InquiryAnswer(Base):
    """One question of a 照会 and the answer the city gave, as sent back reviewed by staff. Only questions: the
    respondent's name, telephone and the like are never kept. Deleted after NOTICES_ANSWERS_KEEP_DAYS."""

    __tablename__ = "inquiry_answers"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    issuer: Mapped[str] = mapped_column(String(200), index=True)    # who asked (「総務省」): earlier answers are theirs
    title: Mapped[str] = mapped_column(String(500), default="")
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
