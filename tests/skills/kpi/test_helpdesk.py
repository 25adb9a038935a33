"""/helpdesk: the Teams round trip through the real app and a stand-in Bot Connector (question → channel post →
answer invoke → proactive answer to the asker), and the kintone backend over real HTTP to the kintone stand-in."""
from __future__ import annotations

import asyncio

import aiohttp
from sqlalchemy import select

from core.kintone.client import KintoneClient, KintoneSettings
from core.services import SendResult
from core.store.models import ConversationRef
from skills.kpi import strings as S
from skills.kpi.helpdesk import KNOWLEDGE_SET, poll_kintone_answers
from skills.kpi.models import HelpdeskTicket
from tests.harness import RecorderPort, make_request, running_bot
from tests.standins.connector import ConnectorStandIn
from tests.standins.kintone import KintoneStandIn

CHANNEL = "19:helpdesk-channel@thread.tacv2"
QUESTION = "通知文の素案を課の様式に合わせるには、どう頼めばよいですか。"
ANSWER = "依頼文に「課の様式に合わせて」と書き、様式の見出しを貼り付けてください。"


async def _wait_db(db, predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with db.session() as s:
            if await predicate(s):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("database condition not reached")


def _invoke(connector, ticket, answer, *, conversation=f"{CHANNEL};messageid=1700000000000"):
    return connector.activity(
        type="invoke", name="adaptiveCard/action", conversation=conversation, conv_type="channel",
        **{"from": {"id": "29:dx-staff", "name": "DX 花子", "aadObjectId": "dx-aad"},
           "value": {"action": {"type": "Action.Execute", "verb": "kpi.helpdesk.answer",
                                "data": {"verb": "kpi.helpdesk.answer", "ticket": ticket, "answer": answer}}}})


async def test_teams_round_trip(make_svc, sqlite_db):
    connector = await ConnectorStandIn().start()
    services = make_svc(HELPDESK_CONVERSATION_ID=CHANNEL)
    try:
        async with running_bot(services) as url, aiohttp.ClientSession() as http:
            # the bot is installed in the DX team's channel: its conversation reference is stored
            async with http.post(f"{url}/api/messages", json=connector.activity(
                    type="conversationUpdate", conversation=CHANNEL, conv_type="channel",
                    membersAdded=[{"id": "28:bot-1"}])) as r:
                assert r.status in (200, 202)
            await _wait_db(sqlite_db, lambda s: s.get(ConversationRef, CHANNEL))

            # 1. the question, typed in the asker's personal chat
            async with http.post(f"{url}/api/messages", json=connector.activity(f"/helpdesk {QUESTION}")) as r:
                assert r.status in (200, 202)
            acts = await connector.wait_for(lambda a: len([m for m in a if m.get("type") == "message"]) >= 2)
            channel_post = next(p for p in connector.posts if CHANNEL in p["path"])
            card = channel_post["body"]["attachments"][0]["content"]
            assert card["actions"][0]["verb"] == "kpi.helpdesk.answer"
            ticket = card["actions"][0]["data"]["ticket"]
            assert any(QUESTION in str(b) for b in card["body"])
            ack = [m for m in acts if m.get("type") == "message" and m.get("conversation", {}).get("id") != CHANNEL]
            assert ack[-1]["text"] == S.HELPDESK_ACCEPTED.format(ticket=ticket)

            # 2. an empty answer is refused in place, nothing is sent
            before = len(connector.messages())
            async with http.post(f"{url}/api/messages", json=_invoke(connector, ticket, "  ")) as r:
                body = await r.json()
            assert body["type"] == "application/vnd.microsoft.card.adaptive"
            assert S.HELPDESK_ANSWER_EMPTY in str(body["value"]["body"])
            assert len(connector.messages()) == before

            # 3. the DX staff answer in the channel card
            async with http.post(f"{url}/api/messages", json=_invoke(connector, ticket, ANSWER)) as r:
                assert r.status == 200
                body = await r.json()
            assert "回答済み" in body["value"]["body"][0]["text"]
            assert "質問者の個人チャットに回答を届けました。" in str(body["value"]["body"])

            # 4. the asker receives the answer proactively in the personal chat
            await connector.wait_for(lambda a: any(
                m.get("conversation", {}).get("id") == "a:personal-1" and m.get("attachments")
                and "ヘルプデスクからの回答" in str(m["attachments"][0]["content"]) for m in a))
            sent = [m for m in connector.messages() if m.get("attachments")
                    and "ヘルプデスクからの回答" in str(m["attachments"][0]["content"])]
            assert len(sent) == 1 and "/v3/conversations/a:personal-1/activities" in next(
                p["path"] for p in connector.posts if p["body"] is sent[0])
            assert ANSWER in str(sent[0]["attachments"][0]["content"])
            assert not any(e.get("additionalType") for e in sent[0].get("entities") or [])   # a person wrote it

            # 5. a second click (another staff member) sends nothing more
            async with http.post(f"{url}/api/messages", json=_invoke(connector, ticket, "別の回答")) as r:
                body = await r.json()
            assert "回答済み" in body["value"]["body"][0]["text"] and ANSWER in str(body["value"]["body"])
            await asyncio.sleep(0.2)
            assert len([m for m in connector.messages() if m.get("attachments")
                        and "ヘルプデスクからの回答" in str(m["attachments"][0]["content"])]) == 1

            # the answer button works only in the help-desk channel
            async with http.post(f"{url}/api/messages",
                                 json=_invoke(connector, ticket, "x", conversation="19:other@thread.tacv2")) as r:
                assert r.status == 200
            await connector.wait_for(lambda a: any(m.get("text") == S.HELPDESK_WRONG_PLACE for m in a))
    finally:
        await connector.stop()
    async with sqlite_db.session() as s:
        t = await s.get(HelpdeskTicket, ticket)
    assert (t.status, t.answer, t.answered_by, t.delivered, t.user_id) == ("answered", ANSWER, "DX 花子", True,
                                                                          "29:user-1")


class FakeProactive:
    def __init__(self, results=None):
        self.sent: list[tuple[str, dict]] = []
        self.results = results or {}

    async def send(self, conversation_id, *, text=None, card=None, ai_generated=False):
        self.sent.append((conversation_id, card))
        return self.results.get(conversation_id, SendResult(ok=True, status=200, activity_id="x"))


async def test_not_configured_and_bad_input(make_svc):
    svc = make_svc()
    svc.proactive = FakeProactive()
    port = RecorderPort()
    from skills.kpi.handler import handle

    await handle(make_request("", command="helpdesk"), port, svc)
    await handle(make_request("x" * 2001, command="helpdesk"), port, svc)
    await handle(make_request(QUESTION, command="helpdesk"), port, svc)
    assert port.texts() == [S.HELPDESK_USAGE, S.HELPDESK_TOO_LONG, S.HELPDESK_NOT_CONFIGURED]
    assert svc.proactive.sent == []


async def test_channel_post_failure_is_reported_and_ticket_marked(make_svc, sqlite_db):
    svc = make_svc(HELPDESK_CONVERSATION_ID=CHANNEL)
    svc.proactive = FakeProactive({CHANNEL: SendResult(ok=False, status=403, gone=True)})
    port = RecorderPort()
    from skills.kpi.handler import handle

    await handle(make_request(QUESTION, command="helpdesk"), port, svc)
    async with sqlite_db.session() as s:
        [t] = (await s.execute(select(HelpdeskTicket))).scalars().all()
    assert t.status == "failed"
    assert port.texts() == [S.HELPDESK_SEND_FAILED.format(ticket=t.id)]


async def test_kintone_backend_round_trip(make_svc, sqlite_db):
    async with KintoneStandIn(app_id="7", api_token="tok") as kintone:
        svc = make_svc(HELPDESK_BACKEND="kintone")
        svc.proactive = FakeProactive()
        client = KintoneClient(KintoneSettings(_env_file=None, KINTONE_BASE_URL=kintone.base_url, KINTONE_APP_ID="7",
                                               KINTONE_API_TOKEN="tok"))
        svc.kintone = client
        async with sqlite_db.session() as s:
            s.add(ConversationRef(conversation_id="a:personal-1", user_id="29:user-1", conversation_type="personal",
                                  service_url="http://127.0.0.1:1/", reference={}))
        try:
            from skills.kpi.handler import handle

            port = RecorderPort()
            await handle(make_request(QUESTION, command="helpdesk", conversation_id="19:x@thread.tacv2",
                                      conversation_type="channel"), port, svc)
            [record_id] = [str(k) for k in kintone.records]
            rec = kintone.records[int(record_id)]
            assert (rec["質問"], rec["質問者"], rec["質問者ID"], rec["ナレッジセット"]) == (
                QUESTION, "尼崎 太郎", "29:user-1", KNOWLEDGE_SET)
            assert port.texts()[0].startswith(S.HELPDESK_ACCEPTED.format(ticket=1))
            assert S.HELPDESK_PERSONAL_HINT in port.texts()[0]     # asked in a channel: the answer goes to 1:1

            assert await poll_kintone_answers(svc) == 0            # not answered yet
            kintone.answer(record_id, ANSWER)
            assert await poll_kintone_answers(svc) == 1
            assert await poll_kintone_answers(svc) == 0            # closed: never delivered twice
            [(conv, card)] = svc.proactive.sent
            assert conv == "a:personal-1" and ANSWER in str(card)
        finally:
            await client.close()
    async with sqlite_db.session() as s:
        t = await s.get(HelpdeskTicket, 1)
    assert (t.status, t.external_id, t.delivered) == ("answered", record_id, True)
