"""/check through the router: typed text and a Word file get a paged card of rule-based suggestions and the document
back with Word revisions; the document kind can be switched; the AI's suggestions come apart, labelled, through the
AI gateway (masked, audited) over the real openai client; bad input gets a Japanese line and loses nothing."""
from __future__ import annotations

import io
import json
from datetime import timedelta

import docx
from docx.oxml.ns import qn
from sqlalchemy import func, select

from cards import notices as cards
from core import router
from core.kobun import tracked
from core.skills import FileAttachment
from core.store.models import UsageEvent
from skills.notices.check import purge
from skills.notices.models import KobunCheck
from tests.core.kobun.samples import EVERY_RULE, EXPECTED
from tests.harness import RecorderPort, card_nodes, make_request, make_services


def actions(card: dict) -> dict[str, dict]:
    """verb -> data of the card's buttons (the last one wins when a verb appears twice)."""
    out = {}
    for a in card_nodes(card, lambda n: n.get("type") == "Action.Execute"):
        out[a["verb"] + ("" if a["verb"] != cards.CHECK_PAGE_VERB else f":{a['title']}")] = {
            k: v for k, v in a["data"].items() if k != "verb"}
    return out


def shown(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


async def dispatch(services, **kw) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(**kw), port, services)
    return port


async def test_typed_text_gets_paged_suggestions_and_a_word_file_with_revisions(sqlite_db):
    services = make_services(sqlite_db)
    port = await dispatch(services, text="/check " + EVERY_RULE)
    card = port.cards()[0]
    assert "【自動チェック】" in shown(card) and f"{len(EXPECTED)}件" in shown(card)
    assert "「，」→「、」" in shown(card) and "公用文作成の考え方" in shown(card)
    verbs = actions(card)
    assert f"{cards.CHECK_PAGE_VERB}:次へ" in verbs and cards.CHECK_AI_VERB not in verbs      # offline: no AI button
    # every page together lists every finding once
    seen, data = [], verbs[f"{cards.CHECK_PAGE_VERB}:次へ"]
    seen += [n["text"] for n in card_nodes(card, lambda n: str(n.get("text", "")).startswith("出典："))]
    while data is not None:
        nxt = await dispatch(services, verb=cards.CHECK_PAGE_VERB, data=data, is_invoke=True)
        page = nxt.last().card
        assert nxt.last().kind == "refresh"
        seen += [n["text"] for n in card_nodes(page, lambda n: str(n.get("text", "")).startswith("出典："))]
        data = actions(page).get(f"{cards.CHECK_PAGE_VERB}:次へ")
        assert len(shown(page).encode()) < 28_000                      # Teams' card size limit
    assert len(seen) == len(EXPECTED)
    # the Word file: revisions by the checker, accepted they give the corrected text
    got = await dispatch(services, verb=cards.CHECK_DOCX_VERB, data=verbs[cards.CHECK_DOCX_VERB])
    name, data_bytes, ctype = got.last().file
    assert name == "公用文チェック_公用文チェック.docx" and ctype.endswith("wordprocessingml.document")
    d = docx.Document(io.BytesIO(data_bytes))
    assert list(d.element.body.iter(qn("w:ins"))) and list(d.element.body.iter(qn("w:del")))
    assert "変更履歴" in got.last().text
    async with sqlite_db.session() as s:
        uses = await s.scalar(select(func.count()).select_from(UsageEvent).where(UsageEvent.skill == "notices"))
    assert uses == 1


async def test_the_kind_decides_which_rules_apply(sqlite_db):
    services = make_services(sqlite_db)
    text = "お申し込みの受付は、窓口または電話で行います。"
    port = await dispatch(services, text="/check " + text)
    assert "2件" in shown(port.cards()[0])
    switch = actions(port.cards()[0])[cards.CHECK_KIND_VERB]
    assert switch["kind"] == "public"
    again = await dispatch(services, verb=cards.CHECK_KIND_VERB, data=switch, is_invoke=True)
    assert "直すべき点は見つかりませんでした" in shown(again.last().card)
    assert "広報・市民向け文書（解説・広報等）として確認し直しました" in shown(again.last().card)
    public = await dispatch(services, text="/check 広報 " + text)
    assert "直すべき点は見つかりませんでした" in shown(public.cards()[0])


def word_file(*paragraphs: str) -> bytes:
    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


async def test_a_word_file_sent_with_a_request_comes_back_with_revisions(sqlite_db):
    services = make_services(sqlite_db)
    data = word_file("研修会の開催について（通知）", "このことについて，下記の通り研修会を開催致します。", "資料を御確認下さい。")
    att = FileAttachment(name="研修会の開催.docx", content_type="application/vnd.openxmlformats", content=data)
    port = await dispatch(services, text="公用文チェックをお願いします", attachments=[att])
    assert [s.kind for s in port.sent] == ["card", "file"]
    assert "研修会の開催.docx" in shown(port.cards()[0]) and "4件" in shown(port.cards()[0])
    name, out, _ = port.last().file
    assert name == "研修会の開催_公用文チェック.docx"
    d = docx.Document(io.BytesIO(out))
    dels = ["".join(t.text for t in el.iter(qn("w:delText"))) for el in d.element.body.iter(qn("w:del"))]
    assert sorted(dels) == sorted(["，", "通", "致", "下"])      # the smallest changes: 通り → とおり is 通 → とお
    authors = {el.get(qn("w:author")) for el in d.element.body.iter(qn("w:ins"))}
    assert authors == {"尼崎市AIアシスタント（公用文チェック）"}
    assert tracked.document_text(d).startswith("研修会の開催について（通知）\nこのことについて")


