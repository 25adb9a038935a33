"""The staged /plan job over real HTTP to the loopback LLM (through the openai client) and the e-Gov stand-in:
research → outline with sources, report and slides re-opened, one section revised, a failed stage resumed after a
simulated restart without redoing the finished stage, and the offline skeleton."""
from __future__ import annotations

import io
import json

from docx import Document as DocxDocument
from pptx import Presentation
from sqlalchemy import select

from core import router
from core.store import Database
from core.store.models import UsageEvent, UserProfile
from skills.planning import jobs
from skills.planning.models import PlanJob
from skills.planning.outline import SECTIONS
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.law.cardschema import assert_valid_card
from tests.skills.planning.plan_helpers import RESEARCH_NOTES, START_DATA, load_knowledge, outline_json


def llm_env(llm, **extra) -> dict:
    return {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url, "LLM_MAX_RETRIES": "0", **extra}


async def close(services) -> None:
    client = services.law
    if client:
        await client.close()
    await services.llm.close()


async def act(services, **fields) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(**fields), port, services)
    return port


async def the_job(db) -> PlanJob:
    async with db.session() as s:
        return (await s.execute(select(PlanJob))).scalar_one()


def card_json(card) -> str:
    return json.dumps(card, ensure_ascii=False)


async def test_staged_job_outline_files_and_revision(db, egov, llm):
    services = make_services(db, llm_env=llm_env(llm))
    try:
        await load_knowledge(services)
        llm.script = [{"text": RESEARCH_NOTES}, {"text": outline_json()}]
        port = await act(services, verb="plan.start", data=dict(START_DATA), is_invoke=True)

        kinds = [s.kind for s in port.sent]
        assert kinds == ["refresh", "inform", "inform", "inform", "card"], kinds
        assert port.sent[0].card and "受け付けました" in card_json(port.sent[0].card)
        assert [s.text for s in port.sent[1:4]] == ["調査中…（庁内資料・法令・他都市事例を検索しています）",
                                                    "調査中…（調査メモを作成しています）", "構成案を作成中…"]
        final = port.sent[-1]
        assert final.ai_generated and final.feedback
        assert_valid_card(final.card)
        body = card_json(final.card)
        for name in SECTIONS:
            assert f'"text": "{name}"' in body
        assert "子育て支援アプリの導入について" in body

        # two LLM calls: research notes along the method, then the outline built on them
        chats = llm.chat_requests()
        assert len(chats) == 2
        research_prompt = chats[0]["messages"][-1]["content"]
        assert "子育て世帯の現状" in research_prompt and "他都市事例" in research_prompt     # the profile's method
        assert "待機児童数は令和6年4月時点で12人" in research_prompt                        # knowledge set
        assert "西宮市" in research_prompt                                                # registered cases
        assert "住民の福祉の増進に努める" in research_prompt                              # law (e-Gov)
        assert "秘密の検討メモ" not in research_prompt          # a set this user may not read is never consulted
        outline_prompt = chats[1]["messages"][-1]["content"]
        assert "待機児童数は12人である[1]" in outline_prompt and "平易な表現" in outline_prompt

        job = await the_job(db)
        assert (job.stage, job.status, job.profile) == ("done", "done", "kodomo")
        kinds_found = {m["kind"] for m in job.sources}
        assert kinds_found == {"knowledge", "case", "law"}
        assert [m["n"] for m in job.sources] == list(range(1, len(job.sources) + 1))
        assert [c.position for c in final.citations] == [m["n"] for m in job.sources]
        law = next(m for m in job.sources if m["kind"] == "law")
        assert law["url"].startswith("https://laws.e-gov.go.jp/law/322AC0000000067")
        assert job.outline["sections"][0]["sources"] == [1, 2]

        # the report, re-opened with python-docx: every section heading, the points, the sources
        port = await act(services, verb="plan.report", data={"job_id": job.id}, is_invoke=True)
        name, data, ctype = port.sent[-1].file
        assert name.endswith(".docx") and ctype.endswith("wordprocessingml.document")
        doc = DocxDocument(io.BytesIO(data))
        paras = [p.text for p in doc.paragraphs]
        for i, section in enumerate(SECTIONS, 1):
            assert any(p.endswith(section) and p.startswith(str(i)) for p in paras), section
        assert "・背景の要点その1です[1]" in paras
        assert "出典" in paras
        src_lines = [p for p in paras if p.startswith("[")]
        assert len(src_lines) == len(job.sources) and "尼崎市子育て支援の現状" in src_lines[0]
        assert any("AIの出力です" in p for p in paras)

        # the slides, re-opened with python-pptx: title slide, one slide per section, sources last
        port = await act(services, verb="plan.slides", data={"job_id": job.id}, is_invoke=True)
        name, data, ctype = port.sent[-1].file
        assert name.endswith(".pptx") and "presentationml" in ctype
        slides = list(Presentation(io.BytesIO(data)).slides)
        titles = [s.shapes.title.text for s in slides]
        assert titles == ["子育て支援アプリの導入について", *SECTIONS, "出典"]
        body_of = {s.shapes.title.text: s.placeholders[1].text_frame.text for s in slides}
        assert "こども政策課" in body_of["子育て支援アプリの導入について"]
        assert "KPIの要点その1です[1]" in body_of["KPI"]
        assert body_of["出典"].count("[") == len(job.sources)
        assert len(llm.chat_requests()) == 2                       # files need no LLM

        # revising one section keeps the others
        llm.script = [{"text": "- 西宮市の事例を参考に、通知機能から段階的に導入します[2]\n- 保護者の声を反映します"}]
        port = await act(services, verb="plan.revise", is_invoke=True,
                         data={"job_id": job.id, "section": "施策案", "instruction": "他都市事例を具体的に"})
        revise_prompt = llm.chat_requests()[-1]["messages"][-1]["content"]
        assert "他都市事例を具体的に" in revise_prompt and "施策案の要点その1です[1]" in revise_prompt
        assert port.sent[-1].ai_generated
        assert_valid_card(port.sent[-1].card)
        revised = (await the_job(db)).outline
        by_name = {s["name"]: s for s in revised["sections"]}
        assert by_name["施策案"]["points"] == ["西宮市の事例を参考に、通知機能から段階的に導入します[2]",
                                             "保護者の声を反映します"]
        assert by_name["施策案"]["sources"] == [2]
        assert by_name["背景"] == job.outline["sections"][0]
        assert "「施策案」を修正しました。" in card_json(port.sent[-1].card)

        # someone else cannot act on this job
        port = await act(services, verb="plan.report", data={"job_id": job.id}, user_id="29:other")
        assert port.sent[-1].text == "この企画は、作成した職員のみ操作できます。"
        # every LLM use was audited under the skill
        async with db.session() as s:
            outcomes = list(await s.scalars(select(UsageEvent.outcome).where(UsageEvent.skill == "planning")))
        assert outcomes == ["ok", "ok", "ok"]
    finally:
        await close(services)


