from core.search.chunking import MAX_CHARS, chunk_markdown

SENT = "粗大ごみは事前の申込みが必要で、収集日の一週間前までに受付センターへ連絡してください。"  # 45 chars


def test_heading_paths_and_title_h1_skipped():
    md = "# ごみの手引き\n\n## 粗大ごみ\n\n申込制です。\n\n### 料金\n\n品目ごとに異なります。\n\n## 資源ごみ\n\n水曜日です。"
    chunks = chunk_markdown(md, title="ごみの手引き")
    assert [(c.section, c.text) for c in chunks] == [
        ("粗大ごみ", "申込制です。"),
        ("粗大ごみ > 料金", "品目ごとに異なります。"),
        ("資源ごみ", "水曜日です。"),
    ]
    assert all(c.title == "ごみの手引き" for c in chunks)
    assert [c.ordinal for c in chunks] == [0, 1, 2]


def test_long_section_split_at_sentences_with_overlap():
    md = "## 申込み\n\n" + SENT * 30
    chunks = chunk_markdown(md, title="t")
    assert len(chunks) >= 3
    for c in chunks:
        assert 300 <= len(c.text) <= MAX_CHARS or c is chunks[-1]
        assert c.text.endswith("。")  # cut at a sentence boundary
        assert c.section == "申込み"
    for prev, nxt in zip(chunks, chunks[1:]):
        # the next chunk starts with the last sentence of the previous one
        assert nxt.text.startswith(prev.text[-len(SENT):])
    # no text lost: every sentence of the source is in some chunk
    assert sum(c.text.count(SENT) for c in chunks) >= 30


def test_no_overlap_across_sections():
    md = "## A\n\n" + SENT * 15 + "\n\n## B\n\n別の話題です。"
    chunks = chunk_markdown(md, title="t")
    assert chunks[-1].section == "B" and chunks[-1].text == "別の話題です。"


def test_overlong_sentence_is_cut():
    md = "あ" * 1500 + "。"
    chunks = chunk_markdown(md, title="t")
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert "".join(c.text for c in chunks).count("あ") >= 1500


def test_pages_sheets_slides():
    md = ("<!-- Page: 1 -->\n一頁目の本文です。\n\n<!-- Page: 2 -->\n二頁目の本文です。\n\n"
          "<!-- Sheet: 名簿 -->\n## 名簿\n| 氏名 | 課 |\n| --- | --- |\n| 山田 | 総務課 |\n\n"
          "<!-- Slide number: 3 -->\n# 予約\n予約は電話です。")
    got = [(c.page, c.section, c.text.splitlines()[-1]) for c in chunk_markdown(md, title="t")]
    assert got == [("1ページ", "", "一頁目の本文です。"), ("2ページ", "", "二頁目の本文です。"),
                   ("シート「名簿」", "名簿", "| 山田 | 総務課 |"), ("スライド3", "予約", "予約は電話です。")]


def test_big_table_split_by_rows_with_header_repeated():
    rows = "\n".join(f"| 品目{i} | {i * 100}円 |" for i in range(80))
    md = "## 料金表\n\n| 品目 | 料金 |\n|---|---|\n" + rows
    chunks = chunk_markdown(md, title="t")
    assert len(chunks) >= 3
    for c in chunks:
        assert c.text.startswith("| 品目 | 料金 |\n|---|---|\n")
    body = "\n".join(c.text for c in chunks)
    assert all(f"| 品目{i} | {i * 100}円 |" in body for i in range(80))


def test_images_and_comments_dropped_empty_doc():
    assert chunk_markdown("![図](a.png)\n<!-- note -->\n\n", title="t") == []
    assert chunk_markdown("", title="t") == []
