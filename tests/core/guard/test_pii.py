"""Unit tests of detection and masking: check digit, formats, public data, placeholders, restore."""
from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from core.guard.pii import MaskSession, PiiDetector, Span, is_valid_mynumber, mynumber_check_digit
from core.guard.policy import GuardSettings

FW = str.maketrans("0123456789-()@.", "０１２３４５６７８９－（）＠．")


def official_check_digit(first11: str) -> int:
    """The check digit as the 施行令 (第8条) words it, written independently of the product code."""
    digits = [int(c) for c in first11]
    total = 0
    for n in range(1, 12):          # n-th digit counted from the lowest (rightmost) one
        p = digits[-n]
        q = n + 1 if 1 <= n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def make_number(body: str) -> str:
    return body + str(official_check_digit(body))


def spans(text: str, settings: GuardSettings | None = None) -> list[tuple[str, str]]:
    d = PiiDetector(settings or GuardSettings(_env_file=None))
    return [(s.kind, s.text) for s in d.detect(text)]


@pytest.fixture(scope="module")
def detector():
    return PiiDetector(GuardSettings(_env_file=None))


# --- 個人番号 ---------------------------------------------------------------------------------------------------

def test_check_digit_matches_official_algorithm_on_random_numbers():
    rng = random.Random(7)
    for _ in range(2000):
        body = "".join(str(rng.randint(0, 9)) for _ in range(11))
        assert mynumber_check_digit(body) == official_check_digit(body)
        good = make_number(body)
        assert is_valid_mynumber(good)
        for wrong in set("0123456789") - {good[-1]}:
            assert not is_valid_mynumber(good[:-1] + wrong)


def test_check_digit_worked_example():
    # 12345678901, P_n from the right: 1·2+0·3+9·4+8·5+7·6+6·7+5·2+4·3+3·4+2·5+1·6 = 212; 212 mod 11 = 3 → 8
    assert official_check_digit("12345678901") == 8
    assert mynumber_check_digit("12345678901") == 8
    # remainder ≤ 1 gives 0: 00000000010 → P_2 = 1, Q_2 = 3 → 3 → 8; 00000000005 → 5·2 = 10 → 1; 00000000000 → 0
    assert mynumber_check_digit("00000000010") == 8
    assert mynumber_check_digit("00000000005") == 1
    assert mynumber_check_digit("00000000000") == 0
    assert mynumber_check_digit("00000000006") == 0  # 6·2 = 12, remainder 1 → 0


@pytest.mark.parametrize("fmt", ["{a}{b}{c}", "{a} {b} {c}", "{a}-{b}-{c}", "{a}－{b}－{c}"])
def test_mynumber_formats_and_full_width(fmt):
    n = make_number("98765432109")
    value = fmt.format(a=n[:4], b=n[4:8], c=n[8:])
    for v in (value, value.translate(FW)):
        assert spans(f"個人番号は{v}です。") == [("mynumber", v)]


def test_twelve_digit_number_failing_the_check_is_not_a_mynumber():
    n = make_number("12345678901")
    bad = n[:-1] + str((int(n[-1]) + 1) % 10)
    assert spans(f"受付番号{bad}でお預かりしました。") == []
    assert spans(f"金額は{n}円です。") == []  # an amount is not a number to mask, even when it passes
    assert spans(f"番号{n}1を確認") == []      # 13 digits (法人番号 length) is not a 個人番号


# --- phones, mail, postal --------------------------------------------------------------------------------------

@pytest.mark.parametrize("phone", ["06-6489-1234", "06(6489)1234", "(06)6489-1234", "0664891234", "090-1234-5678",
                                   "09012345678", "080 1234 5678", "0120-123-456", "0800-123-4567", "0570-01-2345",
                                   "0798-32-1234", "078（333）1234", "+81-90-1234-5678", "050-1234-5678"])
def test_phone_formats(phone):
    assert spans(f"連絡先は{phone}です。") == [("phone", phone)]
    fw = phone.translate(FW)
    assert spans(f"連絡先は{fw}です。") == [("phone", fw)]


@pytest.mark.parametrize("text", ["1,234,567円", "2026-04-01", "06-6489", "123-45-678", "0001-2345-6789",
                                  "第3期計画", "12時30分〜13時"])
def test_not_phones(text):
    assert [k for k, _ in spans(text) if k == "phone"] == []


def test_email_half_and_full_width():
    assert spans("返信はhanako.s+city@mail.example.co.jpへ") == [("email", "hanako.s+city@mail.example.co.jp")]
    fw = "ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ"
    assert spans(f"メール：{fw}") == [("email", fw)]


def test_postal_marked_bare_and_full_width():
    assert spans("〒661-0012 にお送りください") == [("postal", "661-0012")]
    assert spans("郵便番号 660-0881") == [("postal", "660-0881")]
    assert spans("〒６６０－０８８１") == [("postal", "６６０－０８８１")]
    assert spans("〒6600881") == [("postal", "6600881")]


