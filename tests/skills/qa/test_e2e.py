"""/ask through the real app: Bot Framework activities in, the stand-in Connector recording what goes out, the
real openai client against the loopback OpenAI stand-in, the real kintone client against the kintone stand-in."""
from __future__ import annotations

import json

import aiohttp

from skills.qa import strings as S
from skills.qa.escalation import poll_kintone
from tests.harness import running_bot
from tests.skills.qa.conftest import USER_AAD, build, seed
from tests.standins.connector import ConnectorStandIn

FILE_INFO = "application/vnd.microsoft.teams.file.download.info"


async def post(url: str, activity: dict) -> tuple[int, dict | None]:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", json=activity) as r:
            body = await r.json() if r.content_type == "application/json" else None
            return r.status, body


def root_entity(act: dict) -> dict:
    return next(e for e in act.get("entities") or [] if e.get("type") == "https://schema.org/Message")


async def test_ask_answer_with_citations_escalation_and_proactive_staff_answer(db, llm, kintone, files):
    services = build(db, llm=llm, kintone=kintone)
    await seed(services)
    await services.knowledge.create_set("jinji", title="人事課", owner=USER_AAD)
    connector = await ConnectorStandIn().start()
    try:
        async with running_bot(services) as url:
            # 1. a grounded answer: text with [1], the AI label with a citation claim, the feedback loop, the card
            llm.script.append({"text": "年次休暇は1年につき20日です[1]。"})
            assert (await post(url, connector.activity("/ask 年次休暇は何日ありますか")))[0] == 202
            acts = await connector.wait_for(lambda a: any(m.get("text", "").startswith("年次休暇は")
                                                          for m in connector.messages()))
            answer = next(m for m in connector.messages() if (m.get("text") or "").startswith("年次休暇は"))
            assert answer["text"] == "年次休暇は1年につき20日です[1]。"
            entity = root_entity(answer)
            assert entity["additionalType"] == ["AIGeneratedContent"]
            claim = entity["citation"][0]
            assert claim["position"] == 1
            assert claim["appearance"]["name"] == "職員の休暇に関する規程 — 年次休暇"
            assert claim["appearance"]["url"] == "https://city.example/kyuka.docx"
            assert answer["channelData"]["feedbackLoop"] == {"type": "default"}
            assert answer["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
            assert any(a.get("type") == "typing" for a in acts)            # informative update while working

            # 2. a question no document answers: declined without a model call, hand-off offered
            calls = len(llm.chat_requests())
            n = len(connector.cards())
            assert (await post(url, connector.activity("/ask 庁舎の駐車場は使えますか")))[0] == 202
            await connector.wait_for(lambda a: len(connector.cards()) > n)
            declined = connector.messages()[-1]
            assert declined["text"] == S.NOT_FOUND and len(llm.chat_requests()) == calls
            action = connector.cards()[-1]["actions"][0]
            assert action["verb"] == "qa.escalate"

            # 3. the user clicks 「担当課に問い合わせる」 (Action.Execute): a kintone record, the card replaced
            invoke = connector.activity(None, type="invoke", name="adaptiveCard/action",
                                        value={"action": {"type": "Action.Execute", "verb": action["verb"],
                                                          "data": action["data"]}})
            status, body = await post(url, invoke)
            assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
            assert S.ESCALATED_KINTONE.format(record_id="1") in json.dumps(body["value"], ensure_ascii=False)
            assert kintone.records[1]["質問"] == "庁舎の駐車場は使えますか"

            # 4. staff answer in kintone; the poller delivers it proactively to the personal chat
            kintone.answer("1", "職員は来庁者用駐車場を利用できません。")
            n = len(connector.messages())
            assert await poll_kintone(services) == 1
            await connector.wait_for(lambda a: len(connector.messages()) > n)
            pushed = connector.messages()[-1]
            assert connector.posts[-1]["path"].startswith("/v3/conversations/a:personal-1/activities")
            assert "職員は来庁者用駐車場を利用できません" in json.dumps(pushed["attachments"][0]["content"],
                                                          ensure_ascii=False)

            # 5. a file sent in personal chat (Teams file download info) is registered
            n = len(connector.messages())
            upload = connector.activity("", attachments=[{
                "contentType": FILE_INFO, "name": "テレワーク実施要領.docx", "contentUrl": files[0] + "/dl/telework",
                "content": {"downloadUrl": files[0] + "/dl/telework", "uniqueId": "abc", "fileType": "docx"}}])
            assert (await post(url, upload))[0] == 202
            await connector.wait_for(lambda a: len(connector.messages()) > n, timeout=20)
            # several skills take a .docx and the message has no words: the router asks; 「登録」 decides
            assert "ファイルの用途を続けて入力してください" in connector.messages()[-1]["text"]
            n = len(connector.messages())
            assert (await post(url, connector.activity("登録")))[0] == 202
            await connector.wait_for(lambda a: len(connector.messages()) > n, timeout=20)
            assert connector.messages()[-1]["text"].startswith("「テレワーク実施要領.docx」をナレッジセット「jinji」に登録しました")
    finally:
        await connector.stop()
