"""The Teams edge over real HTTP: the real aiohttp app, a stand-in Bot Connector recording what the bot posts
back, and (for AI turns) a loopback OpenAI-compatible server spoken to through the real openai client."""
from __future__ import annotations

import json

import aiohttp
import pytest
from sqlalchemy import select

from core.skills import Command, Skill, Verb
from core.store.models import ConversationRef, Feedback, UsageEvent
from tests.harness import make_services, running_bot

MENTION = {"type": "mention", "text": "<at>AI Assistant</at>", "mentioned": {"id": "28:bot-1", "name": "AI Assistant"}}


async def post(url: str, activity: dict | bytes, *, content_type="application/json") -> tuple[int, str]:
    data = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", data=data, headers={"Content-Type": content_type}) as r:
            return r.status, await r.text()


def add_echo_skills(services, calls: list):
    async def echo(req, reply, _services):
        calls.append(req)
        if req.verb == "echo.refresh":
            await reply.refresh_card({"type": "AdaptiveCard", "version": "1.5", "body": [
                {"type": "TextBlock", "text": "更新後"}]})
            return
        if req.text == "boom":
            raise RuntimeError("secret internal detail")
        await reply.send_text(f"echo:{req.text}")

    services.registry.add(Skill(name="echo", title="エコー", description="受け取った文をそのまま返します。",
                                commands=[Command("echo", "エコー", "そのまま返します。")], handler=echo,
                                verbs={"echo.refresh": Verb(echo), "echo.submit": Verb(echo)},
                                keywords=("やまびこ",)))
    services.registry.add(Skill(name="future", title="将来機能", description="まだです。",
                                commands=[Command("future", "将来機能", "準備中の機能です。")], ready=False))


async def test_help_card_in_personal_chat_and_by_japanese_alias(db, connector):
    services = make_services(db)
    async with running_bot(services) as url:
        for text in ("/help", "／ヘルプ"):
            n = len(connector.cards())
            assert (await post(url, connector.activity(text)))[0] == 202
            await connector.wait_for(lambda acts: len(connector.cards()) > n)  # noqa: B023 - awaited in this iteration
        card = connector.cards()[-1]
    assert card["version"] == "1.5" and card["type"] == "AdaptiveCard"
    listed = json.dumps(card, ensure_ascii=False)
    for cmd in ("/news", "/draft", "/answer", "/ask", "/plan", "/law", "/kpi"):
        assert cmd in listed
    # the reply went to the conversation of the activity, through the connector's REST path
    assert connector.posts[-1]["path"].startswith("/v3/conversations/a:personal-1/activities")


async def test_channel_messages_need_a_mention_which_is_stripped(db, connector):
    services = make_services(db)
    calls: list = []
    add_echo_skills(services, calls)
    conv = dict(conversation="19:abc@thread.tacv2;messageid=1", conv_type="channel")
    async with running_bot(services) as url:
        await post(url, connector.activity("/echo 無視されるはず", **conv))
        await post(url, connector.activity("<at>AI Assistant</at> /echo こんにちは", entities=[MENTION], **conv))
        await connector.wait_for(lambda acts: any(a.get("text") for a in acts))
    assert [c.text for c in calls] == ["こんにちは"]
    assert calls[0].conversation_type == "channel"
    assert [m["text"] for m in connector.messages()] == ["echo:こんにちは"]


async def test_unknown_command_gets_help_with_nearest_and_unbuilt_skill_says_coming_soon(db, connector):
    services = make_services(db)
    add_echo_skills(services, [])
    async with running_bot(services) as url:
        await post(url, connector.activity("/hlep"))
        await connector.wait_for(lambda acts: connector.cards())
        await post(url, connector.activity("/future"))
        await connector.wait_for(lambda acts: any("準備中" in (a.get("text") or "") for a in acts))
    unknown = json.dumps(connector.cards()[0], ensure_ascii=False)
    assert "「/hlep」" in unknown and "/help" in unknown.split("もしかして")[1][:40]
    assert any("「将来機能」（/future）は現在準備中です" in (m.get("text") or "") for m in connector.messages())


async def test_card_actions_execute_refreshes_card_and_submit_routes_by_verb(db, connector):
    services = make_services(db)
    calls: list = []
    add_echo_skills(services, calls)
    async with running_bot(services) as url:
        invoke = connector.activity(None, type="invoke", name="adaptiveCard/action",
                                    value={"action": {"type": "Action.Execute", "verb": "echo.refresh",
                                                      "data": {"verb": "echo.refresh", "x": 1}}, "trigger": "manual"})
        status, body = await post(url, invoke)
        submit = connector.activity(None, value={"verb": "echo.submit", "answer": "はい"})
        await post(url, submit)
        await connector.wait_for(lambda acts: connector.messages())
    assert status == 200
    resp = json.loads(body)
    assert resp["statusCode"] == 200 and resp["type"] == "application/vnd.microsoft.card.adaptive"
    assert resp["value"]["body"][0]["text"] == "更新後"
    assert calls[0].verb == "echo.refresh" and calls[0].data == {"x": 1} and calls[0].is_invoke
    assert calls[1].verb == "echo.submit" and calls[1].data == {"answer": "はい"}


