"""The drafting skill through the router, on a real database, with the real openai client talking to a loopback
OpenAI-compatible server (scripted, realistic replies)."""
from __future__ import annotations

import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from sqlalchemy import select

from cards import drafting as dcards
from cards.common import AI_REMINDER, OFFLINE_TEMPLATE
from core import router
from core.store.models import UsageEvent
from skills import prompts
from skills.drafting import compose, strings
from skills.drafting.doctypes import COMMITMENTS, DOC_TYPES
from skills.drafting.models import Draft
from skills.drafting.settings import DraftingSettings
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.drafting.drafting_samples import CITIZEN, GIKAI, GOOD, NOTICE_INTERNAL, OSHIRASE


class FixedClock:
    def now(self):
        return datetime(2025, 4, 1, 1, 0, tzinfo=timezone.utc)

    def now_jst(self):
        from core.timeutil import JST
        return self.now().astimezone(JST)


@pytest.fixture(scope="module")
def card_validator(testdata):
    schema = json.loads((testdata / "schemas" / "adaptive-cards" / "1.5.0" / "adaptive-card.json").read_text())
    return jsonschema.Draft6Validator(schema)


def assert_valid(validator, card):
    """The official 1.5 schema, except for Teams' host extension `msteams` (the schema's AdaptiveCard forbids
    additional properties; Teams documents `msteams.width` as a card-level property)."""
    card = dict(card)
    assert card.pop("msteams", {"width": "Full"}) == {"width": "Full"}
    errors = sorted(validator.iter_errors(card), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]


OPENED: list = []



@pytest.fixture(autouse=True)
async def _close_clients():
    yield
    while OPENED:
        services = OPENED.pop()
        try:
            await services.llm.close()
        except RuntimeError:      # a client whose connections belong to an event loop already closed: nothing to free
            pass


def online(db, llm):
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url,
                                          "LLM_MAX_RETRIES": "0"})
    OPENED.append(services)
    services.clock = FixedClock()
    services.settings.put(DraftingSettings(_env_file=None))
    return services


async def run(services, text="", *, port=None, **kw):
    port = port or RecorderPort()
    await router.dispatch(make_request(text, **kw), port, services)
    return port


def card_text(card) -> str:
    return "\n".join(n["text"].replace("\\", "") for n in card_nodes(card, lambda n: n.get("type") == "TextBlock"))


def draft_of(card) -> str:
    """The draft's lines as shown on the result card (the emphasis container)."""
    box = next(b for b in card["body"] if b.get("type") == "Container" and b.get("style") == "emphasis")
    return "\n".join(t["text"].replace("\\", "") for t in box["items"])


def nonblank(text):
    return "\n".join(ln for ln in text.splitlines() if ln.strip())


def action_data(card, verb):
    return next(a["data"] for a in card["actions"] if a["verb"] == verb)


FIELDS = {
    "notice_internal": dict(subject="情報セキュリティ研修の実施", addressee="各局長", sender="総務局長",
                            points="情報セキュリティ研修を実施する。所属職員の受講に配慮を求める。",
                            when_where="令和7年5月14日 午後2時から 本庁舎北館2階"),
    "notice_external": dict(subject="事業系一般廃棄物の適正処理", addressee="市内各事業所 代表者",
                            points="事業系ごみの適正処理への協力依頼", basis="廃棄物の処理及び清掃に関する法律第3条"),
    "jimu": dict(subject="職員名簿の確認", addressee="各課庶務担当者", points="職員名簿の確認と修正連絡を依頼"),
    "oshirase": dict(subject="粗大ごみの収集日変更", points="5月6日の収集を5月7日に変更します。"),
    "citizen": dict(addressee="尼崎 一郎", points="ごみの収集日を知りたい", background="燃やすごみは火曜日と金曜日"),
    "gikai": dict(subject="放課後児童クラブの待機児童対策", points="待機児童の解消に向けた今後の方針を問う",
                  commitment="検討してまいります"),
    "aisatsu": dict(subject="尼崎市民スポーツ大会 開会式", sender="尼崎市長", points="選手への激励と関係者への感謝"),
}


