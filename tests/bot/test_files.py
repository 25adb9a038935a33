"""Files to users the Teams way: a file-consent card, the fileConsent/invoke with an upload URL, a PUT of the
bytes (Content-Range), then a file-info card; decline, expiry, channels, and the inline mode for the Playground."""
from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from core.skills import Command, Skill
from core.store.models import KeyValue
from tests.harness import make_services, receive_file, running_bot
from tests.standins.connector import ConnectorStandIn
from tests.standins.upload import UploadStandIn

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CONTENT = "通知文の本文".encode() * 100


@pytest.fixture
async def peers():
    connector, upload = await ConnectorStandIn().start(), await UploadStandIn().start()
    yield connector, upload
    await connector.stop()
    await upload.stop()


def with_file_skill(db):
    services = make_services(db)

    async def make(req, reply, _services):
        await reply.send_file("通知文.docx", CONTENT, DOCX, description="Word ファイルを作成しました。")

    services.registry.add(Skill(name="mkfile", title="ファイル", description="ファイルを作ります。",
                                commands=[Command("mkfile", "ファイル", "ファイルを作ります。")], handler=make))
    return services


async def post(url, act):
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", json=act) as r:
            return r.status, await r.text()


async def test_consent_accept_uploads_the_bytes_and_posts_a_file_card(db, peers):
    connector, upload = peers
    async with running_bot(with_file_skill(db)) as url:
        await post(url, connector.activity("/mkfile"))
        name, data = await receive_file(url, connector, upload)
        await connector.wait_for(lambda a: any(att.get("contentType") == "application/vnd.microsoft.teams.card.file.info"
                                               for x in a for att in x.get("attachments") or []))
    assert name == "通知文.docx" and data == CONTENT
    assert upload.headers[name]["Content-Range"] == f"bytes 0-{len(CONTENT) - 1}/{len(CONTENT)}"
    consent = next(att for x in connector.activities() for att in x.get("attachments") or []
                   if att["contentType"].endswith("file.consent"))
    assert consent["content"]["sizeInBytes"] == len(CONTENT)
    info = connector.activities()[-1]["attachments"][0]
    assert info["content"]["uniqueId"] and info["contentUrl"].endswith("通知文.docx")
    async with db.session() as s:
        assert (await s.execute(select(KeyValue))).scalars().all() == []      # nothing left behind


async def test_decline_and_a_second_click_are_answered_politely(db, peers):
    connector, upload = peers
    async with running_bot(with_file_skill(db)) as url:
        await post(url, connector.activity("/mkfile"))
        acts = await connector.wait_for(lambda a: a)
        ctx = acts[-1]["attachments"][0]["content"]["declineContext"]
        decline = connector.activity(None, type="invoke", name="fileConsent/invoke",
                                     value={"type": "fileUpload", "action": "decline", "context": ctx})
        assert await post(url, decline) == (200, "")
        again = connector.activity(None, type="invoke", name="fileConsent/invoke",
                                   value={"type": "fileUpload", "action": "accept", "context": ctx,
                                          "uploadInfo": upload.upload_info("通知文.docx")})
        assert await post(url, again) == (200, "")
    texts = [m.get("text") for m in connector.messages()]
    assert "ファイルの送信を取り消しました。" in texts and any("期限が過ぎました" in (t or "") for t in texts)
    assert upload.files == {}


async def test_channels_are_asked_to_use_personal_chat_and_inline_mode_sends_a_data_uri(db, peers):
    connector, _ = peers
    mention = [{"type": "mention", "text": "<at>AI</at>", "mentioned": {"id": "28:bot-1", "name": "AI"}}]
    async with running_bot(with_file_skill(db)) as url:
        await post(url, connector.activity("<at>AI</at> /mkfile", conversation="19:c@thread.tacv2",
                                           conv_type="channel", entities=mention))
        await connector.wait_for(lambda a: connector.messages())
    assert "個人チャット" in connector.messages()[-1]["text"]
    async with running_bot(with_file_skill(db), FILE_DELIVERY="inline") as url:
        await post(url, connector.activity("/mkfile"))
        await connector.wait_for(lambda a: any((att.get("contentUrl") or "").startswith("data:")
                                               for x in a for att in x.get("attachments") or []))
    att = connector.messages()[-1]["attachments"][0]
    assert att["name"] == "通知文.docx" and att["contentUrl"].startswith(f"data:{DOCX};base64,")