@pytest.mark.parametrize("feedback", ['{"feedbackText":"役に立ちました"}', "役に立ちました"])
async def test_feedback_invoke_is_stored_and_answered_200_with_empty_body(db, connector, feedback):
    services = make_services(db)
    async with running_bot(services) as url:
        act = connector.activity(None, type="invoke", name="message/submitAction", replyToId="act-7",
                                 value={"actionName": "feedback",
                                        "actionValue": {"reaction": "dislike", "feedback": feedback}})
        status, body = await post(url, act)
    assert (status, body) == (200, "")
    async with db.session() as s:
        row = (await s.execute(select(Feedback))).scalar_one()
    assert (row.reaction, row.text, row.reply_to_id) == ("dislike", "役に立ちました", "act-7")


async def test_installation_stores_the_conversation_reference_and_welcomes(db, connector):
    services = make_services(db)
    async with running_bot(services) as url:
        status, _ = await post(url, connector.activity(None, type="installationUpdate", action="add"))
        await connector.wait_for(lambda acts: connector.messages())
    assert status == 202
    async with db.session() as s:
        ref = await s.get(ConversationRef, "a:personal-1")
    assert ref.installed and ref.service_url == connector.url
    assert ref.reference["conversation"]["id"] == "a:personal-1" and ref.reference["bot"]["id"] == "28:bot-1"
    assert "/help" in connector.messages()[0]["text"]


async def test_other_tenants_get_only_a_short_refusal(db, connector):
    services = make_services(db)
    add_echo_skills(services, calls := [])
    async with running_bot(services, ALLOWED_TENANT_IDS="tenant-1") as url:
        await post(url, connector.activity("/echo 外部", tenant="tenant-evil"))
        await connector.wait_for(lambda acts: connector.messages())
        await post(url, connector.activity("/echo 内部"))
        await connector.wait_for(lambda acts: len(connector.messages()) == 2)
    texts = [m["text"] for m in connector.messages()]
    assert "尼崎市のテナントの職員のみ" in texts[0] and texts[1] == "echo:内部"
    assert [c.text for c in calls] == ["内部"]


async def test_a_failing_skill_gets_a_japanese_apology_never_a_trace(db, connector):
    services = make_services(db)
    add_echo_skills(services, [])
    async with running_bot(services) as url:
        await post(url, connector.activity("/echo boom"))
        await connector.wait_for(lambda acts: connector.messages())
    text = connector.messages()[0]["text"]
    assert text.startswith("申し訳ありません。") and "お問い合わせ番号" in text
    assert "secret internal detail" not in text and "Traceback" not in text


async def test_bad_requests_get_4xx_never_500(db, connector):
    services = make_services(db)
    async with running_bot(services) as url:
        assert (await post(url, b"{not json"))[0] == 400
        assert (await post(url, b"[1, 2]"))[0] == 400
        assert (await post(url, b'{"text": "no type"}'))[0] == 400
        assert (await post(url, b'{"type": "message", "text": "x"}'))[0] == 400      # no conversation/serviceUrl
        assert (await post(url, b"hello", content_type="text/plain"))[0] == 415
        assert (await post(url, b'{"type": "message", "x": "' + b"a" * (5 * 1024 * 1024) + b'"}'))[0] == 413
        hostile = connector.activity("/help", entities="not a list", attachments=[{"contentType": None}],
                                     value=["odd"])
        assert (await post(url, hostile))[0] in (202, 400)
        for value in ("garbage", {"action": "x"}, {"action": {"verb": "echo.refresh", "data": [1]}}):
            status, body = await post(url, connector.activity(None, type="invoke", name="adaptiveCard/action",
                                                              value=value))
            assert status == 200 and "申し訳ありません" not in body
        feedback = connector.activity(None, type="invoke", name="message/submitAction",
                                      value={"actionName": "feedback", "actionValue": "odd"})
        assert await post(url, feedback) == (200, "")


