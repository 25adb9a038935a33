"""Rate limits shared by every replica: fixed-window counters in the database (SQLite alone, PostgreSQL behind
several replicas), so a limit of 10 a minute is 10 a minute however many processes answer.

One statement per key and hit (INSERT … ON CONFLICT DO UPDATE … RETURNING), atomic on both back ends. A fixed
window lets a client send up to twice the limit across a window boundary; that is the usual price of one row per
key and window instead of one row per hit. Keys are hashed before they are stored (an address is personal data).
Refused requests are counted too: a client that keeps sending stays refused until its window ends."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from core.store import Database
from core.store.models import RateCounter


@dataclass(frozen=True)
class Limited:
    retry_after: int          # whole seconds until the window that refused ends
    first: bool               # the first refusal of this window for one of the keys (tell and audit once)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class RateLimits:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def hit(self, limits: Sequence[tuple[str, int]], window: int) -> Limited | None:
        """Count one request against every (key, limit) in the current window of `window` seconds; None when all
        allow it. A limit of 0 or less is no limit (not counted)."""
        window = max(1, int(window))
        now = self.clock()
        bucket = int(now // window)
        end = (bucket + 1) * window
        counts: list[tuple[int, int]] = []
        async with self.db.session() as s:
            dialect = s.bind.dialect.name if s.bind is not None else "sqlite"
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            # one order for every caller: two replicas counting the same keys never wait on each other in a cycle
            for hashed, limit in sorted((key_hash(k), lim) for k, lim in limits if lim > 0):
                stmt = insert(RateCounter).values(key=hashed, bucket=bucket, hits=1, expires=end)
                stmt = stmt.on_conflict_do_update(index_elements=["key", "bucket"],
                                                  set_={"hits": RateCounter.hits + 1})
                hits = (await s.execute(stmt.returning(RateCounter.hits))).scalar_one()
                counts.append((hits, limit))
        over = [(hits, limit) for hits, limit in counts if hits > limit]
        if not over:
            return None
        return Limited(retry_after=max(1, int(end - now + 0.999)), first=any(h == lim + 1 for h, lim in over))

    async def purge(self, *, grace: float = 3600.0) -> int:
        """Delete windows that ended more than `grace` seconds ago; the number deleted."""
        async with self.db.session() as s:
            result = await s.execute(delete(RateCounter).where(RateCounter.expires < int(self.clock() - grace)))
            return int(getattr(result, "rowcount", 0) or 0)
