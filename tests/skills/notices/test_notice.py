"""/notice: a two-page 通知 PDF (made with reportlab) sent in chat is read by the sandboxed extractor into a card —
要旨, 対応事項 with 期限 (令和 and 「○月○日（○）までに」 forms), the sections concerned (core.sections), the laws
linked through the e-Gov stand-in, the two attachments — and a deadline becomes an Outlook event with a reminder
through the real msgraph-sdk against the Graph stand-in over HTTP. Offline the card says it is extractive; with a
model the 要旨 is the model's, labelled, and a 期限 the text does not contain is dropped."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from cards import notices as cards
from core import router
from core.graph import GraphService
from core.skills import FileAttachment
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.notices.documents import notice_pdf
from tests.standins.graph import FixedCredential, GraphStandIn
from tests.standins.law import LawStandIn

AAD = "00000000-0000-0000-0000-0000000000aa"


def shown(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


def texts(card: dict) -> list[str]:
    return [n["text"] for n in card_nodes(card, lambda n: n.get("type") == "TextBlock")]


@pytest.fixture
async def egov(monkeypatch):
    law = await LawStandIn().start()
    monkeypatch.setenv("EGOV_LAW_API_BASE", law.base_url)
    yield law
    for services in OPENED:
        await services.law.close()
    OPENED.clear()
    await law.stop()


OPENED: list = []


def services_on(db, **kw):
    services = make_services(db, **kw)
    OPENED.append(services)
    services.clock.now = lambda: datetime(2025, 4, 3, 0, 0, tzinfo=timezone.utc)     # the 通知 arrived 4月3日
    return services


async def send_pdf(services, words: str = "この通知を読んで対応事項を教えてください") -> RecorderPort:
    port = RecorderPort()
    att = FileAttachment(name="オンライン化の推進について.pdf", content_type="application/pdf", content=notice_pdf())
    await router.dispatch(make_request(words, attachments=[att]), port, services)
    return port


async def test_a_notice_pdf_is_read_into_a_card_offline(sqlite_db, egov):
    services = services_on(sqlite_db)
    port = await send_pdf(services)
    card = port.cards()[0]
    lines = texts(card)
    assert port.last().ai_generated is False
    assert "【抜粋】要旨と対応事項は本文から抜き出したものです（AIは使用していません）。" in lines
    assert lines[0] == "地方公共団体における行政手続のオンライン化の推進について（通知）"
    facts = {f["title"]: f["value"] for f in card_nodes(card, lambda n: "title" in n and "value" in n)}
    assert facts["発信者"] == "総務省自治行政局長" and facts["文書番号"] == "総行政第１２３号"
    assert facts["日付"] == "令和7年4月1日（火）"
    # 要旨: three lines; 対応事項 with their 期限, the year-less 「５月９日（金）までに」 read against the 通知's date
    at = lines.index("要旨")
    assert len(lines[at + 1:lines.index("対応事項")]) == 3
    assert lines.count("期限：令和7年5月9日（金）まで") == 2 and "期限：令和7年4月25日（金）まで" in lines
    assert any("周知いただくようお願いします" in t for t in lines)
    # sections concerned, from the section profiles' words
    assert any(t.startswith("DX推進課（") for t in lines)
    # laws: linked where e-Gov knows the article, named where it does not
    links = {a["title"]: a["url"] for a in card_nodes(card, lambda n: n.get("type") == "Action.OpenUrl")}
    assert any(t.startswith("e-Gov：個人情報の保護に関する法律第69条") for t in links)
    assert any("https://laws.e-gov.go.jp/law/415AC0000000057" in u for u in links.values())
    assert "情報通信技術を活用した行政の推進等に関する法律第3条（e-Govで確認できませんでした）" in lines
    # attachments
    assert "別添1　行政手続オンライン化ガイドライン" in lines and "別添2　取組状況調査票" in lines
    # no Graph: no reminder buttons
    assert not card_nodes(card, lambda n: n.get("verb") == cards.NOTICE_REMIND_VERB)


async def test_a_deadline_becomes_an_outlook_event_with_a_reminder(sqlite_db, egov):
    graph = await GraphStandIn().start()
    services = services_on(sqlite_db)
    services.graph = GraphService(FixedCredential(), graph.base_url)
    try:
        card = (await send_pdf(services)).cards()[0]
        buttons = card_nodes(card, lambda n: n.get("type") == "Action.Execute"
                             and n.get("verb") == cards.NOTICE_REMIND_VERB)
        assert [b["title"] for b in buttons] == ["令和7年4月25日（金）の期限を予定表に登録",
                                                 "令和7年5月9日（金）の期限を予定表に登録"]
        data = {k: v for k, v in buttons[1]["data"].items() if k != "verb"}
        port = RecorderPort()
        await router.dispatch(make_request(verb=cards.NOTICE_REMIND_VERB, data=data), port, services)
        assert port.texts() == ["Outlookの予定表に令和7年5月9日（金）の期限を登録しました（リマインダー：令和7年5月6日（火））。"]
        sent = [r for r in graph.requests if r["path"] == f"/v1.0/users/{AAD}/events"]
        assert len(sent) == 1 and sent[0]["auth"] == "Bearer test-token"
        body = sent[0]["body"]
        assert body["subject"] == "【期限】地方公共団体における行政手続のオンライン化の推進について（通知）"
        assert body["isAllDay"] is True and body["isReminderOn"] is True
        assert body["reminderMinutesBeforeStart"] == 3 * 24 * 60
        assert body["start"] == {"dateTime": "2025-05-09T00:00:00", "timeZone": "Tokyo Standard Time"}
        assert body["end"]["dateTime"] == "2025-05-10T00:00:00"
        assert "提出期限" in body["body"]["content"] and body["body"]["contentType"].lower() == "html"
        # pressed again: nothing twice
        again = RecorderPort()
        await router.dispatch(make_request(verb=cards.NOTICE_REMIND_VERB, data=data), again, services)
        assert "すでに予定表に登録しています" in again.texts()[0] and len(graph.events) == 1
        # Graph refusing: a Japanese line, nothing lost
        graph.fail_event_status = 403
        other = {**data, "due": "2025-04-25"}
        failed = RecorderPort()
        await router.dispatch(make_request(verb=cards.NOTICE_REMIND_VERB, data=other), failed, services)
        assert failed.texts() == ["予定表に登録できませんでした。時間をおいて、もう一度お試しください。"]
        # a date that is not one of the 通知's deadlines is refused
        forged = RecorderPort()
        await router.dispatch(make_request(verb=cards.NOTICE_REMIND_VERB, data={**data, "due": "2030-01-01"}),
                              forged, services)
        assert "見つかりませんでした" in forged.texts()[0]
    finally:
        await services.graph.close()
        await graph.stop()


async def test_with_a_model_the_summary_is_the_models_and_invented_deadlines_are_dropped(sqlite_db, egov, llm):
    services = services_on(sqlite_db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    llm.script = [{"text": json.dumps({
        "summary": ["行政手続のオンライン化の推進を求める総務省の通知。", "法律に基づく努力義務の確認。", "取組状況の回答が必要。"],
        "actions": [{"text": "取組状況を調査票で回答する", "due": "2025-05-09"},
                    {"text": "市区町村に周知する", "due": "2025-06-30"}]}, ensure_ascii=False)}]
    try:
        port = await send_pdf(services)
    finally:
        await services.llm.close()
    card = port.cards()[0]
    lines = texts(card)
    assert port.last().ai_generated is True
    assert "【AIによる要約】要旨と対応事項はAIが作成しました。期限は本文にあるものだけを示しています。" in lines
    assert "行政手続のオンライン化の推進を求める総務省の通知。" in lines
    assert "・取組状況を調査票で回答する" in lines and "期限：令和7年5月9日（金）まで" in lines
    assert "・市区町村に周知する" in lines and "期限：令和7年6月30日（月）まで" not in lines      # not in the text
    assert "総務省自治行政局長" in shown(card)                     # the head is still read by code
    prompt = llm.chat_requests()[0]["messages"][1]["content"]
    assert "令和7年5月9日（金）までに回答してください" in prompt


async def test_bad_input_gets_a_japanese_line(sqlite_db):
    services = services_on(sqlite_db)
    port = RecorderPort()
    await router.dispatch(make_request("/notice"), port, services)
    assert "通知のPDFまたはWordファイル" in port.texts()[0]
    empty = FileAttachment(name="通知.pdf", content_type="application/pdf", content=notice_pdf([[]]))
    port = RecorderPort()
    await router.dispatch(make_request("通知を読んで", attachments=[empty]), port, services)
    assert "文字を取り出せませんでした" in port.texts()[-1]
    broken = FileAttachment(name="通知.pdf", content_type="application/pdf", content=b"PK\x03\x04not a pdf")
    port = RecorderPort()
    await router.dispatch(make_request("通知を読んで", attachments=[broken]), port, services)
    assert "中身はZIP形式の圧縮ファイルのようです" in port.texts()[-1]       # the extractor's own line
    port = RecorderPort()
    await router.dispatch(make_request(verb=cards.NOTICE_REMIND_VERB, data={"reading_id": 99, "due": "2025-05-09"}),
                          port, services)
    assert "見つかりませんでした" in port.texts()[0]


def test_pasted_text_is_read_the_same_way():
    from skills.notices.notice import read

    r = read("令和7年6月2日\n各課長 様\n総務局長\n\n研修の実施について（依頼）\n\n研修を実施しますので、6月20日（金）までに"
             "参加者を報告してください。\n（別紙）参加申込書", today=date(2025, 6, 3))
    assert r.title == "研修の実施について（依頼）" and r.issuer == "総務局長"
    assert [(a.due, a.due_text) for a in r.actions] == [("2025-06-20", "令和7年6月20日（金）まで")]
    assert r.attachments == [("別紙", "参加申込書")]
