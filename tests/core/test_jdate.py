"""Japanese dates: eras, western forms, year-less dates read against the document's date, weekdays checked,
deadlines recognised, offsets into the text as given."""
from __future__ import annotations

from datetime import date

import pytest

from core.jdate import dates_in, wareki, with_weekday


@pytest.mark.parametrize("text,value", [
    ("令和7年5月9日", date(2025, 5, 9)),
    ("令和元年5月1日", date(2019, 5, 1)),
    ("平成31年4月30日", date(2019, 4, 30)),
    ("令和 7 年 5 月 9 日", date(2025, 5, 9)),
    ("令和７年５月９日", date(2025, 5, 9)),
    ("R7.5.9", date(2025, 5, 9)),
    ("2025年5月9日", date(2025, 5, 9)),
    ("２０２５年５月９日", date(2025, 5, 9)),
    ("2025/5/9", date(2025, 5, 9)),
    ("2025-05-09", date(2025, 5, 9)),
])
def test_forms(text, value):
    found = dates_in(f"期日は{text}です。")
    assert [(d.value, d.text) for d in found] == [(value, text)]


def test_year_less_dates_take_the_documents_year_and_weekdays_are_checked():
    text = "回答は5月9日（金）までに、修正は５月１２日(月曜日)まで。会議は1月15日（水）に行います。"
    found = dates_in(text, today=date(2025, 4, 1))
    assert [(d.value, d.deadline, d.weekday_ok, d.year_inferred) for d in found] == [
        (date(2025, 5, 9), True, True, True), (date(2025, 5, 12), True, True, True),
        (date(2026, 1, 15), False, False, True)]          # 2026-01-15 is a Thursday: the written 水 is wrong
    assert [text[d.start:d.end] for d in found] == ["5月9日（金）", "５月１２日(月曜日)", "1月15日（水）"]
    assert dates_in("5月9日まで") == []                  # no reference date: a year-less date is left out
    # a 通知 of December asking for 「1月15日まで」 means next January; one of May about 「4月20日」 means this year
    assert dates_in("1月15日まで", today=date(2025, 12, 10))[0].value == date(2026, 1, 15)
    assert dates_in("4月20日に実施した", today=date(2025, 5, 10))[0].value == date(2025, 4, 20)


@pytest.mark.parametrize("text,deadline", [
    ("令和7年5月9日（金）までに提出してください。", True),
    ("令和7年5月9日必着", True),
    ("令和7年5月9日午後5時までに", True),
    ("提出期限：令和7年5月9日", True),
    ("回答期限は令和7年5月9日です。", True),
    ("令和7年5月9日に説明会を開催します。", False),
    ("令和7年4月1日", False),
])
def test_deadlines(text, deadline):
    assert dates_in(text)[0].deadline is deadline


def test_impossible_dates_and_numbers_that_are_not_dates():
    assert dates_in("令和7年2月30日") == []
    assert dates_in("電話06-6489-6186、第123号、1,000円", today=date(2025, 4, 1)) == []


def test_wareki():
    assert wareki(date(2025, 5, 9)) == "令和7年5月9日"
    assert wareki(date(2019, 5, 1)) == "令和元年5月1日"
    assert wareki(date(2019, 4, 30)) == "平成31年4月30日"
    assert with_weekday(date(2025, 5, 9)) == "令和7年5月9日（金）"
