"""kintone REST client for the staff question desk: a question goes to a kintone app, a person answers it there,
and the answer comes back (by polling or by kintone's webhook).

Wire facts this client relies on (kintone REST API):

* ``POST /k/v1/record.json`` with ``{"app": id, "record": {"<field code>": {"value": …}}}`` → ``{"id", "revision"}``.
* ``POST /k/v1/records.json`` with ``{"app": id, "records": [...]}`` (at most 100) → ``{"ids", "revisions"}``, all or none.
* ``GET /k/v1/records.json?app=…&query=…&fields[0]=…`` (arrays as ``fields[N]`` query parameters, URL-encoded)
  → ``{"records": [{"<code>": {"type", "value"}}], "totalCount": null}``; at most 500 records per call, so this
  client pages by record id (``$id > "N" … order by $id asc limit 500``) rather than by offset.
* Header ``X-Cybozu-API-Token`` (several tokens may be joined with commas).
* DATETIME values are ISO 8601 in UTC, ``2024-04-01T09:30:00Z``; kintone keeps minutes only, so times compared
  against 更新日時 should overlap by a minute (see `answered_since`).
* Errors are JSON ``{"code", "id", "message"[, "errors"]}`` with 4xx or 520; ``message`` follows the kintone
  administrator's language, so we classify by ``code`` and status, and show our own Japanese text.
* Webhook (outbound from kintone): ``{"id", "type", "app": {"id", "name"}, "record", "recordTitle", "url"}``
  with ``type`` ADD_RECORD / UPDATE_RECORD / UPDATE_STATUS (DELETE_RECORD and ADD_RECORD_COMMENT carry no record).
  kintone signs nothing, so the inbound endpoint should carry KINTONE_WEBHOOK_TOKEN (e.g. as ``?token=``) and
  check it with `verify_webhook_token`.

The API token is never logged; only error ``code`` / ``id`` and HTTP status are."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
from pydantic import SecretStr, field_validator

from core.settings import AppSettings
from core.tokens import same_secret

log = logging.getLogger(__name__)

MAX_ADD_RECORDS = 100          # records one POST /k/v1/records.json may add

DEFAULT_FIELD_MAP: dict[str, str] = {
    "question": "質問",
    "asker": "質問者",
    "asker_id": "質問者ID",
    "asked_at": "質問日時",
    "knowledge_set": "ナレッジセット",
    "passages": "候補資料",
    "answer": "回答",
    "status": "ステータス",
    "updated_at": "更新日時",
}


class KintoneSettings(AppSettings):
    section = "kintone"
    KINTONE_BASE_URL: str | None = None
    """kintone base URL, https://<subdomain>.cybozu.com (empty = question desk hand-off disabled)."""
    KINTONE_APP_ID: str | None = None
    """ID of the kintone app that receives staff questions."""
    KINTONE_API_TOKEN: SecretStr | None = None
    """API token of that app (view + add permissions); secret, from the environment only."""
    KINTONE_FIELD_MAP: dict[str, str] = dict(DEFAULT_FIELD_MAP)
    """JSON mapping our names → the app's field codes; keys not given keep the defaults (question→質問, asker→質問者, asker_id→質問者ID, asked_at→質問日時, knowledge_set→ナレッジセット, passages→候補資料, answer→回答, status→ステータス, updated_at→更新日時)."""
    KINTONE_ANSWERED_STATUS: str = "回答済"
    """Status value that marks a question as answered."""
    KINTONE_POLL_SECONDS: int = 60
    """How often answered questions are polled (seconds); 0 = rely on the webhook only."""
    KINTONE_WEBHOOK_TOKEN: SecretStr | None = None
    """Shared secret the kintone webhook URL must carry (?token=…); empty = the webhook endpoint refuses all calls."""
    KINTONE_TIMEOUT_SECONDS: float = 15.0
    """Timeout of one kintone request (seconds)."""

    @field_validator("KINTONE_FIELD_MAP", mode="after")
    @classmethod
    def _merge_defaults(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(DEFAULT_FIELD_MAP)
        if unknown:
            raise ValueError(f"unknown KINTONE_FIELD_MAP keys: {sorted(unknown)}; known: {sorted(DEFAULT_FIELD_MAP)}")
        return {**DEFAULT_FIELD_MAP, **{k: v for k, v in value.items() if v}}


KINTONE_ERROR_JA = {
    "not_configured": "kintone との連携が設定されていません。管理者にお問い合わせください。",
    "auth": "kintone の認証に失敗しました。APIトークンやアクセス権の設定を管理者にご確認ください。",
    "config": "kintone アプリの設定（フィールドコードなど）が連携設定と一致していません。管理者にお問い合わせください。",
    "not_found": "kintone のアプリまたはレコードが見つかりませんでした。管理者にお問い合わせください。",
    "timeout": "kintone が時間内に応答しませんでした。時間をおいて再度お試しください。",
    "unavailable": "kintone に接続できませんでした。時間をおいて再度お試しください。",
    "server": "kintone でエラーが発生しました。時間をおいて再度お試しください。",
    "bad_response": "kintone から想定外の応答がありました。時間をおいて再度お試しください。",
    "invalid_input": "質問の内容が空です。質問を入力してから、もう一度お試しください。",
}

_AUTH_CODES = {"GAIA_IA02", "GAIA_AP15", "GAIA_NO01", "GAIA_NO02", "CB_NO01", "CB_NO02", "CB_WA01", "CB_AU01",
               "GAIA_DA02", "GAIA_UN03"}
_CONFIG_CODES = {"CB_VA01", "CB_IJ01", "CB_IL02", "GAIA_IQ03", "GAIA_IQ07", "GAIA_IQ10", "GAIA_IQ11", "GAIA_IL26",
                 "GAIA_FE01", "GAIA_QU01", "GAIA_QU02"}
_NOT_FOUND_CODES = {"GAIA_AP01", "GAIA_RE01"}


class KintoneError(Exception):
    """A failed kintone call. ``message_ja`` is safe to show; ``code``/``error_id`` come from kintone's error JSON."""

    def __init__(self, kind: str, message_ja: str | None = None, *, status: int | None = None,
                 code: str | None = None, error_id: str | None = None, detail: str = "") -> None:
        self.kind = kind
        self.message_ja = message_ja or KINTONE_ERROR_JA.get(kind, KINTONE_ERROR_JA["server"])
        self.status = status
        self.code = code
        self.error_id = error_id
        self.detail = detail
        super().__init__(f"{kind} (status={status}, code={code}, id={error_id}) {detail}".strip())


@dataclass(frozen=True)
class AnsweredRecord:
    record_id: str
    question: str
    answer: str
    asker_id: str
    knowledge_set: str
    updated_at: datetime | None
    asker_name: str = ""


def kintone_datetime(value: datetime) -> str:
    """A datetime as kintone's DATETIME value: UTC, ISO 8601, ``Z`` (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_kintone_datetime(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


def query_string(value: str) -> str:
    """A string literal for the kintone query language (double quotes; backslash and quote escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(record: dict, code: str) -> Any:
    field = record.get(code)
    return field.get("value") if isinstance(field, dict) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):                        # user / status assignee objects
        return str(value.get("name") or value.get("code") or "")
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


class KintoneClient:
    """Question desk hand-off to one kintone app. One per process; close() when it created its own session."""

    PAGE = 500
    ID_CHUNK = 100

    def __init__(self, settings: KintoneSettings | None = None, session: aiohttp.ClientSession | None = None) -> None:
        self.settings = settings or KintoneSettings()
        self.fields = dict(self.settings.KINTONE_FIELD_MAP)
        self._session = session
        self._own_session = session is None

    @property
    def configured(self) -> bool:
        s = self.settings
        return bool(s.KINTONE_BASE_URL and s.KINTONE_APP_ID and s.KINTONE_API_TOKEN
                    and s.KINTONE_API_TOKEN.get_secret_value())

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> "KintoneClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # --------------------------------------------------------------------------------------------- questions

    async def create_question(self, question: str, asker_name: str, asker_id: str, asked_at: datetime,
                              knowledge_set: str, passages: list[str]) -> str:
        """Add the question as a record; returns the kintone record id. The status is left to the app (its first
        process-management status, or the drop-down's default)."""
        if not (question or "").strip():
            raise KintoneError("invalid_input")
        f = self.fields
        kept = [p.strip() for p in passages or [] if p and p.strip()]
        joined = "\n\n".join(f"［{i}］{p}" for i, p in enumerate(kept, start=1))
        record = {
            f["question"]: {"value": question.strip()},
            f["asker"]: {"value": asker_name or ""},
            f["asker_id"]: {"value": asker_id or ""},
            f["asked_at"]: {"value": kintone_datetime(asked_at)},
            f["knowledge_set"]: {"value": knowledge_set or ""},
            f["passages"]: {"value": joined},
        }
        return await self.add_record(record)

    async def find_question(self, question: str, asker_id: str, asked_at: datetime) -> str | None:
        """The id of a record this client created for that question (same asker id, same 質問日時 minute, same text),
        or None: the check before a hand-off is posted again after a crash, so that kintone gets it once."""
        f = self.fields
        minute = asked_at if asked_at.tzinfo else asked_at.replace(tzinfo=timezone.utc)
        minute = minute.astimezone(timezone.utc).replace(second=0, microsecond=0)
        query = (f"{f['asker_id']} = {query_string(asker_id or '')} and "
                 f"{f['asked_at']} >= {query_string(kintone_datetime(minute))} and "
                 f"{f['asked_at']} < {query_string(kintone_datetime(minute + timedelta(minutes=1)))} "
                 f"order by $id asc limit 100")
        params = [("app", str(self.settings.KINTONE_APP_ID)), ("query", query), ("fields[0]", "$id"),
                  ("fields[1]", f["question"])]
        data = await self._request("GET", "/k/v1/records.json", params=params)
        records = data.get("records") if isinstance(data, dict) else None
        if not isinstance(records, list):
            raise KintoneError("bad_response", detail="no records in GET records response")
        wanted = " ".join((question or "").split())
        for record in records:
            if isinstance(record, dict) and " ".join(_text(_value(record, f["question"])).split()) == wanted:
                found = _text(_value(record, "$id"))
                if found:
                    return found
        return None

    async def answered_since(self, record_ids: list[str] | None = None,
                             updated_after: datetime | None = None) -> list[AnsweredRecord]:
        """Records whose status is KINTONE_ANSWERED_STATUS and whose answer is not blank, oldest id first.

        ``record_ids`` narrows to those records (an empty list returns [] without a call); ``updated_after``
        keeps records updated strictly after that time. kintone stores 更新日時 to the minute: pass the last poll
        time minus a minute and drop records already delivered (by record id and ``updated_at``)."""
        if record_ids is not None:
            ids = [str(i) for i in record_ids if str(i).strip()]
            if not ids:
                return []
            out: list[AnsweredRecord] = []
            for start in range(0, len(ids), self.ID_CHUNK):
                out += await self._answered(ids[start:start + self.ID_CHUNK], updated_after)
            return sorted(out, key=lambda r: int(r.record_id) if r.record_id.isdigit() else 0)
        return await self._answered(None, updated_after)

    async def _answered(self, ids: list[str] | None, updated_after: datetime | None) -> list[AnsweredRecord]:
        f = self.fields
        conditions = [f"{f['status']} in ({query_string(self.settings.KINTONE_ANSWERED_STATUS)})"]
        if updated_after is not None:
            conditions.append(f"{f['updated_at']} > {query_string(kintone_datetime(updated_after))}")
        if ids is not None:
            conditions.append(f"$id in ({', '.join(query_string(i) for i in ids)})")
        wanted = ["$id", f["question"], f["answer"], f["asker"], f["asker_id"], f["knowledge_set"], f["status"],
                  f["updated_at"]]
        fields = list(dict.fromkeys(wanted))
        out: list[AnsweredRecord] = []
        last_id: str | None = None
        while True:
            page_conditions = conditions + ([f"$id > {query_string(last_id)}"] if last_id else [])
            query = " and ".join(page_conditions) + f" order by $id asc limit {self.PAGE}"
            params = [("app", str(self.settings.KINTONE_APP_ID)), ("query", query)]
            params += [(f"fields[{i}]", code) for i, code in enumerate(fields)]
            data = await self._request("GET", "/k/v1/records.json", params=params)
            records = data.get("records") if isinstance(data, dict) else None
            if not isinstance(records, list):
                raise KintoneError("bad_response", detail="no records in GET records response")
            for record in records:
                answered = self._answered_record(record)
                if answered is not None:
                    out.append(answered)
            if len(records) < self.PAGE:
                return out
            last_id = _text(_value(records[-1], "$id"))
            if not last_id:
                return out

    def _answered_record(self, record: Any) -> AnsweredRecord | None:
        if not isinstance(record, dict):
            return None
        f = self.fields
        record_id = _text(_value(record, "$id"))
        answer = _text(_value(record, f["answer"])).strip()
        if not record_id:
            return None
        if not answer:
            log.warning("kintone record %s is marked answered but its answer is blank; skipped", record_id)
            return None
        return AnsweredRecord(
            record_id=record_id, question=_text(_value(record, f["question"])), answer=answer,
            asker_id=_text(_value(record, f["asker_id"])), knowledge_set=_text(_value(record, f["knowledge_set"])),
            updated_at=parse_kintone_datetime(_value(record, f["updated_at"])),
            asker_name=_text(_value(record, f["asker"])))

    # ------------------------------------------------------------------------------------------ any app's records

    async def upload_file(self, name: str, content: bytes, content_type: str = "application/octet-stream") -> str:
        """``POST /k/v1/file.json`` (multipart, part ``file``) → the ``fileKey`` a FILE field takes
        (``{"value": [{"fileKey": …}]}``). kintone drops a key that no record uses within 3 days."""
        form = aiohttp.FormData(quote_fields=False)   # a Japanese file name as UTF-8, as browsers send it
        form.add_field("file", content, filename=name or "file", content_type=content_type)
        data = await self._request("POST", "/k/v1/file.json", form=form)
        key = data.get("fileKey") if isinstance(data, dict) else None
        if not key or not isinstance(key, str):
            raise KintoneError("bad_response", detail="no fileKey in POST file response")
        return key

    async def add_record(self, record: dict[str, Any]) -> str:
        """``POST /k/v1/record.json`` of a record already in kintone's shape (``{"<code>": {"value": …}}``) to this
        client's app; returns the record id."""
        data = await self._request("POST", "/k/v1/record.json",
                                   body={"app": self.settings.KINTONE_APP_ID, "record": record})
        record_id = data.get("id") if isinstance(data, dict) else None
        if not record_id:
            raise KintoneError("bad_response", detail="no id in POST record response")
        return str(record_id)

    async def add_records(self, records: list[dict[str, Any]]) -> list[str]:
        """``POST /k/v1/records.json`` ``{"app", "records": [...]}`` → ``{"ids", "revisions"}``: at most
        MAX_ADD_RECORDS records in one request, all added or none (kintone rolls the request back on any error); the
        ids come in the order of `records`."""
        if not records:
            return []
        if len(records) > MAX_ADD_RECORDS:
            raise ValueError(f"kintone adds at most {MAX_ADD_RECORDS} records per request")
        data = await self._request("POST", "/k/v1/records.json",
                                   body={"app": self.settings.KINTONE_APP_ID, "records": records})
        ids = data.get("ids") if isinstance(data, dict) else None
        if not isinstance(ids, list) or len(ids) != len(records) or not all(ids):
            raise KintoneError("bad_response", detail="ids missing or not one per record in POST records response")
        return [str(i) for i in ids]

    # ---------------------------------------------------------------------------------------------- webhook

    def verify_webhook_token(self, presented: str | None) -> bool:
        """Constant-time check of the token the webhook URL carried; False when no token is configured."""
        secret = self.settings.KINTONE_WEBHOOK_TOKEN
        return same_secret(presented, secret.get_secret_value() if secret else None)

    def parse_webhook(self, payload: dict) -> AnsweredRecord | None:
        """A kintone webhook body → the answered question it reports, or None (other app, other event, not yet
        answered, blank answer, malformed body)."""
        if not isinstance(payload, dict):
            return None
        if payload.get("type") not in ("UPDATE_RECORD", "UPDATE_STATUS", "ADD_RECORD"):
            return None
        app = payload.get("app")
        app_id = str(app.get("id")) if isinstance(app, dict) and app.get("id") is not None else None
        if self.settings.KINTONE_APP_ID and app_id != str(self.settings.KINTONE_APP_ID):
            log.info("kintone webhook for app %s ignored (configured app %s)", app_id, self.settings.KINTONE_APP_ID)
            return None
        record = payload.get("record")
        if not isinstance(record, dict):
            return None
        if _text(_value(record, self.fields["status"])) != self.settings.KINTONE_ANSWERED_STATUS:
            return None
        return self._answered_record(record)

    # ---------------------------------------------------------------------------------------------- plumbing

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def _request(self, method: str, path: str, *, params: list[tuple[str, str]] | None = None,
                       body: dict | None = None, form: aiohttp.FormData | None = None) -> Any:
        base_url, token = self.settings.KINTONE_BASE_URL, self.settings.KINTONE_API_TOKEN
        if not self.configured or base_url is None or token is None:  # configured implies both are set
            raise KintoneError("not_configured")
        url = base_url.rstrip("/") + path
        headers = {"X-Cybozu-API-Token": token.get_secret_value(),
                   "Accept": "application/json"}
        kwargs: dict[str, Any] = {"headers": headers,
                                  "timeout": aiohttp.ClientTimeout(total=self.settings.KINTONE_TIMEOUT_SECONDS)}
        if params is not None:
            kwargs["params"] = params
        if body is not None:
            kwargs["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif form is not None:
            kwargs["data"] = form          # multipart/form-data; aiohttp sets the boundary header
        try:
            async with self._http().request(method, url, **kwargs) as resp:
                status = resp.status
                raw = await resp.read()
        except asyncio.TimeoutError as exc:
            log.warning("kintone %s %s timed out", method, path)
            raise KintoneError("timeout") from exc
        except aiohttp.ClientError as exc:
            log.warning("kintone %s %s unreachable (%s)", method, path, type(exc).__name__)
            raise KintoneError("unavailable") from exc
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            data = None
        if status == 200:
            if data is None:
                raise KintoneError("bad_response", status=status)
            return data
        raise self._error(method, path, status, data)

    @staticmethod
    def _error(method: str, path: str, status: int, data: Any) -> KintoneError:
        code = str(data.get("code")) if isinstance(data, dict) and data.get("code") else None
        error_id = str(data.get("id")) if isinstance(data, dict) and data.get("id") else None
        detail = ""
        if isinstance(data, dict) and isinstance(data.get("errors"), dict):
            detail = "fields: " + ", ".join(sorted(data["errors"]))[:300]
        log.warning("kintone %s %s failed: HTTP %s code=%s id=%s %s", method, path, status, code, error_id, detail)
        if code in _AUTH_CODES or status in (401, 403):
            kind = "auth"
        elif code in _NOT_FOUND_CODES or status == 404:
            kind = "not_found"
        elif code in _CONFIG_CODES or status == 400:
            kind = "config"
        elif status in (502, 503, 504):
            kind = "unavailable"
        else:
            kind = "server"
        return KintoneError(kind, status=status, code=code, error_id=error_id, detail=detail)
