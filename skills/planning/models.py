"""The staged planning job: one row per /plan run; the database is the job's memory across restarts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.store.models import Base, utcnow
from core.store.types import UTCDateTime


class PlanJob(Base):
    """`stage` is the stage to run next (or the one that failed): research → outline → done.
    `status`: running | failed | done. `sources`: the numbered material gathered by research (cited as [n]);
    `research`: the research notes; `outline`: {"title", "mode", "sections": [{"name", "points", "sources"}]}.
    `owner` / `heartbeat_at`: who runs a 'running' job and when it last said so (see jobs.py)."""

    __tablename__ = "plan_jobs"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    conversation_id: Mapped[str] = mapped_column(String(400))
    theme: Mapped[str] = mapped_column(String(500))
    profile: Mapped[str] = mapped_column(String(100))
    inputs: Mapped[dict] = mapped_column(JSON, default=dict)
    stage: Mapped[str] = mapped_column(String(20), default="research")
    status: Mapped[str] = mapped_column(String(20), default="running")
    sources: Mapped[list] = mapped_column(JSON, default=list)
    research: Mapped[dict] = mapped_column(JSON, default=dict)
    outline: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(100))          # the process running it (jobs.OWNER)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # the owner's last sign of life
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_plan_jobs_user_updated", "user_id", "updated_at"),)
