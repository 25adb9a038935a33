"""LawClient over real HTTP against the loopback e-Gov 法令API v2 stand-in."""
from __future__ import annotations

import aiohttp
import pytest

from core.law import (
    LawClient,
    LawError,
    LawSettings,
    article_elm,
    article_label,
    flatten_element,
    split_position,
    strip_tags,
)
from tests.standins.law import LawStandIn


@pytest.fixture
async def egov():
    async with LawStandIn() as standin:
        yield standin


@pytest.fixture
async def client(egov):
    settings = LawSettings(EGOV_LAW_API_BASE=egov.base_url, LAW_TIMEOUT_SECONDS=0.5, LAW_CACHE_SECONDS=3600)
    async with LawClient(settings) as c:
        yield c


async def test_keyword_search_returns_hits_with_article_and_link(client, egov):
    hits = await client.keyword_search("利用目的", limit=10)
    assert hits, "expected hits from 個人情報の保護に関する法律"
    first = hits[0]
    assert first.law_id == "415AC0000000057"
    assert first.law_title == "個人情報の保護に関する法律"
    assert first.law_num == "平成十五年法律第五十七号"
    assert first.article == "第六十一条"
    assert first.elm == "MainProvision-Article_61"
    assert first.position == "MainProvision-Article_61-Paragraph_1"
    assert "<span>" not in first.excerpt and "利用目的" in first.excerpt
    assert first.url == "https://laws.e-gov.go.jp/law/415AC0000000057#Mp-At_61"
    # the wire: the documented query parameters went out
    query = egov.requests[-1]["query"]
    assert egov.requests[-1]["path"] == "/api/2/keyword"
    assert query["keyword"] == "利用目的" and query["response_format"] == "json"
    assert query["limit"] == "30" and "sentences_limit" in query and "sentence_text_size" in query


async def test_keyword_search_respects_limit_and_items_hits(client, egov):
    hits = await client.keyword_search("地方公共団体", limit=4)
    assert len(hits) == 4
    assert egov.requests[-1]["query"]["limit"] == "12"
    assert [h.law_title for h in hits] == ["地方自治法"] * 3 + ["災害対策基本法"]   # API order: law_id
    # at most three sentences per law, so one law cannot crowd out the others
    hits = await client.keyword_search("事項", limit=10)
    assert egov.requests[-1]["query"]["sentences_limit"] == "3"
    assert len(hits) == 3
    assert all(h.law_title == "災害対策基本法" for h in hits)
    # item-level hits are mapped to the article
    assert all(h.elm == "MainProvision-Article_50" and h.article == "第五十条" for h in hits)
    assert any(h.position.endswith("-Item_1") for h in hits)


async def test_keyword_search_no_hits_is_empty_list(client):
    assert await client.keyword_search("存在しない語句ですよ") == []


async def test_empty_keyword_is_rejected_without_request(client, egov):
    with pytest.raises(LawError) as err:
        await client.keyword_search("   ")
    assert err.value.kind == "invalid_input"
    assert err.value.message_ja == "検索するキーワードを入力してください。"
    assert egov.requests == []


async def test_search_titles_matches_title_and_abbrev(client, egov):
    laws = await client.search_titles("マイナンバー法")
    assert [law.law_id for law in laws] == ["425AC0000000027"]
    assert laws[0].law_title.startswith("行政手続における特定の個人を識別するための番号")
    assert laws[0].url == "https://laws.e-gov.go.jp/law/425AC0000000027"
    assert egov.requests[-1]["path"] == "/api/2/laws"
    assert egov.requests[-1]["query"]["law_title"] == "マイナンバー法"
    laws = await client.search_titles("地方自治法")
    assert laws[0].law_num == "昭和二十二年法律第六十七号" and laws[0].category == "地方自治"


