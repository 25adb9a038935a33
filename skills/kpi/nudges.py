"""Gentle nudges: a weekly tip to staff who have not used the assistant for a while (off by default).

Who: users with an installed personal conversation, in NUDGE_DEPARTMENTS (or "*"), with no UsageEvent in the
last NUDGE_INACTIVE_DAYS days. At most once per JST week: a (user, week) row is claimed in kpi_nudge_log before
sending, so restarts and several replicas never double-send. Call `run_nudges(services, now)` weekly, or
`nudge_tick(services, now)` from a frequent scheduler tick (it runs on Mondays from 10:00 JST)."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from cards.kpi import nudge_card
from core.store.models import ConversationRef, UsageEvent, UserProfile
from core.timeutil import JST
from skills.kpi.content import ContentError, load_library
from skills.kpi.models import NudgeLog
from skills.kpi.report import week_start
from skills.kpi.settings import settings_of

log = logging.getLogger(__name__)

RUN_WEEKDAY = 0          # Monday
RUN_HOUR = 10            # 10:00 JST
FALLBACK_TIP = ("AIアシスタントは、通知文の素案づくりや長い文章の要約などにご利用いただけます。"
                "/examples で業務別の活用例をご覧ください。")


def week_key(now: datetime) -> str:
    return week_start(now.astimezone(JST).date()).isoformat()


async def candidates(services, now: datetime) -> list[tuple[str, str]]:
    """(user_id, personal conversation id) of the users to nudge this week, oldest conversation first."""
    settings = settings_of(services)
    departments = settings.nudge_departments
    if not departments:
        return []
    since = now - timedelta(days=settings.NUDGE_INACTIVE_DAYS)
    used = exists().where(UsageEvent.user_id == ConversationRef.user_id, UsageEvent.created_at >= since)
    nudged = exists().where(NudgeLog.user_id == ConversationRef.user_id, NudgeLog.week == week_key(now))
    q = (select(ConversationRef.user_id, ConversationRef.conversation_id)
         .outerjoin(UserProfile, UserProfile.user_id == ConversationRef.user_id)
         .where(ConversationRef.conversation_type == "personal", ConversationRef.installed.is_(True),
                ConversationRef.user_id.is_not(None), ~used, ~nudged)
         .order_by(ConversationRef.updated_at.desc()))
    if "*" not in departments:
        q = q.where(UserProfile.department.in_(departments))
    async with services.db.session() as s:
        rows = (await s.execute(q)).all()
    seen: dict[str, str] = {}
    for user_id, conv in rows:          # one conversation per user: the most recently updated
        seen.setdefault(user_id, conv)
    return list(seen.items())


def _tip(services, now: datetime) -> tuple[str, str]:
    try:
        tips = load_library(settings_of(services).examples_path).tips
    except ContentError as e:
        log.warning("nudge tips unavailable: %s", e.message_ja)
        tips = ()
    if not tips:
        return FALLBACK_TIP, "/examples"
    tip = tips[now.astimezone(JST).isocalendar()[1] % len(tips)]     # a different tip each week
    return tip.text, tip.run


async def _claim(services, user_id: str, week: str, conv: str) -> bool:
    try:
        async with services.db.session() as s:
            s.add(NudgeLog(user_id=user_id, week=week, conversation_id=conv, status="claimed", created_at=services.clock.now()))
        return True
    except IntegrityError:
        return False


async def run_nudges(services, now: datetime) -> int:
    """Send this week's tip to every eligible user once. Returns the number of tips sent."""
    settings = settings_of(services)
    if not settings.nudge_departments or services.proactive is None:
        return 0
    week = week_key(now)
    tip, run = _tip(services, now)
    card = nudge_card(tip, run)
    sent = 0
    for user_id, conv in await candidates(services, now):
        if not await _claim(services, user_id, week, conv):
            continue                       # another replica took this one
        result = None
        for _attempt in range(2):
            try:
                result = await services.proactive.send(conv, card=card)
            except Exception:  # noqa: BLE001 - one user's failure must not stop the others
                log.exception("nudge send failed")
                result = None
                break
            if result.ok or not result.retry_after:
                break
            await asyncio.sleep(min(result.retry_after, 5.0))
        async with services.db.session() as s:
            if result is not None and result.ok:
                await s.execute(update(NudgeLog).where(NudgeLog.user_id == user_id, NudgeLog.week == week)
                                .values(status="sent"))
                sent += 1
            elif result is not None and result.gone:
                await s.execute(update(NudgeLog).where(NudgeLog.user_id == user_id, NudgeLog.week == week)
                                .values(status="gone"))
            else:                          # transient failure: release the claim so a later run may retry
                await s.execute(delete(NudgeLog).where(NudgeLog.user_id == user_id, NudgeLog.week == week))
    if sent:
        log.info("weekly tips sent", extra={"count": sent})
    return sent


def nudge_due(now: datetime) -> bool:
    local = now.astimezone(JST)
    return local.weekday() == RUN_WEEKDAY and local.hour >= RUN_HOUR


async def nudge_tick(services, now: datetime) -> int:
    """For a scheduler that ticks often: runs the weekly nudge on Mondays from 10:00 JST (idempotent per week)."""
    if not nudge_due(now):
        return 0
    return await run_nudges(services, now)