async def create(services, key, *, port=None, user_id="29:user-1", **extra):
    data = {"doc_type": key, **FIELDS[key], **extra}
    return await run(services, verb="draft.create", data=data, is_invoke=True, port=port, user_id=user_id)


# -- starting a draft ---------------------------------------------------------------------------------------------

async def test_draft_alone_offers_the_types_then_the_types_form(sqlite_db, llm, card_validator):
    services = online(sqlite_db, llm)
    port = await run(services, "/draft")
    choice = port.cards()[0]
    assert_valid(card_validator, choice)
    types = next(b for b in choice["body"] if b.get("id") == "doc_type")
    assert [c["title"] for c in types["choices"]] == [t.label for t in DOC_TYPES.values()]
    assert choice["actions"][0]["verb"] == "draft.form"

    port = await run(services, verb="draft.form", data={"doc_type": "gikai", "points": "待機児童対策を問う"},
                     is_invoke=True)
    form = port.last()
    assert form.kind == "refresh"
    assert_valid(card_validator, form.card)
    ids = [b.get("id") for b in form.card["body"] if b.get("id")]
    assert ids == list(DOC_TYPES["gikai"].fields)
    commitment = next(b for b in form.card["body"] if b.get("id") == "commitment")
    assert [c["value"] for c in commitment["choices"]] == list(COMMITMENTS)
    assert "value" not in commitment            # never pre-chosen: the user decides the strength
    assert next(b for b in form.card["body"] if b.get("id") == "points")["value"] == "待機児童対策を問う"
    assert llm.requests == []


async def test_direct_text_with_missing_essentials_asks_with_a_prefilled_form(sqlite_db, llm, card_validator):
    services = online(sqlite_db, llm)
    port = await run(services, "/draft 通知文 情報セキュリティ研修を5月14日に実施します\n担当：情報政策課")
    form = port.cards()[0]
    assert_valid(card_validator, form)
    body = {b.get("id"): b for b in form["body"] if b.get("id")}
    assert body["points"]["value"] == "情報セキュリティ研修を5月14日に実施します"
    assert body["contact"]["value"] == "情報政策課"
    assert body["addressee"]["label"] == "宛先（例：各課長 様）（必須・未入力）" and body["addressee"]["isRequired"]
    assert body["date"]["value"] == "令和7年4月1日"      # today's date, 和暦, pre-filled
    assert "次の項目を入力してください：宛先（例：各課長 様）" in card_text(form)
    assert llm.requests == []


async def test_answer_asks_for_the_commitment_then_keeps_to_it(sqlite_db, llm, card_validator):
    services = online(sqlite_db, llm)
    port = await run(services, "/answer 放課後児童クラブの待機児童の解消に向けた今後の方針を問う")
    form = port.cards()[0]
    assert "答弁の方針（約束の強さ）（必須・未入力）" in json.dumps(form, ensure_ascii=False)
    assert llm.requests == []

    llm.script = [{"text": GIKAI}]
    data = {"doc_type": "gikai", "points": "待機児童の解消に向けた今後の方針を問う", "subject": "放課後児童クラブの待機児童対策",
            "commitment": "検討してまいります"}
    port = await run(services, verb="draft.create", data=data, is_invoke=True)
    assert port.sent[0].kind == "refresh"       # the form is replaced by what was submitted
    assert_valid(card_validator, port.sent[0].card)
    assert "待機児童の解消に向けた今後の方針を問う" in json.dumps(port.sent[0].card, ensure_ascii=False)
    system = llm.chat_requests()[0]["messages"][0]["content"]
    assert "「検討してまいります」を必ずそのまま使って" in system
    assert "「実施いたします」、「取り組んでまいります」、「実現に努めてまいります」" in system
    result = port.cards()[-1]
    assert_valid(card_validator, result)
    assert nonblank(draft_of(result)) == nonblank(GIKAI)
    assert dcards.ISSUES_HEADING not in card_text(result)