# --- addresses, birth dates, names -----------------------------------------------------------------------------

@pytest.mark.parametrize("addr", ["兵庫県尼崎市南塚口町2丁目3番4号", "尼崎市武庫之荘3丁目5-8", "尼崎市潮江1-2-3",
                                  "南塚口町2丁目3番4号", "尼崎市常光寺6丁目35番地の23",
                                  "尼崎市南七松町1-2-3-405", "尼崎市塚口本町1丁目8番6号 サンハイツ塚口201号室",
                                  "大阪府大阪市淀川区西中島5丁目1番1号", "尼崎市昭和通２丁目７－１６"])
def test_addresses(addr):
    assert spans(f"住所：{addr}") == [("address", addr)]


def test_not_addresses():
    for text in ("地方自治法第2条第3号の規定", "尼崎市内で3か所", "3丁目から5丁目までの区域", "尼崎市役所の窓口"):
        assert spans(text) == [], text


@pytest.mark.parametrize("text,date", [
    ("昭和50年3月1日生まれ", "昭和50年3月1日"), ("（R2.5.7生）", "R2.5.7"), ("生年月日：平成元年12月24日", "平成元年12月24日"),
    ("生年月日 1980/04/05", "1980/04/05"), ("S48.11.3生", "S48.11.3"), ("昭和四十五年五月五日生", "昭和四十五年五月五日"),
    ("令和元年5月1日に出生", "令和元年5月1日"), ("誕生日は1990年7月14日です", "1990年7月14日")])
def test_birth_dates_with_context(text, date):
    assert spans(text) == [("birthdate", date)]


@pytest.mark.parametrize("text", ["2026年4月1日から制度が変わります。", "令和7年6月30日までに提出", "R7.4.1付けで異動",
                                  "平成25年4月1日施行の条例", "2025/10/01時点の人口"])
def test_dates_that_are_not_birth_dates(text):
    assert spans(text) == []


@pytest.mark.parametrize("text,name", [
    ("山田太郎様から電話", "山田太郎"), ("佐々木 陽葵さん", "佐々木 陽葵"), ("高橋蒼空くんの件", "高橋蒼空"),
    ("窓口で岡本様が", "岡本"), ("田中課長に確認", "田中"), ("氏名：小林 由美子", "小林 由美子"),
    ("担当の鈴木です。", "鈴木"), ("マリア・サントス様より", "マリア・サントス"), ("ゴンザレスさんが来庁", "ゴンザレス")])
def test_names(text, name):
    assert spans(text) == [("name", name)]


@pytest.mark.parametrize("text", ["市民の皆様へ", "お客様各位", "担当者様", "お母さんと来庁", "塚口さんさんタウン",
                                  "立花駅の駐輪場", "園田競馬場", "尼崎の魅力", "西宮市長と協議", "様式第3号"])
def test_not_names(text):
    assert spans(text) == []


def test_furigana_after_name_is_a_name_too():
    assert spans("氏名：山田太郎（ヤマダ タロウ）") == [("name", "山田太郎"), ("name", "ヤマダ タロウ")]


def test_regex_only_baseline_still_finds_honorific_names():
    d = PiiDetector(GuardSettings(_env_file=None), use_analyser=False)
    assert [(s.kind, s.text) for s in d.detect("山田太郎様と皆様")] == [("name", "山田太郎")]


# --- public office data and custom patterns --------------------------------------------------------------------

def test_city_hall_address_and_switchboard_pass():
    text = "〒660-8501 兵庫県尼崎市東七松町1丁目23番1号 尼崎市役所（代表 06-6375-5639）"
    assert spans(text) == []
    assert spans("東七松町1丁目23番1号の本庁舎") == []
    assert spans("市役所（06(6375)5639）") == []
    # a neighbour's address on the same street is not public
    assert spans("尼崎市東七松町1丁目23番2号") == [("address", "尼崎市東七松町1丁目23番2号")]


def test_public_lists_are_configurable():
    s = GuardSettings(_env_file=None, GUARD_PUBLIC_PHONES="06-6489-0000,0120-000-111",
                      GUARD_PUBLIC_ADDRESSES="兵庫県尼崎市昭和通2丁目7番16号")
    assert spans("代表06-6489-0000、案内0120-000-111", s) == []
    assert spans("尼崎市昭和通2-7-16", s) == []
    assert spans("代表06-6375-5639", s) == [("phone", "06-6375-5639")]  # the default is replaced


