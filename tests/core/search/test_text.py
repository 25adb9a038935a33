from core.search.text import BigramAnalyzer, QueryTerm, SudachiAnalyzer, normalize, query_terms, sudachi


def test_sodai_gomi_spellings_meet():
    a = sudachi()
    hira = a.terms("粗大ごみの出し方")
    kata = a.terms("粗大ゴミの出し方")
    assert "粗大ごみ" in hira and "粗大ごみ" in kata
    assert set(hira) == set(kata)
    # the sub-token lets a query for just ごみ/ゴミ reach the compound
    assert "ごみ" in hira and "ごみ" in a.terms("ゴミ")


def test_particles_auxiliaries_symbols_dropped():
    terms = sudachi().terms("ワクチンの接種は、無料ですか？")
    for dropped in ("の", "は", "です", "か", "、", "？"):
        assert dropped not in terms
    assert "接種" in terms and "無料" in terms


def test_width_and_spelling_variants_normalised():
    a = sudachi()
    assert a.terms("ＰＥＴボトル") == a.terms("ペットボトル")
    assert a.terms("ＡＢＣ") == ["abc"]


def test_compound_gets_mode_a_subtokens():
    terms = sudachi().terms("予防接種済証")
    assert "予防接種" in terms and "予防" in terms and "接種" in terms


def test_inflections_reduce_to_one_form():
    a = sudachi()
    assert "捨てる" in a.terms("捨てました") and "捨てる" in a.terms("捨てれば")


def test_long_text_is_analysed_piecewise():
    text = "粗大ごみは申込制です。" * 6000  # ~180 KB, over Sudachi's input limit
    terms = SudachiAnalyzer().terms(text)
    assert terms.count("粗大ごみ") == 6000


def test_query_terms_cached_and_equal():
    assert [t.term for t in query_terms("粗大ゴミ")] == sudachi().terms("粗大ゴミ")
    assert query_terms("粗大ゴミ") is query_terms("粗大ゴミ")


def test_prefixes_conjunctions_and_interjections_dropped():
    # the honorific prefix of お風呂 must not match お菓子 (both analyse with a prefix 御)
    assert sudachi().terms("お風呂の浴槽") == ["風呂", "浴槽"]
    assert "御" not in sudachi().terms("ご家族の方がご相談ください")
    assert sudachi().terms("また、ええと、粗大ごみ") == ["粗大ごみ", "粗大", "ごみ"]


def test_question_words_are_kept():
    # "いつから" and "どこで" ask different things; dropping them made both questions look the same
    assert "いつ" in sudachi().terms("いつから接種できますか")
    assert "どこ" in sudachi().terms("どこで接種できますか")


def test_synonym_groups_from_the_dictionary():
    a = sudachi()
    net, internet = a.query("ネット")[0], a.query("インターネット")[0]
    assert set(net.synonyms) & set(internet.synonyms), (net, internet)
    nenkyu, nenji = a.query("年休")[0], a.query("年次休暇")[0]
    assert set(nenkyu.synonyms) & set(nenji.synonyms)
    # group terms are index-only: plain `terms` (news ranking, query words) never carries them
    assert not any(t.startswith("~") for t in a.terms("インターネットで年次休暇"))
    idx = a.index_terms("インターネット")
    assert idx[0] == internet.term and set(idx[1:]) == {*internet.synonyms, "~#いんたーねっと"}  # + its reading
    # sub-tokens carry no groups and are not whole nouns, and a repeated word is one query term
    assert a.query("粗大ごみと粗大ごみ") == [QueryTerm("粗大ごみ", (), "~#そだいごみ", True),
                                         QueryTerm("粗大", (), "~#そだい"), QueryTerm("ごみ")]
    # whole nouns only: not verbs, pronouns or numerals (the words `Index._stand_ins` may stand in for)
    assert [(t.term, t.noun) for t in a.query("何を三つ捨てる服")] == \
        [("何", False), ("3", False), ("捨てる", False), ("服", True)]


def test_bigram_baseline():
    assert BigramAnalyzer().terms("粗大ごみ、ｶﾞｽ") == ["粗大", "大ご", "ごみ", "ガス"]
    assert BigramAnalyzer().terms("a") == ["a"]


def test_normalize_nfkc_and_spaces():
    assert normalize("ｶﾞｽ　 ボンベ\n") == "ガス ボンベ"


def test_one_sudachi_dictionary_per_process():
    # the guard and the search analyser share one dictionary (~70 MB each when they loaded their own)
    from core import sudachi as shared
    from core.guard.pii import sudachi_tokenizer

    sudachi().terms("粗大ごみ")
    assert sudachi_tokenizer() is not None
    assert shared.dictionary.cache_info().misses == 1 and shared.dictionary.cache_info().currsize == 1