async def test_answer_typed_with_its_commitment_goes_straight_to_the_draft(sqlite_db, llm):
    services = online(sqlite_db, llm)
    llm.script = [{"text": GIKAI}]
    port = await run(services, "/answer 待機児童対策について問う\n方針：検討")
    assert len(llm.chat_requests()) == 1
    assert "検討してまいります" in llm.chat_requests()[0]["messages"][0]["content"]
    assert port.cards()[-1]["actions"][0]["verb"] == "draft.revise"


# -- generation per type ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(GOOD))
async def test_each_type_is_drafted_with_its_prompt_and_passes_its_checks(sqlite_db, llm, card_validator, key):
    services = online(sqlite_db, llm)
    llm.script = [{"text": GOOD[key]}]
    port = await create(services, key)
    sent = port.last()
    assert sent.kind == "card" and sent.ai_generated and sent.feedback
    assert_valid(card_validator, sent.card)
    text = card_text(sent.card)
    assert nonblank(draft_of(sent.card)) == nonblank(GOOD[key])
    assert AI_REMINDER in text and OFFLINE_TEMPLATE not in text
    assert dcards.ISSUES_HEADING not in text
    req = llm.chat_requests()[0]
    assert len(llm.chat_requests()) == 1          # no repair round was needed
    system = req["messages"][0]["content"]
    assert prompts.load("drafting", key).splitlines()[0] in system
    assert prompts.load("drafting", "common").splitlines()[0] in system
    user = req["messages"][1]["content"]
    assert FIELDS[key]["points"] in user
    verbs = [a["verb"] for a in sent.card["actions"]]
    assert verbs[:3] == ["draft.revise", "draft.shorter", "draft.polite"] and verbs[-1] == "draft.docx"
    assert ("draft.easy" in verbs) == DOC_TYPES[key].easy_variant
    async with services.db.session() as s:
        row = (await s.execute(select(Draft))).scalar_one()
    assert row.doc_type == key and nonblank(row.text) == nonblank(GOOD[key]) and row.fields["points"]


async def test_a_draft_that_breaks_its_layout_is_repaired_once(sqlite_db, llm):
    services = online(sqlite_db, llm)
    broken = NOTICE_INTERNAL.replace("\n記\n", "\n")
    llm.script = [{"text": broken}, {"text": NOTICE_INTERNAL}]
    port = await create(services, "notice_internal")
    reqs = llm.chat_requests()
    assert len(reqs) == 2
    assert "「記」とその後の番号付きの項目がありません。" in reqs[1]["messages"][0]["content"]
    assert broken.rsplit("\n", 1)[0] in reqs[1]["messages"][1]["content"]   # (the phone line is masked)
    card = port.cards()[-1]
    assert nonblank(draft_of(card)) == nonblank(NOTICE_INTERNAL)
    assert strings.REPAIRED in card_text(card) and dcards.ISSUES_HEADING not in card_text(card)


async def test_a_draft_still_broken_after_repair_is_flagged_on_the_card(sqlite_db, llm):
    services = online(sqlite_db, llm)
    broken = GIKAI.replace("検討してまいります", "実施いたします")
    llm.script = [{"text": broken}, {"text": broken}]
    port = await create(services, "gikai")
    text = card_text(port.cards()[-1])
    assert dcards.ISSUES_HEADING in text
    assert "選ばれた方針（検討してまいります）より強い表現「実施いたします」が含まれています。" in text


async def test_mechanical_fixes_need_no_model_round(sqlite_db, llm):
    services = online(sqlite_db, llm)
    llm.script = [{"text": "```\n" + NOTICE_INTERNAL.replace("について（通知）", "について") + "\n```"}]
    port = await create(services, "notice_internal")
    assert len(llm.chat_requests()) == 1
    shown = draft_of(port.cards()[-1])
    assert "情報セキュリティ研修の実施について（通知）" in shown and "```" not in shown


