"""Approved answers (#15): a staff answer (kintone or the Teams channel) becomes an approved pair; a close, reworded
question is answered from it with no LLM request; expired (by the clock or from the card) it is no longer used;
the set's writers list, edit, expire and delete pairs from Teams and import them from CSV; other staff are refused;
no pair of a set the asker cannot read is ever used."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from core import router
from core.knowledge.approved import ApprovedAnswers, NewApproved, overlap, read_csv
from core.knowledge.models import ApprovedAnswer
from core.services import Clock
from core.skills import FileAttachment
from core.store.models import UsageEvent
from skills.qa import strings as S
from skills.qa.escalation import poll_kintone
from skills.qa.models import QAQuestion
from tests.harness import RecorderPort, card_nodes, make_request
from tests.skills.qa.conftest import OTHER_AAD, USER_AAD, assert_valid_card, build, seed
from tests.skills.qa.test_escalation import STAFF_CHANNEL, UNKNOWN_Q, ask_unknown, escalate, remember_personal_chat

REWORDED = "庁舎の駐車場を利用できますか"          # UNKNOWN_Q (庁舎の駐車場は使えますか) in other words
PARKING = "来庁者用駐車場は職員は利用できません。職員は公共交通機関で通勤してください。"
WRITER = dict(user_id="29:user-2", aad_object_id=OTHER_AAD, user_name="総務 次郎")   # owner of the set soumu


class MovableClock(Clock):
    def __init__(self) -> None:
        self.shift = timedelta()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.shift


def text_of(sent) -> str:
    return (sent.text or "") + json.dumps(sent.card, ensure_ascii=False) if sent.card else (sent.text or "")


def actions(card: dict) -> list[dict]:
    return card_nodes(card, lambda node: node.get("type") == "Action.Execute")


def button(card: dict, title: str, n: int = 0) -> dict:
    found = [a for a in actions(card) if a["title"] == title]
    assert len(found) > n, [a["title"] for a in actions(card)]
    return {k: v for k, v in found[n]["data"].items() if k != "verb"} | {"verb": found[n]["verb"]}


async def press(services, data: dict, **who) -> RecorderPort:
    data = dict(data)
    verb = data.pop("verb")
    port = RecorderPort()
    await router.dispatch(make_request(verb=verb, data=data, is_invoke=True, **who), port, services)
    return port


async def ask(services, question: str, **who) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(f"/ask {question}", **who), port, services)
    return port


async def pairs(services) -> list[ApprovedAnswer]:
    async with services.db.session() as s:
        return list(await s.scalars(select(ApprovedAnswer).order_by(ApprovedAnswer.id)))


def approved_sent(port: RecorderPort) -> bool:
    return any("職員が承認した回答" in json.dumps(c, ensure_ascii=False) for c in port.cards())


def test_word_overlap_is_strict_both_ways():
    assert overlap(UNKNOWN_Q, REWORDED) == 1.0                       # 使う / 利用 share a synonym group
    assert overlap("年次休暇は何日ありますか", "年休は何日ありますか") == 1.0      # 年休 = 年次休暇
    assert overlap("出張旅費の精算の期限は？", "出張旅費の精算期限を教えてください") == 1.0   # a compound's parts
    assert overlap("年次休暇は何日ありますか", "夏季休暇は何日ありますか") < 0.75
    assert overlap(UNKNOWN_Q, "駐車場の料金はいくらですか") < 0.75
    assert overlap("駐車場", "駐車場の夜間の料金と支払い方法") < 0.75        # a short pair is no answer to a longer question


async def test_kintone_answer_is_approved_and_answers_a_reworded_question_until_it_expires(db, kintone, llm,
                                                                                         card_validator):
    services = build(db, kintone=kintone, llm=llm, QA_APPROVED_DAYS=30)
    clock = services.clock = MovableClock()
    await seed(services)
    await remember_personal_chat(services)
    qid = await ask_unknown(services)
    llm.requests.clear()
    await escalate(services, qid)
    kintone.records[1]["ナレッジセット"] = "soumu"
    kintone.answer("1", PARKING)
    assert await poll_kintone(services) == 1

    [pair] = await pairs(services)
    assert (pair.set_name, pair.question, pair.answer, pair.source) == ("soumu", UNKNOWN_Q, PARKING, "kintone")
    assert pair.source_ref == f"q:{qid}/kintone:1" and pair.owner_name == "kintone（受付番号: 1）"
    assert pair.revoked_at is None
    assert timedelta(days=29) < pair.expires_at - clock.now() <= timedelta(days=30)

    # another member of staff asks the same thing in other words: the approved answer, no LLM request
    port = await ask(services, REWORDED, user_id="29:user-3")
    assert approved_sent(port) and not port.last().ai_generated and port.last().feedback
    shown = text_of(port.last())
    assert PARKING in shown and "kintone（受付番号: 1）" in shown and "soumu" in shown and "有効期限" in shown
    assert_valid_card(card_validator, port.last().card)
    assert llm.chat_requests() == []
    async with services.db.session() as s:
        row = await s.scalar(select(QAQuestion).where(QAQuestion.user_id == "29:user-3"))
        outcomes = list(await s.scalars(select(UsageEvent.outcome).where(UsageEvent.user_id == "29:user-3")))
    assert (row.status, row.target_set, row.answer) == ("approved", "soumu", PARKING)
    assert outcomes == ["approved"]
    # the asker may still hand it to staff
    assert actions(port.last().card)[0]["verb"] == "qa.escalate"

    # past its expiry it is no longer used: the normal /ask path runs (retrieval and the model)
    clock.shift = timedelta(days=31)
    port = await ask(services, REWORDED, user_id="29:user-3")
    assert not approved_sent(port)
    assert len(llm.chat_requests()) == 1


async def test_expired_from_the_card_and_edited_back(db, llm):
    services = build(db, llm=llm)
    await seed(services)
    st = ApprovedAnswers(services.db)
    now = services.clock.now()
    await st.add(NewApproved("soumu", UNKNOWN_Q, PARKING, "csv", now + timedelta(days=10), "総務 次郎", OTHER_AAD),
                 now=now)
    assert approved_sent(await ask(services, REWORDED))

    listing = await ask(services, "承認済み", **WRITER)
    card = listing.last().card
    assert UNKNOWN_Q in json.dumps(card, ensure_ascii=False)
    done = await press(services, button(card, "失効"), **WRITER)
    assert done.last().kind == "refresh" and S.APPROVED_EXPIRED in text_of(done.last())
    assert "失効済み" in text_of(done.last())
    assert not approved_sent(await ask(services, REWORDED))

    # editing it (new wording, no date: the default period) approves it again
    form = await press(services, button(done.last().card, "編集"), **WRITER)
    assert form.last().kind == "refresh"
    inputs = {b["id"]: b.get("value", "") for b in form.last().card["body"] if str(b.get("type", "")).startswith("Input.")}
    assert inputs["question"] == UNKNOWN_Q and inputs["answer"] == PARKING
    save = button(form.last().card, "保存する") | {"question": UNKNOWN_Q, "answer": "職員は利用できません。", "expires": ""}
    saved = await press(services, save, **WRITER)
    assert "承認済みの回答を保存しました" in text_of(saved.last())
    port = await ask(services, REWORDED)
    assert approved_sent(port) and "職員は利用できません。" in text_of(port.last())


async def test_teams_fallback_answer_approves_and_the_writer_manages_it(db, card_validator):
    services = build(db, QA_FALLBACK_CHANNELS={"soumu": STAFF_CHANNEL})
    await seed(services)
    await remember_personal_chat(services)
    port = RecorderPort()
    await router.dispatch(make_request("/ask 夏季休暇と年次休暇は合わせて何日取れますか"), port, services)
    qid = port.last().card["actions"][0]["data"]["q"]
    await escalate(services, qid)
    staff = dict(user_id="29:staff-1", user_name="総務 花子", aad_object_id="00000000-0000-0000-0000-0000000000cc",
                 conversation_type="channel", conversation_id=STAFF_CHANNEL + ";messageid=77")
    answer = "年次休暇20日のほか、夏季休暇を5日以内で取得できます。"
    await press(services, {"verb": "qa.staff_answer", "q": qid, "answer": answer}, **staff)
    [pair] = await pairs(services)
    assert (pair.source, pair.owner_name, pair.owner_id, pair.source_ref) == \
        ("teams", "総務 花子", "00000000-0000-0000-0000-0000000000cc", f"q:{qid}")
    assert approved_sent(await ask(services, "年次休暇と夏季休暇は合わせて何日取れますか", user_id="29:user-9"))

    # staff who may not write to the set: refused, from the command and from the buttons
    refused = await ask(services, "承認済み soumu")
    assert refused.last().text == S.APPROVED_NOT_ALLOWED.format(set="soumu")
    assert (await ask(services, "承認済み")).last().text == S.APPROVED_NO_SETS
    listing = await ask(services, "承認済み soumu", **WRITER)
    card = listing.last().card
    assert_valid_card(card_validator, card)
    for title in ("編集", "失効", "削除"):
        port = await press(services, button(card, title))
        assert S.APPROVED_NOT_ALLOWED.format(set="soumu") in text_of(port.last())
    assert (await pairs(services))[0].revoked_at is None

    # delete: asked first, then the pair and its staff-written document are gone
    confirm = await press(services, button(card, "削除"), **WRITER)
    assert_valid_card(card_validator, confirm.last().card)
    assert await pairs(services)
    gone = await press(services, button(confirm.last().card, "削除する"), **WRITER)
    assert S.APPROVED_DELETED in text_of(gone.last()) and await pairs(services) == []
    assert f"qa-{qid}" not in await services.knowledge.list_documents("soumu")
    again = await press(services, button(confirm.last().card, "削除する"), **WRITER)
    assert S.APPROVED_GONE in text_of(again.last())


async def test_edit_checks_its_inputs_and_the_list_pages(db):
    services = build(db, QA_ADMIN_IDS=USER_AAD)        # a QA administrator manages every set
    await seed(services)
    st = ApprovedAnswers(services.db)
    now = services.clock.now()
    for i in range(10):
        await st.add(NewApproved("kankyo", f"資源ごみの回収日{i}はいつですか", f"回答{i}", "csv",
                                 now + timedelta(days=5)), now=now)
    listing = await ask(services, "承認済み kankyo")
    card = listing.last().card
    assert "10件" in text_of(listing.last()) and "（1/2ページ）" in text_of(listing.last())
    assert len([a for a in actions(card) if a["title"] == "削除"]) == 8
    page2 = await press(services, button(card, "次へ"))
    assert len([a for a in actions(page2.last().card) if a["title"] == "削除"]) == 2
    assert "前へ" in [a["title"] for a in actions(page2.last().card)]

    form = await press(services, button(card, "編集"))
    save = button(form.last().card, "保存する")
    bad = await press(services, save | {"question": "", "answer": "x", "expires": ""})
    assert S.APPROVED_EMPTY in text_of(bad.last())
    past = await press(services, save | {"question": "q", "answer": "a", "expires": "2000-01-01"})
    assert S.APPROVED_PAST_DATE in text_of(past.last())
    nonsense = await press(services, save | {"question": "q", "answer": "a", "expires": "明日"})
    assert S.APPROVED_BAD_DATE in text_of(nonsense.last())
    ok = await press(services, save | {"question": "資源ごみの回収日はいつですか", "answer": "毎週水曜日です。",
                                       "expires": "2099-03-31"})
    assert S.APPROVED_SAVED.format(expires="2099年03月31日まで") in text_of(ok.last())


def csv_file(text: str, *, encoding: str = "utf-8", name: str = "faq.csv") -> FileAttachment:
    return FileAttachment(name=name, content_type="text/csv", content=text.encode(encoding))


async def send_csv(services, attachment: FileAttachment, words: str = "承認済み soumu", **who) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(words, attachments=[attachment], **(who or WRITER)), port, services)
    return port


async def test_csv_import_all_or_nothing(db):
    services = build(db)
    await seed(services)
    bad = "質問,回答,有効期限\n庁舎の駐車場は使えますか,職員は利用できません。,2099-12-31\n回答のない質問,\n" \
          "有効期限の誤り,回答,来年\n"
    port = await send_csv(services, csv_file(bad))
    report = port.last().text
    assert report.startswith(S.APPROVED_CSV_FAILED)
    assert "3行目: 回答が空欄です。" in report and "4行目: 有効期限「来年」を日付として読み取れません" in report
    assert await pairs(services) == []                                  # nothing half-imported

    good = "庁舎の駐車場は使えますか,職員は利用できません。,2099/12/31\n粗大ごみの出し方は？,事前の申込みが必要です。\n"
    port = await send_csv(services, csv_file(good, encoding="cp932"))        # Shift_JIS, no header row
    assert port.last().text == S.APPROVED_CSV_DONE.format(set="soumu", n=2)
    rows = await pairs(services)
    assert [(r.question, r.source, r.owner_id, r.source_ref) for r in rows] == [
        ("庁舎の駐車場は使えますか", "csv", OTHER_AAD, "faq.csv:1"), ("粗大ごみの出し方は？", "csv", OTHER_AAD, "faq.csv:2")]
    assert rows[0].expires_at == datetime(2100, 1, 1, tzinfo=timezone(timedelta(hours=9)))
    assert approved_sent(await ask(services, REWORDED))

    # without the words (data analysis takes a CSV too: the router asks what it is for), to a set the sender may
    # not write to, or from a non-writer: nothing imported
    assert "ファイルの用途を続けて入力してください" in (await send_csv(services, csv_file(good), words="")).last().text
    assert (await send_csv(services, csv_file(good), words="登録")).last().text == S.APPROVED_CSV_WORDS
    port = await send_csv(services, csv_file(good), words="承認済み soumu", user_id="29:user-1",
                          aad_object_id=USER_AAD)
    assert port.last().text == S.APPROVED_NOT_ALLOWED.format(set="soumu")
    assert len(await pairs(services)) == 2


def test_read_csv_reports_in_japanese():
    from datetime import date

    rows, errors = read_csv(b"\x81\x20", today=date(2026, 1, 1))
    assert errors and "文字コード" in errors[0] and not rows
    rows, errors = read_csv("a,b,2025-12-31\nq,a,x,y\n".encode(), today=date(2026, 1, 1))
    assert errors == ["1行目: 有効期限（2025-12-31）が既に過ぎています。",
                      "2行目: 列が多すぎます（質問,回答,有効期限 の3列までです）。"]
    assert read_csv(b"", today=date(2026, 1, 1))[1][0].startswith("取り込む行がありません")


async def test_no_approved_answer_from_a_set_the_asker_cannot_read(db):
    services = build(db)
    await seed(services)
    now = services.clock.now()
    await ApprovedAnswers(services.db).add(
        NewApproved("himitsu", "人事異動の内示はいつですか", "3月15日です（人事課限定）。", "csv", now + timedelta(days=5)),
        now=now)
    port = await ask(services, "人事異動の内示はいつですか")                  # the default user cannot read himitsu
    assert not approved_sent(port) and "3月15日です（人事課限定）" not in json.dumps([s.__dict__ for s in port.sent],
                                                                         ensure_ascii=False, default=str)
    port = await ask(services, "人事異動の内示はいつですか", **WRITER)       # a member of himitsu can
    assert approved_sent(port)
