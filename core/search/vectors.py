"""How chunk vectors are stored: little-endian float32, packed, in `search_chunks.vector` (one place for the format).

A 384-d vector is 1,536 bytes (JSON text of the same floats: about 7,500). The dimension is kept beside the blobs
(`search_documents.embed_dim`), so a blob of the wrong length is recognised and refused instead of being read as
some other vector. Loading is `np.frombuffer` over the bytes: no parsing.
"""
from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np

DTYPE = np.dtype("<f4")
MAX_DIM = 16_384  # larger than any text embedding model; a bigger claimed dimension is not a vector we wrote

VectorLike = Union[Sequence[float], np.ndarray]


class VectorFormatError(ValueError):
    """A stored blob that is not a vector of the expected dimension."""


def encode_vector(vec: VectorLike) -> bytes:
    """The stored form of an embedding: its values as little-endian float32, back to back."""
    arr = np.asarray(vec, dtype=DTYPE)
    if arr.ndim != 1 or not 0 < arr.shape[0] <= MAX_DIM:
        raise VectorFormatError(f"not a vector: shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise VectorFormatError("vector has non-finite values")
    return arr.tobytes()


def decode_vector(blob: bytes | bytearray | memoryview, dim: int | None = None) -> np.ndarray:
    """The float32 vector stored in `blob` (a read-only view of it, no copy). `dim`: the dimension it must have;
    None accepts any whole number of values. Raises VectorFormatError for anything else."""
    n = len(blob)
    if dim is not None and not 0 < dim <= MAX_DIM:
        raise VectorFormatError(f"bad dimension {dim}")
    if n == 0 or n % DTYPE.itemsize or (dim is not None and n != dim * DTYPE.itemsize):
        raise VectorFormatError(f"{n} bytes is not a vector of {dim or 'any'} float32 values")
    if n > MAX_DIM * DTYPE.itemsize:
        raise VectorFormatError(f"{n} bytes is longer than any vector")
    return np.frombuffer(blob, dtype=DTYPE)


def vector_dim(blob: bytes | None) -> int | None:
    """The dimension of a stored blob (None for none)."""
    return len(blob) // DTYPE.itemsize if blob else None


# ---------------------------------------------------------------------------------------- the quantized first pass
def _load_faiss():
    """faiss (the optional `faiss-cpu` wheel), or None where it is not installed or does not load."""
    try:
        import faiss
    except Exception:  # noqa: BLE001 - without faiss the exact product is used, nothing else changes
        return None
    return faiss


_FAISS: object = False      # not looked for yet


def faiss_module():
    """faiss, imported on first use (None where it is not available)."""
    global _FAISS
    if _FAISS is False:
        _FAISS = _load_faiss()
    return _FAISS


class QuantizedScan:
    """A copy of the index's vectors as 8-bit codes (faiss's scalar quantizer, one range per dimension: 384
    bytes a vector, a quarter of the float32 row) that a question's first pass scans with faiss's SIMD inner
    product, in place of the float32 product over every row. Row i is the float32 matrix's row i; the owner
    keeps the two aligned (`put`, `move`, `truncate`).

    `best(q, n)` gives the n rows of highest approximate score and `bound(q)`: no row's approximate score is more
    than that away from its exact cosine with the unit question `q` (Cauchy-Schwarz over the largest
    reconstruction error of any stored row, or the per-dimension largest errors weighted by |q|, whichever is
    smaller, plus a margin for float rounding). So a row outside the n scores at most `lowest approximate of the
    n + bound`, and when the caller's exact re-ranking of the n finds its `depth` best all above that, they are
    the exact top `depth` (`Index._cosine` checks this for every question and otherwise ranks exactly)."""

    ROUNDING = 1e-4         # float32 rounding in either dot product, with a wide margin

    def __init__(self, faiss, mat: np.ndarray) -> None:
        self._faiss = faiss
        self.dim = mat.shape[1]
        self._ix = faiss.IndexScalarQuantizer(self.dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        self._ix.train(np.ascontiguousarray(mat, dtype=np.float32))
        self._row_err = 0.0                               # largest ‖x − decode(code(x))‖ of any row stored
        self._dim_err = np.zeros(self.dim, dtype=np.float32)  # largest |x_i − decode(code(x))_i| per dimension
        for i in range(0, len(mat), 8192):
            part = np.ascontiguousarray(mat[i:i + 8192], dtype=np.float32)
            self._ix.add(part)
            self._note_error(part, self._ix.sa_encode(part))

    def __len__(self) -> int:
        return int(self._ix.ntotal)

    def _note_error(self, x: np.ndarray, codes: np.ndarray) -> None:
        err = x - self._ix.sa_decode(codes)
        self._row_err = max(self._row_err, float(np.sqrt(np.einsum("ij,ij->i", err, err).max())))
        np.maximum(self._dim_err, np.abs(err).max(axis=0), out=self._dim_err)

    def _codes(self) -> np.ndarray:
        """The codes as an (n, dim) uint8 view of faiss's own buffer (valid until the next add or truncate)."""
        n, size = len(self), self._ix.code_size
        return self._faiss.rev_swig_ptr(self._ix.codes.data(), n * size).reshape(n, size)

    def put(self, row: int, vec: np.ndarray) -> None:
        """Row `row` is now `vec` (row == len(self): appended)."""
        x = np.ascontiguousarray(vec, dtype=np.float32).reshape(1, -1)
        if row == len(self):
            self._ix.add(x)
            self._note_error(x, self._codes()[row:row + 1])
        else:
            code = self._ix.sa_encode(x)
            self._codes()[row] = code[0]
            self._note_error(x, code)

    def move(self, src: int, dst: int) -> None:
        """Row `dst` takes row `src`'s code (the owner moved the vector)."""
        codes = self._codes()
        codes[dst] = codes[src]

    def truncate(self, n: int) -> None:
        """Keep the first `n` rows."""
        if n < len(self):
            self._ix.codes.resize(n * self._ix.code_size)
            self._ix.ntotal = n

    def bound(self, q: np.ndarray) -> float:
        return min(self._row_err, float(np.abs(q) @ self._dim_err)) + self.ROUNDING

    def best(self, q: np.ndarray, n: int) -> tuple[np.ndarray, float]:
        """(the rows of the `n` highest approximate scores, the lowest of those scores)."""
        # One thread: a single question's scan is a few milliseconds, and waking a second OpenMP thread (on 2
        # shared cores) made it several times slower. The setting is per thread, so it is made where the scan runs.
        self._faiss.omp_set_num_threads(1)
        scores, rows = self._ix.search(np.ascontiguousarray(q, dtype=np.float32).reshape(1, -1), n)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), float(scores[0][keep][-1]) if keep.any() else math.inf

    @staticmethod
    def bytes_per_row(dim: int) -> int:
        return dim
