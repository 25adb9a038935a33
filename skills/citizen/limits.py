"""Rate limits of the residents' chatbot: a sliding window per conversation and per Web Chat client (the activity's
from.id), in this process. With several replicas each keeps its own count, so the effective limit is at most the
replica count times the setting; the token endpoint limits per address in front of them all."""
from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable

MAX_KEYS = 100_000        # conversations and clients remembered; the oldest are forgotten first


@dataclass
class _Window:
    hits: deque = field(default_factory=deque)
    told_until: float = 0.0   # the user was told about the limit; until then further refusals are not counted


@dataclass(frozen=True)
class Limited:
    retry_after: int          # seconds until the oldest counted question leaves the window
    first: bool               # the first refusal of this window (count it; later ones are not audited)


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def _window(self, key: str) -> _Window:
        w = self._windows.get(key)
        if w is None:
            w = self._windows[key] = _Window()
            if len(self._windows) > MAX_KEYS:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(key)
        return w

    def hit(self, limits: list[tuple[str, int]], window: float) -> Limited | None:
        """Count one question against every (key, limit); None when all allow it. A refused question is not
        counted, so a client that keeps trying is let through again as soon as its window has room."""
        now = self.clock()
        windows = []
        for key, limit in limits:
            w = self._window(key)
            while w.hits and w.hits[0] <= now - window:
                w.hits.popleft()
            windows.append((w, limit))
        over = [(w, limit) for w, limit in windows if limit > 0 and len(w.hits) >= limit]
        if over:
            retry = max(w.hits[0] + window - now for w, _ in over)
            first = any(w.told_until <= now for w, _ in over)
            for w, _ in over:
                w.told_until = max(w.told_until, w.hits[0] + window)
            return Limited(max(1, int(retry + 0.999)), first)
        for w, _ in windows:
            w.hits.append(now)
        return None
