"""A loopback stand-in for the Graph routes of Teams meeting transcripts, spoken to by the real msgraph-sdk:
GET /chats/{id} (onlineMeetingInfo), GET /users/{id}/onlineMeetings?$filter=JoinWebUrl eq '…',
GET …/onlineMeetings/{id}/transcripts, GET …/transcripts/{id}/content (text/vtt only when asked for it)."""
from __future__ import annotations

from aiohttp import web

from tests.standins.graph import GraphStandIn


def _error(status: int, code: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": code}}, status=status)


class MeetingsGraphStandIn(GraphStandIn):
    def __init__(self) -> None:
        super().__init__()
        self.chats: dict[str, dict] = {}                 # chat id -> onlineMeetingInfo
        self.meetings: dict[str, dict] = {}              # meeting id -> {"organizer", "joinWebUrl", ...}
        self.transcripts: dict[str, list[dict]] = {}     # meeting id -> [{"id", "createdDateTime", "vtt"}]
        self.policy_users: set[str] | None = None        # organizers the application access policy covers
        self.todo_lists: dict[str, list[dict]] = {}      # user id -> To Do lists
        self.tasks: list[dict] = []                      # tasks created: {"user", "list", **body}
        self.fail_task_status: int | None = None

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)
        app.router.add_get("/v1.0/chats/{id}", self._chat)
        app.router.add_get("/v1.0/users/{uid}/onlineMeetings", self._meetings)
        app.router.add_get("/v1.0/users/{uid}/onlineMeetings/{mid}/transcripts", self._transcripts)
        app.router.add_get("/v1.0/users/{uid}/onlineMeetings/{mid}/transcripts/{tid}/content", self._content)
        app.router.add_get("/v1.0/users/{uid}/todo/lists", self._todo_lists)
        app.router.add_post("/v1.0/users/{uid}/todo/lists/{lid}/tasks", self._todo_task)

    def _denied(self, uid: str) -> bool:
        return self.policy_users is not None and uid not in self.policy_users

    async def _chat(self, request: web.Request) -> web.Response:
        self._record(request)
        info = self.chats.get(request.match_info["id"])
        if info is None:
            return _error(404, "NotFound")
        return web.json_response({"id": request.match_info["id"], "chatType": "meeting", "onlineMeetingInfo": info})

    async def _meetings(self, request: web.Request) -> web.Response:
        self._record(request)
        uid = request.match_info["uid"]
        if self._denied(uid):
            return _error(403, "Forbidden")
        flt = request.query.get("$filter", "")
        prefix = "JoinWebUrl eq '"
        if not flt.startswith(prefix) or not flt.endswith("'"):
            return _error(400, "BadRequest")
        url = flt[len(prefix):-1].replace("''", "'")
        found = [{"id": mid, **{k: v for k, v in m.items() if k != "organizer"},
                  "participants": {"organizer": {"identity": {"user": {"id": m["organizer"]}}},
                                   "attendees": [{"identity": {"user": {"id": a}}} for a in m.get("attendees", [])]}}
                 for mid, m in self.meetings.items() if m["joinWebUrl"] == url and m["organizer"] == uid]
        return web.json_response({"value": found})

    async def _transcripts(self, request: web.Request) -> web.Response:
        self._record(request)
        if self._denied(request.match_info["uid"]):
            return _error(403, "Forbidden")
        items = self.transcripts.get(request.match_info["mid"], [])
        return web.json_response({"value": [{k: v for k, v in t.items() if k != "vtt"} for t in items]})

    async def _content(self, request: web.Request) -> web.Response:
        self._record(request)
        if self._denied(request.match_info["uid"]):
            return _error(403, "Forbidden")
        items = {t["id"]: t for t in self.transcripts.get(request.match_info["mid"], [])}
        t = items.get(request.match_info["tid"])
        if t is None:
            return _error(404, "NotFound")
        if "text/vtt" not in request.headers.get("Accept", "") and request.query.get("$format") != "text/vtt":
            return web.Response(text="no speaker attribution", content_type="text/plain")
        return web.Response(body=t["vtt"].encode("utf-8"), content_type="text/vtt")

    async def _todo_lists(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.json_response({"value": self.todo_lists.get(request.match_info["uid"], [])})

    async def _todo_task(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(request, body)
        if self.fail_task_status:
            return _error(self.fail_task_status, "Forbidden")
        task = {"id": f"AAMkTask{len(self.tasks) + 1}", "user": request.match_info["uid"],
                "list": request.match_info["lid"], **body}
        self.tasks.append(task)
        return web.json_response(task, status=201)
