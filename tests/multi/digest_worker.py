"""One digest delivery pass in its own OS process, through the bot's real proactive sender (CloudAdapter → the
stand-in connector), on a shared database, at a fixed time. Used by test_digest_processes.py:

    python -m tests.multi.digest_worker <database url> <sources dir> <minutes after 08:30 JST, 2026-08-21>"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path


async def main(db_url: str, tmp: str, minutes: int) -> None:
    from bot.app import create_app
    from bot.config import BotSettings
    from core.store import Database
    from skills.news.engine import NewsEngine
    from skills.news.schedule import Deliverer
    from tests.harness import make_services
    from tests.skills.news.helpers import FixedClock, jst, news_settings

    db = Database(db_url)
    services = make_services(db)
    create_app(BotSettings(_env_file=None), services)        # wires the real BotProactiveSender into services
    clock = FixedClock(jst(2026, 8, 21, 8, 30))
    clock.advance(minutes=minutes)
    services.clock = clock
    settings = news_settings(Path(tmp), [], NEWS_SEND_CONCURRENCY=2, NEWS_CLAIM_LEASE_MINUTES=10)
    engine = NewsEngine(services, settings)

    async def never() -> bool:
        return False

    engine.cycle_due = never
    report = await Deliverer(services, settings, engine=engine).tick()
    print(f"sent={report.sent} lost={report.lost} failed={report.failed}", flush=True)
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