def test_custom_patterns_default_and_configured():
    assert spans("宛名番号：12345678 の世帯") == [("custom", "12345678")]
    s = GuardSettings(_env_file=None, GUARD_CUSTOM_PATTERNS='[{"label": "受給者番号", "regex": "受給者番号\\\\d{7}"}]')
    d = PiiDetector(s)
    found = d.detect("受給者番号1234567 です")
    assert [(x.kind, x.text, x.label) for x in found] == [("custom", "受給者番号1234567", "受給者番号")]
    session = MaskSession(d)
    assert session.mask("受給者番号1234567 です") == "［受給者番号1］ です"
    assert session.summary_ja() == "受給者番号1件を伏せて送信しました"


@pytest.mark.parametrize("bad", ["not json", '{"label": "x"}', '[{"label": "x"}]', '[{"label": "x", "regex": "("}]'])
def test_bad_custom_patterns_are_refused_at_startup(bad):
    with pytest.raises(ValidationError, match="GUARD_CUSTOM_PATTERNS"):
        GuardSettings(_env_file=None, GUARD_CUSTOM_PATTERNS=bad)


# --- masking session -------------------------------------------------------------------------------------------

def test_stable_placeholders_across_messages_and_formats(detector):
    s = MaskSession(detector)
    a = s.mask("山田太郎様（090-1234-5678）から電話。")
    b = s.mask("山田太郎様の携帯は０９０－１２３４－５６７８、佐藤花子さんは06(6489)1234です。")
    assert a == "［氏名1］様（［電話1］）から電話。"
    assert b == "［氏名1］様の携帯は［電話1］、［氏名2］さんは［電話2］です。"
    assert s.counts == {"phone": 2, "name": 2}
    assert s.has("name") and s.has("phone") and not s.has("mynumber")
    assert s.summary_ja() == "電話番号2件・氏名2件を伏せて送信しました"


def test_restore_full_and_half_width_placeholders(detector):
    s = MaskSession(detector)
    masked = s.mask("氏名：小林 由美子、メール：yumiko@example.jp")
    assert "小林" not in masked and "yumiko" not in masked
    answer = "［氏名1］様へ。[氏名1]様のご連絡先 [メール1] に送ります。［氏名１］様。不明な［氏名9］はそのまま。"
    assert s.restore(answer) == ("小林 由美子様へ。小林 由美子様のご連絡先 yumiko@example.jp に送ります。"
                                 "小林 由美子様。不明な［氏名9］はそのまま。")


def test_restore_gives_back_the_original_spelling(detector):
    s = MaskSession(detector)
    n = make_number("12345678901")
    text = f"個人番号 {n[:4]}－{n[4:8]}－{n[8:]}".translate(FW)
    masked = s.mask(text)
    assert masked == "個人番号 ［個人番号1］"
    assert s.restore(masked) == text


def test_empty_session(detector):
    s = MaskSession(detector)
    assert s.mask("") == ""
    assert s.mask("会議は午後2時からです。") == "会議は午後2時からです。"
    assert s.counts == {} and s.summary_ja() == "" and s.restore("[氏名1]") == "[氏名1]"


def test_spans_are_sorted_and_disjoint(detector):
    text = "〒661-0012 尼崎市南塚口町2丁目3番4号 山田太郎様 06-6489-1234 yamada@example.jp 昭和50年3月1日生"
    found = detector.detect(text)
    assert [s.kind for s in found] == ["postal", "address", "name", "phone", "email", "birthdate"]
    for a, b in zip(found, found[1:]):
        assert a.end <= b.start
    assert all(isinstance(s, Span) and text[s.start:s.end] == s.text for s in found)


async def test_detection_in_a_worker_thread_uses_its_own_tokenizer():
    import asyncio

    from core.guard.pii import sudachi_tokenizer

    d = PiiDetector(GuardSettings(_env_file=None))
    here = sudachi_tokenizer()
    there, found = await asyncio.to_thread(lambda: (sudachi_tokenizer(), d.detect("山田太郎様")))
    assert here is not None and there is not None and here is not there
    assert [(s.kind, s.text) for s in found] == [("name", "山田太郎")]
    assert sudachi_tokenizer() is here  # cached per thread


def test_very_long_input_is_cut_for_the_analyser():
    d = PiiDetector(GuardSettings(_env_file=None))
    text = "窓口で受け付けました。" * 6000 + "佐藤花子さん"  # ≈ 200 kB of UTF-8, over SudachiPy's input limit
    found = d.detect(text)
    assert [(s.kind, s.text) for s in found] == [("name", "佐藤花子")]


def test_check_digit_worked_example_from_the_ministerial_ordinance():
    """総務省令第85号 第5条 worked by hand for 12345678901: Σ P_n·Q_n = 212, 212 mod 11 = 3, 11 - 3 = 8."""
    from core.guard.pii import is_valid_mynumber, mynumber_check_digit

    assert mynumber_check_digit("12345678901") == 8
    assert is_valid_mynumber("1234 5678 9018") and is_valid_mynumber("１２３４５６７８９０１８")
    assert not is_valid_mynumber("123456789011")      # what Q_n = n - 6 (a misreading) would accept
