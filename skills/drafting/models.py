"""Stored drafts: a draft survives restarts so that revisions (修正指示) and the Word export work later."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.store.models import Base, utcnow
from core.store.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class Draft(Base):
    """One draft document; `text` holds the restored (real-value) draft shown to its owner only; `fields` the facts
    the user gave; `references` the passages given to the model and cited on the reply."""

    __tablename__ = "drafts"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    doc_type: Mapped[str] = mapped_column(String(40))
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    references: Mapped[list] = mapped_column(JSON, default=list)   # compose.Reference.to_json() of each, cited as [n]
    text: Mapped[str] = mapped_column(Text, default="")
    masked_note: Mapped[str] = mapped_column(String(500), default="")
    easy: Mapped[bool] = mapped_column(Boolean, default=False)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
