"""Background work started with the app: the news digest scheduler, the kintone answer pollers (Q&A and help
desk, each under its own lease or claim so several replicas never double-deliver), and the weekly nudges.
`BACKGROUND_JOBS=false` runs a replica that only answers HTTP."""
from __future__ import annotations

import asyncio
import logging

from core.settings import AppSettings

log = logging.getLogger(__name__)


class BackgroundSettings(AppSettings):
    section = "bot"
    BACKGROUND_JOBS: bool = True
    """Run scheduled work (digests, kintone polling, nudges) in this process. Off = HTTP only."""


async def _every(seconds: float, name: str, job) -> None:
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failing pass must not stop the loop
            log.exception("background job %s failed", name)
        await asyncio.sleep(seconds)


def start(services) -> list[asyncio.Task]:
    """Start every background loop; returns the tasks (cancelled by `stop`)."""
    if not BackgroundSettings().BACKGROUND_JOBS:
        log.info("background jobs are off in this process")
        return []
    from core.kintone.client import KintoneSettings
    from skills.kpi.helpdesk import poll_kintone_answers
    from skills.kpi.nudges import nudge_tick
    from skills.kpi.settings import KpiSettings
    from skills.news.schedule import run_scheduler
    from skills.qa.escalation import start_poller

    tasks = [asyncio.create_task(run_scheduler(services), name="news-scheduler"),
             asyncio.create_task(_every(60, "nudges", lambda: nudge_tick(services, services.clock.now())),
                                 name="nudges")]
    tasks.append(start_poller(services))        # Q&A: kintone answers and SharePoint sync, under a lease
    kintone = KintoneSettings()
    if kintone.KINTONE_BASE_URL and kintone.KINTONE_POLL_SECONDS > 0:
        if KpiSettings().HELPDESK_BACKEND == "kintone":
            tasks.append(asyncio.create_task(_every(kintone.KINTONE_POLL_SECONDS, "helpdesk-kintone",
                                                    lambda: poll_kintone_answers(services)), name="helpdesk"))
    return tasks


async def stop(tasks: list[asyncio.Task]) -> None:
    for t in tasks:
        t.cancel()
    for t in tasks:
        try:
            await t
        except (asyncio.CancelledError, Exception):  # noqa: BLE001
            pass
