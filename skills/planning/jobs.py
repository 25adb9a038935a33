"""Plan jobs in the database: create, read, save a stage's result, and claim a job to (re)run it.

Claiming is one conditional UPDATE, so a double click, two replicas or a resumed job after a restart can never run
the same stage twice at once."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select, update

from skills.planning.models import PlanJob

RUNNING, FAILED, DONE = "running", "failed", "done"
STAGES = ("research", "outline", "done")


def _aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:       # SQLite hands back naive datetimes
        return dt.replace(tzinfo=timezone.utc)
    return dt


async def create(db, *, now: datetime, user_id: str, aad_object_id: str | None, conversation_id: str, theme: str,
                 profile: str, inputs: dict) -> PlanJob:
    async with db.session() as s:
        job = PlanJob(user_id=user_id, aad_object_id=aad_object_id, conversation_id=conversation_id, theme=theme,
                      profile=profile, inputs=dict(inputs), stage="research", status=RUNNING, sources=[],
                      research={}, outline={}, error=None, attempts=1, created_at=now, updated_at=now)
        s.add(job)
        await s.flush()
        return job


async def get(db, job_id: int) -> PlanJob | None:
    async with db.session() as s:
        return await s.get(PlanJob, job_id)


async def recent(db, user_id: str, limit: int = 5) -> list[PlanJob]:
    async with db.session() as s:
        rows = await s.scalars(select(PlanJob).where(PlanJob.user_id == user_id)
                               .order_by(PlanJob.updated_at.desc(), PlanJob.id.desc()).limit(limit))
        return list(rows)


async def save(db, job_id: int, *, now: datetime, **values) -> PlanJob:
    """Write the given columns (JSON columns replaced as a whole) and touch updated_at."""
    async with db.session() as s:
        job = await s.get(PlanJob, job_id)
        for k, v in values.items():
            setattr(job, k, v)
        job.updated_at = now
        return job


def stale(job: PlanJob, now: datetime, stale_seconds: int) -> bool:
    updated = _aware(job.updated_at)
    return job.status == RUNNING and updated is not None and now - updated > timedelta(seconds=stale_seconds)


def resumable(job: PlanJob, now: datetime, stale_seconds: int) -> bool:
    return job.stage != "done" and (job.status == FAILED or stale(job, now, stale_seconds))


async def claim(db, job_id: int, *, now: datetime, stale_seconds: int) -> bool:
    """Mark a failed (or abandoned running) job as running again; False when someone else holds it."""
    cutoff = now - timedelta(seconds=stale_seconds)
    async with db.session() as s:
        res = await s.execute(
            update(PlanJob).where(PlanJob.id == job_id, PlanJob.stage != "done",
                                  or_(PlanJob.status == FAILED,
                                      (PlanJob.status == RUNNING) & (PlanJob.updated_at < cutoff)))
            .values(status=RUNNING, error=None, updated_at=now, attempts=PlanJob.attempts + 1)
            .execution_options(synchronize_session=False))
        return res.rowcount == 1