async def test_article_is_flattened_with_paragraph_numbers_and_items(client, egov):
    article = await client.article("336AC0000000223", "MainProvision-Article_50")
    assert egov.requests[-1]["path"] == "/api/2/law_data/336AC0000000223"
    assert egov.requests[-1]["query"] == {"elm": "MainProvision-Article_50", "response_format": "json"}
    assert article.law_title == "災害対策基本法"
    assert article.article_title == "第五十条"
    assert article.caption == "（災害応急対策及びその実施責任）"
    lines = article.text.split("\n")
    assert lines[0].startswith("第五十条　災害応急対策は、次の各号に掲げる事項について")
    assert lines[1] == "　一　警報の発令及び伝達並びに避難の指示に関する事項"
    assert lines[9].startswith("　九　前各号に掲げるもののほか")
    assert lines[10].startswith("２　指定行政機関の長")
    assert len(lines) == 11
    assert article.url == "https://laws.e-gov.go.jp/law/336AC0000000223#Mp-At_50"


async def test_article_without_caption_and_many_paragraphs(client):
    article = await client.article("322AC0000000067", article_elm("第二条"))
    assert article.caption == ""
    assert article.text.split("\n")[0] == "第二条　地方公共団体は、法人とする。"
    assert "\n１４　地方公共団体は、その事務を処理するに当つては" in article.text
    assert "\n　二　法律又はこれに基づく政令により市町村又は特別区が" in article.text


async def test_unknown_article_is_not_found(client):
    with pytest.raises(LawError) as err:
        await client.article("322AC0000000067", "MainProvision-Article_9999")
    assert err.value.kind == "not_found" and err.value.status == 404
    assert "見つかりませんでした" in err.value.message_ja


async def test_second_identical_call_is_served_from_cache(client, egov):
    first = await client.article("129AC0000000089", "MainProvision-Article_709")
    hits1 = await client.keyword_search("損害", limit=5)
    count = len(egov.requests)
    second = await client.article("129AC0000000089", "MainProvision-Article_709")
    hits2 = await client.keyword_search("損害", limit=5)
    assert len(egov.requests) == count, "cached calls must not reach the server"
    assert first == second and hits1 == hits2
    await client.keyword_search("損害", limit=6)          # a different request is not a cache hit
    assert len(egov.requests) == count + 1


async def test_cache_disabled_with_zero_seconds(egov):
    settings = LawSettings(EGOV_LAW_API_BASE=egov.base_url, LAW_CACHE_SECONDS=0)
    async with LawClient(settings) as c:
        await c.search_titles("民法")
        await c.search_titles("民法")
    assert len(egov.requests) == 2


async def test_timeout_raises_law_error_in_japanese(client, egov):
    egov.delay = 2.0
    with pytest.raises(LawError) as err:
        await client.keyword_search("住民")
    assert err.value.kind == "timeout"
    assert err.value.message_ja == "法令検索サービスが応答しませんでした。時間をおいて再度お試しください。"


async def test_server_error_raises_law_error_and_is_not_cached(client, egov):
    egov.fail_status = 500
    with pytest.raises(LawError) as err:
        await client.search_titles("民法")
    assert err.value.kind == "server" and err.value.status == 500 and err.value.code == "500001"
    assert "エラーが発生しました" in err.value.message_ja
    egov.fail_status = None
    laws = await client.search_titles("民法")           # recovers: the failure was not cached
    assert laws and laws[0].law_id == "129AC0000000089"


async def test_connection_refused_is_unavailable():
    # a port that was just released: nothing listens there
    standin = await LawStandIn().start()
    base = standin.base_url
    await standin.stop()
    async with LawClient(LawSettings(EGOV_LAW_API_BASE=base, LAW_TIMEOUT_SECONDS=2)) as c:
        with pytest.raises(LawError) as err:
            await c.search_titles("民法")
    assert err.value.kind == "unavailable"
    assert "接続できませんでした" in err.value.message_ja


async def test_malformed_body_is_bad_response():
    from aiohttp import web

    async def broken(request):
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/api/2/laws", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        base = f"http://127.0.0.1:{runner.addresses[0][1]}/api/2"
        async with LawClient(LawSettings(EGOV_LAW_API_BASE=base)) as c:
            with pytest.raises(LawError) as err:
                await c.search_titles("民法")
        assert err.value.kind == "bad_response"
    finally:
        await runner.cleanup()


async def test_shared_session_is_not_closed_by_client(egov):
    async with aiohttp.ClientSession() as session:
        c = LawClient(LawSettings(EGOV_LAW_API_BASE=egov.base_url), session=session)
        await c.search_titles("民法")
        await c.close()
        assert not session.closed


