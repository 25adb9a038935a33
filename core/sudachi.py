"""The process's one SudachiPy dictionary (SudachiDict-core), shared by the personal-data guard and the search
analyser: it is about 70 MB in memory and takes a second to load, so it is loaded once, on first use. Tokenizers are
not thread-safe; each user keeps one per thread."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def dictionary():
    from sudachipy import Dictionary

    return Dictionary(dict="core")