async def test_personal_chat_streams_then_sends_final_with_label_and_feedback(db, connector, llm):
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    # six chunks 0.45 s apart: the stream lasts well past the 1 s between updates even when the machine is busy
    # (with four, the last chunk came 1.35 s after the first: one update at most, none under load)
    llm.default = {"chunks": ["一つ目の", "文です。", "二つ目の", "文です。", "三つ目の", "文です。"], "chunk_delay": 0.45}
    async with running_bot(services) as url:
        await post(url, connector.activity("今日の会議の進め方を相談したいです"))
        await connector.wait_for(lambda acts: connector.messages(), timeout=15)
    acts = connector.activities()
    typing = [a for a in acts if a["type"] == "typing"]
    final = connector.messages()[-1]
    assert typing, "no streaming updates were sent"
    infos = [next(e for e in a["entities"] if e["type"] == "streaminfo") for a in typing]
    assert all(i["streamType"] == "streaming" for i in infos)
    seqs = [i["streamSequence"] for i in infos]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert "streamId" not in infos[0] and all(i["streamId"] == "act-1" for i in infos[1:])
    gaps = [b["t"] - a["t"] for a, b in zip(connector.posts, connector.posts[1:]) if b["body"]["type"] == "typing"]
    assert all(g >= 0.9 for g in gaps)
    assert final["text"] == "一つ目の文です。二つ目の文です。三つ目の文です。"
    kinds = {e["type"]: e for e in final["entities"]}
    assert kinds["streaminfo"] == {"type": "streaminfo", "streamId": "act-1", "streamType": "final"}
    assert kinds["https://schema.org/Message"]["additionalType"] == ["AIGeneratedContent"]
    assert final["channelData"]["feedbackLoop"] == {"type": "default"}


async def test_stop_pressed_in_teams_stops_generation_quietly(db, connector, llm):
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    llm.default = {"chunks": ["あ" * 10] * 8, "chunk_delay": 0.4}
    connector.fail = lambda method, path, body: (403, {"error": {"code": "ContentStreamNotAllowed"}}) \
        if body.get("type") == "typing" else None
    async with running_bot(services) as url:
        await post(url, connector.activity("長い文章を書いてください"))
        await connector.wait_for(lambda acts: any(a["type"] == "typing" for a in acts), timeout=10)
        await connector.wait_for(lambda acts: False, timeout=1.5) if False else None
        import asyncio
        await asyncio.sleep(1.5)
    assert connector.messages() == []           # no final message, no apology
    async with db.session() as s:
        ev = (await s.execute(select(UsageEvent))).scalar_one()
    assert ev.outcome == "stopped"


async def test_outside_personal_chat_only_the_final_message_is_sent(db, connector, llm):
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    llm.default = {"chunks": ["グループ", "での回答です。"], "chunk_delay": 0.6}
    async with running_bot(services) as url:
        await post(url, connector.activity("<at>AI Assistant</at> 相談です", entities=[MENTION],
                                           conversation="19:group@thread.v2", conv_type="groupChat"))
        await connector.wait_for(lambda acts: connector.messages(), timeout=10)
    assert [a["type"] for a in connector.activities()] == ["message"]
    assert connector.messages()[0]["text"] == "グループでの回答です。"


async def test_llm_chooses_a_skill_by_tool_call_and_the_skill_gets_the_original_text(db, connector, llm):
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    calls: list = []
    add_echo_skills(services, calls)
    llm.default = {"tool": "echo", "args": {"request": "言い換えられた依頼"}}
    async with running_bot(services) as url:
        await post(url, connector.activity("山に向かって叫びたい"))
        await connector.wait_for(lambda acts: connector.messages(), timeout=10)
    sent_tools = llm.chat_requests()[0]["tools"]
    names = {t["function"]["name"] for t in sent_tools}
    assert "echo" in names and "help" not in names and "future" not in names
    assert [c.text for c in calls] == ["山に向かって叫びたい"]
    assert connector.messages()[0]["text"] == "echo:山に向かって叫びたい"


async def test_offline_free_text_uses_keyword_rules_else_help(db, connector):
    services = make_services(db)
    calls: list = []
    add_echo_skills(services, calls)
    async with running_bot(services) as url:
        await post(url, connector.activity("やまびこを聞かせて"))
        await connector.wait_for(lambda acts: connector.messages())
        await post(url, connector.activity("まったく関係のない話"))
        await connector.wait_for(lambda acts: connector.cards())
    assert [c.text for c in calls] == ["やまびこを聞かせて"]
    assert "見つかりませんでした" in json.dumps(connector.cards()[0], ensure_ascii=False)


async def test_llm_errors_give_a_clear_message(db, connector, llm):
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url,
                                          "LLM_MAX_RETRIES": "0"})
    llm.default = {"status": 500}
    async with running_bot(services) as url:
        await post(url, connector.activity("相談です"))
        await connector.wait_for(lambda acts: connector.messages(), timeout=10)
    assert connector.messages()[0]["text"] == "AIサービスに接続できませんでした。少し時間をおいて、もう一度お試しください。"
    async with db.session() as s:
        ev = (await s.execute(select(UsageEvent))).scalar_one()
    assert (ev.outcome, ev.reason) == ("error", "unavailable")


