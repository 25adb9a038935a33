"""Keeping knowledge sets in step with SharePoint document libraries (Graph delta).

QA_SHAREPOINT_DRIVES maps a set to one or more drive ids. Each sync asks Graph for what changed since the stored
deltaLink (kept in the `kv` table per set and drive): changed files are downloaded and re-indexed (skipped when the
content tag is the one already indexed), deleted files are removed. The first sync (or a resync Graph demands with
410) lists everything and also removes indexed SharePoint documents that are no longer in the library."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from core.graph import GraphError
from core.search.index import SearchError
from core.search.ingest import FolderReport, IngestError, supported, to_markdown_async
from core.store.db import upsert
from core.store.models import KeyValue
from skills.qa.service import settings_of

log = logging.getLogger(__name__)

DELTA_PREFIX = "qa.sp.delta."


@dataclass
class SyncReport(FolderReport):
    """What one drive sync did (the same counts as a folder ingest); `full` = a full listing, not a delta."""

    full: bool = False


def _key(set_name: str, drive_id: str) -> str:
    return f"{DELTA_PREFIX}{set_name}:{drive_id}"[:200]


async def _load_link(services, key: str) -> str | None:
    async with services.db.session() as s:
        row = await s.get(KeyValue, key)
    return (row.value or {}).get("delta_link") if row else None


async def _store_link(services, key: str, link: str | None) -> None:
    async with services.db.session() as s:
        await upsert(s, KeyValue, {"key": key, "value": {"delta_link": link}, "expires_at": None,
                                   "updated_at": services.clock.now()}, keys=["key"])


async def sync_drive(services, drive, set_name: str, drive_id: str) -> SyncReport:
    """One delta pass of one drive into one set. `drive` is a core.graph_sharepoint.SharePointDrive."""
    index = services.knowledge
    cap = settings_of(services).QA_MAX_FILE_MB * 1024 * 1024
    key = _key(set_name, drive_id)
    link = await _load_link(services, key)
    try:
        changes, new_link = await drive.changes(drive_id, link)
    except GraphError as e:
        if link and e.status == 410:            # the delta token expired: start over with a full listing
            log.info("delta token for %s/%s expired; full resync", set_name, drive_id)
            link = None
            changes, new_link = await drive.changes(drive_id, None)
        else:
            raise
    report = SyncReport(full=link is None)
    latest = {}
    for ch in changes:                          # an item may appear several times: its last state counts
        latest[ch.id] = ch
    docs = await index.list_documents(set_name)
    seen: set[str] = set()
    for ch in latest.values():
        indexed = docs.get(ch.id)
        if ch.deleted or (ch.is_file and not supported(ch.name)):
            if indexed is not None and await index.delete_document(set_name, ch.id):
                report.removed += 1
            elif ch.is_file:
                report.skipped += 1
            continue
        if not ch.is_file:
            continue
        seen.add(ch.id)
        if indexed is not None and ch.tag and indexed.etag == ch.tag:
            report.unchanged += 1
            continue
        if ch.size is not None and ch.size > cap:
            report.failed.append((ch.name, f"「{ch.name}」は大きすぎるため取り込めません。"))
            continue
        try:
            data = await drive.download(drive_id, ch.id)
            conv = await to_markdown_async(data, ch.name)
            res = await index.upsert(set_name, "sharepoint", ch.id, conv.title, ch.web_url, conv.markdown,
                                     etag=ch.tag)
        except IngestError as e:
            report.failed.append((ch.name, e.message))
            continue
        except GraphError as e:
            report.failed.append((ch.name, f"「{ch.name}」をダウンロードできませんでした（HTTP {e.status}）。"))
            continue
        if conv.truncated_note:                  # only the first part of a long document was taken in
            report.truncated.append((ch.name, conv.truncated_note))
        if res.status == "added":
            report.added += 1
        elif res.status == "updated":
            report.updated += 1
        else:
            report.unchanged += 1
    if report.full:
        for doc_key, info in docs.items():
            if info.source == "sharepoint" and doc_key not in seen and doc_key not in latest:
                await index.delete_document(set_name, doc_key)
                report.removed += 1
    await _store_link(services, key, new_link)
    return report


async def sync_sharepoint(services) -> dict[tuple[str, str], SyncReport]:
    """Sync every configured (set, drive). Needs services.graph (core.graph.GraphService); {} without it."""
    from core.graph_sharepoint import SharePointDrive

    drives = settings_of(services).QA_SHAREPOINT_DRIVES
    if not drives or services.graph is None:
        return {}
    drive = SharePointDrive(services.graph)
    index = services.knowledge
    out: dict[tuple[str, str], SyncReport] = {}
    for set_name, drive_ids in drives.items():
        if await index.get_set(set_name) is None:
            try:
                await index.create_set(set_name, title=set_name)
            except SearchError as e:
                log.warning("set %s not created: %s", set_name, e.message)
                continue
        for drive_id in drive_ids:
            try:
                out[(set_name, drive_id)] = await sync_drive(services, drive, set_name, drive_id)
            except GraphError as e:
                log.warning("SharePoint sync of %s/%s failed: %s (status %s)", set_name, drive_id, e, e.status)
    return out
