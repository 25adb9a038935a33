"""Background work started with the app: every job the skills declare (`Skill.jobs`) — the news digest
scheduler, the kintone answer pollers, the weekly nudges … each under its own lease or claim so that several
replicas never double-deliver. `BACKGROUND_JOBS=false` runs a replica that only answers HTTP."""
from __future__ import annotations

import asyncio
import logging

from core.services import Services
from core.settings import AppSettings
from core.skills import Job

log = logging.getLogger(__name__)


class BackgroundSettings(AppSettings):
    section = "bot"
    BACKGROUND_JOBS: bool = True
    """Run scheduled work (digests, kintone polling, nudges) in this process. Off = HTTP only."""


async def _every(seconds: float, job: Job, services: Services) -> None:
    while True:
        try:
            await job.run(services)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failing pass must not stop the loop
            log.exception("background job %s failed", job.name)
        await asyncio.sleep(seconds)


async def _loop(job: Job, services: Services) -> None:
    try:
        await job.run(services)
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - a job's own loop should not end; say so when it does
        log.exception("background job %s stopped", job.name)


def start(services: Services) -> list[asyncio.Task]:
    """Start every enabled job the registry lists; returns the tasks (cancelled by `stop`)."""
    if not services.settings.get(BackgroundSettings).BACKGROUND_JOBS:
        log.info("background jobs are off in this process")
        return []
    tasks = []
    for skill, job in services.registry.jobs():
        if not skill.ready:
            continue
        try:
            if not job.enabled(services):
                continue
            every = job.every(services) if callable(job.every) else job.every
        except Exception:  # noqa: BLE001 - a misconfigured job must not stop the others
            log.exception("background job %s could not be started", job.name)
            continue
        coro = _every(float(every), job, services) if every else _loop(job, services)
        tasks.append(asyncio.create_task(coro, name=job.name))
    log.info("background jobs started: %s", ", ".join(t.get_name() for t in tasks) or "none")
    return tasks


async def stop(tasks: list[asyncio.Task]) -> None:
    for t in tasks:
        t.cancel()
    for t in tasks:
        try:
            await t
        except (asyncio.CancelledError, Exception):  # noqa: BLE001
            pass
