"""`Hit.lift`: how far the best passage stands above the question's mean similarity to the passages searched,
(similarity - mean) / (1 - mean), kept right as passages are added, replaced and removed."""
import math

import pytest

from core.search.index import LIFT_MIN_PASSAGES, Index

NEAR = [0.9, math.sqrt(1 - 0.81), 0.0, 0.0]     # cosine 0.9 with the question
FAR = [0.5, 0.0, math.sqrt(0.75), 0.0]          # cosine 0.5
QUESTION = [1.0, 0.0, 0.0, 0.0]


def fake_embed(texts: list[str], purpose: str) -> list[list[float]]:
    """The question is QUESTION; a passage mentioning 目的 is NEAR, every other one FAR."""
    if purpose == "query":
        return [QUESTION for _ in texts]
    return [NEAR if "目的" in t else FAR for t in texts]


def lift(sim: float, n_near: int, n_far: int) -> float:
    mean = (0.9 * n_near + 0.5 * n_far) / (n_near + n_far)
    return (sim - mean) / (1 - mean)


@pytest.fixture
async def ix(db):
    index = Index(db, embed=fake_embed, embed_space="fake")
    await index.create_set("s")
    await index.create_set("other")
    await index.upsert_document("s", "folder", "near", "目的の文書", None, "# 目的の文書\n\n目的の説明です。")
    for i in range(39):
        await index.upsert_document("s", "folder", f"far{i}", f"文書{i}", None, f"# 文書{i}\n\n関係のない話{i}です。")
    return index


async def test_lift_of_the_best_passage(ix):
    hits = await ix.search("知りたいこと", ["s"], k=3)
    assert hits[0].document_id == (await ix.list_documents("s"))["near"].id
    assert hits[0].similarity == pytest.approx(0.9, abs=1e-3)
    assert hits[0].lift == pytest.approx(lift(0.9, 1, 39), abs=1e-3)         # (0.9 - 0.51) / 0.49 = 0.796
    assert hits[1].similarity == pytest.approx(0.5, abs=1e-3)
    assert hits[1].lift == pytest.approx(lift(0.5, 1, 39), abs=1e-3)         # a little below the mean: -0.02


async def test_lift_follows_deletions_and_replacements(ix):
    # the last row is a NEAR passage: removing a FAR one moves it into the freed row, so a sum that subtracted the
    # row after the move would take away NEAR instead of FAR
    await ix.search("知りたいこと", ["s"], k=1)           # loaded: what follows changes the index in memory
    await ix.upsert_document("s", "folder", "near2", "目的の文書2", None, "# 目的の文書2\n\n目的の続きです。")
    for i in range(5):
        await ix.delete_document("s", f"far{i}")
    await ix.upsert_document("s", "folder", "far10", "文書10", None, "# 文書10\n\n目的の話に変わりました。")  # FAR → NEAR
    hits = await ix.search("知りたいこと", ["s"], k=1)
    assert hits[0].lift == pytest.approx(lift(0.9, 3, 33), abs=1e-3)
    # a fresh process loading the same rows computes the same
    fresh = Index(ix.db, embed=fake_embed, embed_space="fake")
    again = await fresh.search("知りたいこと", ["s"], k=1)
    assert again[0].lift == pytest.approx(hits[0].lift, abs=1e-4)


async def test_no_lift_over_a_handful_of_passages_or_without_vectors(ix, db):
    await ix.upsert_document("other", "folder", "one", "目的", None, "# 目的\n\n目的の説明です。")
    few = await ix.search("知りたいこと", ["other"], k=1)
    assert LIFT_MIN_PASSAGES > 1 and few[0].similarity is not None and few[0].lift is None
    both = await ix.search("知りたいこと", ["s", "other"], k=1)            # the mean is over every set searched
    assert both[0].lift == pytest.approx(lift(0.9, 2, 39), abs=1e-3)
    plain = await Index(db).search("知りたいこと", ["s"], k=1)               # BM25 alone
    assert plain == [] or plain[0].lift is None
