"""The skill contract (core/skills.py) and what bot/ does with it: verb tables, routes, jobs, files, roles."""
from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from core import router
from core.carddata import CardData, RowId
from core.skills import Accepts, FileAttachment, Job, Registry, Route, Skill, Verb
from tests.harness import RecorderPort, make_request, make_services, running_bot

ROOT = Path(__file__).resolve().parents[2]


async def _noop(req, reply, services):
    await reply.send_text(f"{req.verb or req.command}:{sorted(req.data.items())}")


def _skill(name: str, **kw) -> Skill:
    return Skill(name=name, title=name, description=name, commands=kw.pop("commands", []), handler=_noop, **kw)


# -- the registry refuses what would be ambiguous ---------------------------------------------------------------

def test_registry_refuses_duplicates_and_foreign_verbs():
    with pytest.raises(ValueError, match="must start with"):
        _skill("alpha", verbs={"beta.x": Verb(_noop)})
    reg = Registry()
    reg.add(_skill("alpha", verbs={"alpha.x": Verb(_noop)}, routes=[Route("GET", "/a", lambda r, services: None)],
                   role="help"))
    with pytest.raises(ValueError, match="declared twice"):
        reg.add(_skill("beta", verb_prefix="alpha", verbs={"alpha.x": Verb(_noop)}))
    with pytest.raises(ValueError, match="route GET /a declared twice"):
        reg.add(_skill("gamma", routes=[Route("get", "/a", lambda r, services: None)]))
    with pytest.raises(ValueError, match="role 'help' taken twice"):
        reg.add(_skill("delta", role="help"))
    with pytest.raises(ValueError, match="unknown role"):
        _skill("epsilon", role="boss")


# -- verbs ------------------------------------------------------------------------------------------------------

class Ref(CardData):
    id: RowId


async def test_unknown_verb_has_one_reply_and_card_data_is_checked_before_the_handler(db):
    services = make_services(db)
    seen = []

    async def handler(req, reply, _services):
        seen.append(req.data)
        await reply.send_text("ok")

    services.registry.add(Skill(name="probe", title="probe", description="probe", commands=[],
                                verbs={"probe.go": Verb(handler, Ref)}))
    for data in ({"id": "1e400"}, {"id": 10**30}, {"id": [1]}, {"id": -1}, {}, {"id": 1, "x": {"deep": 1}}):
        port = RecorderPort()
        await router.dispatch(make_request(verb="probe.go", data=data), port, services)
        assert port.texts() == [router.BAD_CARD_DATA], data
    port = RecorderPort()
    await router.dispatch(make_request(verb="probe.go", data={"id": "12", "note": "メモ"}), port, services)
    assert port.texts() == ["ok"] and seen == [{"id": 12, "note": "メモ"}]       # coerced and bounded
    port = RecorderPort()
    await router.dispatch(make_request(verb="probe.gone", data={}), port, services)
    assert port.texts() == [router.UNKNOWN_VERB]


# -- files are offered to the skills that accept them ------------------------------------------------------------

async def test_files_go_to_the_one_skill_that_takes_them_or_the_users_words_decide(db):
    services = make_services(db)
    calls: list[str] = []
    seen: list = []

    def taker(name):
        async def handler(req, reply, _services):
            calls.append(name)
            seen.append(req)
        return handler

    services.registry.add(Skill(name="tables", title="データ分析", description="表", commands=[],
                                handler=taker("tables"), accepts=Accepts((".csv",), "表を計算します。", ("表計算",))))
    services.registry.add(Skill(name="rows", title="名簿", description="名簿", commands=[],
                                handler=taker("rows"), accepts=Accepts((".csv",), "名簿を登録します。", ("名簿",))))
    csv = [FileAttachment(name="data.csv", content_type="text/csv", content=b"a,b\n1,2\n")]

    port = RecorderPort()
    await router.dispatch(make_request("これを表計算して", attachments=csv), port, services)
    assert calls == ["tables"]
    port = RecorderPort()
    await router.dispatch(make_request("", attachments=csv), port, services)      # the words do not decide: ask
    assert calls == ["tables"] and "データ分析" in port.texts()[0] and "名簿" in port.texts()[0]
    # the files are held for the next words: words that do not decide leave them held, words that do take them
    # (once); another user's words in the same conversation do not
    await router.dispatch(make_request("こんにちは"), RecorderPort(), services)
    await router.dispatch(make_request("名簿です", user_id="29:someone-else"), RecorderPort(), services)
    assert calls == ["tables"]
    await router.dispatch(make_request("名簿です"), RecorderPort(), services)
    assert calls == ["tables", "rows"] and [a.name for a in seen[-1].attachments] == ["data.csv"]
    await router.dispatch(make_request("名簿です"), RecorderPort(), services)
    assert calls == ["tables", "rows"]
    port = RecorderPort()
    pdf = [FileAttachment(name="通知.pdf", content_type="application/pdf", content=b"%PDF-1.4")]
    await router.dispatch(make_request("", attachments=pdf), port, services)   # Q&A and 通知 take a PDF: ask
    assert calls == ["tables", "rows"] and "ファイルの用途を続けて入力してください" in port.texts()[0]
    port = RecorderPort()
    exe = [FileAttachment(name="tool.exe", content_type="application/octet-stream", content=b"MZ")]
    await router.dispatch(make_request("", attachments=exe), port, services)
    assert "扱えない種類のファイル" in port.texts()[0]


