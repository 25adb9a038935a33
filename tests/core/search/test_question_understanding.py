"""Issue #15, offline: spelling and register variants meet (normalised forms, readings), FAQ questions are matched
question to question, and chunks stored by the earlier analysis are re-analysed (migration 0015)."""
import pytest
from sqlalchemy import text

from core.search.chunking import chunk_markdown, faq_question
from core.search.index import QUESTION_WEIGHT, Index, chunk_terms
from core.search.text import KATAKANA_PREFIX, READING_PREFIX, kana_words, sudachi
from core.store import Database


# ------------------------------------------------------------------ analysis
def test_dictionary_normalises_spellings_and_registers():
    a = sudachi()
    assert a.terms("段ボール") == a.terms("ダンボール")
    assert "携帯" in a.terms("ケータイ") and "携帯" in a.terms("携帯電話")   # the compound's sub-token
    assert a.terms("めがね") == a.terms("メガネ") == a.terms("眼鏡")


def test_reading_terms_join_what_the_dictionary_keeps_apart():
    a = sudachi()
    assert a.terms("ビン") != a.terms("瓶")                 # the dictionary keeps katakana ビン as its own word
    kata, kanji = a.query("ビン")[0], a.query("瓶")[0]
    assert kata.reading == READING_PREFIX + "びん" and kata.reading in a.index_terms("瓶")
    assert kanji.reading == KATAKANA_PREFIX + "びん" and kanji.reading in a.index_terms("ビン")
    # kanji do not meet kanji by reading (homophones), nor hiragana formal nouns, nor inflected verbs
    assert a.query("紙")[0].reading not in a.index_terms("髪")
    assert a.query("時")[0].reading not in a.index_terms("とき")
    assert [t.reading for t in a.query("せいで打った")] == ["", ""]
    # reading terms are index-only, like synonym groups: `terms` (lengths, news ranking) never carries them
    assert not any(t.startswith("~") for t in a.terms("瓶と缶と傘"))
    assert a.query("いつ")[0].reading == "" and a.query("3")[0].reading == ""


def test_utsu_and_sesshu_are_not_a_dictionary_synonym():
    # 打つ/接種 is a synonym, not a spelling: it belongs in the administrators' file (docs/synonyms.example.txt)
    a = sudachi()
    utsu, sesshu = a.query("打つ")[0], a.query("接種")[0]
    assert not set(utsu.synonyms) & set(sesshu.synonyms)
    assert utsu.reading != sesshu.term and sesshu.reading != utsu.term


# ------------------------------------------------------------------ FAQ shape
FAQ = """# よくある質問

Q1. 粗大ごみの収集を頼むには予約が要りますか？
A. はい。収集日の一週間前までに受付センターへ電話で申し込んでください。

Q2. 料金はいくらですか？
A. 品目ごとに決まっています。

問3 収集日に家にいなくてもよいですか
立ち会いは不要です。
"""


def test_faq_questions_start_chunks_of_their_own():
    chunks = chunk_markdown(FAQ, title="よくある質問")
    assert [c.text.split("\n", 1)[0] for c in chunks] == [
        "Q1. 粗大ごみの収集を頼むには予約が要りますか？", "Q2. 料金はいくらですか？", "問3 収集日に家にいなくてもよいですか"]
    assert [faq_question(c.title, c.section, c.text) for c in chunks] == [
        "粗大ごみの収集を頼むには予約が要りますか？", "料金はいくらですか？", "収集日に家にいなくてもよいですか"]


@pytest.mark.parametrize("title,section,body,question", [
    ("t", "", "Q. 予約は必要ですか？A. 必要です。", "予約は必要ですか？"),
    ("t", "", "【質問】費用は？【回答】無料です。", "費用は？"),
    ("t", "", "質問：費用はかかりますか\n無料です。", "費用はかかりますか"),
    ("接種は無料ですか？", "", "無料です。", "接種は無料ですか？"),          # a heading that asks
    ("t", "FAQ > Q3 どこで受けられますか", "市役所です。", "どこで受けられますか"),
    ("t", "料金", "無料です。", ""),
    ("t", "", "問い合わせ先は市役所です。", ""),                           # 問い合わせ is no question marker
    ("t", "", "Q&Aの一覧です。", ""),
])
def test_faq_question(title, section, body, question):
    assert faq_question(title, section, body) == question


