"""/news and its card actions through the skill handler (RecorderPort), with feeds and Graph on loopback."""
from __future__ import annotations

import json

import jsonschema
import pytest
from sqlalchemy import select

from core import router
from core.graph import GraphService
from core.store.models import ConversationRef, Feedback, UsageEvent
from skills.news import SKILL
from skills.news.digest import Corpus, CorpusItem, ProfileView, learn, rank
from skills.news.models import NewsItem, NewsProfile
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.news.helpers import FixedClock, Route, install, jst, news_settings, rss
from tests.standins.graph import FixedCredential, GraphStandIn

ITEMS = [
    {"title": "大雨に備えた防災情報の確認について", "link": "https://www.bousai.go.jp/a", "guid": "1",
     "description": "大雨の季節を迎え、避難情報の確認をお願いします。自治体の防災担当者向けの資料も公開しました。"},
    {"title": "自治体システム標準化の進捗状況", "link": "https://www.digital.go.jp/b", "guid": "2",
     "description": "地方公共団体情報システムの標準化について、移行状況を公表しました。"},
    {"title": "子育て支援策の拡充について", "link": "https://www.cfa.go.jp/c", "guid": "3",
     "description": "児童手当の拡充に関する案内を掲載しました。"},
]


@pytest.fixture(scope="session")
def card_schema(testdata):
    schema = json.loads((testdata / "schemas/adaptive-cards/1.5.0/adaptive-card.json").read_text(encoding="utf-8"))
    return jsonschema.Draft6Validator(schema)


def assert_valid(validator, card):
    """Schema 1.5 check. `msteams` (width: Full) is a Teams host extension the strict schema does not know."""
    card = {k: v for k, v in card.items() if k != "msteams"}
    errors = sorted(validator.iter_errors(card), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]


@pytest.fixture
async def env(db, feeds, tmp_path):
    feeds.routes["/bousai"] = Route(body=rss(ITEMS[:1] + ITEMS[2:]))
    feeds.routes["/digital"] = Route(body=rss(ITEMS[1:2]))
    sources = [{"url": feeds.url("/bousai"), "title": "内閣府（防災）", "tags": ["防災"], "weight": 1.0},
               {"url": feeds.url("/digital"), "title": "デジタル庁", "tags": ["DX"], "weight": 1.0}]
    services = make_services(db)
    services.clock = FixedClock(jst(2026, 8, 21, 8, 0))
    engine, deliverer = install(services, news_settings(tmp_path, sources))
    return services, engine, deliverer, feeds


async def run(services, text="", **kw):
    port = RecorderPort()
    req = make_request(text, command="news" if not kw.get("verb") else None, **kw)
    if req.verb:
        await router.dispatch(req, port, services)       # card verbs go through the skill's verb table
    else:
        await SKILL.handler(req, port, services)
    return port


async def test_news_shows_todays_digest_offline_labelled(env, card_schema):
    services, engine, _, feeds = env
    port = await run(services)
    assert [s.kind for s in port.sent] == ["inform", "card"]          # fetched first (no cycle yet)
    sent = port.sent[-1]
    assert sent.ai_generated is False
    card = sent.card
    assert_valid(card_schema, card)
    dump = json.dumps(card, ensure_ascii=False)
    for it in ITEMS:
        assert it["title"] in dump
    assert dump.count("フィード本文の抜粋（AI要約ではありません）") == 3
    verbs = {a.get("verb") for b in card["body"] if b["type"] == "Container" for x in b["items"]
             if x["type"] == "ActionSet" for a in x["actions"]}
    assert {"news.like", "news.dislike"} <= verbs
    async with services.db.session() as s:
        outcome = (await s.execute(select(UsageEvent.outcome).where(UsageEvent.skill == "news"))).scalars().all()
    assert outcome == ["offline"]


async def test_keywords_and_tags_rank_first_and_group(env):
    services, engine, _, _ = env
    await run(services, "一時停止")                               # creates the profile
    async with services.db.session() as s:
        p = await s.get(NewsProfile, "29:user-1")
        p.keywords, p.paused = ["標準化"], False
    card = (await run(services)).sent[-1].card
    titles = [x["text"] for b in card["body"] if b["type"] == "Container" for x in b["items"][:1]]
    assert titles[0] == ITEMS[1]["title"]
    headings = [b["text"] for b in card["body"] if b.get("size") == "Medium"]
    assert headings[0] == "DX" and "防災" in headings


