"""A small in-process cache: entries expire after `ttl` seconds, and the least recently used go first when there
are more than `max_entries`. One per process and purpose (the e-Gov answers, users' tiers, departments, groups)."""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar, overload

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")


class TTLCache(Generic[K, V]):
    """get/put with expiry and an LRU bound. A ttl of 0 (or less) keeps nothing. A cached None is a value:
    pass a `default` to `get` to tell it from a miss."""

    def __init__(self, ttl: float, max_entries: int = 512, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    @overload
    def get(self, key: K) -> V | None: ...

    @overload
    def get(self, key: K, default: D) -> V | D: ...

    def get(self, key, default=None):
        entry = self._data.get(key)
        if entry is None:
            return default
        expires, value = entry
        if expires <= self._clock():
            del self._data[key]
            return default
        self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self.ttl <= 0:
            return
        self._data[key] = (self._clock() + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        """A live entry (its value may be None); an expired one is dropped."""
        entry = self._data.get(key)  # type: ignore[arg-type]
        if entry is None:
            return False
        if entry[0] <= self._clock():
            del self._data[key]  # type: ignore[arg-type]
            return False
        return True

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
