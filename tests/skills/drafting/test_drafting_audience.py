"""Choosing the document type by its audience: a plain 「通知文」 addressed to citizens is an お知らせ（市民向け）;
a notice for staff, or one named 「通知文（庁内）」 outright, stays 通知文（庁内）."""
from __future__ import annotations

import pytest

from skills.drafting.doctypes import for_audience, guess_type, type_from_word


def chosen(text: str) -> str:
    """What /draft <text> picks: the leading type word, refined by the audience (as the handler does)."""
    head, _, _rest = text.partition(" ")
    dt = type_from_word(head)
    return (for_audience(dt, text) if dt else guess_type(text)).label


@pytest.mark.parametrize("text", [
    "通知文 夏季の節電について市民に知らせたい",
    "通知文 住民の皆さまに断水のご案内をしたい",
    "通知文 市民向けに健診の受付開始を案内",
    "通知 住民の方へ、ごみ収集日の変更をお伝えしたい",
])
def test_a_notice_for_citizens_is_an_oshirase(text):
    assert chosen(text) == "お知らせ（市民向け）"


@pytest.mark.parametrize("text", [
    "通知文 情報セキュリティ研修を5月14日に実施します",
    "通知文 各課に市民課の窓口時間の変更を知らせたい",
    "通知文 職員に、市民への対応方法の変更を周知したい",
    "通知文（庁内） 市民に配る冊子の在庫を各課で確認してください",
    "庁内通知 市民向けイベントの応援職員を募集します",
])
def test_a_notice_for_staff_stays_internal(text):
    assert chosen(text) == "通知文（庁内）"


def test_free_text_without_a_type_word():
    assert guess_type("市民に知らせる通知を作りたい").label == "お知らせ（市民向け）"
    assert guess_type("各課長あての通知を作りたい").label == "通知文（庁内）"


async def test_draft_command_for_citizens_opens_the_oshirase_form(sqlite_db, llm):
    from tests.skills.drafting.test_drafting_skill import OPENED, card_text, online, run

    services = online(sqlite_db, llm)
    try:
        port = await run(services, "/draft 通知文 夏季の節電について市民に知らせたい")
        text = card_text(port.cards()[0])
        assert "お知らせ（市民向け）" in text and "通知文（庁内）" not in text
        port = await run(services, "/draft 通知文 情報セキュリティ研修を5月14日に実施します")
        assert "通知文（庁内）" in card_text(port.cards()[0])
    finally:                                 # the clients online() opened, closed on this test's loop
        while OPENED:
            await OPENED.pop().llm.close()
