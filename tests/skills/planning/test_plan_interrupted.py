"""Issue #22-9: a /plan job left 'running' by a process that is gone (SIGKILL, restart) is shown as interrupted
(中断) with the retry button at once, and plan.retry resumes it; a job whose owner still beats stays 'running'."""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from core import router
from core.services import Clock
from core.store import Database
from skills.planning import jobs
from skills.planning.models import PlanJob
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.law.cardschema import assert_valid_card

DEAD_OWNER = "other-host:4242:0123456789ab"


async def act(services, **fields) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(**fields), port, services)
    return port


async def close(services) -> None:
    for client in (getattr(services, "law", None), services.extras.get("law.client")):
        if client is not None:
            await client.close()
    await services.llm.close()


def card_json(card) -> str:
    return json.dumps(card, ensure_ascii=False)


async def left_running(db, *, owner: str | None, heartbeat_ago: timedelta, updated_ago: timedelta,
                       inputs: dict | None = None) -> int:
    """A job at the research stage, status 'running', as another process left it."""
    now = Clock().now()
    job = await jobs.create(db, now=now, user_id="29:user-1", aad_object_id=None, conversation_id="a:personal-1",
                            theme="子育て支援アプリの導入", profile="kodomo", inputs=inputs or {})
    async with db.session() as s:
        await s.execute(update(PlanJob).where(PlanJob.id == job.id).values(
            owner=owner, heartbeat_at=now - heartbeat_ago, updated_at=now - updated_ago))
    return job.id


def retry_actions(card) -> list[dict]:
    out = []
    for block in card.get("body", []):
        for item in block.get("items", []):
            if item.get("type") == "ActionSet":
                out += [a for a in item["actions"] if a.get("verb") == "plan.retry"]
    return out + [a for a in card.get("actions", []) if a.get("verb") == "plan.retry"]


async def test_a_job_of_a_dead_process_is_interrupted_and_retried_at_once(db, egov):
    services = make_services(db)
    try:
        # killed two minutes ago: far less than the old 15-minute wait, but 8 heartbeats missed
        job_id = await left_running(db, owner=DEAD_OWNER, heartbeat_ago=timedelta(minutes=2),
                                    updated_ago=timedelta(minutes=2), inputs={"card": "act-form-1"})
        port = await act(services, text="/plan")
        listing = port.sent[-1].card
        assert_valid_card(listing)
        assert "中断（調査）" in card_json(listing) and "処理中" not in card_json(listing)
        assert [a["data"]["job_id"] for a in retry_actions(listing)] == [job_id]

        # the start form pressed again: told it stopped, with the retry button (not 「現在処理中」)
        port = await act(services, verb="plan.start", data={"theme": "子育て支援アプリの導入", "profile": "kodomo"},
                         reply_to_id="act-form-1")
        offer = port.sent[-1]
        assert offer.kind == "card" and offer.text == "調査の途中で処理が中断されました。"
        assert_valid_card(offer.card)
        assert "中断しました" in card_json(offer.card)
        assert [a["data"]["job_id"] for a in retry_actions(offer.card)] == [job_id]

        port = await act(services, verb="plan.retry", data={"job_id": job_id}, is_invoke=True)
        assert "この企画は現在処理中です。完了までしばらくお待ちください。" not in [s.text for s in port.sent]
        assert [s.kind for s in port.sent] == ["refresh", "inform", "inform", "card"]
        job = await jobs.get(db, job_id)
        assert (job.stage, job.status, job.attempts, job.owner) == ("done", "done", 2, jobs.OWNER)
    finally:
        await close(services)


async def test_a_job_whose_owner_still_beats_is_reported_running(db, egov):
    services = make_services(db)
    try:
        # no stage finished for 20 minutes (a slow LLM), but its process renewed the heartbeat 5 seconds ago
        job_id = await left_running(db, owner=DEAD_OWNER, heartbeat_ago=timedelta(seconds=5),
                                    updated_ago=timedelta(minutes=20))
        port = await act(services, text="/plan")
        listing = port.sent[-1].card
        assert "処理中（調査）" in card_json(listing) and "中断" not in card_json(listing)
        assert retry_actions(listing) == []
        port = await act(services, verb="plan.retry", data={"job_id": job_id})
        assert port.sent[-1].text == "この企画は現在処理中です。完了までしばらくお待ちください。"
        job = await jobs.get(db, job_id)
        assert (job.status, job.attempts, job.owner) == ("running", 1, DEAD_OWNER)
    finally:
        await close(services)


async def test_a_running_job_from_before_heartbeats_is_offered_for_retry(db_url, egov):
    """A row written before migration 0011 (no owner, no heartbeat): its last update stands in for the heartbeat."""
    database = Database(db_url)
    services = make_services(database)
    try:
        await database.migrate("0006_planning")
        async with database.engine.begin() as conn:
            two_minutes_ago = Clock().now() - timedelta(minutes=2)
            await conn.execute(text(
                "INSERT INTO plan_jobs (id, user_id, conversation_id, theme, profile, inputs, stage, status, sources, "
                "research, outline, attempts, created_at, updated_at) VALUES (7, '29:user-1', 'a:personal-1', "
                "'防災訓練の見直し', 'general', '{}', 'research', 'running', '[]', '{}', '{}', 1, :t, :t)"),
                {"t": two_minutes_ago})
        await database.migrate()
        assert (await database.ready())[0]
        port = await act(services, text="/plan")
        assert "中断（調査）" in card_json(port.sent[-1].card)
        port = await act(services, verb="plan.retry", data={"job_id": 7})
        assert port.sent[-1].kind == "card"
        job = await jobs.get(database, 7)
        assert (job.stage, job.status, job.attempts) == ("done", "done", 2)
    finally:
        await close(services)
        await database.dispose()


async def test_the_owner_renews_the_heartbeat_and_a_taken_over_job_is_not_written(db):
    clock = Clock()
    job = await jobs.create(db, now=clock.now(), user_id="u", aad_object_id=None, conversation_id="c", theme="t",
                            profile="general", inputs={})
    first = job.heartbeat_at
    async with jobs.heartbeat(db, job.id, clock=clock, every=0.05):
        await asyncio.sleep(0.4)
        beat = (await jobs.get(db, job.id)).heartbeat_at
        assert beat > first and jobs.alive(await jobs.get(db, job.id), clock.now(), 0.05)
        # another process takes the job over: this one stops beating and may no longer write its results
        async with db.session() as s:
            await s.execute(update(PlanJob).where(PlanJob.id == job.id).values(owner=DEAD_OWNER, heartbeat_at=beat))
        await asyncio.sleep(0.3)
        assert (await jobs.get(db, job.id)).heartbeat_at == beat
        with pytest.raises(jobs.JobLost):
            await jobs.save(db, job.id, now=clock.now(), owner=jobs.OWNER, stage="outline")
    assert (await jobs.get(db, job.id)).stage == "research"
