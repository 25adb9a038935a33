"""Tables of 画像点検: one row per checked batch and one per photo (its EXIF facts, the model's judgement, the small
photo for the report and kintone). Kept IMAGES_KEEP_DAYS for the cards' buttons, then deleted by the purge job."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.store.models import Base, utcnow
from core.store.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class ImageBatch(Base):
    """The photos of one message: who sent them, how they were checked (ai | offline), when they expire."""

    __tablename__ = "image_batches"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    user_name: Mapped[str] = mapped_column(String(200), default="")
    mode: Mapped[str] = mapped_column(String(20), default="offline")      # ai | offline
    summary: Mapped[dict] = mapped_column(JSON, default=dict)             # counts, the note on what was blurred
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ImagePhoto(Base):
    """One photo of a batch. `facts`: name, taken_at, lat/lon, sizes, faces blurred; `judgement`: the validated
    answer (vision.Judgement.to_json()) or None; `error`: the Japanese line shown instead."""

    __tablename__ = "image_photos"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(_ID, ForeignKey("image_batches.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255), default="")
    facts: Mapped[dict] = mapped_column(JSON, default=dict)
    judgement: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(String(500), default="")
    picture: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)    # JPEG, boxes drawn, no EXIF
    kintone_record_id: Mapped[str | None] = mapped_column(String(50), nullable=True)
