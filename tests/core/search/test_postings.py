"""The compact postings store (core.search.postings): an index kept current by changes, with its dead rows compacted
away, ranks exactly like one loaded fresh from the database; equal scores keep the order they were first scored in."""
import random

import pytest

from core.search import postings
from core.search.index import Index

ITEMS = ["粗大ごみ", "空きびん", "空き缶", "ペットボトル", "乾電池", "蛍光灯", "古紙", "布団", "自転車", "傘"]
KINDS = ["燃やすごみ", "燃やさないごみ", "資源", "粗大ごみ", "有害ごみ"]


def doc(i: int) -> tuple[str, str]:
    item, kind = ITEMS[i % len(ITEMS)], KINDS[i % len(KINDS)]
    # many documents share their wording (equal BM25 scores): ties are the point
    return f"{item}の出し方", f"# {item}の出し方\n\n{item}は「{kind}」に分別します。収集日の朝8時30分までに出してください。"


QUESTIONS = ["粗大ごみの出し方", "びんはいつ出すの", "乾電池 有害ごみ", "自転車を捨てたい", "朝何時までに出す",
             "布団は燃やすごみですか", "傘の分別", "ビン"]


def ranking(hits):
    return [(h.chunk_id, h.score, h.coverage, h.set_name) for h in hits]


async def test_an_index_kept_current_ranks_like_a_fresh_load(db, monkeypatch):
    monkeypatch.setattr(postings, "_MIN_DEAD_TO_COMPACT", 8)
    live = Index(db)
    for name in ("east", "west"):
        await live.create_set(name)
    await live.refresh()
    rng = random.Random(3)
    keys: list[tuple[str, str]] = []
    for i in range(60):
        name = ("east", "west")[i % 2]
        title, md = doc(i)
        await live.upsert(name, "folder", f"d{i}.md", title, None, md)
        keys.append((name, f"d{i}.md"))
    compactions = 0
    for step in range(40):       # deletions and rewrites, as sync passes make them
        name, key = rng.choice(keys)
        before = live._postings._n
        if step % 3:
            await live.delete_document(name, key)
        else:
            title, md = doc(rng.randrange(100))
            await live.upsert(name, "folder", key, title, None, md + f"\n\n第{step}版")
        compactions += live._postings._n < before
    assert compactions >= 2, "the test should make the store compact"
    fresh = Index(db)
    for q in QUESTIONS:
        for sets in (["east"], ["east", "west"], ["west", "east"]):
            assert ranking(await live.search(q, sets, k=10)) == ranking(await fresh.search(q, sets, k=10)), (q, sets)


async def test_equal_scores_keep_the_order_of_the_sets_asked(db):
    ix = Index(db)
    title, md = doc(0)
    for name in ("a", "b"):
        await ix.create_set(name)
        await ix.upsert(name, "folder", "same.md", title, None, md)
    ab = await ix.search("粗大ごみの出し方", ["a", "b"], k=2)
    ba = await ix.search("粗大ごみの出し方", ["b", "a"], k=2)
    assert ab[0].score == ab[1].score == ba[0].score
    assert [h.set_name for h in ab] == ["a", "b"] and [h.set_name for h in ba] == ["b", "a"]


@pytest.mark.parametrize("n", [1, 3])
async def test_words_missing_from_the_asked_sets_score_nothing_there(db, n):
    ix = Index(db)
    await ix.create_set("gomi")
    await ix.create_set("lib")
    title, md = doc(0)
    await ix.upsert("gomi", "folder", "g.md", title, None, md)
    await ix.upsert("lib", "folder", "l.md", "図書館", None, "# 図書館\n\n本の返却はブックポストへどうぞ。")
    assert await ix.search("粗大ごみ", ["lib"], k=n) == []
    assert [h.set_name for h in await ix.search("粗大ごみ", ["lib", "gomi"], k=n)] == ["gomi"]
