"""/minutes end to end through the router with a transcript file: offline the automatic minutes (labelled, speaking
time, extractive summary, Word with the cleaned transcript); with a model approved for personal data the 議事録 /
相談記録 in the city's layout through the real openai client and the loopback stand-in, every line's time one of
the transcript's; a long meeting section by section within the context; malformed answers; and the refusal in a
tier without an endpoint approved for personal data, where the stand-in receives nothing."""
from __future__ import annotations

import io
import json

from docx import Document

from cards import minutes as cards
from core import router
from core.skills import FileAttachment
from skills.minutes.settings import MinutesSettings
from skills.minutes.transcript import load
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.minutes.samples import TEAMS_VTT, long_vtt


def texts(card: dict) -> list[str]:
    return [n["text"] for n in card_nodes(card, lambda n: n.get("type") == "TextBlock")]


def facts_of(card: dict) -> dict:
    return {f["title"]: f["value"] for f in card_nodes(card, lambda n: "title" in n and "value" in n)}


def docx_text(data: bytes) -> list[str]:
    return [p.text for p in Document(io.BytesIO(data)).paragraphs]


def vtt_file(text: str = TEAMS_VTT, name: str = "第3回策定委員会.vtt") -> FileAttachment:
    return FileAttachment(name=name, content_type="text/vtt", content=text.encode("utf-8"))


def llm(model, personal: bool = True) -> dict:
    return {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": model.base_url, "LLM_PERSONAL_DATA": str(personal).lower()}


async def send(services, words: str = "議事録にして", att: FileAttachment | None = None, **kw) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(words, attachments=[att or vtt_file()], **kw), port, services)
    return port


async def test_offline_automatic_minutes(sqlite_db):
    services = make_services(sqlite_db)
    port = await send(services)
    card = port.cards()[0]
    lines = texts(card)
    assert port.sent[0].ai_generated is False
    assert lines[0] == "会議録（自動抽出）：第3回策定委員会" and lines[1] == cards.AUTO_LABEL
    f = facts_of(card)
    assert f["佐藤 花子"].startswith("1分1秒（") and f["記録時間"] == "1分36秒"
    assert f["出席者"] == "山田 太郎、佐藤 花子、鈴木 一郎"
    at = lines.index("要約（自動抽出）")
    assert all(t.startswith("［00:0") for t in lines[at + 1:at + 3])
    assert any("了承とします" in t for t in lines[lines.index("決定と思われる発言（自動抽出）"):])
    name, data, ctype = port.sent[-1].file
    assert name == "会議録（自動抽出）_第3回策定委員会.docx" and ctype.endswith("wordprocessingml.document")
    paras = docx_text(data)
    assert "６　文字起こし（言いよどみを除き、発言者ごとにまとめたもの）" in paras
    assert not any("えー、" in p or "あのー" in p for p in paras)
    assert "［00:00:03］山田 太郎" in paras


async def test_minutes_with_a_model_in_the_city_layout(sqlite_db, model):
    services = make_services(sqlite_db, llm_env=llm(model))
    port = await send(services)
    assert len(model.chat_requests()) == 1                   # a short meeting: one call
    sent = model.chat_requests()[0]["messages"]
    assert "[00:00:03] 山田 太郎: それでは定刻になりましたので" in sent[1]["content"]   # cleaned, with times
    assert "えー" not in sent[1]["content"]
    assert "会議名: 第3回策定委員会" in sent[0]["content"]
    card = port.cards()[0]
    final = [s for s in port.sent if s.kind == "card"][0]
    assert final.ai_generated is True and final.feedback is True
    lines = texts(card)
    assert lines[0] == "議事録（案）：第3回策定委員会" and cards.AI_LABEL in lines
    f = facts_of(card)
    assert f["場所"] == "第1委員会室" and f["出席者"] == "山田 太郎、佐藤 花子、鈴木 一郎"
    for head in ("議題", "議事の経過（発言要旨）", "決定事項", "今後の対応（担当・期限）", "発言時間"):
        assert head in lines
    known = {f"00:{int(t.start) // 60:02d}:{int(t.start) % 60:02d}" for t in load(TEAMS_VTT).turns}
    shown = [t for t in lines if t.startswith("［")]
    assert shown and all(t[1:9] in known for t in shown)       # every line points at a turn of the transcript
    # action items apart, with owner and due; the model's 00:01:16 and 00:01:31 snapped to the turns' starts
    assert "担当：佐藤 花子　期限：来週中　［00:01:24］" in lines
    assert "担当：佐藤 花子　期限：12月15日　［00:01:15］" in lines
    name, data, _ = port.sent[-1].file
    assert name == "議事録_第3回策定委員会.docx"
    paras = docx_text(data)
    order = ["１　会議名", "２　日時", "３　場所", "４　出席者", "５　議題", "６　議事の経過（発言要旨）", "７　決定事項",
             "８　今後の対応（担当・期限）", "９　発言時間"]
    assert [p for p in paras if p in order] == order
    assert "１　アンケートの設問案を作成する（担当：佐藤 花子、期限：来週中）［00:01:24］" in paras


