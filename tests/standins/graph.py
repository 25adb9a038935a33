"""A loopback stand-in for Microsoft Graph (the parts the news digest uses), spoken to by the real msgraph-sdk."""
from __future__ import annotations

import time

from aiohttp import web

from tests.standins.base import LoopbackServer


class FixedCredential:
    """An azure.core async TokenCredential returning a fixed token."""

    def __init__(self) -> None:
        self.scopes: list[tuple] = []

    async def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken("test-token", int(time.time()) + 3600)

    async def close(self):
        pass


class GraphStandIn(LoopbackServer):
    def __init__(self) -> None:
        self.users: dict[str, dict] = {}
        self.groups: dict[str, list[str]] = {}          # user id -> group ids (transitive)
        self.requests: list[dict] = []
        self.mails: list[dict] = []
        self.fail_mail_status: int | None = None
        self.events: list[dict] = []                    # events created in users' calendars
        self.fail_event_status: int | None = None
        self.port = 0
        self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1.0"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1.0/users/{id}", self._user)
        app.router.add_post("/v1.0/users/{id}/sendMail", self._send_mail)
        app.router.add_post("/v1.0/users/{id}/getMemberGroups", self._member_groups)
        app.router.add_post("/v1.0/users/{id}/events", self._create_event)

    def _record(self, request, body=None):
        self.requests.append({"method": request.method, "path": request.path, "query": dict(request.query),
                              "auth": request.headers.get("Authorization"), "body": body})

    async def _user(self, request: web.Request) -> web.Response:
        self._record(request)
        u = self.users.get(request.match_info["id"])
        if u is None:
            return web.json_response({"error": {"code": "Request_ResourceNotFound", "message": "not found"}},
                                     status=404)
        return web.json_response({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
                                  "id": request.match_info["id"], **u})

    async def _member_groups(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(request, body)
        uid = request.match_info["id"]
        if uid not in self.users:
            return web.json_response({"error": {"code": "Request_ResourceNotFound", "message": "not found"}},
                                     status=404)
        return web.json_response({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                                  "value": self.groups.get(uid, [])})

    async def _send_mail(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(request, body)
        if self.fail_mail_status:
            return web.json_response({"error": {"code": "ErrorAccessDenied", "message": "denied"}},
                                     status=self.fail_mail_status)
        self.mails.append({"sender": request.match_info["id"], **body})
        return web.Response(status=202)

    async def _create_event(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(request, body)
        if self.fail_event_status:
            return web.json_response({"error": {"code": "ErrorAccessDenied", "message": "denied"}},
                                     status=self.fail_event_status)
        event = {"id": f"AAMkAGI-event-{len(self.events) + 1}", "user": request.match_info["id"], **body}
        self.events.append(event)
        return web.json_response({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/events/$entity",
                                  **event}, status=201)