def test_faq_question_weighs_like_a_heading():
    a = sudachi()
    plain = chunk_terms(a, "t", "", "予約は不要です。")
    faq = chunk_terms(a, "t", "", "Q. 予約は必要ですか？\nA. 不要です。")
    assert QUESTION_WEIGHT >= 1
    assert plain.count("予約") == 1 and faq.count("予約") == 1 + QUESTION_WEIGHT
    assert chunk_terms(a, "予約は必要ですか？", "", "不要です。").count("予約") == 2 + QUESTION_WEIGHT


# ------------------------------------------------------------------ search, on both back ends
@pytest.fixture
async def ix(db):
    index = Index(db)
    await index.create_set("gomi")
    return index


async def test_spelling_variants_find_each_other(ix):
    await ix.upsert_document("gomi", "folder", "danboru", "段ボールの出し方", None, "段ボールは紐で縛って古紙の日に出してください。")
    await ix.upsert_document("gomi", "folder", "keitai", "携帯電話の回収", None, "使わなくなった携帯電話は市役所の回収箱へ。")
    await ix.upsert_document("gomi", "folder", "bin", "瓶の出し方", None, "一升瓶や空き瓶は中をすすいで資源ごみの日に出します。")
    await ix.upsert_document("gomi", "folder", "kasa", "カサの出し方", None, "カサは不燃ごみです。骨を折りたたんで出してください。")
    assert (await ix.search("ダンボールはいつ出せばいい", ["gomi"], k=1))[0].title == "段ボールの出し方"
    assert (await ix.search("ケータイを捨てたい", ["gomi"], k=1))[0].title == "携帯電話の回収"
    bin_hit = (await ix.search("ビンの出し方", ["gomi"], k=1))[0]         # katakana finds the kanji spelling
    assert bin_hit.title == "瓶の出し方" and bin_hit.coverage == 1.0
    assert (await ix.search("傘を捨てたい", ["gomi"], k=1))[0].title == "カサの出し方"   # and the reverse


async def test_exact_spelling_ranks_before_a_reading_match(ix):
    await ix.upsert_document("gomi", "folder", "kanji", "瓶", None, "瓶は資源ごみです。")
    await ix.upsert_document("gomi", "folder", "kata", "ビン", None, "ビンは資源ごみです。")
    assert [h.title for h in await ix.search("瓶", ["gomi"], k=2)] == ["瓶", "ビン"]
    assert [h.title for h in await ix.search("ビン", ["gomi"], k=2)] == ["ビン", "瓶"]


async def test_reworded_faq_question_found_before_a_document_sharing_the_answers_words(ix):
    await ix.upsert_document("gomi", "folder", "center", "受付センターのご案内", None,
                             "粗大ごみ受付センターでは、電話で粗大ごみの収集を受け付けています。受付センターの電話は"
                             "平日の9時から17時まで。収集日の前日までに申し込んでください。")
    faq_id = await ix.upsert_document("gomi", "folder", "faq", "よくある質問", None, FAQ)
    hits = await ix.search("粗大ごみを出すのに予約は必要ですか", ["gomi"], k=3)
    assert hits[0].document_id == faq_id and hits[0].text.startswith("Q1.")
    hits = await ix.search("家にいないときでも収集してもらえますか", ["gomi"], k=3)
    assert hits[0].document_id == faq_id and hits[0].text.startswith("問3")


