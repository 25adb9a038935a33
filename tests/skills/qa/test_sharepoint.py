"""SharePoint library → knowledge set, through the real msgraph-sdk against the loopback Graph stand-in."""
from __future__ import annotations

import pytest

from core.graph import GraphService
from skills.qa.sharepoint import sync_sharepoint
from tests.skills.qa.conftest import build, make_docx
from tests.standins.graph_sharepoint import FixedCredential, SharePointStandIn


@pytest.fixture
async def sp():
    s = await SharePointStandIn().start()
    yield s
    await s.stop()


async def test_delta_sync_adds_updates_removes_and_resyncs(db, sp):
    sp.put("01KIYAKU", "旅費規程.md", "# 旅費規程\n\n## 日当\n\n日当は1日2,200円とする。\n".encode())
    sp.put("01TELE", "テレワーク実施要領.docx", make_docx(), path="要領")
    sp.put("01PIC", "庁舎.png", b"\x89PNG....")
    sp.put("01SUB", "要領", None, folder=True)
    services = build(db, QA_SHAREPOINT_DRIVES={"soumu": sp.drive_id})
    services.graph = GraphService(FixedCredential(), sp.base_url)
    index = services.knowledge

    report = (await sync_sharepoint(services))[("soumu", sp.drive_id)]
    assert (report.added, report.skipped, report.removed, report.failed, report.full) == (2, 1, 0, [], True)
    first = sp.requests[0]
    assert first["path"] == f"/v1.0/drives/{sp.drive_id}/root/delta" and first["auth"] == "Bearer sp-test-token"
    assert [r["query"].get("token") for r in sp.requests if r["path"].endswith("/delta")] == [None, "p:0,2", "p:0,4"]
    assert {r["path"] for r in sp.requests if "content" in r["path"] or "download" in r["path"]} == {
        f"/v1.0/drives/{sp.drive_id}/items/01KIYAKU/content", "/download/01KIYAKU",
        f"/v1.0/drives/{sp.drive_id}/items/01TELE/content", "/download/01TELE"}
    docs = await index.list_documents("soumu")
    assert set(docs) == {"01KIYAKU", "01TELE"}
    assert docs["01KIYAKU"].source == "sharepoint" and docs["01KIYAKU"].etag.startswith('"c:{01KIYAKU}')
    assert docs["01TELE"].url.endswith("/Shared%20Documents/テレワーク実施要領.docx")
    hits = await index.search("日当はいくらですか", ["soumu"])
    assert hits[0].url.endswith("旅費規程.md") and "2,200円" in hits[0].text

    # nothing changed: one delta call with the stored deltaLink, no downloads
    n = len(sp.requests)
    report = (await sync_sharepoint(services))[("soumu", sp.drive_id)]
    assert (report.added, report.updated, report.removed, report.full) == (0, 0, 0, False)
    assert [r["query"].get("token") for r in sp.requests[n:]] == [f"d:{sp.version}"]

    # an edit and a deletion in the library
    sp.put("01KIYAKU", "旅費規程.md", "# 旅費規程\n\n## 日当\n\n日当は1日2,600円とする。\n".encode())
    sp.remove("01TELE")
    report = (await sync_sharepoint(services))[("soumu", sp.drive_id)]
    assert (report.added, report.updated, report.removed) == (0, 1, 1)
    assert set(await index.list_documents("soumu")) == {"01KIYAKU"}
    assert "2,600円" in (await index.search("日当はいくらですか", ["soumu"]))[0].text
    assert all(h.title != "テレワーク実施要領" for h in await index.search("テレワークの申請", ["soumu"]))

    # Graph says the delta token expired (410): a full listing, and what vanished meanwhile is removed
    sp.items.pop("01KIYAKU")            # gone without a tombstone
    sp.put("01NEW", "新規.md", "# 新規\n\n新しい規程です。\n".encode())
    sp.expire_delta_tokens = True
    report = (await sync_sharepoint(services))[("soumu", sp.drive_id)]
    assert report.full and (report.added, report.removed) == (1, 1)
    assert set(await index.list_documents("soumu")) == {"01NEW"}


async def test_no_graph_no_sync(db, sp):
    services = build(db, QA_SHAREPOINT_DRIVES={"soumu": sp.drive_id})
    assert await sync_sharepoint(services) == {}
    assert sp.requests == []


async def test_the_background_poller_syncs_sharepoint(db, sp):
    import asyncio

    from skills.qa.escalation import POLLER_KEY, start_poller

    sp.put("01KIYAKU", "旅費規程.md", "# 旅費規程\n\n日当は1日2,200円とする。\n".encode())
    services = build(db, QA_SHAREPOINT_DRIVES={"soumu": sp.drive_id}, QA_SHAREPOINT_SYNC_MINUTES=5)
    services.graph = GraphService(FixedCredential(), sp.base_url)
    task = start_poller(services)                       # kintone is not configured: SharePoint only
    try:
        poller = services.extras[POLLER_KEY]
        for _ in range(200):            # the document is committed before the sync returns: wait for the pass
            if poller.syncs:
                break
            await asyncio.sleep(0.05)
        assert list(await services.knowledge.list_documents("soumu")) == ["01KIYAKU"]
        assert (poller.syncs, poller.polls, poller.kintone) == (1, 0, False)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
