"""The hand-off to staff: kintone records (stand-in over HTTP), polling, the webhook, the Teams channel fallback,
delivery to the asker, the Q/A pair joining the set, and the single poller across processes (lease)."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from core import embeddings, router
from core.kintone.client import KintoneClient
from core.services import Clock
from core.store import Database
from core.store.models import ConversationRef
from skills.qa import strings as S
from skills.qa.escalation import POLLER_KEY, poll_kintone, retry_deliveries, start_poller
from skills.qa.handler import handle
from skills.qa.http import kintone_webhook_handler
from skills.qa.lease import Lease
from skills.qa.models import QAQuestion
from tests.harness import RecorderPort, make_request
from tests.skills.qa.conftest import OPEN_SERVICES, assert_valid_card, build, kintone_settings, seed

UNKNOWN_Q = "庁舎の駐車場は使えますか"
STAFF_CHANNEL = "19:soumu-staff@thread.tacv2"


async def remember_personal_chat(services, user_id="29:user-1", conversation_id="a:personal-1"):
    async with services.db.session() as s:
        s.add(ConversationRef(conversation_id=conversation_id, user_id=user_id, conversation_type="personal",
                              service_url="http://127.0.0.1:1/", reference={}, installed=True))


async def ask_unknown(services) -> int:
    port = RecorderPort()
    await handle(make_request(UNKNOWN_Q, command="ask"), port, services)
    assert port.last().text == S.NOT_FOUND
    action = port.last().card["actions"][0]
    assert action["verb"] == "qa.escalate"
    return action["data"]["q"]


async def escalate(services, qid, **kw) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(verb="qa.escalate", data={"q": qid}, is_invoke=True, **kw), port, services)
    return port


def card_text(sent) -> str:
    return json.dumps(sent.card, ensure_ascii=False)


async def test_kintone_round_trip_escalate_poll_deliver_and_next_asker_gets_it(db, kintone, monkeypatch):
    # Pinned to BM25: the hand-off below is of a question no passage matches, which hybrid search never has (the
    # nearest passage is always found, then declined as weak, and its set becomes the target).
    monkeypatch.setattr(embeddings, "status", lambda: embeddings.LocalStatus(False, "pinned to BM25 by the test"))
    services = build(db, kintone=kintone)
    await seed(services)
    await remember_personal_chat(services)
    qid = await ask_unknown(services)

    assert S.NOT_YOURS in card_text((await escalate(services, qid, user_id="29:someone-else")).last())
    port = await escalate(services, qid)
    assert port.last().kind == "refresh"
    assert S.ESCALATED_KINTONE.format(record_id="1") in card_text(port.last())
    post = [r for r in kintone.requests if r["method"] == "POST"][0]
    assert post["path"] == "/k/v1/record.json" and post["headers"]["X-Cybozu-API-Token"] == kintone.api_token
    record = post["json"]["record"]
    assert post["json"]["app"] == kintone.app_id
    assert record["質問"] == {"value": UNKNOWN_Q}
    assert record["質問者"] == {"value": "尼崎 太郎"} and record["質問者ID"] == {"value": "29:user-1"}
    assert record["質問日時"]["value"].endswith("Z")
    assert record["ナレッジセット"] == {"value": "kankyo、soumu"}     # no passage found: every searched set
    assert set(record) == {"質問", "質問者", "質問者ID", "質問日時", "ナレッジセット", "候補資料"}
    assert S.ALREADY_ESCALATED in card_text((await escalate(services, qid)).last())   # a second click
    assert len([r for r in kintone.requests if r["method"] == "POST"]) == 1

    assert await poll_kintone(services) == 0                       # not answered yet
    kintone.records[1]["ナレッジセット"] = "soumu"                    # staff file it under 総務課
    kintone.answer("1", "来庁者用駐車場は職員は利用できません。職員は公共交通機関で通勤してください。")
    assert await poll_kintone(services) == 1
    sent = services.proactive.sent
    assert len(sent) == 1 and sent[0]["conversation_id"] == "a:personal-1"
    delivered = json.dumps(sent[0]["card"], ensure_ascii=False)
    assert "来庁者用駐車場は職員は利用できません" in delivered and S.STAFF_WRITTEN in delivered
    assert "ナレッジセット「soumu」に登録され" in delivered
    assert await poll_kintone(services) == 0 and len(services.proactive.sent) == 1   # delivered once
    async with services.db.session() as s:
        row = await s.get(QAQuestion, qid)
    assert row.status == "staff_answered" and row.delivered_at is not None and row.kintone_record_id == "1"

    # the next asker gets the staff answer straight, as the approved answer (tests/skills/qa/test_approved.py),
    # and the Q/A pair is in the knowledge set as a staff-written document
    port = RecorderPort()
    await handle(make_request(UNKNOWN_Q, command="ask", user_id="29:user-3"), port, services)
    sent = port.last()
    assert "職員が承認した回答" in card_text(sent) and not sent.ai_generated
    assert "来庁者用駐車場は職員は利用できません" in card_text(sent)
    docs = await services.knowledge.list_documents("soumu")
    assert docs[f"qa-{qid}"].staff_written and docs[f"qa-{qid}"].source == "staff"
    hits = await services.knowledge.search(UNKNOWN_Q, ["soumu"], k=1)
    assert hits[0].staff_written and hits[0].title == UNKNOWN_Q


async def test_kintone_failure_is_reported_and_the_question_can_be_escalated_again(db, kintone):
    services = build(db, kintone=kintone)
    await seed(services)
    qid = await ask_unknown(services)
    services.kintone = KintoneClient(kintone_settings(kintone, KINTONE_API_TOKEN="wrong"))
    port = await escalate(services, qid)
    assert "kintone の認証に失敗しました" in card_text(port.last())
    services.kintone = KintoneClient(kintone_settings(kintone))
    OPEN_SERVICES.append(services)
    port = await escalate(services, qid)
    assert "受付番号: 1" in card_text(port.last())


async def test_teams_channel_fallback_round_trip(db, card_validator):
    services = build(db, QA_FALLBACK_CHANNELS={"soumu": STAFF_CHANNEL})
    await seed(services)
    await remember_personal_chat(services)
    port = RecorderPort()
    await handle(make_request("夏季休暇と年次休暇は合わせて何日取れますか", command="ask"), port, services)
    qid = port.last().card["actions"][0]["data"]["q"]            # offline: search results with the hand-off button
    port = await escalate(services, qid)
    assert S.ESCALATED_TEAMS in card_text(port.last())
    posted = services.proactive.sent[0]
    assert posted["conversation_id"] == STAFF_CHANNEL
    staff_card = posted["card"]
    assert_valid_card(card_validator, staff_card)
    listed = json.dumps(staff_card, ensure_ascii=False)
    assert "夏季休暇と年次休暇は合わせて何日取れますか" in listed and "尼崎 太郎" in listed and "soumu" in listed
    assert any(b.get("type") == "Input.Text" and b["id"] == "answer" for b in staff_card["body"])
    assert staff_card["actions"][0]["verb"] == "qa.staff_answer"

    staff = dict(user_id="29:staff-1", user_name="総務 花子", aad_object_id="00000000-0000-0000-0000-0000000000cc",
                 conversation_type="channel", is_invoke=True)
    wrong = RecorderPort()
    await router.dispatch(make_request(verb="qa.staff_answer", data={"q": qid, "answer": "偽の回答"},
                              conversation_id="19:other@thread.tacv2;messageid=9", **staff), wrong, services)
    assert S.STAFF_WRONG_CHANNEL in card_text(wrong.last())
    empty = RecorderPort()
    await router.dispatch(make_request(verb="qa.staff_answer", data={"q": qid, "answer": "  "},
                              conversation_id=STAFF_CHANNEL + ";messageid=77", **staff), empty, services)
    assert S.STAFF_ANSWER_EMPTY in card_text(empty.last())
    done = RecorderPort()
    answer = "年次休暇20日のほか、夏季休暇を5日以内で取得できます。"
    await router.dispatch(make_request(verb="qa.staff_answer", data={"q": qid, "answer": answer},
                              conversation_id=STAFF_CHANNEL + ";messageid=77", **staff), done, services)
    assert done.last().kind == "refresh"
    assert S.STAFF_CARD_DONE.format(set="soumu") in card_text(done.last())
    assert "総務 花子" in card_text(done.last())
    assert_valid_card(card_validator, done.last().card)
    to_asker = services.proactive.sent[1]
    assert to_asker["conversation_id"] == "a:personal-1" and answer in json.dumps(to_asker["card"], ensure_ascii=False)
    assert_valid_card(card_validator, to_asker["card"])
    again = RecorderPort()
    await router.dispatch(make_request(verb="qa.staff_answer", data={"q": qid, "answer": "二度目"},
                              conversation_id=STAFF_CHANNEL + ";messageid=77", **staff), again, services)
    assert S.ALREADY_ANSWERED in card_text(again.last()) and len(services.proactive.sent) == 2
    async with services.db.session() as s:
        row = await s.get(QAQuestion, qid)
    assert (row.status, row.backend, row.answer, row.answered_by) == ("staff_answered", "teams", answer, "総務 花子")


async def test_no_backend_no_button_and_failed_channel_post(db):
    services = build(db)
    await seed(services)
    port = RecorderPort()
    await handle(make_request(UNKNOWN_Q, command="ask"), port, services)
    assert "actions" not in port.last().card and S.ESCALATE_NONE in card_text(port.last())
    services = build(db, QA_FALLBACK_CHANNELS={"*": STAFF_CHANNEL})
    services.proactive.fail_for.add(STAFF_CHANNEL)
    qid = await ask_unknown(services)
    assert S.ESCALATE_FAILED in card_text((await escalate(services, qid)).last())
    async with services.db.session() as s:
        assert (await s.get(QAQuestion, qid)).status == "unanswered"       # may be tried again


async def test_undelivered_answers_are_retried(db, kintone):
    services = build(db, kintone=kintone)
    await seed(services)
    await remember_personal_chat(services)
    qid = await ask_unknown(services)
    await escalate(services, qid)
    services.proactive.fail_for.add("a:personal-1")
    kintone.answer("1", "職員は利用できません。")
    assert await poll_kintone(services) == 1
    async with services.db.session() as s:
        row = await s.get(QAQuestion, qid)
    assert row.delivered_at is None and row.delivery_attempts == 1
    services.proactive.fail_for.clear()
    assert await retry_deliveries(services) == 1
    assert services.proactive.sent[-1]["conversation_id"] == "a:personal-1"
    assert await retry_deliveries(services) == 0


async def test_webhook_verifies_the_token_and_delivers_once(db, kintone):
    services = build(db, kintone=kintone)
    services.kintone = KintoneClient(kintone_settings(kintone, KINTONE_WEBHOOK_TOKEN="hook-secret"))
    await seed(services)
    await remember_personal_chat(services)
    qid = await ask_unknown(services)
    await escalate(services, qid)
    app = web.Application()
    app.router.add_post("/api/kintone/webhook", kintone_webhook_handler(services))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        kintone.answer("1", "職員は利用できません。")
        payload = kintone.webhook_payload("1")
        r = await client.post("/api/kintone/webhook", json=payload)
        assert r.status == 401
        r = await client.post("/api/kintone/webhook?token=nope", json=payload)
        assert r.status == 401
        r = await client.post("/api/kintone/webhook?token=hook-secret", data=b"{oops",
                              headers={"Content-Type": "application/json"})
        assert r.status == 400
        r = await client.post("/api/kintone/webhook?token=hook-secret", json=payload)
        assert r.status == 200 and (await r.json()) == {"status": "delivered"}
        r = await client.post("/api/kintone/webhook", json=payload, headers={"X-Webhook-Token": "hook-secret"})
        assert (await r.json()) == {"status": "ignored"}
    assert len(services.proactive.sent) == 1 and "職員は利用できません" in json.dumps(services.proactive.sent[0]["card"],
                                                                             ensure_ascii=False)


async def until(predicate, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


class StepClock(Clock):
    def __init__(self) -> None:
        self.t = datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.t


async def test_lease_one_holder_renewal_expiry_and_takeover(db):
    clock = StepClock()
    a = Lease(db, "qa.test.lease", timedelta(seconds=30), clock, "a")
    b = Lease(db, "qa.test.lease", timedelta(seconds=30), clock, "b")
    assert await a.acquire() and not await b.acquire()
    clock.t += timedelta(seconds=20)
    assert await a.acquire() and not await b.acquire()           # renewed until +50 s
    clock.t += timedelta(seconds=25)                              # +45 s: past the first expiry, not the renewed one
    assert not await b.acquire()
    clock.t += timedelta(seconds=6)                               # +51 s: a's lease expired, b takes it
    assert await b.acquire()
    assert not await a.acquire() and not a.held                   # a cannot renew what it lost
    await b.release()
    assert await a.acquire()


async def test_two_pollers_on_one_database_only_one_polls(db_url, db, kintone):
    """Two processes (two Database engines on the same database, each with its own services) start a poller."""
    other_db = Database(db_url)
    try:
        first = build(db, kintone=kintone)
        second = build(other_db, kintone=kintone)
        await seed(first)
        qid = await ask_unknown(first)
        await escalate(first, qid)                     # an open question, so each poll really calls kintone
        t1 = start_poller(first, interval=0.05)
        p1 = first.extras[POLLER_KEY]
        await until(lambda: p1.polls >= 1)
        t2 = start_poller(second, interval=0.05)
        p2 = second.extras[POLLER_KEY]
        await until(lambda: p1.polls >= 4 and p2.passes >= 4)
        assert p2.polls == 0 and p1.errors == p2.errors == 0        # the second process tried, and never polled
        gets = len([r for r in kintone.requests if r["method"] == "GET"])
        assert p1.polls <= gets <= p1.polls + 1                     # (one GET may be in flight)
        t1.cancel()                                    # the holder stops (shutdown): it releases the lease
        await asyncio.gather(t1, return_exceptions=True)
        await until(lambda: p2.polls >= 1)             # and the other process takes over
        t2.cancel()
        await asyncio.gather(t2, return_exceptions=True)
        disabled = start_poller(build(db))             # kintone not configured: nothing runs
        await asyncio.sleep(0)
        assert (await disabled) is None
    finally:
        await other_db.dispose()


async def test_a_dislike_on_an_answer_offers_the_hand_off(db):
    from skills.qa.feedback import escalation_offer

    services = build(db, QA_FALLBACK_CHANNELS={"*": STAFF_CHANNEL})
    await seed(services)
    port = RecorderPort()
    await handle(make_request("年次休暇は何日ありますか", command="ask"), port, services)
    async with services.db.session() as s:
        activity_id = (await s.scalars(select(QAQuestion.answer_activity_id))).one()
    assert activity_id == "id-1"                                    # the recorder's id of the answer message
    assert await escalation_offer(services, activity_id, "29:user-1", "like") is None
    assert await escalation_offer(services, activity_id, "29:someone-else", "dislike") is None
    assert await escalation_offer(services, "unknown-id", "29:user-1", "dislike") is None
    card = await escalation_offer(services, activity_id, "29:user-1", "dislike")
    action = card["actions"][0]
    assert action["verb"] == "qa.escalate" and S.DISLIKE_OFFER in json.dumps(card, ensure_ascii=False)
    await escalate(services, action["data"]["q"])
    assert await escalation_offer(services, activity_id, "29:user-1", "dislike") is None   # already handed over


async def test_a_dislike_through_the_teams_feedback_invoke_brings_the_offer(db):
    """On the wire: /ask → answer → the feedback invoke (👎) → 200 with an empty body, then the offer card."""
    import aiohttp

    from tests.harness import running_bot
    from tests.standins.connector import ConnectorStandIn

    services = build(db, QA_FALLBACK_CHANNELS={"*": STAFF_CHANNEL})
    await seed(services)
    connector = await ConnectorStandIn().start()
    try:
        async with running_bot(services) as url, aiohttp.ClientSession() as s:
            await s.post(f"{url}/api/messages", json=connector.activity("/ask 年次休暇は何日ありますか"))
            answer_activity = None
            for _ in range(150):                      # the answer's activity id, once it has been sent
                async with services.db.session() as db_s:
                    answer_activity = await db_s.scalar(select(QAQuestion.answer_activity_id))
                if answer_activity:
                    break
                await asyncio.sleep(0.1)
            assert answer_activity
            n = len(connector.posts)
            fb = connector.activity(None, type="invoke", name="message/submitAction", replyToId=answer_activity,
                                    value={"actionName": "feedback", "actionValue": {"reaction": "dislike",
                                                                                     "feedback": "違います"}})
            async with s.post(f"{url}/api/messages", json=fb) as r:
                status, body = r.status, await r.text()
            await connector.wait_for(lambda acts: len(connector.posts) > n, timeout=10)
    finally:
        await connector.stop()
    assert (status, body) == (200, "")
    offer = connector.posts[-1]["body"]
    assert S.DISLIKE_OFFER in json.dumps(offer, ensure_ascii=False)
