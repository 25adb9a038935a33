"""Word vectors for the words no passage uses: a resident's ガラケー, ウィッグ or ジーパン finds 携帯電話, かつら and
ジーンズ through their nearest words in chiVe (Works Applications' word2vec over the NWJC web corpus, Apache-2.0),
the vectors GiNZA ships in its `ja-ginza` package (MIT; 20,000 vectors of 300 dimensions, to which about 480,000
words are mapped, each to its nearest vector).

We read the package's two files directly — `vocab/vectors` (a NumPy array) and `vocab/key2row` (a MessagePack map
from spaCy's 64-bit MurmurHash of a word to its row) — so neither spaCy nor GiNZA is needed at run time: the package
is installed without its dependencies (see the Makefile and infra/Dockerfile). Keys are Sudachi normalized forms,
as our analyser's terms are (before their katakana is folded to hiragana, which `row` undoes).

Used by `Index._bm25` only for a query word that no passage of the searched sets uses, not even through its
synonyms or reading (`Index._stand_ins`). Without the package, search works as before and `/readyz` says so."""
from __future__ import annotations

import logging
import struct
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Iterable

import numpy as np

log = logging.getLogger(__name__)

DISTRIBUTION = "ja-ginza"
_M = 0xC6A4A7935BD1E995
_MASK = (1 << 64) - 1
_HIRA_TO_KATA = {c: c + 0x60 for c in range(0x3041, 0x3097)}


def murmur64a(data: bytes, seed: int = 1) -> int:
    """MurmurHash64A (Austin Appleby), the hash spaCy keys its strings by (`spacy.strings.hash_string`, seed 1)."""
    n = len(data)
    h = (seed ^ (n * _M)) & _MASK
    end = n - n % 8
    for i in range(0, end, 8):
        k = (int.from_bytes(data[i:i + 8], "little") * _M) & _MASK
        k ^= k >> 47
        h ^= (k * _M) & _MASK
        h = (h * _M) & _MASK
    if n % 8:
        h ^= int.from_bytes(data[end:], "little")
        h = (h * _M) & _MASK
    h ^= h >> 47
    h = (h * _M) & _MASK
    return h ^ (h >> 47)


def parse_key2row(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """spaCy's `key2row` file (a MessagePack map of unsigned integers to unsigned integers) as (keys, rows), sorted
    by key. Only the integer formats MessagePack uses for unsigned values are accepted."""
    if not buf:
        raise ValueError("empty key2row")
    head = buf[0]
    if head == 0xDF:
        n, i = struct.unpack_from(">I", buf, 1)[0], 5
    elif head == 0xDE:
        n, i = struct.unpack_from(">H", buf, 1)[0], 3
    elif head & 0xF0 == 0x80:
        n, i = head & 0x0F, 1
    else:
        raise ValueError("key2row is not a MessagePack map")
    widths = {0xCC: (">B", 1), 0xCD: (">H", 2), 0xCE: (">I", 4), 0xCF: (">Q", 8)}
    keys = np.empty(n, dtype=np.uint64)
    rows = np.empty(n, dtype=np.int64)

    def unsigned(i: int) -> tuple[int, int]:
        t = buf[i]
        if t <= 0x7F:
            return t, i + 1
        fmt = widths.get(t)
        if fmt is None:
            raise ValueError(f"key2row: unexpected MessagePack type 0x{t:02x}")
        return struct.unpack_from(fmt[0], buf, i + 1)[0], i + 1 + fmt[1]

    for j in range(n):
        keys[j], i = unsigned(i)
        rows[j], i = unsigned(i)
    order = np.argsort(keys, kind="stable")
    return keys[order], rows[order].astype(np.int32 if n == 0 or rows.max() < 2**31 else np.int64)


@dataclass(frozen=True)
class WordVectorStatus:
    available: bool
    reason: str = ""
    words: int = 0
    version: str = ""

    def describe(self) -> str:
        """For /readyz: "chiVe (ja-ginza 5.3.0, 480443 words)" or "off (<why>)"."""
        if self.available:
            return f"chiVe ({DISTRIBUTION} {self.version}, {self.words} words)"
        return f"off ({self.reason})"


class WordVectors:
    """Unit word vectors and the word → row map; `row(term)` for one of our analyser's terms."""

    def __init__(self, vectors: np.ndarray, keys: np.ndarray, rows: np.ndarray) -> None:
        if vectors.ndim != 2 or len(keys) != len(rows) or (len(rows) and rows.max() >= len(vectors)):
            raise ValueError("word vectors and key2row do not match")
        vectors = vectors.astype(np.float32, copy=False)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors /= np.where(norms > 0, norms, 1.0)       # in place: the array read from the file is not kept twice
        self.vectors = vectors
        self.keys = keys
        self.rows = rows
        self._cache: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.keys)

    def _lookup(self, word: str) -> int:
        h = np.uint64(murmur64a(word.encode("utf-8")))
        i = int(np.searchsorted(self.keys, h))
        return int(self.rows[i]) if i < len(self.keys) and self.keys[i] == h else -1

    def warm(self, terms: Iterable[str]) -> None:
        """Look the rows of `terms` up ahead of need (a thread, when an index has loaded: about 20 µs a word, so
        that a vocabulary of 100,000 words is not hashed on the event loop at the first unknown word)."""
        for t in terms:
            self.row(t)

    def row(self, term: str) -> int:
        """The vector row of an analyser term (its normalized form, katakana folded to hiragana), or -1. The term
        is tried as it is, then with its hiragana written back in katakana (がらけー → ガラケー)."""
        got = self._cache.get(term)
        if got is not None:
            return got
        row = self._lookup(term)
        if row < 0:
            kata = term.translate(_HIRA_TO_KATA)
            if kata != term:
                row = self._lookup(kata)
        with self._lock:
            if len(self._cache) >= 500_000:
                self._cache.clear()
            self._cache[term] = row
        return row


class _Loaded:
    """What `load` found: read once per process (a failure too: no retry on every question)."""

    def __init__(self) -> None:
        self.done = False
        self.vectors: WordVectors | None = None
        self.status = WordVectorStatus(False, "not loaded yet")


_state = _Loaded()
_load_lock = threading.Lock()


def _files() -> tuple[Path, Path]:
    dist = metadata.distribution(DISTRIBUTION)
    for f in dist.files or ():
        if Path(str(f)).parts[-2:] == ("vocab", "vectors"):
            base = Path(str(dist.locate_file(f))).parent
            return base / "vectors", base / "key2row"
    raise FileNotFoundError(f"{DISTRIBUTION} has no vocab/vectors")


def load() -> WordVectors | None:
    """The word vectors, read once (about a second); None when the package is missing or unreadable."""
    state = _state
    if state.done:
        return state.vectors
    with _load_lock:
        if state.done:
            return state.vectors
        try:
            vec_path, key_path = _files()
            vectors = np.load(vec_path, allow_pickle=False)
            keys, rows = parse_key2row(key_path.read_bytes())
            state.vectors = WordVectors(vectors, keys, rows)
            state.status = WordVectorStatus(True, "", len(state.vectors), metadata.version(DISTRIBUTION))
        except metadata.PackageNotFoundError:
            state.status = WordVectorStatus(False, f"{DISTRIBUTION} is not installed")
        except (OSError, ValueError) as e:
            state.status = WordVectorStatus(False, f"{DISTRIBUTION} unreadable: {type(e).__name__}: {e}")
        if state.vectors is None:
            log.warning("word vectors unavailable, unknown words are not expanded: %s", state.status.reason)
        state.done = True
        return state.vectors


def status() -> WordVectorStatus:
    load()
    return _state.status