# -- revisions ----------------------------------------------------------------------------------------------------

EDIT = """<<<<<<< 修正前
1　日時　令和7年5月14日（水）午後2時から午後4時まで
=======
1　日時　令和7年5月21日（水）午後2時から午後4時まで
>>>>>>> 修正後"""


async def test_revision_changes_only_what_was_asked_and_works_after_a_restart(db, llm, card_validator):
    services = online(db, llm)
    llm.script = [{"text": NOTICE_INTERNAL}]
    port = await create(services, "notice_internal")
    data = action_data(port.cards()[-1], "draft.revise")
    async with services.db.session() as s:
        before = (await s.execute(select(Draft))).scalar_one().text

    restarted = online(db, llm)           # a new process on the same database
    llm.script = [{"text": EDIT}]
    port = await run(restarted, verb="draft.revise", data={**data, "instruction": "日時を5月21日に変更"},
                     is_invoke=True)
    req = llm.chat_requests()[-1]["messages"]
    assert "日時を5月21日に変更" in req[1]["content"]
    assert before.rsplit("\n", 1)[0] in req[1]["content"]      # the previous draft (its phone line masked)
    assert "一字一句変えません" in req[0]["content"]
    card = port.cards()[-1]
    assert_valid(card_validator, card)
    expected = before.replace("令和7年5月14日", "令和7年5月21日")
    assert draft_of(card) == nonblank(expected)
    assert "（修正1回目）" in card_text(card)
    async with restarted.db.session() as s:
        row = (await s.execute(select(Draft))).scalar_one()
    assert row.text == expected and row.revision == 1
    # everything but the one line is byte-for-byte the previous draft
    assert [a for a, b in zip(before.splitlines(), row.text.splitlines()) if a != b] == [
        "1　日時　令和7年5月14日（水）午後2時から午後4時まで"]


async def test_an_edit_whose_original_text_is_not_in_the_draft_is_reported_not_guessed(sqlite_db, llm):
    services = online(sqlite_db, llm)
    llm.script = [{"text": NOTICE_INTERNAL}]
    port = await create(services, "notice_internal")
    data = action_data(port.cards()[-1], "draft.revise")
    llm.script = [{"text": "<<<<<<< 修正前\n存在しない文です。\n=======\n新しい文です。\n>>>>>>> 修正後"}]
    port = await run(services, verb="draft.revise", data={**data, "instruction": "直して"})
    card = port.cards()[-1]
    assert draft_of(card) == nonblank(NOTICE_INTERNAL)
    assert "該当箇所を特定できず" in card_text(card) and "存在しない文です。" in card_text(card)


async def test_shorter_polite_and_easy_rewrite_the_whole_draft(sqlite_db, llm):
    services = online(sqlite_db, llm)
    llm.script = [{"text": OSHIRASE}]
    port = await create(services, "oshirase")
    data = action_data(port.cards()[-1], "draft.shorter")
    short = "粗大ごみの収集日変更のお知らせ\n\n5月6日（火曜日）の収集は、5月7日（水曜日）に行います。"
    llm.script = [{"text": short}]
    port = await run(services, verb="draft.shorter", data=data)
    sys = llm.chat_requests()[-1]["messages"][0]["content"]
    assert compose.REWRITES["shorter"] in sys
    assert draft_of(port.cards()[-1]) == nonblank(short)

    easy = "ごみの 日が かわります\n\n5月6日の ごみは、5月7日に 出して ください。"
    llm.script = [{"text": easy}]
    port = await run(services, verb="draft.easy", data=data)
    sys = llm.chat_requests()[-1]["messages"][0]["content"]
    assert prompts.load("drafting", "easy").splitlines()[0] in sys
    card = port.cards()[-1]
    assert dcards.EASY_BADGE in card_text(card)
    assert "draft.easy" not in [a["verb"] for a in card["actions"]]
    llm.script = [{"text": easy}]
    await run(services, verb="draft.polite", data=data)
    assert compose.REWRITES["polite"] in llm.chat_requests()[-1]["messages"][0]["content"]


