"""End to end: the real aiohttp app on loopback, a stand-in Bot Connector, and the loopback OpenAI server."""
from __future__ import annotations

import io
import json

import aiohttp
from docx import Document

from tests.harness import make_services, receive_file, running_bot
from tests.skills.drafting.drafting_samples import NOTICE_INTERNAL
from tests.standins.upload import UploadStandIn


async def post(url: str, activity: dict) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", data=json.dumps(activity).encode(),
                          headers={"Content-Type": "application/json"}) as r:
            return r.status, await r.text()


async def test_draft_notice_over_the_wire_gets_an_ai_labelled_card_then_a_word_file(sqlite_db, connector, llm):
    services = make_services(sqlite_db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    llm.script = [{"text": NOTICE_INTERNAL}]
    async with running_bot(services) as url:
        status, _ = await post(url, connector.activity(
            "/draft 通知文 情報セキュリティ研修を実施します\n宛先：各局長\n件名：情報セキュリティ研修の実施"))
        assert status == 202
        await connector.wait_for(lambda acts: connector.cards(), timeout=15)
        msg = next(m for m in connector.messages() if m.get("attachments"))
        card = connector.cards()[-1]
        data = next(a["data"] for a in card["actions"] if a["verb"] == "draft.docx")
        invoke = connector.activity(None, type="invoke", name="adaptiveCard/action",
                                    value={"action": {"type": "Action.Execute", "verb": "draft.docx", "data": data},
                                           "trigger": "manual"})
        status, _ = await post(url, invoke)
        assert status == 200
        upload = await UploadStandIn().start()
        try:
            name, data = await receive_file(url, connector, upload, timeout=15)     # Teams' file-consent flow
        finally:
            await upload.stop()
    await services.llm.close()
    label = next(e for e in msg["entities"] if e["type"] == "https://schema.org/Message")
    assert label["additionalType"] == ["AIGeneratedContent"]
    assert msg["channelData"]["feedbackLoop"] == {"type": "default"}
    shown = json.dumps(card, ensure_ascii=False)
    assert "情報セキュリティ研修の実施について（通知）" in shown and "AIの出力です" in shown
    assert "情報セキュリティ研修を実施します" in json.dumps(llm.chat_requests()[0], ensure_ascii=False)
    assert name == "情報セキュリティ研修の実施_素案.docx"
    doc = Document(io.BytesIO(data))
    assert "情報セキュリティ研修の実施について（通知）" in [p.text for p in doc.paragraphs]
