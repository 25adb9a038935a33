"""A stand-in for the OneDrive upload session Teams hands a bot after the user accepts a file-consent card."""
from __future__ import annotations

from aiohttp import web

from tests.standins.base import LoopbackServer


class UploadStandIn(LoopbackServer):
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.headers: dict[str, dict] = {}
        self.status = 201

    def add_routes(self, app: web.Application) -> None:
        app.router.add_put("/upload/{name}", self._put)

    async def _put(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.files[name] = await request.read()
        self.headers[name] = dict(request.headers)
        return web.json_response({"id": "item-1", "name": name}, status=self.status)

    def upload_info(self, name: str) -> dict:
        return {"name": name, "uploadUrl": f"{self.origin}/upload/{name}",
                "contentUrl": f"https://contoso-my.sharepoint.com/personal/u/Documents/Applications/{name}",
                "uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C8C", "fileType": name.rsplit(".", 1)[-1]}
