"""Structured JSON logs with a correlation id per turn. Never the text of a message (personal data)."""
from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="-")


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname, "logger": record.name, "msg": record.getMessage(),
               "correlation_id": correlation_id.get()}
        for key in ("skill", "activity_type", "tenant", "status", "duration_ms", "url", "reason", "detail"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.cid = correlation_id.get()
        return super().format(record)


class _MalformedRequests(logging.Filter):
    """aiohttp answers a request its HTTP parser refuses (a NUL in a header, a broken request line) with 400, but
    logs it with a traceback at ERROR: anyone could fill the log with tracebacks without a token. Such records
    become one INFO line without the traceback; every other record passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg, record.args = "malformed HTTP request refused (%s): %s", (exc.code, type(exc).__name__)
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
        return True


def quiet_malformed_requests() -> None:
    """Install the filter on aiohttp's server logger (idempotent; called when the app is created)."""
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _MalformedRequests) for f in server.filters):
        server.addFilter(_MalformedRequests())


def setup(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_Json() if fmt == "json" else
                         _Text("%(asctime)s %(levelname)s [%(cid)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "msrest", "azure", "httpx", "openai", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
