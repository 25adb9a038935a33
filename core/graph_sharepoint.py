"""SharePoint document libraries through Microsoft Graph (msgraph-sdk), for keeping a knowledge set in sync.

Built on `core.graph.GraphService` (its credential and request adapter). The sync follows Graph's delta protocol:
`GET /drives/{drive-id}/root/delta` lists every item the first time; `@odata.nextLink` pages follow until a page
carries `@odata.deltaLink`, which the caller stores and passes back next time to receive only what changed since
(changed items, and removed ones with the `deleted` facet). File content comes from
`GET /drives/{drive-id}/items/{item-id}/content` (Graph answers 302 to a pre-authenticated URL; the SDK follows);
a folder's children (a shared folder's photos) from `GET /drives/{drive-id}/items/{item-id}/children`."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import quote

from core.graph import GraphError, GraphService, _status_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriveChange:
    """One entry of a delta page. `tag` is the content tag (cTag, else eTag): it changes when the content does."""

    id: str
    name: str
    deleted: bool
    is_file: bool
    tag: str | None = None
    web_url: str | None = None
    size: int | None = None
    path: str = ""


@dataclass(frozen=True)
class FolderEntry:
    """One child of a folder (GET /drives/{drive-id}/items/{item-id}/children)."""

    id: str
    name: str
    is_file: bool
    is_folder: bool
    size: int | None = None
    mime: str | None = None


@dataclass
class DeltaPage:
    changes: list[DriveChange] = field(default_factory=list)
    next_link: str | None = None
    delta_link: str | None = None


class SharePointDrive:
    """Delta listing and downloads of one Graph drive (a SharePoint document library)."""

    def __init__(self, graph: GraphService) -> None:
        self.graph = graph

    def _root_delta_url(self, drive_id: str) -> str:
        return f"{self.graph.base_url.rstrip('/')}/drives/{quote(drive_id, safe='')}/root/delta"

    async def delta(self, drive_id: str, link: str | None = None) -> DeltaPage:
        """One page: from the start (`link` None), or from a stored nextLink / deltaLink."""
        builder = self.graph.client.drives.by_drive_id(drive_id).items.by_drive_item_id("root").delta
        try:
            resp = await builder.with_url(link or self._root_delta_url(drive_id)).get()
        except Exception as e:  # noqa: BLE001 - mapped for callers
            raise GraphError(f"drive delta failed: {type(e).__name__}", _status_of(e)) from e
        page = DeltaPage(next_link=getattr(resp, "odata_next_link", None),
                         delta_link=getattr(resp, "odata_delta_link", None))
        for item in (resp.value if resp else None) or []:
            if not item.id:
                continue
            parent = getattr(item.parent_reference, "path", None) or ""
            page.changes.append(DriveChange(
                id=item.id, name=item.name or "", deleted=item.deleted is not None,
                is_file=item.file is not None, tag=item.c_tag or item.e_tag, web_url=item.web_url,
                size=item.size, path=parent.split("root:", 1)[-1].lstrip("/")))
        return page

    async def changes(self, drive_id: str, delta_link: str | None = None,
                      max_pages: int = 1000) -> tuple[list[DriveChange], str | None]:
        """Every change since `delta_link` (everything when None), following nextLinks; returns the changes and
        the new deltaLink to store."""
        out: list[DriveChange] = []
        link = delta_link
        for _ in range(max_pages):
            page = await self.delta(drive_id, link)
            out += page.changes
            if page.delta_link:
                return out, page.delta_link
            if not page.next_link:
                return out, None
            link = page.next_link
        raise GraphError("drive delta did not finish (too many pages)")

    async def download(self, drive_id: str, item_id: str) -> bytes:
        try:
            data = await self.graph.client.drives.by_drive_id(drive_id).items.by_drive_item_id(item_id).content.get()
        except Exception as e:  # noqa: BLE001
            raise GraphError(f"download failed: {type(e).__name__}", _status_of(e)) from e
        return data or b""

    async def children(self, drive_id: str, item_id: str, max_pages: int = 50) -> tuple[list[FolderEntry], bool]:
        """A folder's children (names, sizes, MIME types; no content), following `@odata.nextLink` pages up to
        `max_pages`. Returns the entries and whether pages were left unread."""
        builder = self.graph.client.drives.by_drive_id(drive_id).items.by_drive_item_id(item_id).children
        out: list[FolderEntry] = []
        link: str | None = None
        for _ in range(max(1, max_pages)):
            try:
                resp = await (builder.with_url(link) if link else builder).get()
            except Exception as e:  # noqa: BLE001 - mapped for callers
                raise GraphError(f"folder children failed: {type(e).__name__}", _status_of(e)) from e
            for item in (resp.value if resp else None) or []:
                if item.id:
                    out.append(FolderEntry(id=item.id, name=item.name or "", is_file=item.file is not None,
                                           is_folder=item.folder is not None, size=item.size,
                                           mime=getattr(item.file, "mime_type", None)))
            link = getattr(resp, "odata_next_link", None) if resp else None
            if not link:
                return out, False
        return out, True
