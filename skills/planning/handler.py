"""/plan: clarification card → staged job (research → outline) persisted in the database → report / slides,
revision of one section, retry from the failed stage.

Progress is shown with `reply.inform` (Teams informative streaming updates); the final message (the outline card or
the failure card) closes the stream. Every LLM call goes through `services.ai` (guard, masking, audit); without an
LLM the outline is the profile's skeleton with the retrieved passages quoted, labelled as such."""
from __future__ import annotations

import logging
from datetime import datetime

from cards import planning as plan_cards
from core.ai import AIFailed, AIRefused
from core.carddata import CardData, Name, RowId, Text
from core.profiles import department_of
from core.search.passages import sources_from_json
from core.services import Services
from core.skills import Citation, ReplyPort, SkillRequest, Verb
from core.timeutil import jst_text
from skills import prompts
from skills.planning import jobs, research, strings
from skills.planning.outline import (
    SECTIONS,
    OutlineUnreadable,
    cited,
    offline_outline,
    outline_brief,
    parse_outline,
    parse_revision,
    section_key,
)
from skills.planning.output import DOCX_CONTENT_TYPE, PPTX_CONTENT_TYPE, build_report, build_slides, file_name
from skills.planning.profiles import Profile, section_profiles
from skills.planning.settings import PlanningSettings

log = logging.getLogger(__name__)

SKILL = "planning"
MAX_THEME = 200
MAX_INPUT = 1000


class StageError(Exception):
    """A stage failed with a message that can be shown as is."""

    def __init__(self, message_ja: str) -> None:
        super().__init__(message_ja)
        self.message_ja = message_ja


# --------------------------------------------------------------------------------------------------- entry point