# ----------------------------------------------------------------------------------------------- pure helpers

def test_article_references():
    assert article_elm("第七百九条") == "MainProvision-Article_709"
    assert article_elm("709条") == "MainProvision-Article_709"
    assert article_elm("第９条の２") == "MainProvision-Article_9_2"
    assert article_elm(61) == "MainProvision-Article_61"
    assert article_elm("第一条の二の三") == "MainProvision-Article_1_2_3"
    assert article_elm("附則") is None and article_elm("") is None
    assert article_label("1010") == "第千十条" and article_label("9_2") == "第九条の二"
    assert split_position("SupplProvision-Article_3-Paragraph_1") == ("SupplProvision-Article_3", "附則第三条")
    assert split_position("amendsupplprovision") == (None, None)


def test_strip_tags():
    assert strip_tags("局の<span>事務局</span>には、<em>次長</em>を置く &amp; 等") == "局の事務局には、次長を置く & 等"


def test_flatten_handles_ruby_columns_subitems_and_law_root():
    tree = {"tag": "Law", "attr": {}, "children": [{"tag": "LawBody", "attr": "", "children": [
        {"tag": "MainProvision", "attr": "", "children": [
            {"tag": "Article", "attr": {"Num": "1"}, "children": [
                {"tag": "ArticleTitle", "attr": {}, "children": ["第一条"]}]},
            {"tag": "Article", "attr": {"Num": "2"}, "children": [
                {"tag": "ArticleCaption", "attr": {}, "children": ["（定義）"]},
                {"tag": "ArticleTitle", "attr": {}, "children": ["第二条"]},
                {"tag": "Paragraph", "attr": {"Num": "1"}, "children": [
                    {"tag": "ParagraphNum", "attr": {}, "children": []},
                    {"tag": "ParagraphSentence", "attr": {}, "children": [
                        {"tag": "Sentence", "attr": {}, "children": [
                            "旗", {"tag": "Ruby", "attr": {}, "children": ["竿", {"tag": "Rt", "attr": {}, "children": ["ざお"]}]},
                            "の\n      定義は、次のとおりとする。"]}]},
                    {"tag": "Item", "attr": {"Num": "1"}, "children": [
                        {"tag": "ItemTitle", "attr": {}, "children": ["一"]},
                        {"tag": "ItemSentence", "attr": {}, "children": [
                            {"tag": "Column", "attr": {"Num": "1"}, "children": [{"tag": "Sentence", "attr": {}, "children": ["個人情報"]}]},
                            {"tag": "Column", "attr": {"Num": "2"}, "children": [{"tag": "Sentence", "attr": {}, "children": ["生存する個人に関する情報"]}]}]},
                        {"tag": "Subitem1", "attr": {"Num": "1"}, "children": [
                            {"tag": "Subitem1Title", "attr": {}, "children": ["イ"]},
                            {"tag": "Subitem1Sentence", "attr": {}, "children": [{"tag": "Sentence", "attr": {}, "children": ["氏名"]}]}]}]}]}]}]}]}]}
    title, caption, text = flatten_element(tree, "MainProvision-Article_2")
    assert (title, caption) == ("第二条", "（定義）")
    assert text.split("\n") == ["第二条　旗竿の定義は、次のとおりとする。", "　一　個人情報　生存する個人に関する情報", "　　イ　氏名"]


# ------------------------------------------------------------------ the spec's own examples (lawapi-v2.yaml)

SPEC_KEYWORD_EXAMPLE = {
    "total_count": 447, "sentence_count": 100, "next_offset": 100,
    "items": [{
        "law_info": {"law_type": "Rule", "law_id": "428M60020000006",
                     "law_num": "平成二十八年個人情報保護委員会規則第六号", "law_num_era": "Heisei", "law_num_year": 28,
                     "law_num_type": "Rule", "law_num_num": "006", "promulgation_date": "2016-12-15"},
        "revision_info": {"law_revision_id": "428M60020000006_20240527_506M60020000003", "law_type": "Rule",
                          "law_title": "行政手続における特定の個人を識別するための番号の利用等に関する法律第十九条第九号の規定により提供することができる利用特定個人情報の範囲の限定に関する規則",
                          "abbrev": None, "category": "行政手続", "current_revision_status": "CurrentEnforced"},
        "sentences": [{"position": "amendsupplprovision",
                       "text": "この規則は、<span>デジタル庁</span>設置法及びデジタル社会の形成を図るための関係法律の整備に関する法律の施行の日（令和三年九月一日）から施行する。"}],
    }],
}