async def test_proactive_send_uses_the_stored_reference_and_marks_removed_users(db, connector):
    services = make_services(db)
    async with running_bot(services) as url:
        await post(url, connector.activity("/help"))
        await connector.wait_for(lambda acts: connector.cards())
        ok = await services.proactive.send("a:personal-1", text="おはようございます")
        connector.fail = lambda m, p, b: (403, {"error": {"code": "BotNotInConversationRoster"}})
        gone = await services.proactive.send("a:personal-1", text="届かない")
        never = await services.proactive.send("a:unknown", text="x")
    assert ok.ok and ok.activity_id
    delivered = [p["body"]["text"] for p in connector.posts if p["status"] == 200 and p["body"].get("text")]
    assert delivered[-1] == "おはようございます" and "届かない" not in delivered
    assert (gone.ok, gone.gone, gone.status) == (False, True, 403)
    assert never.gone
    async with db.session() as s:
        assert (await s.get(ConversationRef, "a:personal-1")).installed is False


async def test_simultaneous_install_events_do_not_collide(db, connector):
    """Teams (and the Playground) send installationUpdate and conversationUpdate at the same moment."""
    import asyncio

    services = make_services(db)
    async with running_bot(services) as url:
        acts = [connector.activity(None, type="installationUpdate", action="add"),
                connector.activity(None, type="conversationUpdate",
                                   membersAdded=[{"id": "28:bot-1"}, {"id": "29:user-1"}])] * 3
        statuses = await asyncio.gather(*(post(url, a) for a in acts))
        await connector.wait_for(lambda a: len(connector.messages()) >= 3, timeout=10)
        await asyncio.sleep(0.5)
    assert {s for s, _ in statuses} == {202}
    assert len(connector.messages()) == 3          # one welcome per installation, none for conversationUpdate
    assert not any("申し訳ありません" in (m.get("text") or "") for m in connector.messages())
    async with db.session() as s:
        rows = (await s.execute(select(ConversationRef))).scalars().all()
    assert len(rows) == 1 and rows[0].installed


async def test_long_card_actions_answer_the_invoke_early_and_finish_in_the_background(db, connector, monkeypatch):
    import asyncio
    import time

    import bot.handler

    monkeypatch.setattr(bot.handler, "INVOKE_WAIT_SECONDS", 0.5)
    services = make_services(db)

    async def slow(req, reply, _services):
        if req.verb == "slow.card":
            await reply.refresh_card({"type": "AdaptiveCard", "version": "1.5",
                                      "body": [{"type": "TextBlock", "text": "受付済み"}]})
        await asyncio.sleep(1.5)
        await reply.send_text(f"完了:{req.verb}")
        if req.verb == "slow.card":
            await reply.refresh_card({"type": "AdaptiveCard", "version": "1.5",
                                      "body": [{"type": "TextBlock", "text": "完了後"}]})

    services.registry.add(Skill(name="slow", title="遅い処理", description="時間のかかる処理です。",
                                commands=[Command("slow", "遅い処理", "時間がかかります。")], handler=slow,
                                verbs={"slow.card": Verb(slow), "slow.plain": Verb(slow)}))

    def invoke(verb):
        return connector.activity(None, type="invoke", name="adaptiveCard/action", replyToId="card-msg-1",
                                  value={"action": {"type": "Action.Execute", "verb": verb, "data": {}}})

    async with running_bot(services) as url:
        t0 = time.perf_counter()
        status, body = await post(url, invoke("slow.card"))
        first = time.perf_counter() - t0
        status2, body2 = await post(url, invoke("slow.plain"))
        await connector.wait_for(lambda acts: sum(1 for p in connector.posts if p["method"] == "POST") >= 2
                                 and any(p["method"] == "PUT" for p in connector.posts), timeout=10)
    assert status == 200 and json.loads(body)["value"]["body"][0]["text"] == "受付済み"
    assert first < 1.4                      # answered before the work finished
    assert json.loads(body2)["value"] == "処理を受け付けました。結果はこのチャットでお知らせします。"
    texts = sorted(p["body"]["text"] for p in connector.posts if p["method"] == "POST" and p["body"].get("text"))
    assert texts == ["完了:slow.card", "完了:slow.plain"]
    put = next(p for p in connector.posts if p["method"] == "PUT")
    assert put["path"].endswith("/activities/card-msg-1") and "完了後" in json.dumps(put["body"], ensure_ascii=False)
