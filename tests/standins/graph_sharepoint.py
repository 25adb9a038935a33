"""A loopback Microsoft Graph stand-in for one SharePoint drive: delta (with paging and delta tokens), content
downloads answered with a 302 to a download URL, as Graph does. Items change through `put` / `remove`. Sharing
links (`share`) are reached through /shares/{u!base64url of the URL}: the driveItem, its content (302 too) and the
link's permission (scope and the people a "users" link names). A folder's children (`put(..., parent=folder)`) are
listed by /drives/{drive}/items/{item}/children, `page_size` at a time with @odata.nextLink."""
from __future__ import annotations

import base64
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
        self.shares: dict[str, dict[str, Any]] = {}   # sharing URL -> {"item", "scope", "granted"}
        self.port = 0
        self._runner: web.AppRunner | None = None
        self.put("root", "root", None, folder=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1.0"

    def put(self, item_id: str, name: str, content: bytes | None, *, folder: bool = False, path: str = "",
            parent: str | None = None, mime: str = "application/octet-stream") -> None:
        self.version += 1
        self.items[item_id] = {"id": item_id, "name": name, "content": content, "folder": folder, "path": path,
                               "v": self.version, "deleted": False, "parent": parent, "mime": mime}

    def remove(self, item_id: str) -> None:
        self.version += 1
        self.items[item_id].update(deleted=True, v=self.version)

    def share(self, url: str, item_id: str, *, scope: str | None = "organization",
              granted: tuple[str, ...] = (), status: int | None = None) -> None:
        """A URL that reaches `item_id` through /shares: a sharing link of `scope` (None: a plain address, with no
        link permission), granted to the Entra object ids `granted`; `status` (e.g. 403) refuses it instead."""
        self.shares[url] = {"item": item_id, "scope": scope, "granted": list(granted), "status": status}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1.0/drives/{drive}/root/delta", self._delta)
        app.router.add_get("/v1.0/drives/{drive}/items/root/delta", self._delta)
        app.router.add_get("/v1.0/drives/{drive}/items/{item}/content", self._content)
        app.router.add_get("/v1.0/drives/{drive}/items/{item}/children", self._children)
        app.router.add_get("/download/{item}", self._download)
        app.router.add_get("/v1.0/shares/{share}/driveItem", self._shared_item)
        app.router.add_get("/v1.0/shares/{share}/driveItem/content", self._shared_content)
        app.router.add_get("/v1.0/shares/{share}/permission", self._shared_permission)

    def _record(self, request: web.Request) -> None:
        self.requests.append({"path": request.path, "query": dict(request.query),
                              "auth": request.headers.get("Authorization"), "prefer": request.headers.get("Prefer")})

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
            out["folder"] = {"childCount": len(self._kids(item["id"]))}
        else:
            out["size"] = len(item["content"] or b"")
            out["file"] = {"mimeType": item.get("mime") or "application/octet-stream"}
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

    def _kids(self, item_id: str) -> list[dict]:
        return [i for i in self.items.values() if i.get("parent") == item_id and not i["deleted"]]

    async def _children(self, request: web.Request) -> web.Response:
        self._record(request)
        if request.headers.get("Authorization") != "Bearer sp-test-token":
            return web.json_response({"error": {"code": "InvalidAuthenticationToken", "message": "no"}}, status=401)
        item = self.items.get(request.match_info["item"])
        if request.match_info["drive"] != self.drive_id or item is None or item["deleted"] or not item["folder"]:
            return web.json_response({"error": {"code": "itemNotFound", "message": "item"}}, status=404)
        offset = int(request.query.get("skip", "0"))
        kids = self._kids(item["id"])
        body: dict[str, Any] = {"value": [self._json(i) for i in kids[offset:offset + self.page_size]]}
        if offset + self.page_size < len(kids):
            body["@odata.nextLink"] = (f"{self.base_url}/drives/{self.drive_id}/items/{item['id']}/children"
                                       f"?skip={offset + self.page_size}")
        return web.json_response(body)

    async def _download(self, request: web.Request) -> web.Response:
        self._record(request)
        item = self.items[request.match_info["item"]]
        return web.Response(body=item["content"], content_type="application/octet-stream")

    def _shared(self, request: web.Request) -> tuple[dict | None, web.Response | None]:
        """The share a /shares/{u!…} path names (the URL decoded as Graph does), or the error to answer."""
        self._record(request)
        if request.headers.get("Authorization") != "Bearer sp-test-token":
            return None, web.json_response({"error": {"code": "InvalidAuthenticationToken", "message": "no"}},
                                           status=401)
        token = request.match_info["share"]
        try:
            url = base64.urlsafe_b64decode(token[2:] + "=" * (-len(token[2:]) % 4)).decode("utf-8") \
                if token.startswith("u!") else ""
        except (ValueError, UnicodeDecodeError):
            url = ""
        share = self.shares.get(url)
        item = self.items.get(share["item"]) if share else None
        if share is not None and share.get("status"):
            return None, web.json_response({"error": {"code": "accessDenied", "message": "refused"}},
                                           status=share["status"])
        if share is None or item is None or item["deleted"]:
            return None, web.json_response({"error": {"code": "itemNotFound", "message": "share"}}, status=404)
        return {**share, "url": url, "entry": item}, None

    async def _shared_item(self, request: web.Request) -> web.Response:
        share, error = self._shared(request)
        if error is not None or share is None:
            return error or web.Response(status=500)
        return web.json_response({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#driveItem",
                                  **self._json(share["entry"])})

    async def _shared_content(self, request: web.Request) -> web.Response:
        share, error = self._shared(request)
        if error is not None or share is None:
            return error or web.Response(status=500)
        raise web.HTTPFound(f"http://127.0.0.1:{self.port}/download/{share['entry']['id']}")

    async def _shared_permission(self, request: web.Request) -> web.Response:
        share, error = self._shared(request)
        if error is not None or share is None:
            return error or web.Response(status=500)
        if share["scope"] is None:          # a plain address is no sharing link
            return web.json_response({"error": {"code": "itemNotFound", "message": "no link"}}, status=404)
        return web.json_response({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#permission",
                                  "id": "link-1", "roles": ["read"], "shareId": request.match_info["share"],
                                  "link": {"scope": share["scope"], "type": "view", "webUrl": share["url"]},
                                  "grantedToIdentitiesV2": [{"user": {"id": u}} for u in share["granted"]]})
