"""Loopback stand-in for 国土地理院's reverse geocoder (mreversegeocoder.gsi.go.jp).

``GET /reverse-geocoder/LonLatToAddress?lat=…&lon=…`` → ``{"results": {"muniCd": "28202", "lv01Nm": "東七松町一丁目"}}``;
a position it knows nothing of → ``{}`` (no ``results``). Places are rectangles put in with `place`; `status`,
`delay` and `body` script failures (an HTTP error, a slow answer, a body that is not the geocoder's JSON);
`redirect_to` answers 302 to another URL. Every request is recorded (path, query)."""
from __future__ import annotations

import asyncio
import json

from aiohttp import web

from tests.standins.base import LoopbackServer

PATH = "/reverse-geocoder/LonLatToAddress"


class GsiGeocoderStandIn(LoopbackServer):
    def __init__(self) -> None:
        self.places: list[tuple[tuple[float, float, float, float], dict]] = []
        self.requests: list[dict] = []
        self.status: int | None = None
        self.delay = 0.0
        self.body: str | None = None
        self.redirect_to: str | None = None

    @property
    def url(self) -> str:
        return f"{self.origin}{PATH}"

    def place(self, south: float, west: float, north: float, east: float, *, muni: str, town: str) -> None:
        self.places.append(((south, west, north, east), {"muniCd": muni, "lv01Nm": town}))

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(PATH, self._reverse)

    async def _reverse(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"path": request.path, "query": dict(request.query),
                              "headers": dict(request.headers)})
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.redirect_to:
            raise web.HTTPFound(self.redirect_to)
        if self.status is not None:
            return web.Response(status=self.status, text="<html>Service Unavailable</html>", content_type="text/html")
        if self.body is not None:
            return web.Response(text=self.body, content_type="application/json")
        try:
            lat, lon = float(request.query["lat"]), float(request.query["lon"])
        except (KeyError, ValueError):
            return web.Response(status=400, text="lat and lon are required")
        for (s, w, n, e), result in self.places:
            if s <= lat <= n and w <= lon <= e:
                return web.Response(text=json.dumps({"results": result}, ensure_ascii=False),
                                    content_type="application/json")
        return web.Response(text="{}", content_type="application/json")
