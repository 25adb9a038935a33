"""The BM25 postings of every knowledge set in one compact store, and the per-query score accumulator.

Each chunk gets a row when it is added (rows only grow, so every term's list of rows is ascending); a term's postings
are two growable numpy arrays (rows, term frequencies) instead of a dict of Python ints per term per set, and a
chunk's length, set and id are arrays indexed by row. A removed chunk's row is marked dead and skipped; when a
quarter of the rows are dead the store is compacted (rows renumbered in order, dead postings dropped). At 200,000
chunks this is about a tenth of the memory of the dicts, and a query's BM25 is a few vectorised operations per term
instead of a Python loop over its postings (bench/scale_index.py, docs/scale.md).

`Scores` keeps, besides each row's score, the order in which rows were first scored, so that `top` breaks ties
exactly as a ranking of a dict filled in posting order would (the first-scored passage first): the search results
are the same as those of the dict implementation this replaced, not merely equally good."""
from __future__ import annotations

from array import array
from collections import Counter
from typing import Iterable, KeysView

import numpy as np

_UNSEEN = np.iinfo(np.int32).max
_MIN_DEAD_TO_COMPACT = 1024


class _List:
    """One term's postings: ascending rows and their term frequencies, the first `n` entries of the arrays."""

    __slots__ = ("rows", "tfs", "n")

    def __init__(self, rows: np.ndarray, tfs: np.ndarray) -> None:
        self.rows, self.tfs, self.n = rows, tfs, len(rows)

    def append(self, row: int, tf: int) -> None:
        if self.n == len(self.rows):
            cap = max(4, self.n + (self.n >> 1))
            rows, tfs = np.empty(cap, dtype=np.int32), np.empty(cap, dtype=np.int32)
            rows[:self.n], tfs[:self.n] = self.rows[:self.n], self.tfs[:self.n]
            self.rows, self.tfs = rows, tfs
        self.rows[self.n] = row
        self.tfs[self.n] = tf
        self.n += 1


