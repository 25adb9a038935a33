"""How chunk vectors are stored: little-endian float32, packed, in `search_chunks.vector` (one place for the format).

A 384-d vector is 1,536 bytes (JSON text of the same floats: about 7,500). The dimension is kept beside the blobs
(`search_documents.embed_dim`), so a blob of the wrong length is recognised and refused instead of being read as
some other vector. Loading is `np.frombuffer` over the bytes: no parsing.
"""
from __future__ import annotations

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
