"""Issue #15: the vector ranking's 8-bit first pass (faiss's scalar quantizer) keeps the ranking exact — the best
candidates are re-ranked by the float32 cosine, and a question whose candidates cannot be proved to hold the exact
top `depth` is ranked by the full product — and without faiss the index ranks as before."""
from __future__ import annotations

import numpy as np
import pytest

from core.search import index as index_mod
from core.search import vectors as vectors_mod
from core.search.index import Index

DIM = 64


class _Set:
    """What `Index._cosine` reads of a set: its slot."""

    def __init__(self, slot: int) -> None:
        self.slot = slot


def _unit_rows(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _index(mat: np.ndarray, sets: int, *, quantize: int | None) -> Index:
    ix = Index(None)
    ix._vectors.quantize = quantize
    ix._slots = {s: s for s in range(sets)}
    for i, v in enumerate(mat):
        ix._vectors.put(1000 + i, v, i % sets)
    ix._vectors.trim()
    return ix


def _exact(mat: np.ndarray, q: np.ndarray, depth: int, sets: int, asked: list[int]) -> list[tuple[int, float]]:
    """The reference ranking, written out: cosine, then the order of the sets asked, then the chunk id."""
    order = {s: i for i, s in enumerate(asked)}
    sims = mat @ q
    rows = [r for r in range(len(mat)) if r % sets in order]
    rows.sort(key=lambda r: (-sims[r], order[r % sets], 1000 + r))
    return [(1000 + r, float(sims[r])) for r in rows[:depth]]


def _near_ties(rng: np.random.Generator, n: int, close: int, step: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """A question and `n` rows: `close` of them at angles `step` apart from each other (1e-4: cosines about 2e-5
    apart, far below the 8-bit error), the rest far from the question."""
    q = _unit_rows(rng.standard_normal((1, DIM)))[0]
    far = rng.standard_normal((n - close, DIM))
    far -= np.outer(far @ q, q) * 0.7           # mostly orthogonal to q: cosine well below the close rows'
    other = _unit_rows(rng.standard_normal((1, DIM)))[0]
    other -= (other @ q) * q
    other /= np.linalg.norm(other)
    close_rows = [np.cos(0.2 + step * i) * q + np.sin(0.2 + step * i) * other for i in range(close)]
    mat = np.vstack([np.asarray(close_rows), far])
    perm = rng.permutation(n)
    return q.astype(np.float32), _unit_rows(mat[perm])


@pytest.fixture
def faiss():
    return pytest.importorskip("faiss")


def test_first_pass_ranks_exactly_where_the_scan_alone_would_not(faiss, monkeypatch):
    rng = np.random.default_rng(3)
    q, mat = _near_ties(rng, 3000, 40)
    ix = _index(mat, 8, quantize=1000)
    sq = ix._vectors.quantized()
    assert sq is not None and len(sq) == 3000
    scan_rows, _ = sq.best(q, 10)
    exact10 = [cid - 1000 for cid, _ in _exact(mat, q, 10, 8, list(range(8)))]
    assert scan_rows.tolist() != exact10                # 8 bits cannot order cosines 2e-5 apart…
    taken = []
    first = Index._quantized_first_pass
    monkeypatch.setattr(Index, "_quantized_first_pass",
                        lambda self, *a: taken.append(first(self, *a)) or taken[-1])
    for asked in (list(range(8)), [6, 0, 3, 1, 2, 4, 5]):
        got = ix._cosine(q, [_Set(s) for s in asked], 10)
        assert got == _exact(mat, q, 10, 8, asked)      # …the exact re-ranking does
    assert len(taken) == 2 and all(t is not None for t in taken)


def test_candidates_that_may_miss_the_top_fall_back_to_the_full_product(faiss, monkeypatch):
    rng = np.random.default_rng(5)
    q, mat = _near_ties(rng, 3000, 1000, step=1e-7)     # the best 1,000 rows within the scan's error of each other
    ix = _index(mat, 3, quantize=1000)
    calls = []
    first = Index._quantized_first_pass
    monkeypatch.setattr(Index, "_quantized_first_pass",
                        lambda self, *a: calls.append(first(self, *a)) or calls[-1])
    got = ix._cosine(q, [_Set(0), _Set(1), _Set(2)], 50)
    assert calls == [None]                              # not provable: the first pass gives up…
    assert got == _exact(mat, q, 50, 3, [0, 1, 2])       # …and the ranking is the exact one


def test_the_error_bound_holds_for_every_row(faiss):
    rng = np.random.default_rng(7)
    mat = _unit_rows(rng.standard_normal((5000, DIM)) + 3 * rng.standard_normal((1, DIM)))
    sq = vectors_mod.QuantizedScan(faiss, mat)
    for q in _unit_rows(rng.standard_normal((20, DIM))):
        rows, _ = sq.best(q, len(mat))
        scores, _ = sq._ix.search(q.reshape(1, -1), len(mat))
        assert np.max(np.abs(scores[0] - mat[rows] @ q)) <= sq.bound(q)
        assert sq.bound(q) < 0.05                       # and is small enough to be of use


def test_changes_keep_the_codes_aligned_with_the_rows(faiss):
    rng = np.random.default_rng(11)
    mat = _unit_rows(rng.standard_normal((4000, DIM)))
    ix = _index(mat, 2, quantize=1000)
    ref = _index(mat, 2, quantize=None)
    assert ix._vectors.quantized() is not None and ref._vectors.quantized() is None
    for i in range(0, 4000, 3):                         # removals move the last row into the hole
        assert ix._vectors.pop(1000 + i) and ref._vectors.pop(1000 + i)
    for i in range(0, 4000, 5):                         # replacements (some of removed ids: appended again)
        v = _unit_rows(rng.standard_normal((1, DIM)))[0]     # some outside the trained range: clamped
        ix._vectors.put(1000 + i, v, i % 2)
        ref._vectors.put(1000 + i, v, i % 2)
    sq = ix._vectors.quantized()
    assert sq is not None and len(sq) == len(ix._vectors) == len(ref._vectors)
    ids, live = ix._vectors.matrix()
    decoded = sq._ix.sa_decode(sq._codes())
    assert np.all(np.abs(decoded - live) <= sq._dim_err + 1e-6)     # row i's code is row i's vector
    for q in _unit_rows(rng.standard_normal((30, DIM))):
        assert ix._cosine(q, [_Set(0), _Set(1)], 20) == ref._cosine(q, [_Set(0), _Set(1)], 20)


def test_without_faiss_the_float32_product_ranks_alone(monkeypatch):
    monkeypatch.setattr(vectors_mod, "_FAISS", None)      # as where faiss-cpu is not installed
    rng = np.random.default_rng(13)
    q, mat = _near_ties(rng, 3000, 40)
    ix = _index(mat, 4, quantize=1000)
    assert ix._vectors.quantized() is None
    assert ix._cosine(q, [_Set(s) for s in (3, 1)], 10) == _exact(mat, q, 10, 4, [3, 1])


def test_few_rows_are_not_quantized(faiss):
    mat = _unit_rows(np.random.default_rng(17).standard_normal((500, DIM)))
    ix = _index(mat, 1, quantize=index_mod.QUANTIZED_MIN_ROWS)
    assert ix._vectors.quantized() is None
