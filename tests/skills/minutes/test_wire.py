"""/minutes over the wire: the real aiohttp app and the Bot Connector stand-in; a Teams file.download.info
attachment (a VTT served by a loopback file server, fetched under MINUTES_DOWNLOAD_HOSTS / _ALLOWLIST) with
「議事録」 becomes the automatic minutes card, and the Word file arrives through Teams' file-consent flow."""
from __future__ import annotations

import io
import json

import aiohttp
import docx
from aiohttp import web

from skills.minutes.settings import MinutesSettings
from tests.harness import make_services, receive_file, running_bot
from tests.skills.minutes.samples import TEAMS_VTT
from tests.standins.upload import UploadStandIn


async def test_a_vtt_sent_in_teams_becomes_minutes_and_a_word_file(sqlite_db, connector):
    hits: list[str] = []

    async def vtt(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=TEAMS_VTT.encode("utf-8"), content_type="text/vtt")

    app = web.Application()
    app.router.add_get("/files/meeting.vtt", vtt)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    files_port = runner.addresses[0][1]
    services = make_services(sqlite_db)
    services.settings.put(MinutesSettings(_env_file=None, MINUTES_DOWNLOAD_HOSTS="127.0.0.1",
                                          MINUTES_DOWNLOAD_ALLOWLIST="127.0.0.1"))
    upload = await UploadStandIn().start()
    try:
        async with running_bot(services) as url:
            act = connector.activity("議事録にしてください", attachments=[{
                "contentType": "application/vnd.microsoft.teams.file.download.info", "name": "第3回策定委員会.vtt",
                "content": {"downloadUrl": f"http://127.0.0.1:{files_port}/files/meeting.vtt", "uniqueId": "u1",
                            "fileType": "vtt"}}])
            async with aiohttp.ClientSession() as s:
                async with s.post(f"{url}/api/messages", data=json.dumps(act).encode(),
                                  headers={"Content-Type": "application/json"}) as r:
                    assert r.status in (200, 202)
            await connector.wait_for(lambda acts: connector.cards(), timeout=20)
            card = connector.cards()[-1]
            shown = json.dumps(card, ensure_ascii=False)
            assert "会議録（自動抽出）：第3回策定委員会" in shown and "【自動抽出】AIは使用していません" in shown
            name, data = await receive_file(url, connector, upload, timeout=20)
    finally:
        await upload.stop()
        await runner.cleanup()
    assert hits == ["/files/meeting.vtt"]
    assert name == "会議録（自動抽出）_第3回策定委員会.docx"
    paras = [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]
    assert "会議録（自動抽出）" in paras and "［00:01:24］山田 太郎" in paras