async def test_bad_input_gets_a_japanese_line(sqlite_db):
    services = make_services(sqlite_db)
    assert "/check に続けて" in (await dispatch(services, text="/check")).texts()[0]
    long = "あ" * 30_001
    assert "長すぎます" in (await dispatch(services, text="/check " + long)).texts()[0]
    broken = FileAttachment(name="壊れた.docx", content_type="x", content=b"PK\x03\x04 not really a zip")
    assert "読み取れませんでした" in (await dispatch(services, text="/check", attachments=[broken])).texts()[0]
    pdf = FileAttachment(name="通知.pdf", content_type="application/pdf", content=b"%PDF-1.4")
    assert "Word（.docx）" in (await dispatch(services, text="/check", attachments=[pdf])).texts()[0]
    # someone else's check, an expired one, a hostile id
    port = await dispatch(services, text="/check 会議を行なった。")
    data = actions(port.cards()[0])[cards.CHECK_DOCX_VERB]
    other = await dispatch(services, verb=cards.CHECK_DOCX_VERB, data=data, user_id="29:someone-else")
    assert "見つかりませんでした" in other.texts()[0]
    assert router.BAD_CARD_DATA in (await dispatch(services, verb=cards.CHECK_PAGE_VERB,
                                                   data={"check_id": "1e400"})).texts()
    services.clock.now = _later                       # past NOTICES_KEEP_DAYS (7)
    gone = await dispatch(services, verb=cards.CHECK_DOCX_VERB, data=data)
    assert "見つかりませんでした" in gone.texts()[0]
    await purge(services)
    async with sqlite_db.session() as s:
        assert await s.scalar(select(func.count()).select_from(KobunCheck)) == 0


def _later():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc) + timedelta(days=8)


async def test_ai_suggestions_are_apart_labelled_masked_and_go_into_word_under_their_own_author(sqlite_db, llm):
    services = make_services(sqlite_db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    text = ("担当の尼崎太郎が、本件に関する説明を、関係する各課の職員に対して、来週中に実施する予定であることを、"
            "念のためお知らせします。\n会議を行なった。")
    llm.script = [{"text": json.dumps([
        {"original": "本件に関する説明を、関係する各課の職員に対して、来週中に実施する予定であることを、念のためお知らせします。",
         "replacement": "来週、関係課の職員に本件を説明します。", "reason": "一文を短く", "aspect": "clarity"},
        {"original": "会議を行なった", "replacement": "会議をした", "reason": "規則と重なる", "aspect": "clarity"},
        {"original": "文書にない文", "replacement": "x", "reason": "引用が違う", "aspect": "easy"},
    ], ensure_ascii=False)}]
    try:
        port = await dispatch(services, text="/check " + text)
        verbs = actions(port.cards()[0])
        assert cards.CHECK_AI_VERB in verbs
        ai = await dispatch(services, verb=cards.CHECK_AI_VERB, data=verbs[cards.CHECK_AI_VERB])
        card = ai.cards()[0]
        assert ai.last().ai_generated is True
        assert "【AIによる提案】" in shown(card) and "来週、関係課の職員に本件を説明します。" in shown(card)
        assert "文書にない文" not in shown(card)
        sent = llm.seen()
        assert "尼崎太郎" not in sent                                      # masked before it left
        assert "「行なっ」→「行っ」" in sent                                 # the rules' findings, so as not to repeat them
        with_ai = actions(card)[cards.CHECK_DOCX_VERB]
        got = await dispatch(services, verb=cards.CHECK_DOCX_VERB, data=with_ai)
        d = docx.Document(io.BytesIO(got.last().file[1]))
        authors = {el.get(qn("w:author")) for el in d.element.body.iter(qn("w:ins"), qn("w:del"))}
        assert authors == {"尼崎市AIアシスタント（公用文チェック）", "尼崎市AIアシスタント（AIの提案）"}
        # the suggestion that overlaps the rule's own change (行なっ) is left to the rule
        ins = ["".join(t.text for t in el.iter(qn("w:t"))) for el in d.element.body.iter(qn("w:ins"))]
        assert "会議をした" not in "".join(ins)
        async with sqlite_db.session() as s:
            audited = (await s.execute(select(UsageEvent.outcome).where(UsageEvent.skill == "notices"))).scalars()
            assert "ok" in list(audited)
    finally:
        await services.llm.close()
