"""Passages (/ask) and research sources (/plan) as dataclasses: the stored form round-trips, and rows written by
earlier code (plain dicts, missing keys) still load (#14)."""
from __future__ import annotations

from core.search.index import Hit
from core.search.passages import Passage, Source, passages_from_json, sources_from_json


def test_a_passage_is_made_from_a_hit_and_round_trips():
    hit = Hit(chunk_id=3, score=1.2, title="年次休暇の取扱い", section="繰越し", page="3ページ",
              url="https://intra.example.jp/doc/1", text="20日を限度として繰り越せる。", document_id=1, set_name="総務",
              staff_written=True)
    p = Passage.from_hit(hit, 2, chars=5)
    assert p == Passage(n=2, title="年次休暇の取扱い", section="繰越し", page="3ページ",
                        url="https://intra.example.jp/doc/1", text="20日を限", staff_written=True, set_name="総務")
    assert p.to_json() == {"n": 2, "title": "年次休暇の取扱い", "section": "繰越し", "page": "3ページ",
                           "url": "https://intra.example.jp/doc/1", "text": "20日を限", "staff_written": True,
                           "set": "総務"}
    assert Passage.from_json(p.to_json()) == p
    assert Passage(n=1, title="t", url="file:///x").web_url is None and p.web_url == p.url


def test_stored_passages_of_older_rows_still_load():
    rows = [{"title": "窓口案内", "section": "", "text": "受付は9時から", "url": None}, "junk",
            {"title": "手数料条例", "text": "第2条"}]
    assert passages_from_json(rows) == [Passage(n=1, title="窓口案内", text="受付は9時から"),
                                        Passage(n=2, title="手数料条例", text="第2条")]
    assert passages_from_json(None) == []


def test_a_source_round_trips_and_old_job_rows_still_load():
    s = Source(kind="law", title="児童福祉法 第6条の3", text="放課後児童健全育成事業とは…", url="https://laws.e-gov.go.jp/x",
               set_name="e-Gov", key="law:322AC0000000164:1", n=3)
    assert Source.from_json(s.to_json()) == s
    stored = [{"kind": "case", "title": "他都市の事例", "section": "", "page": None, "url": None, "text": "t", "set": "cases",
               "key": "chunk:9", "n": 1}, {"n": 2, "kind": "knowledge", "title": "窓口調査報告", "section": "第2章"}]
    assert [x.to_json() for x in sources_from_json(stored)][0] == stored[0]
    assert sources_from_json(stored)[1] == Source(kind="knowledge", title="窓口調査報告", section="第2章", n=2)
