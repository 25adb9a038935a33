from core.search.text import BigramAnalyzer, SudachiAnalyzer, normalize, query_terms, sudachi


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
    assert query_terms("粗大ゴミ") == tuple(sudachi().terms("粗大ゴミ"))
    assert query_terms("粗大ゴミ") is query_terms("粗大ゴミ")


def test_bigram_baseline():
    assert BigramAnalyzer().terms("粗大ごみ、ｶﾞｽ") == ["粗大", "大ご", "ごみ", "ガス"]
    assert BigramAnalyzer().terms("a") == ["a"]


def test_normalize_nfkc_and_spaces():
    assert normalize("ｶﾞｽ　 ボンベ\n") == "ガス ボンベ"