async def test_failed_stage_resumes_after_restart_without_redoing_research(db_url, egov, llm):
    db = Database(db_url)
    await db.migrate()
    services = make_services(db, llm_env=llm_env(llm))
    try:
        await load_knowledge(services)
        llm.script = [{"text": RESEARCH_NOTES}, {"status": 500}]
        port = await act(services, verb="plan.start", data=dict(START_DATA), is_invoke=True)
        failure = port.sent[-1]
        assert failure.kind == "card" and failure.text == "構成案の作成で失敗しました。"
        assert_valid_card(failure.card)
        assert "AIサービスに接続できませんでした" in card_json(failure.card)
        retry = next(a for a in failure.card["actions"] if a["verb"] == "plan.retry")
        assert retry["title"] == "この段階から再実行"
        job = await the_job(db)
        assert (job.stage, job.status) == ("outline", "failed") and job.sources and job.research["notes"]
    finally:
        await close(services)
        await db.dispose()

    # "restart": new services on the same database, nothing kept in memory
    egov_calls, llm_calls = len(egov.requests), len(llm.chat_requests())
    db2 = Database(db_url)
    services2 = make_services(db2, llm_env=llm_env(llm))
    try:
        llm.script = [{"text": outline_json()}]
        port = await act(services2, verb="plan.retry", data=retry["data"], is_invoke=True)
        assert [s.kind for s in port.sent] == ["refresh", "inform", "card"]
        assert port.sent[1].text == "構成案を作成中…"
        assert port.sent[-1].ai_generated
        new_requests = llm.chat_requests()[llm_calls:]
        assert len(new_requests) == 1                                  # only the outline, research not repeated
        assert "企画書の構成案を作成してください" in new_requests[0]["messages"][-1]["content"]
        assert len(egov.requests) == egov_calls                        # no new law search either
        job = await the_job(db2)
        assert (job.stage, job.status, job.attempts, job.error) == ("done", "done", 2, None)
        # retrying a finished job shows it instead of running anything
        port = await act(services2, verb="plan.retry", data=retry["data"])
        assert port.sent[-1].kind == "card" and port.sent[-1].text == "この企画の構成案は作成済みです。"
        assert len(llm.chat_requests()) == llm_calls + 1
    finally:
        await close(services2)
        await db2.dispose()


