"""Plan jobs in the database: create, read, save a stage's result, and claim a job to (re)run it.

Claiming is one conditional UPDATE, so a double click, two replicas or a resumed job after a restart can never run
the same stage twice at once.

A running job records its `owner` (this process, `OWNER`) and a `heartbeat_at` the owner renews every
PLANNING_HEARTBEAT_SECONDS while a stage runs. A running job whose heartbeat is older than `DEAD_AFTER` intervals
belongs to a process that is gone (killed, restarted): it is shown as interrupted (中断) and can be claimed at once.
Stage results are written only by the current owner, so a process that lost its job (taken over after a long
stall) cannot overwrite the new owner's work."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import AsyncIterator

from sqlalchemy import func, or_, select, update

from skills.planning.models import PlanJob

log = logging.getLogger(__name__)

RUNNING, FAILED, DONE = "running", "failed", "done"
INTERRUPTED = "interrupted"        # shown, never stored: status 'running' with a dead owner
STAGES = ("research", "outline", "done")
DEAD_AFTER = 3                     # heartbeats missed before a running job's owner is presumed gone
OWNER = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class JobLost(Exception):
    """The job is no longer this process's (another process took it over, or it is no longer running)."""


def _window(heartbeat_seconds: float) -> timedelta:
    return timedelta(seconds=DEAD_AFTER * heartbeat_seconds)


async def create(db, *, now: datetime, user_id: str, aad_object_id: str | None, conversation_id: str, theme: str,
                 profile: str, inputs: dict) -> PlanJob:
    async with db.session() as s:
        job = PlanJob(user_id=user_id, aad_object_id=aad_object_id, conversation_id=conversation_id, theme=theme,
                      profile=profile, inputs=dict(inputs), stage="research", status=RUNNING, sources=[],
                      research={}, outline={}, error=None, attempts=1, owner=OWNER, heartbeat_at=now,
                      created_at=now, updated_at=now)
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


async def save(db, job_id: int, *, now: datetime, owner: str | None = None, **values) -> PlanJob:
    """Write the given columns (JSON columns replaced as a whole) and touch updated_at. With `owner`, only while
    the job is still running and held by that owner (JobLost otherwise)."""
    async with db.session() as s:
        stmt = update(PlanJob).where(PlanJob.id == job_id)
        if owner is not None:
            stmt = stmt.where(PlanJob.owner == owner, PlanJob.status == RUNNING)
            values.setdefault("heartbeat_at", now)
        res = await s.execute(stmt.values(**values, updated_at=now).execution_options(synchronize_session=False))
        if res.rowcount != 1:
            raise JobLost(job_id)
        return await s.get(PlanJob, job_id)


def alive(job: PlanJob, now: datetime, heartbeat_seconds: float) -> bool:
    """Running, and its owner gave a sign of life recently (rows from before heartbeats: their last update)."""
    beat = job.heartbeat_at or job.updated_at
    return job.status == RUNNING and beat is not None and now - beat <= _window(heartbeat_seconds)


def interrupted(job: PlanJob, now: datetime, heartbeat_seconds: float) -> bool:
    """Left 'running' by a process that is gone."""
    return job.status == RUNNING and job.stage != "done" and not alive(job, now, heartbeat_seconds)


def resumable(job: PlanJob, now: datetime, heartbeat_seconds: float) -> bool:
    return job.stage != "done" and (job.status == FAILED or interrupted(job, now, heartbeat_seconds))


def shown_status(job: PlanJob, now: datetime, heartbeat_seconds: float) -> str:
    """running | interrupted | failed | done, for the job list."""
    return INTERRUPTED if interrupted(job, now, heartbeat_seconds) else job.status


async def claim(db, job_id: int, *, now: datetime, heartbeat_seconds: float) -> bool:
    """Take a failed (or interrupted running) job for this process; False when a live process holds it."""
    cutoff = now - _window(heartbeat_seconds)
    async with db.session() as s:
        res = await s.execute(
            update(PlanJob).where(PlanJob.id == job_id, PlanJob.stage != "done",
                                  or_(PlanJob.status == FAILED,
                                      (PlanJob.status == RUNNING)
                                      & (func.coalesce(PlanJob.heartbeat_at, PlanJob.updated_at) < cutoff)))
            .values(status=RUNNING, error=None, updated_at=now, attempts=PlanJob.attempts + 1, owner=OWNER,
                    heartbeat_at=now)
            .execution_options(synchronize_session=False))
        return res.rowcount == 1


async def beat(db, job_id: int, *, now: datetime, owner: str = OWNER) -> bool:
    """Renew the heartbeat of a job this owner runs; False when it is no longer ours (or no longer running)."""
    async with db.session() as s:
        res = await s.execute(update(PlanJob).where(PlanJob.id == job_id, PlanJob.owner == owner,
                                                    PlanJob.status == RUNNING)
                              .values(heartbeat_at=now).execution_options(synchronize_session=False))
        return res.rowcount == 1


@contextlib.asynccontextmanager
async def heartbeat(db, job_id: int, *, clock, every: float) -> AsyncIterator[None]:
    """Renew the job's heartbeat every `every` seconds while the block runs (stops when the job is lost)."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                if not await beat(db, job_id, now=clock.now()):
                    log.warning("plan job %s is no longer held by %s; heartbeat stopped", job_id, OWNER)
                    return
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a missed beat is retried; the stage goes on
                log.warning("plan job %s heartbeat failed: %s", job_id, type(e).__name__)

    task = asyncio.create_task(loop(), name=f"plan-heartbeat-{job_id}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
