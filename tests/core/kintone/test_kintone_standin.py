"""The kintone stand-in itself behaves like kintone for what other tests rely on (raw HTTP, no client)."""
from __future__ import annotations

import aiohttp
import pytest

from tests.standins.kintone import KintoneStandIn

TOKEN = "tok"


@pytest.fixture
async def kintone():
    async with KintoneStandIn(api_token=TOKEN) as standin:
        for i, (q, status) in enumerate([("除票の交付", "未回答"), ("公用車の予約", "回答済"), ("旅費の精算", "確認中")]):
            standin.add_record({"質問": q, "回答": f"回答{i}" if status == "回答済" else "", "質問者ID": f"u{i}"},
                               status=status)
        yield standin


async def _get(standin, params, token=TOKEN, json_body=None):
    async with aiohttp.ClientSession() as s:
        async with s.get(standin.base_url + "/k/v1/records.json", params=params,
                         headers={"X-Cybozu-API-Token": token}, json=json_body) as r:
            return r.status, await r.json()


async def test_query_language_subset(kintone):
    async def ids(query):
        status, body = await _get(kintone, {"app": "7", "query": query, "fields[0]": "$id"})
        assert status == 200, body
        return [r["$id"]["value"] for r in body["records"]]

    assert await ids("order by $id asc") == ["1", "2", "3"]
    assert await ids("") == ["3", "2", "1"]                                  # default: $id desc
    assert await ids('ステータス not in ("回答済") order by $id asc') == ["1", "3"]
    assert await ids('質問 like "公用車" or (ステータス = "確認中" and $id >= 3)') == ["3", "2"]
    assert await ids("order by $id asc limit 1 offset 1") == ["2"]
    assert await ids('$id in (1, "3") order by $id asc') == ["1", "3"]


async def test_records_shape_fields_and_body_on_get(kintone):
    status, body = await _get(kintone, None, json_body={"app": 7, "query": "$id = 2", "fields": ["質問", "更新日時"],
                                                          "totalCount": True})
    assert status == 200
    assert body["totalCount"] == "1"
    record = body["records"][0]
    assert set(record) == {"質問", "更新日時"}
    assert record["質問"] == {"type": "MULTI_LINE_TEXT", "value": "公用車の予約"}
    assert record["更新日時"]["type"] == "UPDATED_TIME" and record["更新日時"]["value"].endswith(":00Z")


async def test_errors_have_kintone_shape(kintone):
    status, body = await _get(kintone, {"app": "7", "query": '存在しない = "x"'})
    assert status == 400 and body["code"] == "GAIA_IQ11" and body["id"] and "存在しない" in body["message"]
    status, body = await _get(kintone, {"app": "7", "query": "limit 501"})
    assert status == 400
    status, body = await _get(kintone, {"app": "8"})
    assert status == 400 and body["code"] == "GAIA_AP15"
    status, body = await _get(kintone, {"app": "7"}, token="other")
    assert status == 401 and body["code"] == "GAIA_IA02"
    status, body = await _get(kintone, {"app": "7"}, token=f"other,{TOKEN}")   # several tokens, one right
    assert status == 200


async def test_put_record_and_answer_helper(kintone):
    async with aiohttp.ClientSession() as s:
        headers = {"X-Cybozu-API-Token": TOKEN}
        async with s.put(kintone.base_url + "/k/v1/record.json", headers=headers,
                         json={"app": "7", "id": "1", "record": {"回答": {"value": "市民課で交付します。"}}}) as r:
            assert r.status == 200 and (await r.json()) == {"revision": "2"}
        async with s.put(kintone.base_url + "/k/v1/record.json", headers=headers,
                         json={"app": "7", "id": "1", "record": {"ステータス": {"value": "回答済"}}}) as r:
            body = await r.json()
            assert r.status == 400 and body["code"] == "CB_VA01" and "record.ステータス.value" in body["errors"]
        async with s.put(kintone.base_url + "/k/v1/record.json", headers=headers,
                         json={"app": "7", "id": "99", "record": {}}) as r:
            assert r.status == 404 and (await r.json())["code"] == "GAIA_RE01"
        async with s.post(kintone.base_url + "/k/v1/record.json", headers=headers,
                          json={"app": "7", "record": {"質問日時": {"value": "2025/04/01 09:00"}}}) as r:
            body = await r.json()
            assert r.status == 400 and "record.質問日時.value" in body["errors"]
    assert kintone.records[1]["回答"] == "市民課で交付します。"
    kintone.answer(3, "旅費は翌月10日までに精算してください。")
    assert kintone.records[3]["ステータス"] == "回答済" and kintone.records[3]["$revision"] == "2"
