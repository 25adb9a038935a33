"""Loopback stand-in for a kintone app (REST API: ``/k/v1/record.json`` POST/PUT, ``/k/v1/records.json`` GET/POST).

What it checks like kintone does:

* ``X-Cybozu-API-Token`` (comma-separated tokens allowed): missing or wrong → ``bad_token_status`` (401 by default;
  real kintone has been seen answering 400/520 too) with ``{"code": "GAIA_IA02", "id", "message"}``.
* ``app`` must be this app → otherwise ``GAIA_AP15`` (token/app combination).
* Record shape: ``{"<field code>": {"value": …}}``; codes must exist in the app's field list, system fields
  (``$id``, レコード番号, 作成日時, 更新日時, ステータス …) cannot be written, DATETIME values must be ISO 8601
  (``2024-04-01T09:30:00Z``) → 400 ``CB_VA01`` with ``errors`` keyed ``record.<code>.value`` (kintone's validation
  error shape). Unknown field codes are refused here; real kintone's handling of unknown codes on write was not
  confirmed, so the stand-in is the stricter of the two.
* Queries (``query`` of GET records): conditions with ``= != > < >= <= in / not in like / not like``, ``and`` /
  ``or`` and parentheses, ``order by <code> asc|desc``, ``limit`` (≤ 500) and ``offset``; an unknown field →
  400 ``GAIA_IQ11`` 「指定されたフィールド（X）が見つかりません。」. ``fields[N]`` (or ``fields``) query parameters
  select the returned fields; a JSON body on GET is accepted too.
* 作成日時 / 更新日時 are kept to the minute, in UTC, as kintone does.

Helpers: ``answer(record_id, text)`` sets ステータス=回答済 and 回答 (as a person would in kintone);
``webhook_payload(record_id, type)`` builds the body kintone's webhook would POST for that record. Every request
is recorded in ``requests`` ({method, path, query, headers, json}).
"""
from __future__ import annotations

import asyncio
import json
import re
import secrets
from datetime import datetime, timezone
from typing import Any, Callable

from aiohttp import web

from tests.standins.base import LoopbackServer

DEFAULT_FIELDS: dict[str, str] = {
    "質問": "MULTI_LINE_TEXT",
    "質問者": "SINGLE_LINE_TEXT",
    "質問者ID": "SINGLE_LINE_TEXT",
    "質問日時": "DATETIME",
    "ナレッジセット": "SINGLE_LINE_TEXT",
    "候補資料": "MULTI_LINE_TEXT",
    "回答": "MULTI_LINE_TEXT",
}
SYSTEM_FIELDS: dict[str, str] = {
    "$id": "__ID__",
    "$revision": "__REVISION__",
    "レコード番号": "RECORD_NUMBER",
    "作成者": "CREATOR",
    "作成日時": "CREATED_TIME",
    "更新者": "MODIFIER",
    "更新日時": "UPDATED_TIME",
    "ステータス": "STATUS",
    "作業者": "STATUS_ASSIGNEE",
}
NUMERIC = {"__ID__", "__REVISION__", "RECORD_NUMBER", "NUMBER"}
TIMES = {"DATETIME", "CREATED_TIME", "UPDATED_TIME"}
JSON_BODY = web.RequestKey("json_body", object)
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


class QueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ------------------------------------------------------------------------------------------------ query language

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:\\.|[^"\\])*")|(?P<op>!=|>=|<=|=|>|<)|(?P<punct>[(),])|(?P<word>[^\s(),"=!<>]+))')


def _tokenize(query: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    query = query.strip()
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if not m or m.end() == pos:
            raise QueryError("GAIA_IQ03", "クエリ記法が間違っています。")
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "str":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        tokens.append((kind, text))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, query: str, fields: dict[str, str]) -> None:
        self.tokens = _tokenize(query)
        self.i = 0
        self.fields = fields

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def word(self, offset: int = 0) -> str:
        tok = self.peek(offset)
        return tok[1].lower() if tok and tok[0] == "word" else ""

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise QueryError("GAIA_IQ03", "クエリ記法が間違っています。")
        self.i += 1
        return tok

    def field(self, name: str) -> str:
        if name not in self.fields:
            raise QueryError("GAIA_IQ11", f"指定されたフィールド（{name}）が見つかりません。")
        return name

    def parse(self) -> tuple[Callable[[dict], bool], list[tuple[str, bool]], int, int]:
        cond: Callable[[dict], bool] = lambda r: True
        if self.peek() and self.word() not in ("order", "limit", "offset"):
            cond = self.parse_or()
        order: list[tuple[str, bool]] = []
        limit, offset = 100, 0
        while self.peek():
            w = self.word()
            if w == "order" and self.word(1) == "by":
                self.i += 2
                while True:
                    name = self.field(self.take()[1])
                    desc = False
                    if self.word() in ("asc", "desc"):
                        desc = self.take()[1].lower() == "desc"
                    order.append((name, desc))
                    if self.peek() == ("punct", ","):
                        self.i += 1
                        continue
                    break
            elif w in ("limit", "offset"):
                self.i += 1
                value = self.take()[1]
                if not value.isdigit():
                    raise QueryError("GAIA_IQ03", "クエリ記法が間違っています。")
                if w == "limit":
                    limit = int(value)
                else:
                    offset = int(value)
            else:
                raise QueryError("GAIA_IQ03", "クエリ記法が間違っています。")
        if limit > 500:
            raise QueryError("GAIA_QU01", "limitには500以下の値を指定してください。")
        return cond, order, limit, offset

    def parse_or(self):
        left = self.parse_and()
        while self.word() == "or":
            self.i += 1
            right = self.parse_and()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def parse_and(self):
        left = self.parse_cond()
        while self.word() == "and":
            self.i += 1
            right = self.parse_cond()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def parse_cond(self):
        if self.peek() == ("punct", "("):
            self.i += 1
            inner = self.parse_or()
            if self.take() != ("punct", ")"):
                raise QueryError("GAIA_IQ03", "クエリ記法が間違っています。")
            return inner
        kind, name = self.take()
        if kind != "word":
            raise QueryError("GAIA_IQ03", "クエリ記法が間違っています。")
        name = self.field(name)
        ftype = self.fields[name]
        negate = False
        if self.word() == "not":
            negate = True
            self.i += 1
        op_tok = self.take()
        op = op_tok[1].lower()
        if op == "in":
            if self.take() != ("punct", "("):
                raise QueryError("GAIA_IQ03", "クエリ記法が間違っています。")
            values = []
            while True:
                values.append(self.take()[1])
                sep = self.take()
                if sep == ("punct", ")"):
                    break
                if sep != ("punct", ","):
                    raise QueryError("GAIA_IQ03", "クエリ記法が間違っています。")
            wanted = [_coerce(v, ftype) for v in values]
            return lambda r: (_coerce(r.get(name), ftype) in wanted) != negate
        if op == "like":
            needle = self.take()[1]
            return lambda r: (needle in str(r.get(name) or "")) != negate
        if negate or op_tok[0] != "op":
            raise QueryError("GAIA_IQ03", "クエリ記法が間違っています。")
        target = _coerce(self.take()[1], ftype)

        def compare(r: dict) -> bool:
            value = _coerce(r.get(name), ftype)
            if op == "=":
                return value == target
            if op == "!=":
                return value != target
            if value is None or target is None:
                return False
            return {">": value > target, "<": value < target, ">=": value >= target, "<=": value <= target}[op]
        return compare


def _coerce(value: Any, ftype: str) -> Any:
    if value is None or value == "":
        return None
    if ftype in NUMERIC:
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if ftype in TIMES:
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(timezone.utc)
        except ValueError:
            raise QueryError("GAIA_IQ07", f"日時の形式が不正です（{value}）。")
    return str(value)


def _minute(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(second=0, microsecond=0)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------------- stand-in

class KintoneStandIn(LoopbackServer):
    def __init__(self, app_id: str = "7", api_token: str = "test-token-abc", fields: dict[str, str] | None = None,
                 initial_status: str = "未回答", answered_status: str = "回答済", app_name: str = "職員質問窓口") -> None:
        self.app_id = str(app_id)
        self.api_token = api_token
        self.app_name = app_name
        self.fields: dict[str, str] = {**(fields or DEFAULT_FIELDS), **SYSTEM_FIELDS}
        self.initial_status = initial_status
        self.answered_status = answered_status
        self.records: dict[int, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}     # fileKey -> {name, content_type, content}
        self.requests: list[dict] = []
        self.bad_token_status = 401
        self.delay = 0.0
        self.fail_status: int | None = None
        self.now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        self._next_id = 1
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/k/v1/record.json", self._post_record)
        app.router.add_put("/k/v1/record.json", self._put_record)
        app.router.add_get("/k/v1/records.json", self._get_records)
        app.router.add_post("/k/v1/records.json", self._post_records)
        app.router.add_post("/k/v1/file.json", self._post_file)

    def middlewares(self) -> list:
        return [self._middleware]


    # ------------------------------------------------------------------------------------------------ helpers

    def add_record(self, values: dict[str, Any], *, status: str | None = None, at: datetime | None = None) -> str:
        """Insert a record directly (no HTTP), e.g. to seed a test. Returns its id."""
        now = _minute(at or self.now())
        rid = self._next_id
        self._next_id += 1
        self.records[rid] = {**values, "$id": str(rid), "$revision": "1", "レコード番号": str(rid),
                             "作成者": {"code": "Administrator", "name": "Administrator"},
                             "更新者": {"code": "Administrator", "name": "Administrator"},
                             "作成日時": _iso(now), "更新日時": _iso(now),
                             "ステータス": status or self.initial_status, "作業者": []}
        return str(rid)

    def answer(self, record_id: str | int, text: str, *, at: datetime | None = None,
               by: tuple[str, str] = ("sato", "佐藤 花子")) -> None:
        """What a person does in kintone: write 回答 and move the status to 回答済."""
        record = self.records[int(record_id)]
        record["回答"] = text
        record["ステータス"] = self.answered_status
        self._touch(record, at, by)

    def webhook_payload(self, record_id: str | int, type: str = "UPDATE_STATUS") -> dict:
        """The JSON kintone's webhook would POST for this record."""
        record = self.records[int(record_id)]
        return {
            "id": "01234567-89ab-cdef-0123-" + secrets.token_hex(6),
            "type": type,
            "app": {"id": self.app_id, "name": self.app_name},
            "record": self._render(record, None),
            "recordTitle": str(record.get("質問", ""))[:30],
            "url": f"https://example.cybozu.com/k/{self.app_id}/show#record={record['$id']}",
        }

    def _touch(self, record: dict, at: datetime | None, by: tuple[str, str] = ("Administrator", "Administrator")):
        record["更新日時"] = _iso(_minute(at or self.now()))
        record["$revision"] = str(int(record["$revision"]) + 1)
        record["更新者"] = {"code": by[0], "name": by[1]}

    def _render(self, record: dict, wanted: list[str] | None) -> dict:
        codes = wanted or list(self.fields)
        out = {}
        for code in codes:
            ftype = self.fields[code]
            value = record.get(code)
            if value is None:
                value = [] if ftype == "STATUS_ASSIGNEE" else ""
            out[code] = {"type": ftype, "value": value}
        return out

    # ------------------------------------------------------------------------------------------------ HTTP

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        body = None
        raw = b"" if request.content_type.startswith("multipart/") else await request.read()   # multipart: the handler reads it
        if raw:
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return _error(400, "CB_IJ01", "JSON文字列の形式が不正です。")
        self.requests.append({"method": request.method, "path": request.path,
                              "query": {k: request.query.getall(k) if len(request.query.getall(k)) > 1 else v
                                        for k, v in request.query.items()},
                              "headers": dict(request.headers), "json": body})
        request[JSON_BODY] = body
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_status is not None:
            return _error(self.fail_status, "GAIA_UN01", "一時的なエラーが発生しました。")
        presented = [t.strip() for t in request.headers.get("X-Cybozu-API-Token", "").split(",") if t.strip()]
        if self.api_token not in presented:
            return _error(self.bad_token_status, "GAIA_IA02", "指定したAPIトークンは、アプリで生成されたトークンと異なります。")
        return await handler(request)

    def _check_app(self, app: Any) -> web.Response | None:
        if str(app) != self.app_id:
            return _error(400, "GAIA_AP15", f"APIトークンとアプリ(id: {app})の組み合わせが正しくありません。")
        return None

    def _validate(self, record: Any) -> tuple[dict, dict]:
        errors: dict[str, dict] = {}
        values: dict[str, Any] = {}
        if not isinstance(record, dict):
            return {}, {"record": {"messages": ["必須です。"]}}
        for code, field in record.items():
            ftype = self.fields.get(code)
            if ftype is None:
                errors[f"record.{code}"] = {"messages": [f"フィールド「{code}」は存在しません。"]}
                continue
            if code in SYSTEM_FIELDS:
                errors[f"record.{code}.value"] = {"messages": ["このフィールドの値は変更できません。"]}
                continue
            if not isinstance(field, dict) or "value" not in field:
                errors[f"record.{code}.value"] = {"messages": ["必須です。"]}
                continue
            value = field["value"]
            if ftype == "DATETIME" and value not in ("", None) and not (isinstance(value, str) and DATETIME_RE.match(value)):
                errors[f"record.{code}.value"] = {"messages": ["日付/時刻の形式が不正です。"]}
                continue
            if ftype in ("SINGLE_LINE_TEXT", "MULTI_LINE_TEXT") and not isinstance(value, str):
                errors[f"record.{code}.value"] = {"messages": ["文字列を指定してください。"]}
                continue
            if ftype == "FILE":
                if not isinstance(value, list) or not all(isinstance(v, dict) and v.get("fileKey") in self.files
                                                          for v in value):
                    errors[f"record.{code}.value"] = {"messages": ["ファイルキーが不正です。"]}
                    continue
                value = [{"fileKey": v["fileKey"], "name": self.files[v["fileKey"]]["name"],
                          "contentType": self.files[v["fileKey"]]["content_type"],
                          "size": str(len(self.files[v["fileKey"]]["content"]))} for v in value]
            if ftype == "DATETIME" and value:
                value = _iso(_minute(datetime.fromisoformat(value.replace("Z", "+00:00"))))
            values[code] = value
        return values, errors

    async def _post_record(self, request: web.Request) -> web.Response:
        body = request[JSON_BODY] or {}
        bad = self._check_app(body.get("app"))
        if bad:
            return bad
        values, errors = self._validate(body.get("record", {}))
        if errors:
            return _error(400, "CB_VA01", "入力内容が正しくありません。", errors=errors)
        rid = self.add_record(values)
        return _json({"id": rid, "revision": "1"})

    async def _post_records(self, request: web.Request) -> web.Response:
        """``POST /k/v1/records.json``: up to 100 records, all added or none (errors keyed ``records[i].<code>``)."""
        body = request[JSON_BODY] or {}
        bad = self._check_app(body.get("app"))
        if bad:
            return bad
        records = body.get("records")
        if not isinstance(records, list) or not records or len(records) > 100:
            return _error(400, "CB_VA01", "入力内容が正しくありません。",
                          errors={"records": {"messages": ["1件以上100件以下で指定してください。"]}})
        checked, errors = [], {}
        for i, record in enumerate(records):
            values, errs = self._validate(record)
            errors.update({f"records[{i}].{k.removeprefix('record.')}": v for k, v in errs.items()})
            checked.append(values)
        if errors:
            return _error(400, "CB_VA01", "入力内容が正しくありません。", errors=errors)
        ids = [self.add_record(values) for values in checked]
        return _json({"ids": ids, "revisions": ["1"] * len(ids)})

    async def _post_file(self, request: web.Request) -> web.Response:
        """``POST /k/v1/file.json``: multipart with a part named ``file`` → ``{"fileKey"}``."""
        if not request.content_type.startswith("multipart/"):
            return _error(400, "CB_IJ01", "multipart/form-data で送信してください。")
        reader = await request.multipart()
        async for part in reader:
            if getattr(part, "name", None) == "file":
                content = await part.read()
                key = secrets.token_hex(16)
                self.files[key] = {"name": part.filename or "", "content_type": part.headers.get("Content-Type", ""),
                                   "content": bytes(content)}
                return _json({"fileKey": key})
        return _error(400, "CB_VA01", "入力内容が正しくありません。", errors={"file": {"messages": ["必須です。"]}})

    async def _put_record(self, request: web.Request) -> web.Response:
        body = request[JSON_BODY] or {}
        bad = self._check_app(body.get("app"))
        if bad:
            return bad
        try:
            record = self.records[int(body.get("id"))]
        except (TypeError, ValueError, KeyError):
            return _error(404, "GAIA_RE01", f"指定したレコード（id: {body.get('id')}）が見つかりません。")
        values, errors = self._validate(body.get("record", {}))
        if errors:
            return _error(400, "CB_VA01", "入力内容が正しくありません。", errors=errors)
        record.update(values)
        self._touch(record, None)
        return _json({"revision": record["$revision"]})

    async def _get_records(self, request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(request[JSON_BODY] or {})
        q = request.query
        for key in ("app", "query", "totalCount"):
            if key in q:
                params[key] = q[key]
        indexed = sorted(((int(m.group(1)), v) for k, v in q.items() if (m := re.fullmatch(r"fields\[(\d+)\]", k))))
        if indexed:
            params["fields"] = [v for _, v in indexed]
        elif "fields" in q:
            params["fields"] = q.getall("fields")
        bad = self._check_app(params.get("app"))
        if bad:
            return bad
        wanted = params.get("fields") or None
        if wanted:
            unknown = [c for c in wanted if c not in self.fields]
            if unknown:
                return _error(400, "GAIA_IQ11", f"指定されたフィールド（{unknown[0]}）が見つかりません。")
        try:
            cond, order, limit, offset = _Parser(params.get("query", ""), self.fields).parse()
            rows = [r for r in self.records.values() if cond(r)]
        except QueryError as exc:
            return _error(400, exc.code, exc.message)
        order = order or [("$id", True)]             # kintone's default: record id, descending
        for name, desc in reversed(order):
            ftype = self.fields[name]
            rows.sort(key=lambda r: (_coerce(r.get(name), ftype) is None, _coerce(r.get(name), ftype) or 0
                                     if ftype in NUMERIC else _coerce(r.get(name), ftype) or ""), reverse=desc)
        total = len(rows)
        page = rows[offset: offset + limit]
        count = str(total) if str(params.get("totalCount", "")).lower() == "true" else None
        return _json({"records": [self._render(r, wanted) for r in page], "totalCount": count})


def _error(status: int, code: str, message: str, *, errors: dict | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "id": secrets.token_urlsafe(15)[:20], "message": message}
    if errors:
        body["errors"] = errors
    return _json(body, status=status)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))