# -- text rules: free text a skill declares its own, in both modes ------------------------------------------------

async def test_a_declared_text_rule_takes_free_text_before_the_model_and_only_when_one_skill_claims_it(db, llm):
    from core.skills import TextRule

    llm.default = {"text": "モデルの回答です。"}
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    calls: list[str] = []

    def taker(name):
        async def handler(req, reply, _services):
            calls.append(name)
        return handler

    rule = TextRule(r"https://files\.example/", ("点検",))
    services.registry.add(Skill(name="photos", title="p", description="p", commands=[], handler=taker("photos"),
                                rules=(rule,)))
    services.registry.add(Skill(name="later", title="l", description="l", commands=[], handler=taker("later"),
                                rules=(TextRule(r"https://files\.example/x", ("ﾁｪｯｸ",)),), ready=False))
    assert await router.dispatch(make_request("https://files.example/a を点検"), RecorderPort(), services) == "photos"
    assert calls == ["photos"] and llm.chat_requests() == []
    # no word, or no link: the model decides as before
    assert await router.dispatch(make_request("https://files.example/a です"), RecorderPort(), services) != "photos"
    assert len(llm.chat_requests()) == 1
    # two ready skills claiming the same text: neither rule decides
    services.registry.add(Skill(name="twin", title="t", description="t", commands=[], handler=taker("twin"),
                                rules=(rule,)))
    assert await router.dispatch(make_request("https://files.example/a を点検"), RecorderPort(), services) != "photos"
    assert calls == ["photos"]
    with pytest.raises(re.error):
        _skill("broken", rules=(TextRule("(unclosed"),))


# -- routes and jobs are mounted and started from the registry --------------------------------------------------

async def test_bot_mounts_a_skills_route_and_starts_its_jobs_with_the_services(db):
    services = make_services(db)
    ticks: list[int] = []

    async def ping(request: web.Request, services) -> web.Response:
        return web.json_response({"skills": len(services.registry.skills)})

    async def tick(svc) -> None:
        ticks.append(1)

    services.registry = Registry()     # only this skill's jobs run (the real ones would reach for feeds)
    services.registry.add(Skill(name="probe", title="probe", description="probe", commands=[],
                                routes=[Route("GET", "/api/probe", ping)],
                                jobs=[Job("probe-tick", tick, every=0.01),
                                      Job("probe-off", tick, enabled=lambda s: False)]))
    async with running_bot(services, background=True) as url:
        async with aiohttp.ClientSession() as s, s.get(f"{url}/api/probe") as r:
            assert r.status == 200 and (await r.json())["skills"] == len(services.registry.skills)
        for _ in range(200):
            if len(ticks) >= 3:
                break
            await asyncio.sleep(0.01)
    assert len(ticks) >= 3        # a periodic job, run again and again; the disabled one never adds a tick twice


# -- the house: one list of skills, bot/ and the router name none --------------------------------------------------

def _skill_packages() -> set[str]:
    return {p.parent.name for p in (ROOT / "skills").glob("*/__init__.py")}


def test_every_skill_folder_is_in_the_catalog_and_in_the_independence_contract():
    from skills.catalog import NAMES

    assert set(NAMES) == _skill_packages()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "independence")
    assert set(contract["modules"]) == {f"skills.{n}" for n in _skill_packages()}


def test_bot_and_the_router_name_no_skill():
    names = _skill_packages()
    for path in [*(ROOT / "bot").glob("*.py"), ROOT / "core" / "router.py"]:
        source = path.read_text(encoding="utf-8")
        imports = re.findall(r"^\s*(?:from|import)\s+(skills[.\w]*)", source, flags=re.M)
        assert set(imports) <= {"skills.catalog"}, (path.name, imports)
        by_name = re.findall(r"""\.skill\(\s*["'](\w+)["']""", source)        # registry.skill("qa")
        verbs = {n for n in names if re.search(rf"""["']{n}\.[a-z_.]+["']""", source)}   # "kpi.examples"
        assert not by_name and not verbs, (path.name, by_name, verbs)


# -- one knowledge index, shared ----------------------------------------------------------------------------------

async def test_qa_drafting_and_planning_search_the_one_knowledge_index(db):
    from core.search.index import Index
    from skills.drafting.references import find_references
    from skills.drafting.settings import DraftingSettings
    from skills.planning import research

    services = make_services(db)
    assert isinstance(services.knowledge, Index)
    searched: list[str] = []
    original = services.knowledge.search

    async def spy(query, sets, **kw):
        searched.append(query)
        return await original(query, sets, **kw)

    services.knowledge.search = spy                      # the instance every skill must be using
    await services.knowledge.create_set("gikai", title="議会答弁")
    await services.knowledge.upsert_document("gikai", "folder", "a.md", "放課後児童クラブ", None,
                                             "# 放課後児童クラブ\n\n定員を120人拡大しました。")
    req = make_request("")
    refs = await find_references(services, req, "放課後児童クラブ 定員",
                                 DraftingSettings(_env_file=None, DRAFT_REFERENCE_SETS="gikai"))
    hits = await research._search(services, "放課後児童クラブ", ["gikai"], 3)
    port = RecorderPort()
    await router.dispatch(make_request("/ask 放課後児童クラブの定員は"), port, services)
    assert refs and "120人" in refs[0].text and hits and hits[0].title == "放課後児童クラブ"
    assert len(searched) >= 3 and "120人" in str([s.card for s in port.sent] + port.texts())
