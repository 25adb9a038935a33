"""Shared-secret checks for the endpoints that take a token (the kintone webhook, the audit export)."""
from __future__ import annotations

import hmac


def _bytes(value: str) -> bytes:
    # A header may carry any byte: aiohttp hands non-UTF-8 bytes over as surrogate escapes (\udcff), which plain
    # .encode() refuses. Compare bytes, whatever arrived.
    return value.encode("utf-8", "surrogateescape") if _escapable(value) else value.encode("utf-8", "surrogatepass")


def _escapable(value: str) -> bool:
    try:
        value.encode("utf-8", "surrogateescape")
        return True
    except UnicodeEncodeError:
        return False


def same_secret(presented: str | None, secret: str | None) -> bool:
    """Constant-time comparison; False when either side is empty."""
    if not presented or not secret:
        return False
    return hmac.compare_digest(_bytes(presented), _bytes(secret))
