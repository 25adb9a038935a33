"""照会: an .xlsx form with merged cells sent in chat comes back with answers drafted from the knowledge sets the user
may read (cited) in yellow cells with a comment, the respondent's cells filled from the profile, the questions
without a source left empty and listed; with a model the answers are the model's and one without a source is
dropped; a reviewed form sent back with 「回答済み」 is remembered and answers the next 照会 of the same sender."""
from __future__ import annotations

import io
import json
from pathlib import Path

from openpyxl import load_workbook

from core import router
from core.skills import FileAttachment
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.notices.documents import INQUIRY_QUESTIONS, inquiry_xlsx

ROOT = Path(__file__).resolve().parents[3]


def texts(card: dict) -> list[str]:
    return [n["text"] for n in card_nodes(card, lambda n: n.get("type") == "TextBlock")]


async def with_knowledge(services) -> None:
    index = services.knowledge
    await index.create_set("soumu", title="総務課の規程")
    await index.upsert_document("soumu", "folder", "kyuka.md", "年次休暇の取扱い", None,
                                (ROOT / "docs" / "samples" / "kyuka.md").read_text(encoding="utf-8"))
    await index.create_set("secret", title="他課限定", members=["ffffffff-0000-0000-0000-000000000000"])
    await index.upsert_document("secret", "folder", "kitsuen.md", "庁舎の喫煙所", None,
                                "# 庁舎の喫煙所\n\n庁舎内の喫煙所は、令和6年度末ですべて廃止しました。オンライン申請の受付は電子申請システムで行います。")


async def send(services, data: bytes, words: str = "この照会に回答してください", name: str = "オンライン化調査.xlsx"):
    port = RecorderPort()
    att = FileAttachment(name=name, content_type="application/vnd.openxmlformats", content=data)
    await router.dispatch(make_request(words, attachments=[att]), port, services)
    return port


async def test_a_form_with_merged_cells_comes_back_with_cited_drafts_marked_for_review(sqlite_db):
    services = make_services(sqlite_db)
    await with_knowledge(services)
    port = await send(services, inquiry_xlsx({3: "設置していません。"}))
    assert [s.kind for s in port.sent if s.kind != "inform"] == ["card", "file"]
    card = port.cards()[0]
    lines = texts(card)
    assert "【抜粋】回答案は資料の該当箇所をそのまま記入したものです（AIは使用していません）。" in lines
    name, data, _ = port.last().file
    assert name == "オンライン化調査_回答案.xlsx"
    ws = load_workbook(io.BytesIO(data))["調査票"]
    # the question spanning two merged rows is answered in its merged answer cell, from the readable set only
    assert ws["D11"].value == "その年に使わなかった年次休暇は、20日を限度として翌年に繰り越すことができます。"
    assert ws["D11"].fill.start_color.rgb == "FFFFF2CC"
    assert "【回答案・要確認】" in ws["D11"].comment.text and "年次休暇の取扱い" in ws["D11"].comment.text
    assert {str(r) for r in ws.merged_cells.ranges} >= {"D11:F12", "B11:C12", "B3:D3", "D8:F8"}
    # the respondent's cells from the profile; what was already answered is left as it was
    assert ws["B3"].value == "尼崎市" and ws["B5"].value == "尼崎 太郎"
    assert ws["D13"].value == "設置していません。" and ws["D13"].comment is None
    # no source (the 喫煙所 document is in a set this user may not read): left empty and listed
    assert ws["D9"].value is None and ws["D10"].value is None
    assert f"調査票!D9　{INQUIRY_QUESTIONS[0]}" in lines and f"調査票!D10　{INQUIRY_QUESTIONS[1]}" in lines
    assert "調査票!B6　電話番号" in lines
    assert {"ファイル", "照会元"} <= {f["title"] for f in card_nodes(card, lambda n: "title" in n and "value" in n)}
    assert any(f["value"] == "総務省" for f in card_nodes(card, lambda n: n.get("title") == "照会元"))


async def test_with_a_model_answers_cite_their_sources_or_are_not_drafted(sqlite_db, llm):
    services = make_services(sqlite_db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    await with_knowledge(services)
    await services.knowledge.create_set("dx", title="DX推進課")
    await services.knowledge.upsert_document(
        "dx", "folder", "online.md", "オンライン化の計画", None,
        "# 行政手続のオンライン化\n\n本市は、行政手続のオンライン化に関する計画を令和5年3月に策定しました。オンライン申請の受付に"
        "使用しているシステムの名称は、尼崎市電子申請システムです。")
    llm.script = [{"text": json.dumps([
        {"id": 1, "answer": "令和5年3月に策定しています。", "sources": [1]},
        {"id": 2, "answer": "尼崎市電子申請システムです。", "sources": []},
        {"id": 3, "answer": "20日です。", "sources": [9]}], ensure_ascii=False)}]
    try:
        port = await send(services, inquiry_xlsx())
    finally:
        await services.llm.close()
    assert port.cards() and port.sent[[s.kind for s in port.sent].index("card")].ai_generated is True
    ws = load_workbook(io.BytesIO(port.last().file[1]))["調査票"]
    assert ws["D9"].value == "令和5年3月に策定しています。"
    assert "AIが資料から作成" in ws["D9"].comment.text and "オンライン化の計画" in ws["D9"].comment.text
    assert ws["D10"].value is None and ws["D11"].value is None      # no source / a source it was not given
    prompt = llm.chat_requests()[0]["messages"][1]["content"]
    assert "【設問1】貴団体では、行政手続のオンライン化に関する計画を策定していますか。" in prompt


async def test_a_reviewed_form_sent_back_answers_the_next_one_from_the_same_sender(sqlite_db):
    services = make_services(sqlite_db)
    reviewed = inquiry_xlsx({0: "令和5年3月に策定済みです。", 1: "尼崎市電子申請システム"})
    port = await send(services, reviewed, words="照会に回答済みです")
    assert port.texts() == ["総務省への回答2件を記録しました。次に総務省から届く照会では、この回答を回答案に使います"
                            "（記録は一定期間で削除されます）。"]
    port = await send(services, inquiry_xlsx(), name="オンライン化調査（第2回）.xlsx")
    ws = load_workbook(io.BytesIO(port.last().file[1]))["調査票"]
    assert ws["D9"].value == "令和5年3月に策定済みです。" and ws["D10"].value == "尼崎市電子申請システム"
    assert "前回の回答から転記" in ws["D9"].comment.text and "総務省への前回の回答" in ws["D9"].comment.text


async def test_bad_input_gets_a_japanese_line(sqlite_db):
    services = make_services(sqlite_db)
    port = RecorderPort()
    await router.dispatch(make_request("/inquiry"), port, services)
    assert "照会のExcel（.xlsx）ファイル" in port.texts()[0]
    broken = await send(services, b"PK\x03\x04 broken")
    assert "読み取れませんでした" in broken.texts()[0]
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "集計表"
    buf = io.BytesIO()
    wb.save(buf)
    nothing = await send(services, buf.getvalue())
    assert "設問と回答欄を見つけられませんでした" in nothing.texts()[0]
