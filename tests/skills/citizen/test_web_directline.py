"""The Direct Line 3.0 stand-in (devtools/directline) between a client and the real bot, over real HTTP and a real
WebSocket: what it sends the bot is a Bot Connector activity of the Web Chat channel (channelId "webchat", a
serviceUrl pointing at itself, the token's user), the bot's reply comes back to the client on the stream and by
polling, and the service's rules (tokens per conversation, refresh, expiry, no UpdateActivity) hold."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import jwt
import pytest

from core.store import Database
from devtools.directline import DirectLineStandIn
from tests.harness import make_services, running_bot

ROOT = Path(__file__).resolve().parents[3]
SECRET = "standin-secret-4xK2"


@pytest.fixture
async def stack(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/dl.db")
    services = make_services(db)
    async with running_bot(services) as url:
        async with DirectLineStandIn(f"{url}/api/messages", secret=SECRET) as directline:
            async with aiohttp.ClientSession() as http:
                yield directline, http
    await db.dispose()


async def call(http, method, url, *, auth=None, body=None):
    headers = {"Authorization": f"Bearer {auth}"} if auth else {}
    async with http.request(method, url, headers=headers, json=body) as r:
        text = await r.text()
        return r.status, (json.loads(text) if text else None)


async def open_conversation(directline, http) -> tuple[str, str, str, str]:
    status, gen = await call(http, "POST", f"{directline.domain}/tokens/generate", auth=SECRET,
                             body={"user": {"id": "dl_resident1"}})
    assert status == 200
    status, conv = await call(http, "POST", f"{directline.domain}/conversations", auth=gen["token"])
    assert status == 201 and conv["conversationId"] == gen["conversationId"]
    return conv["conversationId"], conv["token"], conv["streamUrl"], gen["token"]


async def next_set(ws, timeout: float = 15.0) -> dict:
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        if msg.data:                                   # empty messages are keep-alives
            return json.loads(msg.data)


async def test_a_message_goes_to_the_bot_as_webchat_and_the_reply_comes_back(stack):
    directline, http = stack
    conv_id, token, stream_url, _ = await open_conversation(directline, http)
    # Starting the conversation told the bot, like the service does.
    [start] = [e["activity"] for e in directline.to_bot]
    assert start["type"] == "conversationUpdate" and start["channelId"] == "webchat"
    assert {m["id"] for m in start["membersAdded"]} == {"amagasaki-assistant", "dl_resident1"}
    ws = await http.ws_connect(stream_url)
    try:
        status, posted = await call(http, "POST", f"{directline.domain}/conversations/{conv_id}/activities",
                                    auth=token, body={"type": "message", "text": "粗大ごみの出し方を教えてください",
                                                      "from": {"id": "dl_forged", "name": "x"}, "locale": "ja-JP",
                                                      "channelData": {"clientActivityID": "c-1"}})
        assert status == 200 and posted["id"] == f"{conv_id}|0000001"
        sent = directline.to_bot[-1]
        activity = sent["activity"]
        assert sent["status"] == 202                               # the real app accepted it
        assert activity["channelId"] == "webchat" and activity["serviceUrl"] == f"{directline.origin}/"
        assert activity["from"] == {"id": "dl_resident1", "name": "x", "role": "user"}   # the token's user wins
        assert activity["conversation"] == {"id": conv_id} and activity["recipient"]["id"] == "amagasaki-assistant"
        assert activity["text"] == "粗大ごみの出し方を教えてください" and activity["locale"] == "ja-JP"
        # The stream: first the echo of our message (Web Chat matches it by clientActivityID), then the bot.
        echo = await next_set(ws)
        assert echo["watermark"] == "1" and echo["activities"][0]["channelData"]["clientActivityID"] == "c-1"
        reply_set = await next_set(ws)
        while reply_set["activities"][0]["type"] != "message":    # typing first, when the bot sends it
            reply_set = await next_set(ws)
        reply = reply_set["activities"][0]
        # botbuilder sends replies on these channels without replyToId (TurnContext.get_conversation_reference)
        assert reply["from"]["role"] == "bot" and reply["text"] and reply["id"] != posted["id"]
        assert int(reply_set["watermark"]) >= 2
    finally:
        await ws.close()
    # Polling sees the same conversation from any watermark; typing only ever goes on the stream.
    status, page = await call(http, "GET", f"{directline.domain}/conversations/{conv_id}/activities?watermark=1",
                              auth=token)
    assert status == 200 and page["activities"][-1]["id"] == reply["id"]
    assert all(a["type"] != "typing" for a in page["activities"])
    assert page["watermark"] == reply_set["watermark"] or int(page["watermark"]) >= int(reply_set["watermark"])
    # Reconnecting gives a new stream that replays what came after the watermark.
    status, again = await call(http, "GET", f"{directline.domain}/conversations/{conv_id}?watermark=1", auth=token)
    assert status == 200 and again["conversationId"] == conv_id
    ws = await http.ws_connect(again["streamUrl"] + "&watermark=1")
    try:
        replay = await next_set(ws)
        assert reply["id"] in [a["id"] for a in replay["activities"]]
    finally:
        await ws.close()


async def test_tokens_follow_the_service_rules(stack):
    directline, http = stack
    base = directline.domain
    assert (await call(http, "POST", f"{base}/tokens/generate"))[0] == 401
    assert (await call(http, "POST", f"{base}/tokens/generate", auth="wrong"))[0] == 403
    status, err = await call(http, "POST", f"{base}/tokens/generate", auth=SECRET, body={"user": {"id": "alice"}})
    assert status == 400 and "dl_" in err["error"]["message"]
    conv_id, token, _, generated = await open_conversation(directline, http)
    # Starting again with the same token: 200, the same conversation.
    status, same = await call(http, "POST", f"{base}/conversations", auth=generated)
    assert status == 200 and same["conversationId"] == conv_id
    # A refreshed token is another token for the same conversation and user.
    status, fresh = await call(http, "POST", f"{base}/tokens/refresh", auth=token)
    assert status == 200 and fresh["token"] != token and fresh["conversationId"] == conv_id
    assert jwt.decode(fresh["token"], options={"verify_signature": False})["user"] == "dl_resident1"
    # A token opens only its own conversation; the secret cannot be "refreshed".
    other_id, _, _, _ = await open_conversation(directline, http)
    status, _ = await call(http, "GET", f"{base}/conversations/{other_id}/activities", auth=token)
    assert status == 403
    assert (await call(http, "POST", f"{base}/tokens/refresh", auth=SECRET))[0] == 403
    # An expired token is refused with 403 (Web Chat then stops retrying and says so).
    directline.token_seconds = -60
    status, short = await call(http, "POST", f"{base}/tokens/refresh", auth=token)
    assert status == 200
    status, err = await call(http, "GET", f"{base}/conversations/{conv_id}/activities", auth=short["token"])
    assert status == 403 and err["error"]["code"] == "TokenExpired"
    # A stream URL needs its own stream token.
    async with http.get(f"{base}/conversations/{conv_id}/stream?t={token}") as r:
        assert r.status == 403


async def test_what_the_channel_does_not_support(stack):
    directline, http = stack
    conv_id, token, _, _ = await open_conversation(directline, http)
    for method in ("PUT", "DELETE"):
        status, err = await call(http, method, f"{directline.origin}/v3/conversations/{conv_id}/activities/x",
                                 body={"type": "message", "text": "edited"})
        assert status == 405 and err["error"]["message"] == "This channel does not support this operation"
    status, err = await call(http, "POST", f"{directline.domain}/conversations/{conv_id}/activities", auth=token,
                             body={"text": "no type"})
    assert status == 400
    status, _ = await call(http, "POST", f"{directline.origin}/v3/conversations/unknown/activities",
                           body={"type": "message", "text": "x"})
    assert status == 404


async def test_a_bot_that_is_down_is_a_502_to_the_client():
    async with DirectLineStandIn("http://127.0.0.1:9/api/messages", secret=SECRET) as directline:
        async with aiohttp.ClientSession() as http:
            conv_id, token, _, _ = await open_conversation(directline, http)
            status, err = await call(http, "POST", f"{directline.domain}/conversations/{conv_id}/activities",
                                     auth=token, body={"type": "message", "text": "こんにちは"})
            assert status == 502 and err["error"]["code"] == "BotError"


async def test_cors_preflight_is_answered():
    async with DirectLineStandIn("http://127.0.0.1:9/api/messages", secret=SECRET) as directline:
        async with aiohttp.ClientSession() as http:
            async with http.options(f"{directline.domain}/conversations",
                                    headers={"Origin": "http://127.0.0.1:3978",
                                             "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "authorization,x-ms-bot-agent"}) as r:
                assert r.status == 200
                assert r.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:3978"
                assert "x-ms-bot-agent" in r.headers["Access-Control-Allow-Headers"]


def test_the_command_line_refuses_a_non_loopback_address():
    proc = subprocess.run([sys.executable, "-m", "devtools.directline", "--host", "0.0.0.0", "--port", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "loopback" in proc.stderr


async def test_the_page_join_event_gets_one_welcome_in_the_browser_language(stack):
    """The citizen page sends Web Chat's `webchat/join` event once connected: the bot greets once, in the language
    of the browser's locale; the same event again (a reconnect, a hostile page) gets nothing more."""
    from skills.citizen.strings import WELCOME

    directline, http = stack
    conv_id, token, stream_url, _ = await open_conversation(directline, http)
    ws = await http.ws_connect(stream_url)
    try:
        url = f"{directline.domain}/conversations/{conv_id}/activities"
        join = {"type": "event", "name": "webchat/join", "value": {"language": "ko-KR"}}
        status, _ = await call(http, "POST", url, auth=token, body=join)
        assert status == 200
        texts = []
        while len(texts) < 1:
            for a in (await next_set(ws))["activities"]:
                if a["type"] == "message" and a["from"]["role"] == "bot":
                    texts.append(a["text"])
        assert texts == [WELCOME["ko"]]
        # the event again, then a question: the next bot message is the answer, not a second welcome
        assert (await call(http, "POST", url, auth=token, body=join))[0] == 200
        assert (await call(http, "POST", url, auth=token, body={"type": "message", "text": "燃やすごみの日は"}))[0] == 200
        nxt = None
        while nxt is None:
            for a in (await next_set(ws))["activities"]:
                if a["type"] == "message" and a["from"]["role"] == "bot":
                    nxt = a["text"]
                    break
        assert nxt not in WELCOME.values() and nxt
    finally:
        await ws.close()
    bot_sent = [e for e in directline.to_bot if e["activity"]["type"] == "event"]
    assert len(bot_sent) == 2 and all(e["status"] in (200, 202) for e in bot_sent)