async def test_another_person_cannot_revise_or_export_a_draft(db, llm):
    services = online(db, llm)
    llm.script = [{"text": NOTICE_INTERNAL}]
    port = await create(services, "notice_internal")
    data = action_data(port.cards()[-1], "draft.revise")
    n = len(llm.requests)
    for verb in ("draft.revise", "draft.docx"):
        port = await run(services, verb=verb, data={**data, "instruction": "直して"}, user_id="29:someone-else")
        assert port.texts() == [strings.NOT_FOUND]
    port = await run(services, verb="draft.docx", data={"draft_id": "abc"})
    assert port.texts() == [router.BAD_CARD_DATA]          # refused by the verb's data model
    assert len(llm.requests) == n


# -- personal data ------------------------------------------------------------------------------------------------

async def test_no_raw_personal_data_reaches_the_llm_and_the_user_sees_real_values(db, llm):
    services = online(db, llm)

    def reply(body):
        sent = json.dumps(body, ensure_ascii=False)
        ph = dict.fromkeys(re.findall(r"［(氏名|電話|住所)\d+］", sent))
        user = body["messages"][-1]["content"]
        name = re.search(r"［氏名\d+］", user).group(0)
        assert ph, sent
        return {"text": CITIZEN.replace("尼崎 一郎様", f"{name}様")}

    llm.default = reply
    text = ("/draft 市民対応 宛先：山田 花子\n"
            "要点：山田花子様（電話 090-1234-5678、住所 尼崎市南塚口町2丁目3番4号）から、ごみの収集日の問い合わせ\n"
            "回答の要点：燃やすごみは毎週火曜日と金曜日")
    port = await run(services, text)
    seen = llm.seen()
    for raw in ("山田", "花子", "090-1234-5678", "南塚口町2丁目3番4号"):
        assert raw not in seen
    card = port.cards()[-1]
    shown = card_text(card)
    assert re.search(r"山田 ?花子 ?様", draft_of(card)) and "［" not in draft_of(card)   # restored for the user
    assert "伏せて送信しました" in shown          # the masked note
    async with services.db.session() as s:
        row = (await s.execute(select(Draft))).scalar_one()
    assert "山田" in row.text                     # the stored draft holds the restored text for its owner

    llm.default = {"text": "<<<<<<< 修正前\n今後とも、市政へのご理解とご協力をお願いいたします。\n=======\n"
                           "今後とも、よろしくお願いいたします。\n>>>>>>> 修正後"}
    port = await run(services, verb="draft.revise",
                     data={**action_data(card, "draft.revise"), "instruction": "結びを短く"})
    seen = llm.seen()
    for raw in ("山田", "090-1234-5678", "南塚口町2丁目3番4号"):
        assert raw not in seen
    assert "今後とも、よろしくお願いいたします。" in draft_of(port.cards()[-1])


# -- offline ------------------------------------------------------------------------------------------------------

async def test_offline_drafts_are_templates_labelled_as_such(db, card_validator):
    services = make_services(db)
    services.clock = FixedClock()
    port = await run(services, "/draft 通知文 研修を実施します\n宛先：各課長")
    sent = port.last()
    assert sent.kind == "card" and not sent.ai_generated and not sent.feedback
    assert_valid(card_validator, sent.card)
    text = card_text(sent.card)
    assert OFFLINE_TEMPLATE in text and AI_REMINDER not in text
    shown = draft_of(sent.card)
    assert "各課長 様" in shown and "【要記入】について（通知）" in shown and "令和7年4月1日" in shown
    assert "研修を実施します" in shown and dcards.ISSUES_HEADING not in text
    assert [a["verb"] for a in sent.card["actions"]] == ["draft.docx"]
    async with services.db.session() as s:
        events = (await s.execute(select(UsageEvent))).scalars().all()
    assert [(e.skill, e.outcome) for e in events] == [("drafting", "offline")]
    port = await run(services, verb="draft.revise", data={**action_data(sent.card, "draft.docx"), "instruction": "x"})
    assert port.texts() == [strings.OFFLINE_REVISE]
    port = await run(services, verb="draft.docx", data=action_data(sent.card, "draft.docx"))
    name, content, ctype = port.last().file
    assert name == "素案_素案.docx" or name.endswith("_素案.docx")
    assert "研修を実施します" in "\n".join(p.text for p in Document(io.BytesIO(content)).paragraphs)


