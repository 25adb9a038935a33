"""core.ratelimit: fixed-window counters in the database, one count for every replica (SQLite and PostgreSQL)."""
from __future__ import annotations

import asyncio

from sqlalchemy import select

from core.ratelimit import RateLimits, key_hash
from core.store.models import RateCounter


async def test_windows_limits_and_the_first_refusal(db):
    now = [120.0]
    limits = RateLimits(db, clock=lambda: now[0])
    keys = [("conversation:a", 2), ("client:x", 5)]
    assert await limits.hit(keys, 60) is None and await limits.hit(keys, 60) is None
    third = await limits.hit(keys, 60)
    assert third is not None and third.first and third.retry_after == 60      # the conversation's limit
    now[0] = 150.0
    fourth = await limits.hit(keys, 60)
    assert fourth is not None and not fourth.first and fourth.retry_after == 30   # told once per window
    # refusals count: the client has 4 of 5; its fifth passes, its sixth is the client's first refusal
    assert await limits.hit([("conversation:b", 2), ("client:x", 5)], 60) is None
    sixth = await limits.hit([("conversation:c", 2), ("client:x", 5)], 60)
    assert sixth is not None and sixth.first
    assert await limits.hit([("conversation:c", 0)], 60) is None              # 0: no limit, nothing counted
    now[0] = 180.0                                                            # a new window
    assert await limits.hit(keys, 60) is None


async def test_two_replicas_count_into_one_window(db):
    """Two processes (two RateLimits on one database) share the count: 10 hits at once across both, limit 6."""
    now = 1_000.0
    a, b = RateLimits(db, clock=lambda: now), RateLimits(db, clock=lambda: now)
    results = await asyncio.gather(*[(a if i % 2 else b).hit([("client:shared", 6)], 60) for i in range(10)])
    assert sum(r is None for r in results) == 6
    assert sum(1 for r in results if r is not None and r.first) == 1


async def test_keys_are_stored_hashed_and_old_windows_are_purged(db):
    now = [10_000.0]
    limits = RateLimits(db, clock=lambda: now[0])
    await limits.hit([("citizen-token:203.0.113.7", 5)], 60)
    async with db.session() as s:
        rows = (await s.execute(select(RateCounter))).scalars().all()
    assert [r.key for r in rows] == [key_hash("citizen-token:203.0.113.7")]
    assert all("203.0.113.7" not in r.key for r in rows)
    end = (10_000 // 60 + 1) * 60                        # the window's end: 10,020
    now[0] = end + 3600 - 1
    assert await limits.purge() == 0                     # ended less than an hour ago: kept
    now[0] = end + 3600 + 1
    assert await limits.purge() == 1