async def handle(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    """/plan [theme] and free text: the clarification card (or the person's recent plans)."""
    await _form(req, reply, services, services.settings.get(PlanningSettings))


async def on_start(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    await _start(req, reply, services, services.settings.get(PlanningSettings))


class JobRef(CardData):
    job_id: RowId
    section: Name = ""
    instruction: Text = ""


def _on_job(step):
    """A verb on one of the person's jobs: the job is loaded and checked before `step` runs."""
    async def on_verb(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
        job = await _own_job(req, reply, services)
        if job is None:
            return
        try:
            await step(job, req, reply, services, services.settings.get(PlanningSettings))
        except (AIRefused, AIFailed) as e:     # revision refused or failed (stages handle their own)
            await reply.send_text(e.message_ja)
    return on_verb


async def _show_step(job, _req, reply, services, settings) -> None:
    await _show(job, reply, services, settings)


async def _report_step(job, _req, reply, services, settings) -> None:
    await _file(job, "report", reply, services, settings)


async def _slides_step(job, _req, reply, services, settings) -> None:
    await _file(job, "slides", reply, services, settings)


VERBS = {
    plan_cards.START_VERB: Verb(on_start),
    plan_cards.RETRY_VERB: Verb(_on_job(lambda job, req, reply, services, settings:
                                        _retry(job, req, reply, services, settings)), JobRef),
    plan_cards.SHOW_VERB: Verb(_on_job(_show_step), JobRef),
    plan_cards.REVISE_VERB: Verb(_on_job(lambda job, req, reply, services, settings:
                                         _revise(job, req, reply, services, settings)), JobRef),
    plan_cards.REPORT_VERB: Verb(_on_job(_report_step), JobRef),
    plan_cards.SLIDES_VERB: Verb(_on_job(_slides_step), JobRef),
}




def _clip(value, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]


# ------------------------------------------------------------------------------------------------ form and start

async def _form(req: SkillRequest, reply: ReplyPort, services, settings: PlanningSettings) -> None:
    theme = _clip(req.text, 10_000)
    if not theme:
        recent = await jobs.recent(services.db, req.user_id)
        if not recent:
            await reply.send_text(strings.USAGE)
            return
        now, beat = services.clock.now(), settings.PLANNING_HEARTBEAT_SECONDS
        await reply.send_card(plan_cards.jobs_card([{
            "id": j.id, "theme": j.theme, "status": jobs.shown_status(j, now, beat), "stage": j.stage,
            "updated": jst_text(j.updated_at, "%m/%d %H:%M"),
            "resumable": jobs.resumable(j, now, beat)} for j in recent]),
            text=strings.USAGE)
        return
    if len(theme) > MAX_THEME:
        await reply.send_text(strings.THEME_TOO_LONG)
        return
    profiles = section_profiles(services)
    chosen = profiles.for_department(await department_of(services.db, req.user_id))
    await reply.send_card(plan_cards.clarify_card(
        theme, [(p.id, p.name, p.method_text()) for p in profiles.items], chosen.id))


async def _start(req: SkillRequest, reply: ReplyPort, services, settings: PlanningSettings) -> None:
    theme = _clip(req.data.get("theme"), 10_000)
    if not theme:
        await reply.send_text(strings.THEME_MISSING)
        return
    if len(theme) > MAX_THEME:
        await reply.send_text(strings.THEME_TOO_LONG)
        return
    profile = section_profiles(services).get(str(req.data.get("profile") or ""))
    budget = str(req.data.get("budget") or "")
    inputs = {"purpose": _clip(req.data.get("purpose"), MAX_INPUT), "target": _clip(req.data.get("target"), MAX_INPUT),
              "period": _clip(req.data.get("period"), MAX_INPUT),
              "budget": budget if budget in plan_cards.BUDGETS else plan_cards.BUDGETS[0]}
    if req.reply_to_id:
        # the same form pressed twice (double click, or again while the first run is going): one job only
        inputs["card"] = req.reply_to_id[:200]
        for earlier in await jobs.recent(services.db, req.user_id, limit=10):
            if (earlier.inputs or {}).get("card") == inputs["card"]:
                if req.is_invoke:
                    await reply.refresh_card(plan_cards.accepted_card(earlier.theme, profile.name))
                if earlier.stage == "done":
                    await _show(earlier, reply, services, settings, prefix=strings.ALREADY_DONE)
                elif jobs.resumable(earlier, services.clock.now(), settings.PLANNING_HEARTBEAT_SECONDS):
                    await _offer_retry(earlier, reply)
                else:
                    await reply.send_text(strings.ALREADY_RUNNING)
                return
    job = await jobs.create(services.db, now=services.clock.now(), user_id=req.user_id,
                            aad_object_id=req.aad_object_id, conversation_id=req.conversation_id, theme=theme,
                            profile=profile.id, inputs=inputs)
    log.info("plan job %s started (profile=%s)", job.id, profile.id)
    if req.is_invoke:
        await reply.refresh_card(plan_cards.accepted_card(theme, profile.name))
    await run_job(job.id, req, reply, services, settings)


async def _retry(job, req: SkillRequest, reply: ReplyPort, services, settings: PlanningSettings) -> None:
    if job.stage == "done":
        await _show(job, reply, services, settings, prefix=strings.ALREADY_DONE)
        return
    if not await jobs.claim(services.db, job.id, now=services.clock.now(),
                            heartbeat_seconds=settings.PLANNING_HEARTBEAT_SECONDS):
        await reply.send_text(strings.ALREADY_RUNNING)
        return
    log.info("plan job %s resumed at stage %s", job.id, job.stage)
    if req.is_invoke:
        profile = section_profiles(services).get(job.profile)
        await reply.refresh_card(plan_cards.accepted_card(job.theme, profile.name))
    await run_job(job.id, req, reply, services, settings)


# ------------------------------------------------------------------------------------------------------ the stages

async def run_job(job_id: int, req: SkillRequest, reply: ReplyPort, services, settings: PlanningSettings) -> None:
    """Run the job from its current stage to the end. A failure is stored with its stage and offered for retry.
    The job's heartbeat is renewed meanwhile, so other processes see it alive (and see it interrupted if we die)."""
    job = await jobs.get(services.db, job_id)
    profile = section_profiles(services).get(job.profile)
    stage = job.stage
    try:
        async with jobs.heartbeat(services.db, job_id, clock=services.clock,
                                  every=settings.PLANNING_HEARTBEAT_SECONDS):
            if job.stage == "research":
                stage = "research"
                job = await _research(job, profile, req, reply, services, settings)
            if job.stage == "outline":
                stage = "outline"
                job = await _outline(job, profile, req, reply, services, settings)
    except jobs.JobLost:
        log.warning("plan job %s was taken over by another process at stage %s; this run stops", job_id, stage)
        return
    except (AIFailed, AIRefused, StageError, OutlineUnreadable) as e:
        message = getattr(e, "message_ja", None) or str(e)
        await _fail(job_id, stage, message, job.theme, reply, services)
        return
    except Exception:  # noqa: BLE001 - a failure is recorded and can be resumed; never a stack trace to the user
        log.exception("plan job %s failed at stage %s", job_id, stage)
        await _fail(job_id, stage, strings.RESEARCH_FAILED_INTERNAL if stage == "research"
                    else "処理中に問題が発生しました。", job.theme, reply, services)
        return
    await _send_outline(job, profile, reply, settings)


async def _fail(job_id: int, stage: str, message: str, theme: str, reply: ReplyPort, services) -> None:
    try:
        await jobs.save(services.db, job_id, now=services.clock.now(), owner=jobs.OWNER, status=jobs.FAILED,
                        error=message)
    except jobs.JobLost:
        log.warning("plan job %s failed at stage %s after another process took it over", job_id, stage)
        return
    label = strings.STAGE_NAMES.get(stage, stage)
    log.info("plan job %s failed at stage %s", job_id, stage)
    await reply.send_card(plan_cards.failed_card(job_id, theme, label, message),
                          text=strings.STAGE_FAILED.format(stage=label))


async def _offer_retry(job, reply: ReplyPort) -> None:
    """A job whose process is gone (中断): say so, with the retry button."""
    label = strings.STAGE_NAMES.get(job.stage, job.stage)
    await reply.send_card(plan_cards.failed_card(job.id, job.theme, label, strings.INTERRUPTED, interrupted=True),
                          text=strings.STAGE_INTERRUPTED.format(stage=label))


def _messages(system: str, user: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


async def _research(job, profile: Profile, req, reply, services, settings: PlanningSettings):
    await reply.inform(strings.INFORM_RESEARCH)
    materials = await research.gather(services, req, profile, job.theme, job.inputs, settings)
    notes, masked = "", ""
    if not services.ai.offline:
        await reply.inform(strings.INFORM_NOTES)
        prompt = prompts.render(SKILL, "research", theme=job.theme, inputs=research.inputs_text(job.inputs),
                                method=research.method_text(profile), materials=research.materials_text(materials))
        answer = await services.ai.chat(req, SKILL, _messages(prompts.load(SKILL, "system"), prompt),
                                        timeout=settings.PLANNING_LLM_TIMEOUT_SECONDS)
        notes, masked = answer.text.strip(), answer.masked_note
    return await jobs.save(services.db, job.id, now=services.clock.now(), owner=jobs.OWNER,
                           sources=[m.to_json() for m in materials], research={"notes": notes, "masked_note": masked},
                           stage="outline")


async def _outline(job, profile: Profile, req, reply, services, settings: PlanningSettings):
    await reply.inform(strings.INFORM_OUTLINE)
    materials = sources_from_json(job.sources)
    valid = {m.n for m in materials}
    if services.ai.offline:
        outline = offline_outline(job.theme, profile, materials)
        await services.ai.record_offline(req, SKILL)
    else:
        notes = (job.research or {}).get("notes") or "（調査メモなし）"
        prompt = prompts.render(SKILL, "outline", theme=job.theme, inputs=research.inputs_text(job.inputs),
                                tone=profile.tone or "公用文の敬体で簡潔に", notes=notes,
                                materials=research.materials_text(materials), sections="、".join(SECTIONS))
        answer = await services.ai.chat(req, SKILL, _messages(prompts.load(SKILL, "system"), prompt),
                                        timeout=settings.PLANNING_LLM_TIMEOUT_SECONDS)
        outline = parse_outline(answer.text, job.theme, valid)
        notes_masked = (job.research or {}).get("masked_note") or ""
        outline["masked_note"] = answer.masked_note or notes_masked
    return await jobs.save(services.db, job.id, now=services.clock.now(), owner=jobs.OWNER, outline=outline,
                           stage="done", status=jobs.DONE, error=None)


# ------------------------------------------------------------------------------------------------------- results

def _citations(job) -> list[Citation]:
    out = []
    for m in sources_from_json(job.sources)[:20]:
        name = m.title + (f"／{m.section}" if m.section else "")
        out.append(Citation(position=m.n, name=name[:80], url=m.url or None, abstract=m.text[:160]))
    return out


def _outline_card(job, profile: Profile, *, revised: str = "") -> dict:
    outline = job.outline or {}
    offline = outline.get("mode") == "offline"
    return plan_cards.outline_card(job.id, job.theme, profile.name, job.inputs or {}, outline,
                                   sources_from_json(job.sources),
                                   formats=profile.outputs, label=strings.OFFLINE_LABEL if offline else "",
                                   masked_note=outline.get("masked_note") or "", revised=revised)


async def _send_outline(job, profile: Profile, reply: ReplyPort, settings: PlanningSettings, *,
                        prefix: str = "", revised: str = "") -> None:
    ai = (job.outline or {}).get("mode") == "ai"
    await reply.send_card(_outline_card(job, profile, revised=revised), ai_generated=ai, citations=_citations(job),
                          feedback=ai, text=prefix or None)


async def _own_job(req: SkillRequest, reply: ReplyPort, services):
    job_id = req.data.get("job_id")
    if not isinstance(job_id, int):
        await reply.send_text(strings.BAD_ACTION)
        return None
    job = await jobs.get(services.db, job_id)
    if job is None:
        await reply.send_text(strings.JOB_NOT_FOUND)
        return None
    if job.user_id != req.user_id:
        await reply.send_text(strings.NOT_YOURS)
        return None
    return job


async def _show(job, reply: ReplyPort, services, settings: PlanningSettings, *, prefix: str = "") -> None:
    if job.stage != "done":
        await reply.send_text(strings.NOT_READY)
        return
    await _send_outline(job, section_profiles(services).get(job.profile), reply, settings, prefix=prefix)


async def _revise(job, req: SkillRequest, reply: ReplyPort, services, settings: PlanningSettings) -> None:
    if job.stage != "done":
        await reply.send_text(strings.NOT_READY)
        return
    outline = dict(job.outline or {})
    if outline.get("mode") != "ai" or services.ai.offline:
        await reply.send_text(strings.OFFLINE_REVISE)
        return
    raw_section = _clip(req.data.get("section"), 50)
    instruction = _clip(req.data.get("instruction"), MAX_INPUT)
    if not raw_section or not instruction:
        await reply.send_text(strings.REVISE_MISSING)
        return
    key = section_key(raw_section)
    sections = [dict(s) for s in outline.get("sections", [])]
    target = next((s for s in sections if s["name"] == key), None)
    if target is None:
        await reply.send_text(strings.REVISE_UNKNOWN_SECTION.format(section=raw_section))
        return
    await reply.inform(strings.INFORM_REVISE.format(section=key))
    materials = sources_from_json(job.sources)
    prompt = prompts.render(SKILL, "revise", section=key, theme=job.theme,
                            current="\n".join(f"- {p}" for p in target["points"]), instruction=instruction,
                            others=outline_brief(outline, skip=key), materials=research.materials_text(materials))
    answer = await services.ai.chat(req, SKILL, _messages(prompts.load(SKILL, "system"), prompt),
                                    timeout=settings.PLANNING_LLM_TIMEOUT_SECONDS)
    try:
        points = parse_revision(answer.text, {m.n for m in materials})
    except OutlineUnreadable as e:
        await reply.send_text(str(e))
        return
    target["points"] = points
    target["sources"] = cited(points, {m.n for m in materials})
    outline["sections"] = sections
    outline["revisions"] = int(outline.get("revisions") or 0) + 1
    if answer.masked_note:
        outline["masked_note"] = answer.masked_note
    job = await jobs.save(services.db, job.id, now=services.clock.now(), outline=outline)
    await _send_outline(job, section_profiles(services).get(job.profile), reply, settings,
                        revised=strings.REVISED.format(section=key))


async def _file(job, kind: str, reply: ReplyPort, services, settings: PlanningSettings) -> None:
    if job.stage != "done":
        await reply.send_text(strings.NOT_READY)
        return
    profile = section_profiles(services).get(job.profile)
    date_text = reiwa(services.clock.now_jst())
    if kind == "report":
        await reply.inform(strings.INFORM_REPORT)
        data = build_report(job.theme, profile.name, job.inputs or {}, job.outline,
                            sources_from_json(job.sources), date_text=date_text)
        await reply.send_file(file_name(job.theme, "docx"), data, DOCX_CONTENT_TYPE,
                              description=strings.REPORT_READY)
    else:
        await reply.inform(strings.INFORM_SLIDES)
        data = build_slides(job.theme, profile.name, job.outline, sources_from_json(job.sources),
                            date_text=date_text)
        await reply.send_file(file_name(job.theme, "pptx"), data, PPTX_CONTENT_TYPE,
                              description=strings.SLIDES_READY)


# ---------------------------------------------------------------------------------------------------------- dates

def reiwa(d: datetime) -> str:
    """2025-05-01 → 令和7年5月1日 (令和元年 for 2019)."""
    year = d.year - 2018
    return f"令和{'元' if year == 1 else year}年{d.month}月{d.day}日" if year >= 1 else f"{d.year}年{d.month}月{d.day}日"
