"""Word vectors (chiVe, read from the ja-ginza package) for the query words no passage uses: a resident's ガラケー
finds 携帯電話. The package is installed by `make` (requirements-data.txt); these tests read the real files."""
from __future__ import annotations

import asyncio
import struct
from collections import Counter

import aiohttp
import numpy as np
import pytest

from core.search import index as index_module
from core.search import wordvec
from core.search.index import Index, _VectorRows
from core.search.postings import Postings
from tests.harness import make_services, running_bot

ITEMS = {
    "keitai": "携帯電話",
    "katsura": "かつら",
    "jeans": "ジーンズ",
    "jitensha": "自転車",
    "denchi": "乾電池",
    "suitou": "水筒",
}


def _doc(name: str) -> str:
    return f"# {name} の分別\n\n{name}は「小型家電・不燃ごみ」に分別します。"


@pytest.fixture
async def gomi(db):
    ix = Index(db)             # no embedder: BM25 alone, so that only the stand-ins can find the item
    await ix.create_set("gomi")
    for key, name in ITEMS.items():
        await ix.upsert_document("gomi", "folder", key, f"{name} の分別", None, _doc(name))
    return ix


def test_the_hash_is_spacys():
    # reference values from spaCy 3.8.18 (`spacy.strings.hash_string`): a tail only, a whole 8-byte block, a block
    # and a tail, multibyte text, the empty string
    assert wordvec.murmur64a(b"a") == 11901859001352538922
    assert wordvec.murmur64a(b"abcdefgh") == 17751780907874141760
    assert wordvec.murmur64a(b"abcdefghi") == 13885881106499164936
    assert wordvec.murmur64a("ガラケー".encode()) == 1737091751549237566
    assert wordvec.murmur64a(b"") == 14313749767032693980


def test_key2row_is_read_in_every_unsigned_format():
    def u(v: int) -> bytes:
        if v <= 0x7F:
            return bytes([v])
        for code, fmt, top in ((0xCC, ">B", 0xFF), (0xCD, ">H", 0xFFFF), (0xCE, ">I", 0xFFFFFFFF)):
            if v <= top:
                return bytes([code]) + struct.pack(fmt, v)
        return b"\xcf" + struct.pack(">Q", v)

    pairs = [(2**64 - 1, 3), (5, 200), (70_000, 65_000), (2**33, 1), (300, 0)]
    body = b"".join(u(k) + u(r) for k, r in pairs)
    for head in (bytes([0x80 | len(pairs)]), b"\xde" + struct.pack(">H", len(pairs)),
                 b"\xdf" + struct.pack(">I", len(pairs))):
        keys, rows = wordvec.parse_key2row(head + body)
        assert keys.tolist() == sorted(k for k, _ in pairs)
        assert dict(zip(keys.tolist(), rows.tolist())) == dict(pairs)
    with pytest.raises(ValueError, match="not a MessagePack map"):
        wordvec.parse_key2row(b"\x93\x01\x02\x03")            # an array
    with pytest.raises(ValueError, match="unexpected"):
        wordvec.parse_key2row(b"\x81\xa1a\x01")               # a string key
    with pytest.raises(ValueError):
        wordvec.parse_key2row(b"")


def test_the_packaged_vectors_know_everyday_names():
    wv = wordvec.load()
    assert wv is not None, wordvec.status().reason
    assert len(wv) > 400_000 and wv.vectors.shape[1] == 300
    # our terms are normalized forms with katakana folded to hiragana: row() writes them back
    assert wv.row("がらけー") == wv.row("ガラケー") >= 0
    assert wv.row("存在しない語ｑｑｘ") == -1
    names = list(ITEMS.values())
    mat = wv.vectors[[wv.row(n) for n in names]]
    for everyday, formal in (("がらけー", "携帯電話"), ("ういっぐ", "かつら"), ("じーぱん", "ジーンズ")):
        sims = mat @ wv.vectors[wv.row(everyday)]
        assert names[int(np.argmax(sims))] == formal, (everyday, dict(zip(names, sims.round(3))))


async def test_a_word_no_passage_uses_finds_its_nearest_words(gomi):
    hits = await gomi.search("ガラケー", ["gomi"], k=3)
    assert hits and hits[0].title == "携帯電話 の分別"
    # a guess from word vectors ranks passages but is no evidence the set covers the question: the weak-retrieval
    # rule still sees an uncovered question (coverage 0, as before the stand-ins existed)
    assert hits[0].coverage == 0.0
    hits = await gomi.search("亡くなった祖母のウィッグ", ["gomi"], k=3)
    assert hits and hits[0].title == "かつら の分別"


async def test_only_whole_nouns_are_stood_in_for(gomi):
    # 履く is 0.63 from ジーンズ in the vectors, but a verb's neighbours are no stand-in for it
    wv = wordvec.load()
    assert wv is not None and float(wv.vectors[wv.row("履く")] @ wv.vectors[wv.row("ジーンズ")]) > 0.6
    assert await gomi.search("履く", ["gomi"], k=3) == []
    assert [h.title for h in await gomi.search("ジーパン", ["gomi"], k=1)] == ["ジーンズ の分別"]


