"""Column types shared by every table."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A point in time, stored and compared in UTC on SQLite and PostgreSQL alike; always read back aware (UTC).

    The column is a plain `DateTime(timezone=True)` (the migrations need nothing else). SQLite keeps no time zone:
    it stores the wall clock of whatever it is given, so a JST-aware value would come back as a naive JST wall clock
    and be taken for UTC. Here every value is converted to UTC on the way in (also the values compared with the
    column in a WHERE clause) and made aware on the way out. A naive datetime is taken to be UTC already (`utcnow`
    and the UTC wall clocks SQLite holds): code that has a local time must make it aware first."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime takes a datetime, not {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