async def test_pause_and_resume(env):
    services, _, deliverer, _ = env
    port = await run(services, "一時停止")
    assert "一時停止しました" in port.texts()[0]
    async with services.db.session() as s:
        s.add(ConversationRef(conversation_id="a:personal-1", user_id="29:user-1", conversation_type="personal",
                              service_url="http://127.0.0.1:9/", reference={}, installed=True))
    services.clock.t = jst(2026, 8, 21, 9, 0)
    assert await deliverer.due_users(services.clock.now_jst()) == []
    port = await run(services, "再開")
    assert "再開しました" in port.texts()[0] and "08:30" in port.texts()[0]
    assert [d.user_id for d in await deliverer.due_users(services.clock.now_jst())] == ["29:user-1"]


async def test_settings_prefilled_from_graph_and_saved(env, card_schema):
    services, _, deliverer, _ = env
    graph = await GraphStandIn().start()
    try:
        graph.users["00000000-0000-0000-0000-0000000000aa"] = {"department": "危機管理課", "jobTitle": "係長",
                                                               "mail": "taro@example.jp"}
        services.graph = GraphService(FixedCredential(), graph.base_url)
        deliverer.s = deliverer.engine.s = deliverer.s.model_copy(update={"NEWS_MAIL_SENDER": "news@example.jp"})
        port = await run(services, "設定")
        card = port.sent[-1].card
        assert_valid(card_schema, card)
        inputs = {b["id"]: b for b in card["body"] if "id" in b}
        assert inputs["department"]["value"] == "危機管理課" and inputs["job_title"]["value"] == "係長"
        assert inputs["mail_address"]["value"] == "taro@example.jp"
        assert {c["value"] for c in inputs["tags"]["choices"]} == {"防災", "DX"}
        action = card["actions"][0]
        assert action["type"] == "Action.Execute" and action["verb"] == "news.settings.save"
        data = {"keywords": "避難所、 標準化\n防災", "tags": "防災,存在しない分野", "delivery_time": "07:45",
                "department": "危機管理課", "job_title": "係長", "mail": "true", "mail_address": "taro@example.jp",
                "paused": "false"}
        port = await run(services, verb="news.settings.save", data=data, is_invoke=True)
        assert port.sent[-1].kind == "refresh" and "保存しました" in json.dumps(port.sent[-1].card, ensure_ascii=False)
        async with services.db.session() as s:
            p = await s.get(NewsProfile, "29:user-1")
        assert p.keywords == ["避難所", "標準化", "防災"] and p.tags == ["防災"] and p.delivery_time == "07:45"
        assert p.mail and p.mail_address == "taro@example.jp"
        bad = await run(services, verb="news.settings.save", data={**data, "delivery_time": "25:00"}, is_invoke=True)
        assert "配信時刻" in json.dumps(bad.sent[-1].card, ensure_ascii=False)
        # the mail goes out with the scheduled digest
        async with services.db.session() as s:
            s.add(ConversationRef(conversation_id="a:personal-1", user_id="29:user-1", conversation_type="personal",
                                  service_url="http://127.0.0.1:9/", reference={}, installed=True))

        class Sender:
            async def send(self, cid, *, text=None, card=None, ai_generated=False):
                from core.services import SendResult
                return SendResult(ok=True, status=200, activity_id="x")

        services.proactive = Sender()
        services.clock.t = jst(2026, 8, 21, 7, 45)
        report = await deliverer.tick()
        assert report.sent == 1 and report.mails == 1
        mail = {k.lower(): v for k, v in graph.mails[0].items()}
        assert graph.mails[0]["sender"] == "news@example.jp"
        assert mail["message"]["toRecipients"][0]["emailAddress"]["address"] == "taro@example.jp"
        html = mail["message"]["body"]["content"]
        assert ITEMS[0]["title"] in html and "<h2>" in html
    finally:
        await graph.stop()


async def test_sources_card_shows_health(env, card_schema, tmp_path):
    services, engine, _, feeds = env
    feeds.routes["/digital"] = Route(status=500)
    await engine.run_cycle(force=True)
    card = (await run(services, "sources")).sent[-1].card
    assert_valid(card_schema, card)
    dump = json.dumps(card, ensure_ascii=False)
    assert "正常" in dump and "取得できていません" in dump and "HTTP 500" in dump and "連続失敗回数" in dump