# ------------------------------------------------------------------ migration
async def test_chunks_stored_before_0015_are_reanalysed(db_url):
    body = "Q. 瓶はいつ出しますか？\nA. 資源ごみの日に出します。"
    database = Database(db_url)
    try:
        await database.migrate("0013_search_vectors_binary")
        async with database.engine.begin() as conn:
            await conn.execute(text("INSERT INTO search_sets (id, name, title, members, created_at) "
                                    "VALUES (1, 'gomi', 'gomi', '[]', CURRENT_TIMESTAMP)"))
            await conn.execute(text("INSERT INTO search_documents (id, set_id, source, source_key, title, "
                                    "content_hash, updated_at, staff_written) VALUES (1, 1, 'folder', 'faq.md', "
                                    "'よくある質問', 'x', CURRENT_TIMESTAMP, false)"))
            # tokens as the analysis before 0015 stored them: no reading terms, the question counted once
            await conn.execute(text("INSERT INTO search_chunks (id, document_id, ordinal, title, section, text, "
                                    "tokens) VALUES (1, 1, 0, 'よくある質問', '', :body, :tokens)"),
                               {"body": body, "tokens": "良く 有る 質問 良く 有る 質問 q 瓶 いつ 出す a 資源 ごみ 日 出す"})
        await database.migrate()
        assert (await database.ready())[0]
        async with database.engine.connect() as conn:
            tokens = (await conn.execute(text("SELECT tokens FROM search_chunks WHERE id = 1"))).scalar_one()
        assert tokens.split() == chunk_terms(sudachi(), "よくある質問", "", body)
        assert READING_PREFIX + "びん" in tokens.split() and tokens.split().count("瓶") == 1 + QUESTION_WEIGHT
        hits = await Index(database).search("ビンを出す日", ["gomi"], k=1)   # ビン finds 瓶 by its reading
        assert hits and hits[0].document_id == 1
    finally:
        await database.dispose()


# ------------------------------------------------------------------ hiragana for kanji and katakana words
def test_kana_words_read_hiragana_the_dictionary_cut_into_fragments():
    known = {READING_PREFIX + "せんぷうき", "あいろん", READING_PREFIX + "ほうちょう", "包丁"}.__contains__
    words, dropped = kana_words("せんぷうきを捨てたい", known)
    assert [w.term for w in words] == [READING_PREFIX + "せんぷうき"]
    assert dropped and "捨てる" not in dropped                     # the fragments go, the verb outside stays
    assert [w.term for w in kana_words("あいろんがこわれた", known)[0]] == ["あいろん"]   # a katakana word's term
    # the dictionary read ほうちょう as 包丁 already: nothing added, nothing dropped
    assert kana_words("ほうちょうの捨て方", known) == ([], set())
    # words the index does not know, and function hiragana, add nothing
    assert kana_words("どうやってすてるのですか", known) == ([], set())
    assert kana_words("せんぷうき", lambda term: False) == ([], set())


async def test_hiragana_finds_the_kanji_and_katakana_spellings(ix):
    docs = {"senpuki": ("扇風機の分別", "扇風機は燃やさないごみに分別します。"),
            "airon": ("アイロンの分別", "アイロンは小型家電です。"),
            "kaze": ("風呂のふたの分別", "風呂のふたは燃やさないごみです。"),
            "sen": ("栓抜きの分別", "栓抜きは燃やさないごみです。")}
    for key, (title, body) in docs.items():
        await ix.upsert_document("gomi", "folder", key, title, None, body)
    assert (await ix.search("せんぷうきを捨てたい", ["gomi"], k=1))[0].title == "扇風機の分別"
    # its fragments (せん, 風) neither match 風呂 nor count as words the documents lack
    hit = (await ix.search("せんぷうき", ["gomi"], k=1))[0]
    assert hit.title == "扇風機の分別" and hit.coverage == 1.0
    assert (await ix.search("あいろんがこわれた", ["gomi"], k=1))[0].title == "アイロンの分別"
    # hiragana the index has no word for is not forced onto one: nothing matches, nothing is covered
    assert await ix.search("れいぞうこ", ["gomi"], k=1) == []
