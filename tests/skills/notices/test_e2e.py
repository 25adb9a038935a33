"""/check over the wire: the real aiohttp app, the Bot Connector stand-in and Teams' file-consent flow — typed text
in, the card of suggestions out, its Word button (Action.Execute invoke) answered with a .docx whose changes are
Word revisions."""
from __future__ import annotations

import io
import json

import aiohttp
import docx
from docx.oxml.ns import qn

from cards import notices as cards
from tests.harness import card_nodes, make_services, receive_file, running_bot
from tests.standins.upload import UploadStandIn


async def post(url: str, activity: dict) -> int:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", data=json.dumps(activity).encode(),
                          headers={"Content-Type": "application/json"}) as r:
            return r.status


async def test_check_over_the_wire_returns_a_card_then_a_word_file_with_revisions(sqlite_db, connector):
    services = make_services(sqlite_db)
    async with running_bot(services) as url:
        assert await post(url, connector.activity("/check 会議を行なった時は，報告して下さい。")) == 202
        await connector.wait_for(lambda acts: connector.cards(), timeout=15)
        card = connector.cards()[-1]
        shown = json.dumps(card, ensure_ascii=False)
        assert "「，」→「、」" in shown and "「行なっ」→「行っ」" in shown       # the full-width comma survived the wire
        button = next(a for a in card_nodes(card, lambda n: n.get("type") == "Action.Execute")
                      if a["verb"] == cards.CHECK_DOCX_VERB)
        invoke = connector.activity(None, type="invoke", name="adaptiveCard/action",
                                    value={"action": {"type": "Action.Execute", "verb": button["verb"],
                                                      "data": button["data"]}, "trigger": "manual"})
        assert await post(url, invoke) == 200
        upload = await UploadStandIn().start()
        try:
            name, data = await receive_file(url, connector, upload, timeout=15)
        finally:
            await upload.stop()
    assert name == "公用文チェック_公用文チェック.docx"
    body = docx.Document(io.BytesIO(data)).element.body
    deleted = ["".join(t.text for t in el.iter(qn("w:delText"))) for el in body.iter(qn("w:del"))]
    inserted = ["".join(t.text for t in el.iter(qn("w:t"))) for el in body.iter(qn("w:ins"))]
    assert sorted(deleted) == sorted(["な", "時", "，", "下"]) and sorted(inserted) == sorted(["とき", "、", "くだ"])