async def test_add_personal_source_validates_first(env, tmp_path):
    services, engine, deliverer, feeds = env
    feeds.routes["/mine"] = Route(body=rss([{"title": "課の新着", "guid": "m1", "link": "https://e.jp/m1"}],
                                           title="私の課"))
    feeds.routes["/html"] = Route(body=b"<html><body>not a feed</body></html>", content_type="text/html")
    port = await run(services, f"add {feeds.url('/mine')}")
    assert "追加しました" in port.texts()[-1] and "私の課" in port.texts()[-1]
    port = await run(services, f"add {feeds.url('/html')}")
    assert "登録できませんでした" in port.texts()[-1]
    port = await run(services, "add ftp://example.jp/feed")
    assert "http または https" in port.texts()[-1]
    before = len(feeds.requests)
    deliverer.s = deliverer.engine.s = deliverer.s.model_copy(update={"NEWS_FETCH_ALLOWLIST": ""})
    port = await run(services, f"add {feeds.url('/mine2')}")
    assert "接続が許可されていない" in port.texts()[-1] and len(feeds.requests) == before
    async with services.db.session() as s:
        p = await s.get(NewsProfile, "29:user-1")
    assert p.sources == [feeds.url("/mine")]
    deliverer.s = deliverer.engine.s = deliverer.s.model_copy(update={"NEWS_FETCH_ALLOWLIST": "127.0.0.1"})
    await engine.run_cycle(force=True)
    dump = json.dumps((await run(services)).sent[-1].card, ensure_ascii=False)
    assert "課の新着" in dump
    other = RecorderPort()
    await SKILL.handler(make_request("", command="news", user_id="29:other", conversation_id="a:other"), other, services)
    assert "課の新着" not in json.dumps(other.sent[-1].card, ensure_ascii=False)     # personal sources stay personal


async def test_like_and_dislike_adjust_the_profile(env):
    services, engine, _, _ = env
    card = (await run(services)).sent[-1].card
    buttons = [a for b in card["body"] if b["type"] == "Container" for x in b["items"] if x["type"] == "ActionSet"
               for a in x["actions"] if a.get("verb") == "news.like"]
    data = {k: v for k, v in buttons[0]["data"].items() if k != "verb"}
    port = await run(services, verb="news.like", data=data, is_invoke=True)
    assert port.sent[-1].kind == "refresh"
    dump = json.dumps(port.sent[-1].card, ensure_ascii=False)
    assert "今後、似た記事を優先します" in dump
    async with services.db.session() as s:
        p = await s.get(NewsProfile, "29:user-1")
        item = await s.get(NewsItem, data["item"])
        fb = (await s.execute(select(Feedback).where(Feedback.skill == "news"))).scalar_one()
    assert fb.reaction == "like" and fb.text == f"item:{item.id}"
    assert item.terms and all(p.term_weights[t] == 0.5 for t in item.terms[:12])
    port = await run(services, verb="news.dislike", data={"item": 999999}, is_invoke=True)
    assert "見つかりませんでした" in port.texts()[-1]


def _item(i, terms, tags=("DX",), base=1.0, personal=False, src="https://s/1"):
    return CorpusItem(id=i, title=f"t{i}", url=None, source_id=1, source_title="s", source_url=src,
                      personal_source=personal, tags=tuple(tags), published=None, summary="", ai_summary=False,
                      terms=frozenset(terms), base=base)


def test_rank_prefers_matches_learns_and_excludes():
    corpus = Corpus([_item(1, ["防災"], ("防災",), base=1.0), _item(2, ["予算"], base=2.0),
                     _item(3, ["標準化", "システム"], base=1.5), _item(4, ["x"], base=0.1, personal=True, src="p")])
    plain = rank(corpus, ProfileView("u", {}, frozenset(), frozenset()), top_n=2)
    assert [r.item.id for r in plain] == [2, 3]
    kw = rank(corpus, ProfileView("u", {"防災": 3.0}, frozenset(), frozenset()), top_n=2)
    assert kw[0].item.id == 1
    weights: dict = {}
    for _ in range(3):
        weights = learn(weights, ["予算"], like=False)
    assert weights == {"予算": -1.5}
    disliked = rank(corpus, ProfileView("u", weights, frozenset(), frozenset()), top_n=2)
    assert [r.item.id for r in disliked] == [3, 1]
    assert [r.item.id for r in rank(corpus, ProfileView("u", {}, frozenset(), frozenset()), top_n=3,
                                    exclude={2})] == [3, 1]
    assert 4 not in [r.item.id for r in rank(corpus, ProfileView("u", {"x": 9}, frozenset(), frozenset()), top_n=4)]
    own = rank(corpus, ProfileView("u", {}, frozenset(), frozenset({"p"})), top_n=1)
    assert own[0].item.id == 4
    capped = {}
    for _ in range(20):
        capped = learn(capped, ["a"], like=True)
    assert capped["a"] == 3.0


async def test_unknown_subcommand_gets_usage(env):
    services, *_ = env
    port = await run(services, "なにか")
    assert "認識できませんでした" in port.texts()[-1] and "/news 設定" in port.texts()[-1]