# -- Word ---------------------------------------------------------------------------------------------------------

async def test_word_export_holds_the_text_with_the_number_and_date_block_right_aligned(sqlite_db, llm):
    services = online(sqlite_db, llm)
    llm.script = [{"text": NOTICE_INTERNAL}]
    port = await create(services, "notice_internal")
    port = await run(services, verb="draft.docx", data=action_data(port.cards()[-1], "draft.docx"))
    sent = port.last()
    name, content, ctype = sent.file
    assert name == "情報セキュリティ研修の実施_素案.docx"
    assert ctype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert "AI" in sent.text
    doc = Document(io.BytesIO(content))
    align = {p.text: p.alignment for p in doc.paragraphs if p.text}
    R, C = WD_ALIGN_PARAGRAPH.RIGHT, WD_ALIGN_PARAGRAPH.CENTER
    assert align["尼総第123号"] == R and align["令和7年4月1日"] == R and align["総務局長"] == R
    assert align["各局長 様"] == WD_ALIGN_PARAGRAPH.LEFT
    assert align["情報セキュリティ研修の実施について（通知）"] == C and align["記"] == C
    assert align["以上"] == R and align["担当：総務局情報政策課"] == R
    assert align["1　日時　令和7年5月14日（水）午後2時から午後4時まで"] == WD_ALIGN_PARAGRAPH.LEFT
    texts = [p.text for p in doc.paragraphs if p.text]
    assert texts == nonblank(NOTICE_INTERNAL).splitlines()
    assert "AI" in doc.core_properties.comments


# -- references for 議会答弁 ----------------------------------------------------------------------------------------

async def test_answer_drafts_cite_past_answers_from_the_knowledge_index(sqlite_db, llm):
    services = online(sqlite_db, llm)
    services.settings.put(DraftingSettings(_env_file=None, DRAFT_REFERENCE_SETS="gikai-past"))
    index = services.knowledge                 # the one index the composition root built (the one /ask uses)
    await index.create_set("gikai-past", title="過去の議会答弁")
    await index.upsert_document("gikai-past", "folder", "r6-3-ippan", "令和6年第3回定例会 一般質問答弁",
                                "https://example.invalid/r6-3",
                                "# 放課後児童クラブ\n\n放課後児童クラブの待機児童については、余裕教室の活用により"
                                "定員を120人拡大したところでございます。")
    llm.script = [{"text": GIKAI.replace("取り組んでまいりました。", "取り組んでまいりました[1]。")}]
    port = await create(services, "gikai")
    user = llm.chat_requests()[0]["messages"][1]["content"]
    assert "[1] 令和6年第3回定例会 一般質問答弁" in user and "定員を120人拡大" in user
    sent = port.last()
    assert [c.name for c in sent.citations] == ["令和6年第3回定例会 一般質問答弁（放課後児童クラブ）"]
    assert sent.citations[0].url == "https://example.invalid/r6-3"
    assert "[1] 令和6年第3回定例会 一般質問答弁" in card_text(sent.card)


# -- failures and bad input ---------------------------------------------------------------------------------------