SPEC_LAW_DATA_EXAMPLE = {
    "attached_files_info": {"image_data": "", "attached_files": []},
    "law_info": {"law_type": "Act", "law_id": "411AC0000000127", "law_num": "平成十一年法律第百二十七号"},
    "revision_info": {"law_revision_id": "411AC0000000127_19990813_000000000000000", "law_title": "国旗及び国歌に関する法律",
                      "abbrev": "国旗国歌法,日の丸君が代法,国旗・国歌法"},
    "law_full_text": {"tag": "Law", "attr": {"Era": "Heisei", "Lang": "ja", "LawType": "Act", "Num": "127", "Year": "11"},
                      "children": [
                          {"tag": "LawNum", "attr": "", "children": ["平成十一年法律第百二十七号"]},
                          {"tag": "LawBody", "attr": "", "children": [
                              {"tag": "LawTitle", "attr": {"Kana": "こっきおよびこっかにかんするほうりつ"}, "children": ["国旗及び国歌に関する法律"]},
                              {"tag": "MainProvision", "attr": "", "children": [
                                  {"tag": "Article", "attr": {"Delete": "false", "Hide": "false", "Num": "1"}, "children": [
                                      {"tag": "ArticleCaption", "attr": "", "children": ["（国旗）"]},
                                      {"tag": "ArticleTitle", "attr": "", "children": ["第一条"]},
                                      {"tag": "Paragraph", "attr": {"Hide": "false", "Num": "1", "OldStyle": "false"}, "children": [
                                          {"tag": "ParagraphNum", "attr": "", "children": []},
                                          {"tag": "ParagraphSentence", "attr": "", "children": [
                                              {"tag": "Sentence", "attr": {"Num": "1", "WritingMode": "vertical"}, "children": ["国旗は、日章旗とする。"]}]}]},
                                      {"tag": "Paragraph", "attr": {"Hide": "false", "Num": "2", "OldStyle": "false"}, "children": [
                                          {"tag": "ParagraphNum", "attr": "", "children": ["２"]},
                                          {"tag": "ParagraphSentence", "attr": "", "children": [
                                              {"tag": "Sentence", "attr": {"Num": "1", "WritingMode": "vertical"}, "children": ["日章旗の制式は、別記第一のとおりとする。"]}]}]}]}]}]}]},
}


async def test_client_reads_the_specs_example_bodies():
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/api/2/keyword", lambda r: web.json_response(SPEC_KEYWORD_EXAMPLE))
    app.router.add_get("/api/2/law_data/411AC0000000127", lambda r: web.json_response(SPEC_LAW_DATA_EXAMPLE))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        base = f"http://127.0.0.1:{runner.addresses[0][1]}/api/2"
        async with LawClient(LawSettings(EGOV_LAW_API_BASE=base)) as c:
            hits = await c.keyword_search("デジタル庁")
            article = await c.article("411AC0000000127", "MainProvision-Article_1")
    finally:
        await runner.cleanup()
    assert len(hits) == 1
    assert hits[0].article is None and hits[0].elm is None
    assert hits[0].url == "https://laws.e-gov.go.jp/law/428M60020000006"
    assert hits[0].excerpt.startswith("この規則は、デジタル庁設置法及び")
    # a Law-rooted body (no elm narrowing) still yields the requested article
    assert article.law_title == "国旗及び国歌に関する法律"
    assert (article.article_title, article.caption) == ("第一条", "（国旗）")
    assert article.text == "第一条　国旗は、日章旗とする。\n２　日章旗の制式は、別記第一のとおりとする。"
    assert article.url == "https://laws.e-gov.go.jp/law/411AC0000000127#Mp-At_1"
