"""The in-process embedder keeps the vectors of the questions embedded lately (`core.embeddings.QUERY_CACHE`), by
their exact text: a question asked again is not embedded again, and gets the same vector."""
from __future__ import annotations

import asyncio
import hashlib

import numpy as np

from core import embeddings


class _Model:
    """Counts the texts it embeds; a text's vector is derived from its bytes (so different texts differ)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def _vec(self, text: str) -> np.ndarray:
        v = np.frombuffer(hashlib.sha256(text.encode()).digest(), dtype=np.uint8).astype(np.float32)[:8] + 1
        return v / np.linalg.norm(v)

    def query(self, texts: list[str]) -> np.ndarray:
        self.seen += [("query", t) for t in texts]
        return np.stack([self._vec("query: " + t) for t in texts])

    def passage(self, texts: list[str]) -> np.ndarray:
        self.seen += [("passage", t) for t in texts]
        return np.stack([self._vec("passage: " + t) for t in texts])


def _embedder() -> tuple[embeddings.LocalEmbedder, _Model]:
    e, m = embeddings.LocalEmbedder(), _Model()
    e._model = m
    return e, m


def test_a_question_asked_again_is_not_embedded_again():
    e, m = _embedder()
    first = e.embed_sync(["粗大ごみの出し方は？"], "query")
    again = e.embed_sync(["粗大ごみの出し方は？"], "query")
    assert again == first and m.seen == [("query", "粗大ごみの出し方は？")]
    assert asyncio.run(e.embed(["粗大ごみの出し方は？"], "query")) == first      # the async path: no thread hop
    assert len(m.seen) == 1


def test_only_the_exact_text_of_a_single_question_is_reused():
    e, m = _embedder()
    e.embed_sync(["粗大ごみの出し方は？"], "query")
    e.embed_sync([" 粗大ごみの出し方は？ "], "query")       # the model's vector differs with the spaces
    passage = e.embed_sync(["粗大ごみの出し方は？"], "document")    # a passage has its own prefix
    e.embed_sync(["粗大ごみの出し方は？"], "document")
    e.embed_sync(["粗大ごみの出し方は？", "年休"], "query")          # batches are not cached
    e.embed_sync(["粗大ごみの出し方は？", "年休"], "query")
    assert m.seen == [("query", "粗大ごみの出し方は？"), ("query", " 粗大ごみの出し方は？ "),
                      ("passage", "粗大ごみの出し方は？"), ("passage", "粗大ごみの出し方は？"),
                      ("query", "粗大ごみの出し方は？"), ("query", "年休"),
                      ("query", "粗大ごみの出し方は？"), ("query", "年休")]
    assert passage != e.embed_sync(["粗大ごみの出し方は？"], "query")


def test_the_least_recently_asked_question_leaves_first(monkeypatch):
    monkeypatch.setattr(embeddings, "QUERY_CACHE", 3)
    e, m = _embedder()
    for q in ("a", "b", "c"):
        e.embed_sync([q], "query")
    e.embed_sync(["a"], "query")                  # a is asked again: b is now the oldest
    e.embed_sync(["d"], "query")                  # b leaves
    m.seen.clear()
    for q in ("a", "c", "d", "b"):
        e.embed_sync([q], "query")
    assert m.seen == [("query", "b")]