class Postings:
    """Postings of all sets. A chunk is added with its set's slot (a small int per set), its term counts and its
    length; `positions` restricts a query to some sets."""

    def __init__(self) -> None:
        self._lists: dict[str, _List] = {}   # in the order terms first appeared, until a compaction
        self.compactions = 0
        self._row_of: dict[int, int] = {}              # chunk id → row
        self._cids = np.zeros(0, dtype=np.int64)
        self._lengths = np.zeros(0, dtype=np.int32)
        self._slots = np.zeros(0, dtype=np.int32)
        self._alive = np.zeros(0, dtype=bool)
        self._n = 0                                    # rows used (alive and dead)
        self._dead = 0
        self._bulk: dict[str, tuple[array, array]] | None = None

    # ------------------------------------------------------------ upkeep
    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, cid: object) -> bool:
        return cid in self._row_of

    def begin_bulk(self) -> None:
        """Collect the postings of many `add`s in plain int arrays (4 bytes an entry, where lists of Python ints
        take 8 or more) and build the numpy arrays once, in `end_bulk` (a full load)."""
        self._bulk = {}

    def end_bulk(self) -> None:
        bulk, self._bulk = self._bulk or {}, None
        while bulk:                       # popped one by one: the collected and the built copies never coexist
            term, (rows, tfs) = bulk.popitem()
            lst = self._lists.get(term)
            if lst is None:
                self._lists[term] = _List(np.frombuffer(rows, dtype=np.int32).copy(),
                                          np.frombuffer(tfs, dtype=np.int32).copy())
            else:
                for r, t in zip(rows, tfs):
                    lst.append(r, t)
        self._trim()

    def add(self, cid: int, slot: int, counts: Counter, length: int) -> None:
        """A chunk's terms (`counts`: term → frequency); replaces the chunk if it was there."""
        if cid in self._row_of:
            self.remove(cid)
        row = self._n
        if row == len(self._cids):
            self._grow(max(1024, row + (row >> 2)))
        self._cids[row], self._slots[row], self._lengths[row], self._alive[row] = cid, slot, length, True
        self._row_of[cid] = row
        self._n += 1
        if self._bulk is not None:
            bulk = self._bulk
            for term, tf in counts.items():
                got = bulk.get(term)
                if got is None:
                    bulk[term] = (array("i", (row,)), array("i", (tf,)))
                else:
                    got[0].append(row)
                    got[1].append(tf)
            return
        lists = self._lists
        for term, tf in counts.items():
            lst = lists.get(term)
            if lst is None:
                lists[term] = _List(np.array([row], dtype=np.int32), np.array([tf], dtype=np.int32))
            else:
                lst.append(row, tf)

    def remove(self, cid: int) -> int | None:
        """Forget a chunk; its length (None when it was not there)."""
        row = self._row_of.pop(cid, None)
        if row is None:
            return None
        self._alive[row] = False
        self._dead += 1
        length = int(self._lengths[row])
        if self._bulk is None and self._dead >= max(_MIN_DEAD_TO_COMPACT, self._n // 4):
            self.compact()
        return length

    def length(self, cid: int, slot: int | None = None) -> int | None:
        """A chunk's length (None when it is not here, or not in the set `slot` when one is given)."""
        row = self._row_of.get(cid)
        if row is None or (slot is not None and self._slots[row] != slot):
            return None
        return int(self._lengths[row])

    def compact(self) -> None:
        """Renumber the live rows in order and drop the dead postings (and terms left with none)."""
        if not self._dead:
            return
        self.compactions += 1
        alive = self._alive[:self._n]
        new_row = np.cumsum(alive, dtype=np.int64).astype(np.int32) - 1
        for term in list(self._lists):
            lst = self._lists[term]
            rows = lst.rows[:lst.n]
            keep = alive[rows]
            if keep.all():
                lst.rows, lst.tfs = new_row[rows], lst.tfs[:lst.n].copy()
            elif not keep.any():
                del self._lists[term]
                continue
            else:
                lst.rows, lst.tfs = new_row[rows[keep]], lst.tfs[:lst.n][keep]
            lst.n = len(lst.rows)
        idx = np.flatnonzero(alive)
        self._cids, self._slots, self._lengths = self._cids[idx], self._slots[idx], self._lengths[idx]
        self._alive = np.ones(len(idx), dtype=bool)
        self._n, self._dead = len(idx), 0
        self._row_of = {int(c): i for i, c in enumerate(self._cids)}

    def _grow(self, capacity: int) -> None:
        for name, dtype in (("_cids", np.int64), ("_lengths", np.int32), ("_slots", np.int32), ("_alive", bool)):
            old = getattr(self, name)
            new = np.zeros(capacity, dtype=dtype)
            new[:self._n] = old[:self._n]
            setattr(self, name, new)

    def _trim(self) -> None:
        if len(self._cids) > self._n:
            self._cids, self._lengths = self._cids[:self._n].copy(), self._lengths[:self._n].copy()
            self._slots, self._alive = self._slots[:self._n].copy(), self._alive[:self._n].copy()

    # ------------------------------------------------------------ queries
    def positions(self, slots: Iterable[int]) -> np.ndarray:
        """For every row: the position of its set among `slots` (the sets searched, in order), -1 when the row's
        set is not searched or the row is dead."""
        slots = list(slots)
        lut = np.full(max(slots, default=0) + 1, -1, dtype=np.int32)
        for i, s in enumerate(slots):
            if lut[s] < 0:
                lut[s] = i
        slot = self._slots[:self._n]
        pos = np.where(slot < len(lut), lut[np.minimum(slot, len(lut) - 1)], -1).astype(np.int32)
        if self._dead:
            pos[~self._alive[:self._n]] = -1
        return pos

    def lookup(self, term: str, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The term's postings among the rows with a position (searched sets, alive): ascending rows and their
        frequencies; None when there are none."""
        lst = self._lists.get(term)
        if lst is None:
            return None
        rows, tfs = lst.rows[:lst.n], lst.tfs[:lst.n]
        keep = pos[rows] >= 0
        if not keep.all():
            rows, tfs = rows[keep], tfs[keep]
        return (rows, tfs) if len(rows) else None

    def vocabulary(self) -> KeysView[str]:
        """Every term that has (or had, until the next compaction) postings, in the order they first appeared:
        until `compactions` changes, new terms only ever come after the ones already seen."""
        return self._lists.keys()

    def has_term(self, term: str) -> bool:
        """Whether any chunk (of any set, possibly a removed one not yet compacted) has the term."""
        return term in self._lists

    def row(self, cid: int) -> int | None:
        return self._row_of.get(cid)

    def has_any(self, row: int, terms: Iterable[str]) -> bool:
        """Whether the chunk at `row` has any of `terms` (binary search in each term's ascending rows)."""
        for term in terms:
            lst = self._lists.get(term)
            if lst is None:
                continue
            rows = lst.rows[:lst.n]
            i = int(np.searchsorted(rows, row))
            if i < lst.n and rows[i] == row:
                return True
        return False

    @property
    def lengths(self) -> np.ndarray:
        return self._lengths[:self._n]

    def cids(self, rows: np.ndarray) -> np.ndarray:
        return self._cids[rows]

    def scores(self) -> "Scores":
        return Scores(self._n)

    def nbytes(self) -> int:
        """Bytes held by the arrays (not the dicts): for benchmarks."""
        arrays = sum(lst.rows.nbytes + lst.tfs.nbytes for lst in self._lists.values())
        return arrays + self._cids.nbytes + self._lengths.nbytes + self._slots.nbytes + self._alive.nbytes


class Scores:
    """One query's BM25 scores by row, and for each scored row the visit (a posting list read, numbered in the
    order they are read) that scored it first: with the row's set position and the row, that is the order in which
    a dict filled visit by visit, set by set, in posting order, would hold it."""

    __slots__ = ("score", "first", "_visits")

    def __init__(self, n: int) -> None:
        self.score = np.zeros(n, dtype=np.float64)
        self.first = np.full(n, _UNSEEN, dtype=np.int32)
        self._visits = 0

    def visit(self) -> int:
        """Number a new posting-list read."""
        self._visits += 1
        return self._visits

    def add(self, rows: np.ndarray, contrib: np.ndarray, first: int | np.ndarray) -> None:
        """Add `contrib` to the scores of `rows` (distinct); rows scored for the first time are stamped `first`
        (one visit, or one per row)."""
        first_arr = self.first
        fresh = first_arr[rows] == _UNSEEN
        if fresh.any():
            first_arr[rows[fresh]] = first if np.isscalar(first) else np.asarray(first)[fresh]
        self.score[rows] += contrib

    def top(self, n: int, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The `n` best rows and their scores: score descending, ties in first-scored order."""
        rows = np.flatnonzero(self.first != _UNSEEN)
        if not len(rows) or n <= 0:
            return rows[:0], self.score[:0]
        sc = self.score[rows]
        if len(rows) > n:
            kth = np.partition(sc, len(sc) - n)[len(sc) - n]
            keep = sc >= kth
            rows, sc = rows[keep], sc[keep]
        order = np.lexsort((rows, pos[rows], self.first[rows], -sc))[:n]
        return rows[order], sc[order]


__all__ = ["Postings", "Scores"]