async def test_llm_failure_and_bad_input_get_clear_japanese_messages(sqlite_db, llm):
    services = online(sqlite_db, llm)
    llm.script = [{"status": 500}]
    port = await create(services, "oshirase")
    assert port.texts()[-1].startswith("AI") and "Traceback" not in port.texts()[-1]
    form = port.cards()[-1]                       # the form comes back with what was typed
    assert next(b for b in form["body"] if b.get("id") == "points")["value"] == FIELDS["oshirase"]["points"]
    port = await run(services, verb="draft.create", data={"doc_type": "nonsense"})
    assert port.texts() == [strings.UNKNOWN_TYPE]
    port = await run(services, "/draft お知らせ " + "あ" * 5000)
    assert port.texts() == [strings.TOO_LONG.format(n=4000)]
    port = await run(services, verb="draft.revise", data={"draft_id": 1, "instruction": ""})
    assert port.texts() == [strings.NOT_FOUND]


async def test_forbidden_words_are_refused_before_anything_is_sent(sqlite_db, llm):
    services = make_services(sqlite_db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url},
                             guard_env={"GUARD_FORBIDDEN_WORDS": "極秘"})
    OPENED.append(services)
    port = await run(services, "/draft お知らせ 極秘の計画について")
    assert "極秘" in port.texts()[-1] and "送信しませんでした" in port.texts()[-1] and llm.requests == []


def test_prompt_files_contain_nothing_the_guard_would_mask():
    """Otherwise the model would receive 「［氏名1］は40〜60字程度」 instead of the instruction."""
    from core.guard.pii import PiiDetector

    detector = PiiDetector()
    for path in sorted((Path(prompts.ROOT) / "drafting" / "prompts").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        assert [text[s.start:s.end] for s in detector.detect(text)] == [], path.name


def test_prompt_files_exist_for_every_type():
    for key in DOC_TYPES:
        assert (Path(prompts.ROOT) / "drafting" / "prompts" / f"{key}.md").is_file()
        assert (compose.TEMPLATES / f"{key}.txt").is_file()


async def test_free_text_naming_a_type_reaches_the_skill_offline_by_keywords(sqlite_db):
    services = make_services(sqlite_db)
    services.clock = FixedClock()
    port = await run(services, "粗大ごみの収集日が変わるお知らせを作りたいです")
    card = port.cards()[-1]
    assert OFFLINE_TEMPLATE in card_text(card)
    assert draft_of(card).startswith("【要記入】のお知らせ")
    assert "粗大ごみの収集日が変わるお知らせを作りたいです" in draft_of(card)


def test_reference_passages_share_the_character_budget():
    refs = [compose.Reference(i, f"答弁{i}", "あ" * 1000) for i in (1, 2, 3)]
    out = compose.budget_references(refs, 600)
    assert [len(r.text) for r in out] == [200, 200, 200] and out[0].text.endswith("…")
    assert compose.budget_references([compose.Reference(1, "短い", "短い本文")], 600)[0].text == "短い本文"


async def test_the_named_basis_is_looked_up_in_e_gov_quoted_to_the_model_and_cited(sqlite_db, llm, monkeypatch):
    """根拠法令 given by the user → the law search tool (e-Gov API stand-in) → the article text in the prompt and a
    citation on the reply."""
    from tests.standins.law import LawStandIn

    egov = await LawStandIn().start()
    monkeypatch.setenv("EGOV_LAW_API_BASE", egov.base_url)
    try:
        services = online(sqlite_db, llm)
        llm.script = [{"text": NOTICE_INTERNAL}]
        data = {"doc_type": "notice_internal", "subject": "防災訓練の実施", "points": "各課で避難訓練を実施する",
                "addressee": "各課長 様", "basis": "災害対策基本法第50条"}
        port = await run(services, verb="draft.create", data=data, is_invoke=True)
    finally:
        await egov.stop()
    prompt = llm.chat_requests()[0]["messages"][1]["content"]
    assert "根拠法令の条文" in prompt and "災害対策基本法" in prompt
    result = port.sent[-1]
    assert any("災害対策基本法" in c.name and (c.url or "").startswith("https://laws.e-gov.go.jp/law/")
               for c in result.citations)
    assert egov.requests, "the e-Gov stand-in was not asked"
