"""/kpi and /kpi export through the real app and a stand-in Bot Connector (what Teams would receive)."""
from __future__ import annotations

import base64

import aiohttp

from tests.harness import running_bot
from tests.skills.kpi.conftest import ADMIN_AAD
from tests.skills.kpi.seed import seed
from tests.standins.connector import ConnectorStandIn


async def test_kpi_card_and_export_on_the_wire(svc, sqlite_db):
    await seed(sqlite_db)
    connector = await ConnectorStandIn().start()
    try:
        async with running_bot(svc, FILE_DELIVERY="inline") as url, aiohttp.ClientSession() as http:
            async with http.post(f"{url}/api/messages", json=connector.activity("/kpi", aad=ADMIN_AAD)) as r:
                assert r.status in (200, 202)
            await connector.wait_for(lambda a: connector.cards())
            card = connector.cards()[0]
            assert card["body"][0]["text"] == "AIの利用状況（効果測定）"
            assert any(b.get("type") == "Chart.Line" for b in card["body"])

            async with http.post(f"{url}/api/messages", json=connector.activity("/kpi export", aad=ADMIN_AAD)) as r:
                assert r.status in (200, 202)
            files = await connector.wait_for(lambda a: len([m for m in a if m.get("attachments") and m[
                "attachments"][0].get("contentType") == "text/csv"]) == 3)
            csvs = {att["name"]: att for m in files for att in m.get("attachments") or []
                    if att.get("contentType") == "text/csv"}
            assert set(csvs) == {"ai_kpi_monthly_2026.csv", "ai_kpi_monthly_detail_2026.csv", "ai_audit_2026.csv"}
            data = base64.b64decode(csvs["ai_kpi_monthly_2026.csv"]["contentUrl"].split(",", 1)[1])
            assert data.startswith(b"\xef\xbb\xbf") and "2026-11,4,3".encode() in data

            # a staff member who is not an administrator gets the polite refusal, not the card
            async with http.post(f"{url}/api/messages", json=connector.activity("/kpi")) as r:
                assert r.status in (200, 202)
            await connector.wait_for(lambda a: any("管理者の方のみ" in (m.get("text") or "") for m in a))
    finally:
        await connector.stop()
