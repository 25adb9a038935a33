"""core.cache.TTLCache: expiry, the LRU bound, cached None, ttl 0."""
from __future__ import annotations

from core.cache import TTLCache


class Ticks:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_entries_expire_after_ttl():
    ticks = Ticks()
    cache: TTLCache[str, int] = TTLCache(10, clock=ticks)
    cache.put("a", 1)
    ticks.t = 9.9
    assert cache.get("a") == 1 and "a" in cache
    ticks.t = 10.0
    assert cache.get("a") is None and "a" not in cache and len(cache) == 0


def test_least_recently_used_goes_first():
    cache: TTLCache[str, int] = TTLCache(60, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1          # "b" is now the least recently used
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3


def test_a_cached_none_is_told_from_a_miss():
    cache: TTLCache[str, str | None] = TTLCache(60)
    cache.put("u", None)
    assert "u" in cache and "v" not in cache
    assert cache.get("v", "missing") == "missing" and cache.get("u", "missing") is None


def test_ttl_zero_keeps_nothing():
    cache: TTLCache[str, int] = TTLCache(0)
    cache.put("a", 1)
    assert "a" not in cache and len(cache) == 0
