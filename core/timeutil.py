"""Time: the city's time zone, and the one rule for datetimes read from the database or from outside.

Datetimes are stored and compared in UTC; they are shown in JST."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def as_utc(dt: datetime | None) -> datetime | None:
    """An aware UTC datetime; a naive one is taken to be UTC already (how SQLite hands stored values back)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def as_jst(dt: datetime | None) -> datetime | None:
    """The same instant in JST, for display (naive input is taken as UTC)."""
    utc = as_utc(dt)
    return utc.astimezone(JST) if utc is not None else None


def jst_text(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """The instant as JST wall-clock text, for cards, CSVs and records ("" for None)."""
    jst = as_jst(dt)
    return jst.strftime(fmt) if jst is not None else ""