async def test_without_stand_ins_nothing_is_found(gomi, monkeypatch):
    monkeypatch.setattr(index_module, "STAND_INS", 0)
    assert await gomi.search("ガラケー", ["gomi"], k=3) == []


async def test_a_word_the_set_uses_is_not_widened(gomi):
    await gomi.upsert_document("gomi", "folder", "garake", "ガラケー の分別", None, _doc("ガラケー"))
    hits = await gomi.search("ガラケー", ["gomi"], k=3)
    assert [h.title for h in hits] == ["ガラケー の分別"]
    assert hits[0].coverage == 1.0


async def test_new_words_in_the_set_become_stand_ins(gomi):
    assert (await gomi.search("プレステ", ["gomi"], k=3)) == []     # no nearby word in the set yet
    await gomi.upsert_document("gomi", "folder", "game", "ゲーム機 の分別", None, _doc("ゲーム機"))
    hits = await gomi.search("プレステ", ["gomi"], k=3)
    assert hits and hits[0].title == "ゲーム機 の分別"


async def test_without_the_package_search_works_and_readyz_says_so(gomi, db, monkeypatch):
    monkeypatch.setattr(wordvec, "DISTRIBUTION", "no-such-distribution-ja")
    monkeypatch.setattr(wordvec, "_state", wordvec._Loaded())
    assert wordvec.load() is None
    st = wordvec.status()
    assert not st.available and "no-such-distribution-ja is not installed" in st.reason
    assert await gomi.search("ガラケー", ["gomi"], k=3) == []
    assert [h.title for h in await gomi.search("携帯電話", ["gomi"], k=1)] == ["携帯電話 の分別"]
    async with running_bot(make_services(db)) as url, aiohttp.ClientSession() as s, s.get(url + "/readyz") as r:
        assert r.status == 200
        assert (await r.json())["word_vectors"] == "off (no-such-distribution-ja is not installed)"


async def test_readyz_names_the_word_vectors(db):
    async with running_bot(make_services(db)) as url, aiohttp.ClientSession() as s, s.get(url + "/readyz") as r:
        body = await r.json()
    assert r.status == 200 and body["word_vectors"].startswith("chiVe (ja-ginza 5.3.0, ")


async def test_unreadable_files_turn_the_stand_ins_off(tmp_path, monkeypatch):
    (tmp_path / "vectors").write_bytes(b"not a numpy file")
    (tmp_path / "key2row").write_bytes(b"\x80")
    monkeypatch.setattr(wordvec, "_files", lambda: (tmp_path / "vectors", tmp_path / "key2row"))
    monkeypatch.setattr(wordvec, "_state", wordvec._Loaded())
    assert wordvec.load() is None
    assert wordvec.status().reason.startswith("ja-ginza unreadable: ValueError")


def test_the_rows_follow_the_vocabulary_a_new_word_at_a_time():
    looked_up: list[str] = []

    class Vectors:                      # stands in for WordVectors: which words were looked up, and their rows
        vectors = np.eye(3, dtype=np.float32)

        def row(self, term: str) -> int:
            looked_up.append(term)
            return {"a": 1, "b": 2, "c": 1}.get(term, -1)

    store = Postings()
    store.add(1, 0, Counter({"a": 1, "~9": 1}), 1)
    rows_of = _VectorRows()
    rows, matrix, by_row = rows_of.update(store, Vectors())  # type: ignore[arg-type]
    assert rows.tolist() == [1] and by_row == {1: ["a"]} and looked_up == ["a"]   # group terms are not words
    assert matrix.tolist() == [[0, 1, 0]]                                          # row 1's vector
    store.add(2, 0, Counter({"b": 1, "c": 1, "zz": 1}), 3)
    rows, matrix, by_row = rows_of.update(store, Vectors())  # type: ignore[arg-type]
    assert looked_up == ["a", "b", "c", "zz"]                     # only the new words
    assert sorted(rows.tolist()) == [1, 2] and by_row == {1: ["a", "c"], 2: ["b"]}
    assert matrix.tolist() == [Vectors.vectors[r].tolist() for r in rows]
    rows_of.update(store, Vectors())  # type: ignore[arg-type]
    assert len(looked_up) == 4                                     # nothing new, nothing looked up
    store.remove(1)
    store.compact()                                                # "a" is gone: read again
    assert rows_of.update(store, Vectors())[2] == {1: ["c"], 2: ["b"]}  # type: ignore[arg-type]
    # another store (an index reloaded) is read from the start too
    other = Postings()
    other.add(5, 0, Counter({"b": 1}), 1)
    assert rows_of.update(other, Vectors())[2] == {2: ["b"]}  # type: ignore[arg-type]


async def test_an_index_warms_its_words_rows_when_it_loads(gomi, db):
    wv = wordvec.load()
    assert wv is not None
    wv._cache.clear()
    fresh = Index(db)
    await fresh.search("携帯電話", ["gomi"], k=1)      # the first search loads the index, and the warm-up starts
    for _ in range(2000):                          # up to 20 s: the executor may be busy on a loaded machine
        if "分別" in wv._cache:
            break
        await asyncio.sleep(0.01)
    assert "携帯電話" in wv._cache and "分別" in wv._cache
