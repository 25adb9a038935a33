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


def setup(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_Json() if fmt == "json" else
                         _Text("%(asctime)s %(levelname)s [%(cid)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "msrest", "azure", "httpx", "openai", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
