"""Administrators' synonym rules: parsed like documents, applied as one term, re-read when the file changes."""
import os

import pytest

from core.search.index import Index
from core.search.synonyms import SynonymMap, parse

RULES = """# 職員がよく使う言い方
年休, 年次休暇
打つ => 接種
ワクチン   # a line with one word only is ignored
"""


def test_parse_equivalent_and_one_way_rules():
    rules = parse(RULES)
    assert rules["年休"] == ("年次休暇",) and rules["年次休暇"] == ("年休",)
    assert rules["打つ"] == ("接種",) and "接種" not in rules  # one way only
    assert "ワクチン" not in rules


def test_inflected_and_full_width_forms_meet():
    rules = parse("打った => 接種しました\nＰＣ, パソコン\n年休、有休　＃ 全角の区切りとコメント\nマイナ＝＞マイナンバーカード")
    assert rules["年休"] == ("有休",) and rules["まいな"] == ("まいなんばーかーど",)
    assert rules["打つ"] == ("接種",)  # analysed like documents: normalized, auxiliaries dropped
    assert rules["pc"] == ("ぱそこん",) and rules["ぱそこん"] == ("pc",)


async def test_rules_widen_search_and_follow_file_edits(db, tmp_path):
    path = tmp_path / "synonyms.txt"
    path.write_text("年休, 年次休暇\n", encoding="utf-8")
    ix = Index(db, synonyms=SynonymMap(path))
    await ix.create_set("jinji")
    await ix.upsert_document("jinji", "folder", "leave.md", "休暇", None,
                             "# 年次休暇\n\n年次休暇は1時間単位で取得できます。")
    await ix.upsert_document("jinji", "folder", "vax.md", "予防接種", None, "# 予防接種\n\n職員の予防接種は勤務時間内です。")
    hits = await ix.search("年休は時間単位で取れますか", ["jinji"], k=2)
    assert hits[0].title == "休暇" and hits[0].coverage > 0.5
    # no rule for 打つ yet: nothing shares a word (the word vectors' guess ワクチン → 予防接種 may rank a passage,
    # but a guess covers nothing)
    assert all(h.coverage == 0.0 for h in await ix.search("ワクチンを打つ", ["jinji"], k=2))
    path.write_text("年休, 年次休暇\n打つ => 予防接種\n", encoding="utf-8")
    os.utime(path, (1, 1))  # a different modification time even within the same second
    hits = await ix.search("ワクチンを打つ", ["jinji"], k=2)
    assert [h.title for h in hits] == ["予防接種"] and hits[0].coverage > 0
    path.unlink()  # an unreadable file keeps the last rules
    assert [h.title for h in await ix.search("ワクチンを打つ", ["jinji"], k=2)] == ["予防接種"]


async def test_word_and_synonym_count_as_one_term(db, tmp_path):
    # A rare colloquial word must not outweigh the common word it stands for: they share one idf (the common
    # word's), so between equal frequencies the shorter passage wins, whichever of the two words it uses.
    path = tmp_path / "synonyms.txt"
    path.write_text("打つ => 接種\n", encoding="utf-8")
    ix = Index(db, synonyms=SynonymMap(path))
    await ix.create_set("vax")
    for i in range(6):
        await ix.upsert_document("vax", "folder", f"n{i}.md", f"会場{i}", None, f"# 会場{i}\n\n会場{i}での接種の案内です。")
    await ix.upsert_document("vax", "folder", "after.md", "打った後", None,
                             "# 打った後\n\n打った後の入浴や運動、飲酒についての注意をまとめています。")
    await ix.upsert_document("vax", "folder", "short.md", "接種", None, "# 接種\n\n接種。")
    hits = await ix.search("打つ", ["vax"], k=3)
    assert [h.title for h in hits[:2]] == ["接種", "打った後"], [h.title for h in hits]
    assert hits[0].coverage == hits[1].coverage == 1.0
    # the shared idf is the common word's: 打つ scores the short passage exactly as 接種 itself does
    assert hits[0].score == pytest.approx((await ix.search("接種", ["vax"], k=1))[0].score)
    # without the rule, 打つ finds only the passage that uses it
    plain = Index(db, synonyms=SynonymMap())
    assert [h.title for h in await plain.search("打つ", ["vax"], k=3)] == ["打った後"]


def test_entries_of_several_words_are_skipped(caplog):
    # search matches words, so a phrase would tie each of its words to the others
    rules = parse("ノー残業デー, 定時退庁日, 定退\n年休, 有休")
    assert "残業" not in rules and "のー" not in rules
    assert rules["年休"] == ("有休",)
    assert "several words" in caplog.text


def test_oversized_or_broken_file_keeps_the_last_rules(tmp_path, caplog):
    path = tmp_path / "synonyms.txt"
    path.write_text("年休, 年次休暇\n", encoding="utf-8")
    rules = SynonymMap(path)
    assert rules.rules()["年休"] == ("年次休暇",)
    path.write_bytes(b"\xff\xfe\x00broken")  # not UTF-8
    os.utime(path, (2, 2))
    assert rules.rules()["年休"] == ("年次休暇",)
    path.write_text("打つ => 接種\n" * 60_000, encoding="utf-8")  # a mistake, not a synonym list
    assert rules.rules()["年休"] == ("年次休暇",) and "打つ" not in rules.rules()
    assert "keeping the last rules" in caplog.text