async def test_consultation_record_masks_the_client(sqlite_db, model):
    services = make_services(sqlite_db, llm_env=llm(model))
    port = await send(services, "相談記録にしてください")
    card = port.cards()[0]
    lines = texts(card)
    assert lines[0].startswith("相談記録（案）")
    assert facts_of(card)["相談者"] == "尼〇〇〇"
    assert "尼崎 花子" not in json.dumps(card, ensure_ascii=False)
    for head in ("主訴", "経過", "対応", "今後の方針", "今後の対応（担当・期限）"):
        assert head in lines
    assert any(t.startswith("［00:01:24］") and "２週間後" in t for t in lines)   # 99:99:99: the last turn
    paras = docx_text(port.sent[-1].file[1])
    assert "２　相談者" in paras and "　尼〇〇〇" in paras


async def test_malformed_answers(sqlite_db, model):
    services = make_services(sqlite_db, llm_env=llm(model))
    model.script = [{"text": "申し訳ありません。議事録は以下のとおりです。"}, {"text": "{\"proceedings\": "}]
    port = await send(services)
    assert len(model.chat_requests()) == 2                     # asked again once, then given up
    retry = model.chat_requests()[1]["messages"]
    assert len(retry) == 2 and retry[1]["content"].endswith("指示したJSONオブジェクトだけを、もう一度出力してください。")
    card = port.cards()[0]
    assert texts(card)[0].startswith("会議録（自動抽出）") and port.sent[-2].ai_generated is False
    assert any(t.startswith("AIの回答を議事録の形に読み取れなかったため") for t in texts(card))
    # one bad answer, then a good one: the minutes
    model.requests.clear()
    model.script = [{"text": "[1, 2, 3]"}]
    port = await send(services)
    assert len(model.chat_requests()) == 2 and texts(port.cards()[0])[0].startswith("議事録（案）")


async def test_refused_without_an_endpoint_approved_for_personal_data(sqlite_db, model):
    services = make_services(sqlite_db, llm_env=llm(model, personal=False))
    for words in ("議事録にして", "相談記録にして"):
        port = await send(services, words)
        card = port.cards()[0]
        msg = next(t for t in texts(card) if "個人情報の取扱いを認められたAIの接続先にだけ送ります" in t)
        assert "インターネット接続系" in msg and "AIには送信していません" in msg
        assert texts(card)[0].startswith("会議録（自動抽出）")
    assert model.requests == []                                # nothing reached the stand-in


async def test_a_three_hour_meeting_is_summarised_section_by_section(sqlite_db, model):
    services = make_services(sqlite_db, llm_env=llm(model))
    services.settings.put(MinutesSettings(_env_file=None, MINUTES_CONTEXT_TOKENS=16000, MINUTES_SECTION_TOKENS=5000,
                                          MINUTES_ANSWER_TOKENS=2000))
    text = long_vtt(hours=3.0)
    tr = load(text)
    port = await send(services, att=vtt_file(text, "予算検討会議.vtt"))
    reqs = model.chat_requests()
    assert len(reqs) > 3
    section_reqs = [r for r in reqs if "区間" in r["messages"][0]["content"] and "第" in r["messages"][0]["content"]]
    assert len(section_reqs) >= 10
    for r in reqs:                                             # every call within the context
        assert len(r["messages"][0]["content"]) + len(r["messages"][1]["content"]) + r["max_tokens"] <= 16000
    informs = [s.text for s in port.sent if s.kind == "inform"]
    assert any(t.startswith(f"長い会議のため、区間ごとに要約しています（1/{len(section_reqs)}区間") for t in informs)
    card = port.cards()[0]
    lines = texts(card)
    assert any(t.startswith(f"長い会議のため、{len(section_reqs)}区間に分けて") for t in lines)
    starts = {f"{int(t.start) // 3600:02d}:{int(t.start) % 3600 // 60:02d}:{int(t.start) % 60:02d}" for t in tr.turns}
    shown = [t[1:9] for t in lines if t.startswith("［")]
    assert shown and set(shown) <= starts
    assert max(shown) > "02:00:00"                            # the last hour is in the minutes


async def test_a_small_context_combines_section_summaries_until_they_fit(sqlite_db, model):
    """A model with a 3,000-token context (an on-premise model on the LGWAN): the section summaries of a 3-hour
    meeting do not fit in one call, so they are combined in groups first; no call exceeds the context."""
    services = make_services(sqlite_db, llm_env=llm(model))
    services.settings.put(MinutesSettings(_env_file=None, MINUTES_CONTEXT_TOKENS=3000, MINUTES_ANSWER_TOKENS=500))
    port = await send(services, att=vtt_file(long_vtt(hours=3.0), "長時間会議.vtt"))
    reqs = model.chat_requests()
    from skills.minutes.transcript import estimate_tokens

    combines = [r for r in reqs if "長い会議の区間ごとの要旨の一部" in r["messages"][0]["content"]]
    assert combines, "no combine step"
    for r in reqs:
        assert sum(estimate_tokens(m["content"]) for m in r["messages"]) + r["max_tokens"] <= 3000
    assert texts(port.cards()[0])[0] == "議事録（案）：長時間会議"
