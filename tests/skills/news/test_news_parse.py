"""Parsing real feeds from testdata: encodings, identities, JST dates, ill-formed input, de-duplication helpers."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from core.timeutil import JST
from skills.news.parse import (
    bigrams,
    canonical_url,
    cut_sentences,
    detect_jst_midnights,
    jaccard,
    normalize_title,
    parse_feed,
)


def read(testdata, rel):
    return (testdata / "feeds" / rel).read_bytes()


def test_undeclared_euc_jp_and_shift_jis_are_decoded(testdata):
    euc = parse_feed(read(testdata, "feedparser/illformed/chardet/eucjp.xml"))
    assert euc.ok and euc.entries[0].title == "ゲーム三昧な正月" and euc.encoding == "euc_jp"
    sj = parse_feed(read(testdata, "feedparser/illformed/chardet/shiftjis.xml"))
    assert sj.ok and sj.entries[0].title == "DrecomRSSに記事投稿が反映されない…" and sj.encoding == "cp932"


def test_http_charset_is_honoured(testdata):
    """An EUC-JP body with the charset given in the HTTP header: feedparser uses the header."""
    body = read(testdata, "feedparser/illformed/chardet/eucjp.xml")
    f = parse_feed(body, "application/rss+xml; charset=EUC-JP")
    assert f.ok and f.entries[0].title == "ゲーム三昧な正月"


def test_government_feed_items_sharing_a_link_stay_distinct(testdata):
    f = parse_feed(read(testdata, "go-jp-rss/www.gov-online.go.jp-info.rss"), "application/rss+xml", "https://x/feed")
    assert f.ok and len(f.entries) == 40
    assert len({e.identity for e in f.entries}) == 40
    links = [e.link for e in f.entries]
    assert len(set(links)) < len(links)                      # the feed really does share links
    assert "ogb.go.jp/nousui/topicsFolder.html" in f.shared_links


def test_jst_midnight_written_as_gmt_is_read_as_jst_date(testdata):
    f = parse_feed(read(testdata, "go-jp-rss/www.gov-online.go.jp-info.rss"), "application/rss+xml")
    assert f.jst_dates
    first = f.entries[0]
    assert first.raw_date == "Fri, 21 Aug 2026 00:00:00 GMT"
    assert first.published == datetime(2026, 8, 21, tzinfo=JST)
    assert first.published.astimezone(timezone.utc) == datetime(2026, 8, 20, 15, tzinfo=timezone.utc)


def test_real_times_are_not_shifted(testdata):
    f = parse_feed(read(testdata, "kanpo-rss/feed.xml"))
    assert f.ok and not f.jst_dates


def test_detection_needs_every_entry_at_midnight():
    from skills.news.parse import ParsedEntry

    mk = lambda raw: ParsedEntry("t", None, None, "", datetime(2026, 1, 5, tzinfo=timezone.utc), raw_date=raw)
    assert detect_jst_midnights([mk("Mon, 05 Jan 2026 00:00:00 GMT"), mk("Mon, 05 Jan 2026 00:00:00 +0000")])
    assert not detect_jst_midnights([mk("Mon, 05 Jan 2026 00:00:00 GMT"), mk("Mon, 05 Jan 2026 09:12:00 GMT")])
    assert not detect_jst_midnights([mk("Mon, 05 Jan 2026 00:00:00 +0900")])


@pytest.mark.parametrize("name", ["aaa_illformed.xml", "rss_empty_document.xml", "undeclared_namespace.xml",
                                  "rss_incomplete_cdata.xml", "always_strip_doctype.xml"])
def test_ill_formed_without_entries_is_unhealthy_with_reason(testdata, name):
    f = parse_feed(read(testdata, f"feedparser/illformed/{name}"))
    assert not f.ok and f.reason


def test_ill_formed_with_entries_keeps_going(testdata):
    f = parse_feed(read(testdata, "feedparser/illformed/rss_item_link_corrupted_ampersands.xml"))
    assert f.ok and len(f.entries) == 1 and f.reason      # a warning, not a failure


def test_all_feed_formats(testdata):
    rdf = parse_feed(read(testdata, "thunderbird-newsblog/rss_7_1_BORKED.rdf"))
    assert rdf.ok and len(rdf.entries) == 2
    atom = parse_feed(read(testdata, "feedparser/illformed/chardet/shiftjis.xml"))
    assert atom.ok
    assert parse_feed(b"").ok is False
    assert parse_feed(b"\x00\xff garbage").ok is False


def test_duplicate_guids_fall_back_to_content_identity():
    from tests.skills.news.helpers import rss

    body = rss([{"title": "A", "link": "https://e.jp/a", "guid": "same"},
                {"title": "B", "link": "https://e.jp/b", "guid": "same"}])
    f = parse_feed(body)
    assert len({e.identity for e in f.entries}) == 2


def test_canonical_url_and_near_duplicate_titles():
    assert canonical_url("https://www.digital.go.jp/news/abc/?utm_source=x&utm_medium=y#top") == \
        canonical_url("http://digital.go.jp/news/abc")
    assert canonical_url("https://e.jp/a?id=1") != canonical_url("https://e.jp/a?id=2")
    a = normalize_title("【報道発表】マイナンバーカードの交付状況について（令和8年8月末時点）")
    b = normalize_title("マイナンバーカードの交付状況について(令和8年8月末時点)")
    assert jaccard(bigrams(a), bigrams(b)) >= 0.8
    c = normalize_title("マイナンバーカードの利用促進に向けた取組について")
    assert jaccard(bigrams(a), bigrams(c)) < 0.8


def test_cut_at_sentence_boundary():
    text = "一文目です。" * 10 + "最後の文です。"
    out = cut_sentences(text, limit=30)
    assert out.endswith("。") and len(out) <= 30
    assert cut_sentences("短い本文") == "短い本文"
