"""Administrator-edited data files (YAML quizzes, examples, section profiles): parsed again only when the file
changes (modification time and size), so an edit takes effect without a restart and an unchanged file costs one
stat per use. What to do with a broken file is the caller's policy."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")

_cache: dict[tuple[str, str], tuple[tuple[float, int], Any]] = {}
_lock = threading.Lock()


def cached(kind: str, path: Path, load: Callable[[], T]) -> T:
    """`load()`'s result for `path`, reused until the file changes. OSError from the stat propagates; so does
    anything `load` raises (nothing is cached then)."""
    st = path.stat()
    key, stamp = (kind, str(path)), (st.st_mtime, st.st_size)
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == stamp:
            return hit[1]
    value = load()
    with _lock:
        _cache[key] = (stamp, value)
    return value