async def test_offline_outline_is_a_labelled_skeleton_with_quoted_passages(db, egov):
    services = make_services(db)
    try:
        await load_knowledge(services)
        async with db.session() as s:
            s.add(UserProfile(user_id="29:user-1", department="こども青少年局こども政策課"))
        port = await act(services, text="/plan 子育て支援アプリの導入")
        form = port.sent[-1].card
        assert_valid_card(form)
        profile_input = next(b for b in form["body"] if b.get("id") == "profile")
        assert profile_input["value"] == "kodomo"                   # picked from the user's department

        port = await act(services, verb="plan.start", data=dict(START_DATA))
        final = port.sent[-1]
        assert [s.kind for s in port.sent] == ["inform", "inform", "card"]
        assert not final.ai_generated and not final.feedback
        assert_valid_card(final.card)
        body = card_json(final.card)
        assert "【構成案のひな形】AIは使用していません" in body
        assert "待機児童数は令和6年4月時点で12人" in body               # a passage quoted under a heading
        assert "子育て世帯の現状" in body                               # the method's steps
        job = await the_job(db)
        assert job.outline["mode"] == "offline"
        current = next(s for s in job.outline["sections"] if s["name"] == "現状と課題")
        assert current["points"][0].startswith("「") and current["sources"]
        assert "plan.revise" not in body                                 # no AI revision offline
        port = await act(services, verb="plan.revise", data={"job_id": job.id, "section": "背景", "instruction": "x"})
        assert "オフラインモード" in port.sent[-1].text
        port = await act(services, verb="plan.report", data={"job_id": job.id})
        doc = DocxDocument(io.BytesIO(port.sent[-1].file[1]))
        assert any("【構成案のひな形】" in p.text for p in doc.paragraphs)
        async with db.session() as s:
            events = list(await s.scalars(select(UsageEvent).where(UsageEvent.skill == "planning")))
        assert [(e.outcome, e.department) for e in events] == [("offline", "こども青少年局こども政策課")]
    finally:
        await close(services)


async def test_claim_is_exclusive_and_a_stale_running_job_can_be_resumed(db):
    from datetime import timedelta

    from core.store.models import utcnow

    now = utcnow()
    job = await jobs.create(db, now=now, user_id="u", aad_object_id=None, conversation_id="c", theme="t",
                            profile="general", inputs={})
    assert not await jobs.claim(db, job.id, now=now, heartbeat_seconds=15)           # running, fresh heartbeat
    later = now + timedelta(seconds=46)                                               # 3 heartbeats missed
    assert jobs.resumable(await jobs.get(db, job.id), later, 15)
    assert await jobs.claim(db, job.id, now=later, heartbeat_seconds=15)             # abandoned: resumable once
    assert not await jobs.claim(db, job.id, now=later, heartbeat_seconds=15)
    await jobs.save(db, job.id, now=later, status=jobs.FAILED)
    assert await jobs.claim(db, job.id, now=later, heartbeat_seconds=15)
    assert (await jobs.get(db, job.id)).attempts == 3


async def test_bad_input_gets_clear_messages_and_plan_alone_lists_recent_jobs(sqlite_db, egov):
    services = make_services(sqlite_db)
    try:
        port = await act(services, text="/plan")
        assert "企画のテーマを入力してください" in port.sent[-1].text
        port = await act(services, text="/plan " + "あ" * 201)
        assert port.sent[-1].text == "テーマは200文字以内で入力してください。"
        port = await act(services, verb="plan.start", data={"theme": "  "})
        assert port.sent[-1].text == "企画のテーマを入力してください。"
        for data in ({}, {"job_id": "x"}, {"job_id": 1e400}, {"job_id": 10**30}, {"job_id": [1]}):
            port = await act(services, verb="plan.show", data=data)
            assert port.sent[-1].text == router.BAD_CARD_DATA          # the verb's data model refuses it
        port = await act(services, verb="plan.show", data={"job_id": 999})
        assert port.sent[-1].text.startswith("指定された企画が見つかりませんでした")
        port = await act(services, verb="plan.unknown", data={})
        assert port.sent[-1].text == router.UNKNOWN_VERB

        # a job that failed at the outline stage is listed with its retry button
        job = await jobs.create(sqlite_db, now=services.clock.now(), user_id="29:user-1", aad_object_id=None,
                                conversation_id="a:personal-1", theme="防災訓練の見直し", profile="general", inputs={})
        await jobs.save(sqlite_db, job.id, now=services.clock.now(), stage="outline", status=jobs.FAILED)
        port = await act(services, text="/plan")
        listing = port.sent[-1].card
        assert_valid_card(listing)
        assert "防災訓練の見直し" in card_json(listing) and "失敗（構成案の作成）" in card_json(listing)
        assert '"verb": "plan.retry"' in card_json(listing)
        port = await act(services, verb="plan.report", data={"job_id": job.id})
        assert port.sent[-1].text == "構成案がまだできていません。完了してからお試しください。"
    finally:
        await close(services)


async def test_the_same_form_pressed_twice_starts_one_job(sqlite_db, egov):
    services = make_services(sqlite_db)
    try:
        first = await act(services, verb="plan.start", data=dict(START_DATA), reply_to_id="act-form-1")
        assert first.sent[-1].kind == "card"
        again = await act(services, verb="plan.start", data=dict(START_DATA), reply_to_id="act-form-1",
                          is_invoke=True)
        assert again.sent[0].kind == "refresh"
        assert again.sent[-1].text == "この企画の構成案は作成済みです。"
        async with sqlite_db.session() as s:
            assert len(list(await s.scalars(select(PlanJob.id)))) == 1
        await act(services, verb="plan.start", data=dict(START_DATA), reply_to_id="act-form-2")
        async with sqlite_db.session() as s:
            assert len(list(await s.scalars(select(PlanJob.id)))) == 2
    finally:
        await close(services)
