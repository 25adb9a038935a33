"""KintoneClient over real HTTP against the loopback kintone stand-in."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from core.kintone import AnsweredRecord, KintoneClient, KintoneError, KintoneSettings, kintone_datetime, query_string
from core.timeutil import JST
from tests.standins.kintone import KintoneStandIn

TOKEN = "kintone-secret-token-123"


@pytest.fixture
async def kintone():
    async with KintoneStandIn(app_id="7", api_token=TOKEN) as standin:
        yield standin


def settings_for(standin: KintoneStandIn, **overrides) -> KintoneSettings:
    values = dict(KINTONE_BASE_URL=standin.base_url, KINTONE_APP_ID="7", KINTONE_API_TOKEN=TOKEN,
                  KINTONE_TIMEOUT_SECONDS=2, KINTONE_WEBHOOK_TOKEN="hook-secret")
    values.update(overrides)
    return KintoneSettings(**values)


@pytest.fixture
async def client(kintone):
    async with KintoneClient(settings_for(kintone)) as c:
        yield c


async def _ask(client, question="住民票の写しの交付手数料は条例のどこに定めがありますか。", asker_id="aad-1"):
    return await client.create_question(
        question=question, asker_name="山田 太郎", asker_id=asker_id,
        asked_at=datetime(2025, 4, 1, 9, 30, 15, tzinfo=JST), knowledge_set="市民課",
        passages=["手数料条例 第2条 …", "  ", "窓口案内 …"])


async def test_create_question_sends_kintone_record_shape(client, kintone):
    record_id = await _ask(client)
    assert record_id == "1"
    sent = kintone.requests[-1]
    assert sent["method"] == "POST" and sent["path"] == "/k/v1/record.json"
    assert sent["headers"]["X-Cybozu-API-Token"] == TOKEN
    assert sent["headers"]["Content-Type"].startswith("application/json")
    body = sent["json"]
    assert body["app"] == "7"
    assert body["record"] == {
        "質問": {"value": "住民票の写しの交付手数料は条例のどこに定めがありますか。"},
        "質問者": {"value": "山田 太郎"},
        "質問者ID": {"value": "aad-1"},
        "質問日時": {"value": "2025-04-01T00:30:15Z"},           # JST → UTC with Z
        "ナレッジセット": {"value": "市民課"},
        "候補資料": {"value": "［1］手数料条例 第2条 …\n\n［2］窓口案内 …"},
    }
    stored = kintone.records[1]
    assert stored["ステータス"] == "未回答" and stored["質問日時"] == "2025-04-01T00:30:00Z"


async def test_naive_datetime_is_taken_as_utc():
    assert kintone_datetime(datetime(2025, 4, 1, 9, 30)) == "2025-04-01T09:30:00Z"


async def test_wrong_token_raises_kintone_error_and_token_is_not_logged(kintone, caplog):
    caplog.set_level(logging.DEBUG)
    async with KintoneClient(settings_for(kintone, KINTONE_API_TOKEN="wrong-token-xyz")) as c:
        with pytest.raises(KintoneError) as err:
            await _ask(c)
    assert err.value.kind == "auth" and err.value.status == 401 and err.value.code == "GAIA_IA02"
    assert err.value.error_id
    assert "認証に失敗しました" in err.value.message_ja
    assert kintone.records == {}
    assert "wrong-token-xyz" not in caplog.text and "wrong-token-xyz" not in str(err.value)


async def test_field_map_mismatch_is_a_config_error(kintone):
    async with KintoneClient(settings_for(kintone, KINTONE_FIELD_MAP={"knowledge_set": "分類"})) as c:
        with pytest.raises(KintoneError) as err:
            await _ask(c)
    assert err.value.kind == "config" and err.value.code == "CB_VA01" and err.value.status == 400
    assert "record.分類" in err.value.detail
    assert "フィールドコード" in err.value.message_ja


async def test_blank_question_is_refused_before_any_request(client, kintone):
    with pytest.raises(KintoneError) as err:
        await _ask(client, question="   ")
    assert err.value.kind == "invalid_input" and kintone.requests == []


async def test_not_configured_client(kintone):
    c = KintoneClient(KintoneSettings(KINTONE_BASE_URL=kintone.base_url, KINTONE_APP_ID="7"))
    assert not c.configured
    with pytest.raises(KintoneError) as err:
        await c.answered_since()
    assert err.value.kind == "not_configured" and kintone.requests == []
    assert KintoneClient(settings_for(kintone)).configured


async def test_polling_finds_answered_records_only(client, kintone):
    first = await _ask(client, asker_id="aad-1")
    second = await _ask(client, question="公用車の予約方法を教えてください。", asker_id="aad-2")
    third = await _ask(client, question="出張旅費の精算期限は？", asker_id="aad-3")
    kintone.answer(second, "公用車は庁内ポータルの施設予約から予約できます。")
    kintone.records[int(third)]["ステータス"] = "回答済"        # status moved but no answer written: skipped
    found = await client.answered_since()
    assert [r.record_id for r in found] == [second]
    rec = found[0]
    assert rec == AnsweredRecord(record_id=second, question="公用車の予約方法を教えてください。",
                                 answer="公用車は庁内ポータルの施設予約から予約できます。", asker_id="aad-2",
                                 knowledge_set="市民課", updated_at=rec.updated_at, asker_name="山田 太郎")
    assert rec.updated_at is not None and rec.updated_at.tzinfo is not None
    # the wire: GET with URL-encoded query and fields[N] parameters
    sent = kintone.requests[-1]
    assert sent["method"] == "GET" and sent["path"] == "/k/v1/records.json" and sent["json"] is None
    assert sent["query"]["app"] == "7"
    assert sent["query"]["query"] == 'ステータス in ("回答済") order by $id asc limit 500'
    assert sent["query"]["fields[0]"] == "$id" and "fields[1]" in sent["query"]
    assert first not in [r.record_id for r in found]


async def test_polling_by_ids_and_updated_after(client, kintone):
    t0 = datetime(2025, 4, 1, 0, 0, tzinfo=timezone.utc)
    ids = [await _ask(client, asker_id=f"aad-{i}") for i in range(4)]
    kintone.answer(ids[0], "回答A", at=t0 + timedelta(minutes=5))
    kintone.answer(ids[1], "回答B", at=t0 + timedelta(minutes=20))
    kintone.answer(ids[2], "回答C", at=t0 + timedelta(minutes=30))
    found = await client.answered_since(record_ids=[ids[1], ids[2], ids[3]])
    assert [r.answer for r in found] == ["回答B", "回答C"]
    assert '$id in ("2", "3", "4")' in kintone.requests[-1]["query"]["query"]
    found = await client.answered_since(updated_after=t0 + timedelta(minutes=10))
    assert [r.answer for r in found] == ["回答B", "回答C"]
    assert '更新日時 > "2025-04-01T00:10:00Z"' in kintone.requests[-1]["query"]["query"]
    count = len(kintone.requests)
    assert await client.answered_since(record_ids=[]) == []
    assert len(kintone.requests) == count


async def test_polling_pages_past_500_records(client, kintone):
    for i in range(1203):
        kintone.add_record({"質問": f"質問{i}", "回答": f"回答{i}", "質問者ID": "x"}, status="回答済")
    found = await client.answered_since()
    assert len(found) == 1203
    assert [r.record_id for r in found[:3]] == ["1", "2", "3"] and found[-1].record_id == "1203"
    gets = [r for r in kintone.requests if r["method"] == "GET"]
    assert len(gets) == 3
    assert gets[1]["query"]["query"].startswith('ステータス in ("回答済") and $id > "500"')


async def test_query_escaping_of_status_value(kintone):
    assert query_string('回答"済\\') == '"回答\\"済\\\\"'
    async with KintoneClient(settings_for(kintone, KINTONE_ANSWERED_STATUS='完了"')) as c:
        kintone.add_record({"質問": "q", "回答": "a"}, status='完了"')
        kintone.add_record({"質問": "q2", "回答": "a2"}, status="完了")
        found = await c.answered_since()
    assert [r.question for r in found] == ["q"]


async def test_unknown_status_field_in_query_is_config_error(kintone):
    async with KintoneClient(settings_for(kintone, KINTONE_FIELD_MAP={"status": "状態"})) as c:
        with pytest.raises(KintoneError) as err:
            await c.answered_since()
    assert err.value.kind == "config" and err.value.code == "GAIA_IQ11"


async def test_timeout_and_server_errors(kintone):
    async with KintoneClient(settings_for(kintone, KINTONE_TIMEOUT_SECONDS=0.3)) as c:
        kintone.delay = 1.0
        with pytest.raises(KintoneError) as err:
            await c.answered_since()
        assert err.value.kind == "timeout" and "時間内に応答しませんでした" in err.value.message_ja
        kintone.delay = 0
        kintone.fail_status = 520
        with pytest.raises(KintoneError) as err:
            await c.answered_since()
        assert err.value.kind == "server" and err.value.status == 520
        kintone.fail_status = 503
        with pytest.raises(KintoneError) as err:
            await c.answered_since()
        assert err.value.kind == "unavailable"


# --------------------------------------------------------------------------------------------------- webhook

async def test_parse_realistic_webhook_payload(client, kintone):
    record_id = await _ask(client, question="公用車の予約方法を教えてください。", asker_id="aad-2")
    kintone.answer(record_id, "庁内ポータルの施設予約から予約できます。", at=datetime(2025, 4, 1, 1, 2, tzinfo=timezone.utc))
    payload = kintone.webhook_payload(record_id, "UPDATE_STATUS")
    assert payload["record"]["$id"] == {"type": "__ID__", "value": record_id}
    assert payload["record"]["ステータス"] == {"type": "STATUS", "value": "回答済"}
    rec = client.parse_webhook(payload)
    assert rec == AnsweredRecord(record_id=record_id, question="公用車の予約方法を教えてください。",
                                 answer="庁内ポータルの施設予約から予約できます。", asker_id="aad-2", knowledge_set="市民課",
                                 updated_at=datetime(2025, 4, 1, 1, 2, tzinfo=timezone.utc), asker_name="山田 太郎")
    assert client.parse_webhook(kintone.webhook_payload(record_id, "UPDATE_RECORD")) == rec


async def test_webhook_ignores_other_events_apps_and_unanswered(client, kintone):
    record_id = await _ask(client)
    unanswered = kintone.webhook_payload(record_id, "UPDATE_RECORD")
    assert client.parse_webhook(unanswered) is None
    kintone.answer(record_id, "回答です。")
    answered = kintone.webhook_payload(record_id)
    other_app = {**answered, "app": {"id": "99", "name": "別アプリ"}}
    assert client.parse_webhook(other_app) is None
    deleted = {"id": "x", "type": "DELETE_RECORD", "app": {"id": "7", "name": "職員質問窓口"}, "recordId": record_id,
               "deletedBy": {"code": "sato", "name": "佐藤"}, "deletedAt": "2025-04-01T01:00:00Z"}
    assert client.parse_webhook(deleted) is None
    assert client.parse_webhook({"type": "UPDATE_STATUS", "app": {"id": "7"}, "record": "broken"}) is None
    assert client.parse_webhook([]) is None  # type: ignore[arg-type]
    assert client.parse_webhook(answered) is not None


def test_webhook_token_check():
    c = KintoneClient(KintoneSettings(KINTONE_WEBHOOK_TOKEN="hook-secret"))
    assert c.verify_webhook_token("hook-secret")
    assert not c.verify_webhook_token("hook-secreT") and not c.verify_webhook_token(None)
    assert not KintoneClient(KintoneSettings()).verify_webhook_token("anything")


def test_field_map_merges_defaults_and_rejects_unknown_keys():
    s = KintoneSettings(KINTONE_FIELD_MAP={"answer": "回答内容"})
    assert s.KINTONE_FIELD_MAP["answer"] == "回答内容" and s.KINTONE_FIELD_MAP["question"] == "質問"
    with pytest.raises(ValueError):
        KintoneSettings(KINTONE_FIELD_MAP={"answr": "回答"})


def test_token_is_secret_in_settings_repr():
    s = KintoneSettings(KINTONE_API_TOKEN="very-secret", KINTONE_WEBHOOK_TOKEN="hook")
    assert "very-secret" not in repr(s) and "hook" not in repr(s)
