"""A loopback Microsoft Graph stand-in for one SharePoint drive: delta (with paging and delta tokens), content
downloads answered with a 302 to a download URL, as Graph does. Items change through `put` / `remove`."""
from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.standins.base import LoopbackServer


class FixedCredential:
    """An azure.core async TokenCredential returning a fixed token."""

    async def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken("sp-test-token", int(time.time()) + 3600)

    async def close(self):
        pass


class SharePointStandIn(LoopbackServer):
    def __init__(self, drive_id: str = "b!drive-soumu", page_size: int = 2) -> None:
        self.drive_id = drive_id
        self.page_size = page_size
        self.items: dict[str, dict[str, Any]] = {}
        self.version = 0
        self.requests: list[dict] = []
        self.expire_delta_tokens = False        # answer 410 (resyncRequired) to a deltaLink, as Graph may
        self.port = 0
        self._runner: web.AppRunner | None = None
        self.put("root", "root", None, folder=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1.0"

    def put(self, item_id: str, name: str, content: bytes | None, *, folder: bool = False, path: str = "") -> None:
        self.version += 1
        self.items[item_id] = {"id": item_id, "name": name, "content": content, "folder": folder, "path": path,
                               "v": self.version, "deleted": False}

    def remove(self, item_id: str) -> None:
        self.version += 1
        self.items[item_id].update(deleted=True, v=self.version)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1.0/drives/{drive}/root/delta", self._delta)
        app.router.add_get("/v1.0/drives/{drive}/items/root/delta", self._delta)
        app.router.add_get("/v1.0/drives/{drive}/items/{item}/content", self._content)
        app.router.add_get("/download/{item}", self._download)

    def _record(self, request: web.Request) -> None:
        self.requests.append({"path": request.path, "query": dict(request.query),
                              "auth": request.headers.get("Authorization")})

    def _json(self, item: dict) -> dict:
        out: dict[str, Any] = {"id": item["id"], "name": item["name"],
                               "parentReference": {"driveId": self.drive_id, "driveType": "documentLibrary",
                                                   "path": "/drive/root:" + (f"/{item['path']}" if item["path"] else "")}}
        if item["deleted"]:
            out["deleted"] = {"state": "deleted"}
            return out
        out.update({"eTag": f'"{{{item["id"]}}},{item["v"]}"', "cTag": f'"c:{{{item["id"]}}},{item["v"]}"',
                    "webUrl": f"https://amagasaki.sharepoint.com/sites/soumu/Shared%20Documents/{item['name']}",
                    "lastModifiedDateTime": "2026-11-30T00:30:00Z"})
        if item["id"] == "root":
            out["root"] = {}
        if item["folder"]:
            out["folder"] = {"childCount": 0}
        else:
            out["size"] = len(item["content"] or b"")
            out["file"] = {"mimeType": "application/octet-stream"}
        return out

    async def _delta(self, request: web.Request) -> web.Response:
        self._record(request)
        if request.headers.get("Authorization") != "Bearer sp-test-token":
            return web.json_response({"error": {"code": "InvalidAuthenticationToken", "message": "no"}}, status=401)
        if request.match_info["drive"] != self.drive_id:
            return web.json_response({"error": {"code": "itemNotFound", "message": "drive"}}, status=404)
        token = request.query.get("token", "")
        if token.startswith("d:") and self.expire_delta_tokens:
            return web.json_response({"error": {"code": "resyncRequired", "message": "Resync required."}}, status=410)
        since, offset = 0, 0
        if token.startswith("d:"):
            since = int(token[2:])
        elif token.startswith("p:"):
            since, offset = (int(x) for x in token[2:].split(","))
        changed = [i for i in self.items.values() if i["v"] > since and (since or not i["deleted"])]
        changed.sort(key=lambda i: i["v"])
        page = changed[offset:offset + self.page_size]
        base = f"{self.base_url}/drives/{self.drive_id}/root/delta"
        body: dict[str, Any] = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(driveItem)",
                                "value": [self._json(i) for i in page]}
        if offset + self.page_size < len(changed):
            body["@odata.nextLink"] = f"{base}?token=p:{since},{offset + self.page_size}"
        else:
            body["@odata.deltaLink"] = f"{base}?token=d:{self.version}"
        return web.json_response(body)

    async def _content(self, request: web.Request) -> web.Response:
        self._record(request)
        item = self.items.get(request.match_info["item"])
        if item is None or item["deleted"] or item["folder"]:
            return web.json_response({"error": {"code": "itemNotFound", "message": "item"}}, status=404)
        raise web.HTTPFound(f"http://127.0.0.1:{self.port}/download/{item['id']}")

    async def _download(self, request: web.Request) -> web.Response:
        self._record(request)
        item = self.items[request.match_info["item"]]
        return web.Response(body=item["content"], content_type="application/octet-stream")
