"""Untrusted JSON bodies (the Bot Connector's activities, kintone webhooks): bounded before they are parsed, and
cleaned after, so that no request body can exhaust the stack, the memory or the logging.

- size: at most `max_bytes` (the caller's cap);
- depth: arrays and objects nested at most `max_depth` deep, checked on the raw text before `json.loads`;
- encoding: UTF-8 only (a BOM is accepted); any declared charset other than UTF-8 is refused;
- strings: lone surrogates (``"\\ud800"``) become U+FFFD, so nothing downstream (logs, the database, the
  connector's URLs) meets a string it cannot encode."""
from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJson(ValueError):
    """The body is not acceptable JSON; `reason` is a short English phrase for the HTTP error body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def charset_ok(content_type: str | None) -> bool:
    """True when the Content-Type names no charset, or UTF-8."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in `raw` (brackets inside strings do not count). Linear time; the
    per-character loop runs only over the brackets."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b'""', raw))
    depth = deepest = 0
    for ch in brackets:
        if ch in (0x5B, 0x7B):       # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def loads(raw: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse an untrusted JSON body. Raises BadJson (never RecursionError, LookupError or UnicodeDecodeError)."""
    if len(raw) > max_bytes:
        raise BadJson("request body too large")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJson("body is not UTF-8") from None
    if nesting_depth(raw) > max_depth:
        raise BadJson(f"JSON nested deeper than {max_depth}")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise BadJson("malformed JSON") from None
    return clean(value)


def clean_text(value: str) -> str:
    """A string with lone surrogates replaced by U+FFFD (valid surrogate pairs cannot occur in a str)."""
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


def clean(value: Any) -> Any:
    """The same JSON value with every string (keys too) cleaned. Iterative: depth is already bounded, but no
    recursion is needed."""
    if isinstance(value, str):
        return clean_text(value)
    if not isinstance(value, (dict, list)):
        return value
    root: list[Any] = [value]
    stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    while stack:
        parent, key, node = stack.pop()
        if isinstance(node, dict):
            new: dict[str, Any] = {}
            for k, v in node.items():
                new[clean_text(k)] = v
            parent[key] = new
            for k, v in new.items():
                if isinstance(v, str):
                    new[k] = clean_text(v)
                elif isinstance(v, (dict, list)):
                    stack.append((new, k, v))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, str):
                    node[i] = clean_text(v)
                elif isinstance(v, (dict, list)):
                    stack.append((node, i, v))
    return root[0]
