"""A question the public pages cannot answer: the 窓口 named, a kintone record tagged 市民 (kintone stand-in over
HTTP), the staff answer brought back as an approved answer of the public set, which the next resident gets; the
/kpi counts of residents' questions; the transcript's retention."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import jsonschema
from sqlalchemy import select

from cards.kpi import kpi_card
from core.knowledge.approved import ApprovedAnswers
from core.store.models import UsageEvent
from skills.citizen import strings as S
from skills.citizen.handler import purge_transcripts
from skills.citizen.jobs import poll_handoffs
from skills.citizen.models import CitizenTranscript
from skills.kpi.report import build_report
from skills.kpi.settings import KpiSettings
from tests.harness import card_nodes, running_bot
from tests.skills.citizen.conftest import PUBLIC_SET, ask, build, close, seed
from tests.skills.kpi.test_cards import assert_valid
from tests.standins.connector import ConnectorStandIn

UNKNOWN = "犬の登録はどこでできますか"
STAFF_ANSWER = "犬の登録は、生活衛生課の窓口で受け付けています。登録手数料は3,000円です。"


async def test_unanswerable_question_goes_to_kintone_and_the_staff_answer_serves_the_next_resident(db, kintone,
                                                                                                   testdata):
    services = build(db, kintone=kintone)
    await seed(services)
    connector = await ConnectorStandIn().start()
    try:
        async with running_bot(services) as url:
            first = await ask(url, connector, UNKNOWN)
            assert first["text"].startswith(S.NOT_FOUND["ja"].format(section="尼崎市役所 代表", phone="06-6375-5639"))
            assert S.HANDED_OFF["ja"] in first["text"]
            record = kintone.records[1]
            assert record["質問"] == "【市民】" + UNKNOWN
            assert record["質問者"] == "市民（ウェブチャット）"
            assert record["ナレッジセット"] == PUBLIC_SET
            # the same question again while staff have not answered: no second record
            again = await ask(url, connector, UNKNOWN, conversation="dl-conv-2", user="dl_resident-2")
            assert S.HANDED_OFF["ja"] in again["text"] and len(kintone.records) == 1
            assert await poll_handoffs(services) == 0                      # not answered yet

            kintone.answer("1", STAFF_ANSWER)
            assert await poll_handoffs(services) == 1
            assert await poll_handoffs(services) == 0                      # filed once

            later = await ask(url, connector, "犬の登録はどこでできますか？", conversation="dl-conv-3",
                              user="dl_resident-3")
    finally:
        await connector.stop()
        await close(services)
    assert later["text"].startswith("市の職員が回答した内容です（")
    assert STAFF_ANSWER in later["text"]
    assert "お問い合わせ: 尼崎市役所 代表（電話: 06-6375-5639）" in later["text"]
    approved, total = await ApprovedAnswers(services.db).page([PUBLIC_SET])
    assert total == 1 and approved[0].question == UNKNOWN and approved[0].answer == STAFF_ANSWER
    assert approved[0].source == "kintone" and approved[0].source_ref == "citizen:1/kintone:1"
    async with services.db.session() as s:
        rows = list(await s.scalars(select(CitizenTranscript).order_by(CitizenTranscript.id)))
    assert [(r.outcome, r.reason, r.handoff) for r in rows] == [
        ("handed_off", "kintone", "approved"), ("handed_off", "handoff_duplicate", None),
        ("answered", "approved", None)]

    # /kpi counts residents' questions apart from the staff's uses
    async with services.db.session() as s:
        s.add(UsageEvent(user_id="29:staff-1", skill="qa", outcome="ok", created_at=datetime.now(timezone.utc)))
    report = await build_report(services.db, KpiSettings(_env_file=None), datetime.now(timezone.utc))
    assert report.citizen_fytd == {"answered": 1, "handed_off": 2, "declined": 0}
    assert report.citizen_month == report.citizen_fytd
    assert report.uses_fytd == 1 and report.active_users_fytd == 1          # the staff use only
    assert [s.skill for s in report.skills] == ["qa"]
    card = kpi_card(report)
    schema = json.loads((testdata / "schemas" / "adaptive-cards" / "1.5.0" / "adaptive-card.json").read_text("utf-8"))
    assert_valid(jsonschema.Draft6Validator(schema), card)
    rows = card_nodes(card, lambda n: n.get("type") == "TableRow")
    cells = [[c["items"][0]["text"] for c in row["cells"]] for row in rows]
    assert ["年度累計", "1", "2", "0", "3"] in cells


async def test_without_kintone_the_question_is_declined_with_the_contact_and_nothing_is_sent(db):
    services = build(db)
    await seed(services)
    connector = await ConnectorStandIn().start()
    try:
        async with running_bot(services) as url:
            reply = await ask(url, connector, UNKNOWN)
    finally:
        await connector.stop()
        await close(services)
    assert reply["text"] == S.NOT_FOUND["ja"].format(section="尼崎市役所 代表", phone="06-6375-5639")
    async with services.db.session() as s:
        events = list(await s.scalars(select(UsageEvent)))
    assert [(e.outcome, e.reason) for e in events] == [("declined", "not_found")]


async def test_transcripts_older_than_the_retention_period_are_deleted(db):
    services = build(db, CITIZEN_RETENTION_DAYS=90)
    now = datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc)

    class Clock:
        def now(self):
            return now

    services.clock = Clock()
    async with services.db.session() as s:
        for days in (200, 91, 89, 0):
            s.add(CitizenTranscript(created_at=now - timedelta(days=days), conversation=f"c{days}", language="ja",
                                    question=f"{days}日前の質問", masked={}, outcome="answered", sets=[], sources=[]))
    assert await purge_transcripts(services) == 2
    async with services.db.session() as s:
        left = sorted(r.question for r in await s.scalars(select(CitizenTranscript)))
    assert left == ["0日前の質問", "89日前の質問"]
    assert await purge_transcripts(services) == 0
    await close(services)
