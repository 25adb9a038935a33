"""Documents sent in chat: fetched from the (loopback) download URL, converted, registered in a writable set."""
from __future__ import annotations

import json

from core import router
from core.skills import FileAttachment
from skills.qa import strings as S
from skills.qa.handler import handle
from skills.qa.settings import QASettings
from tests.harness import RecorderPort, make_request
from tests.skills.qa.conftest import OTHER_AAD, USER_AAD, assert_valid_card, build


def attachment(base: str, path: str, name: str = "テレワーク実施要領.docx") -> FileAttachment:
    return FileAttachment(name=name, content_type="docx", download_url=base + path)


async def send(services, atts, **kw):
    port = RecorderPort()
    await handle(make_request("", attachments=atts, **kw), port, services)
    return port


async def test_docx_sent_in_chat_is_registered_and_answerable(db, files):
    base, hits = files
    services = build(db)
    await services.knowledge.create_set("jinji", title="人事課", owner=USER_AAD.upper())
    port = await send(services, [attachment(base, "/dl/telework")])
    assert port.last().text == S.UPLOAD_DONE["added"].format(name="テレワーク実施要領.docx", set="jinji", chunks=2)
    assert hits == ["/dl/telework"]
    docs = await services.knowledge.list_documents("jinji")
    assert list(docs) == ["chat:テレワーク実施要領.docx"] and docs["chat:テレワーク実施要領.docx"].source == "chat"
    ask = RecorderPort()
    await handle(make_request("テレワークの申請はいつまでですか", command="ask"), ask, services)
    answered = json.dumps(ask.last().card, ensure_ascii=False)        # offline: one card of cited passages
    assert "テレワーク実施要領 — 申請" in answered and "実施日の3日前までに所属長へ申請" in answered
    port = await send(services, [attachment(base, "/dl/telework")])
    assert port.last().text == S.UPLOAD_DONE["unchanged"].format(name="テレワーク実施要領.docx", set="jinji", chunks=2)


async def test_several_writable_sets_ask_which_one(db, files, card_validator):
    base, hits = files
    services = build(db)
    ix = services.knowledge
    await ix.create_set("jinji", title="人事課", owner=USER_AAD)
    await ix.create_set("kyoiku", title="研修", members=[USER_AAD, OTHER_AAD])
    await ix.create_set("other", title="他課", owner=OTHER_AAD)
    port = await send(services, [attachment(base, "/dl/telework")])
    sent = port.last()
    assert sent.text == S.UPLOAD_CHOOSE and hits == []
    assert_valid_card(card_validator, sent.card)
    choice = next(b for b in sent.card["body"] if b["type"] == "Input.ChoiceSet")
    assert [c["value"] for c in choice["choices"]] == ["jinji", "kyoiku"]
    action = sent.card["actions"][0]
    assert action["verb"] == "qa.upload" and set(action["data"]) == {"verb", "token"}
    assert "127.0.0.1" not in json.dumps(sent.card)             # the card never carries the download URL
    token = action["data"]["token"]

    stranger = RecorderPort()
    await router.dispatch(make_request(verb="qa.upload", data={"token": token, "set": "kyoiku"}, is_invoke=True,
                              user_id="29:user-2", aad_object_id=OTHER_AAD), stranger, services)
    assert S.UPLOAD_EXPIRED in json.dumps(stranger.last().card, ensure_ascii=False)
    refused = RecorderPort()
    await router.dispatch(make_request(verb="qa.upload", data={"token": token, "set": "other"}, is_invoke=True), refused,
                 services)
    assert S.UPLOAD_NOT_WRITABLE.format(set="other") in json.dumps(refused.last().card, ensure_ascii=False)

    chosen = RecorderPort()
    await router.dispatch(make_request(verb="qa.upload", data={"token": token, "set": "kyoiku"}, is_invoke=True), chosen,
                 services)
    assert chosen.last().kind == "refresh"
    assert "「テレワーク実施要領.docx」をナレッジセット「kyoiku」に登録しました" in json.dumps(chosen.last().card,
                                                                                 ensure_ascii=False)
    assert list(await ix.list_documents("kyoiku")) == ["chat:テレワーク実施要領.docx"]
    again = RecorderPort()
    await router.dispatch(make_request(verb="qa.upload", data={"token": token, "set": "kyoiku"}, is_invoke=True), again,
                 services)
    assert S.UPLOAD_EXPIRED in json.dumps(again.last().card, ensure_ascii=False)
    # the choice is remembered: the next file goes straight to kyoiku
    port = await send(services, [attachment(base, "/dl/telework", "要領2.docx")])
    assert port.last().text.startswith("「要領2.docx」をナレッジセット「kyoiku」に登録しました")


async def test_bad_files_get_clear_messages(db, files):
    base, hits = files
    services = build(db, QA_MAX_FILE_MB=1)
    await services.knowledge.create_set("jinji", owner=USER_AAD)
    port = await send(services, [attachment(base, "/dl/app", "tool.exe"), attachment(base, "/dl/missing"),
                                 attachment(base, "/dl/big", "大きい.pdf")])
    lines = port.last().text.splitlines()
    assert lines[0].startswith("「tool.exe」は取り込めない形式です")
    assert lines[1] == S.UPLOAD_DOWNLOAD_FAILED.format(name="テレワーク実施要領.docx")
    assert lines[2] == S.UPLOAD_TOO_LARGE.format(name="大きい.pdf", mb=1)
    assert hits == ["/dl/missing", "/dl/big"]          # the unsupported file was never fetched
    assert await services.knowledge.list_documents("jinji") == {}


async def test_files_need_personal_chat_and_a_writable_set(db, files):
    base, _ = files
    services = build(db)
    await services.knowledge.create_set("soumu", owner=OTHER_AAD)
    port = await send(services, [attachment(base, "/dl/telework")])
    assert port.last().text == S.UPLOAD_NO_WRITABLE
    port = await send(services, [attachment(base, "/dl/telework")], conversation_type="channel",
                      conversation_id="19:c@thread.tacv2")
    assert port.last().text == S.UPLOAD_PERSONAL_ONLY
    # a QA administrator may register anywhere
    services.settings.put(services.settings.get(QASettings).model_copy(update={"QA_ADMIN_IDS": USER_AAD}))
    port = await send(services, [attachment(base, "/dl/telework")])
    assert port.last().text.startswith("「テレワーク実施要領.docx」をナレッジセット「soumu」に登録しました")
