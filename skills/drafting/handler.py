"""The drafting skill's handler: /draft, /answer, free text, and the card verbs (draft.*)."""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field, replace

from cards import drafting as cards
from core.ai import AIFailed, AIRefused
from core.carddata import CardData, Name, RowId, Text
from core.docx import DOCX_CONTENT_TYPE
from core.law.lookup import find_law
from core.services import Services
from core.skills import Citation, ReplyPort, SkillRequest, Verb
from skills.drafting import checks, compose, strings
from skills.drafting.doctypes import (
    COMMITMENTS,
    DOC_TYPES,
    MULTILINE,
    TONES,
    DocType,
    for_audience,
    guess_type,
    missing,
    parse_fields,
    type_from_word,
)
from skills.drafting.layout import file_name, render_docx
from skills.drafting.references import ReferencesUnavailable, find_references
from skills.drafting.settings import DraftingSettings
from skills.drafting.store import create_draft, load_draft, references_of, update_draft

log = logging.getLogger(__name__)

SKILL_NAME = "drafting"


class InputError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def settings_of(services: Services) -> DraftingSettings:
    return services.settings.get(DraftingSettings)


async def handle(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    """/draft, /answer and free text."""
    forced = DOC_TYPES["gikai"] if req.command == "answer" else None
    await _guarded(_start(req, reply, services, req.text, forced=forced), reply)


async def _guarded(work, reply: ReplyPort) -> None:
    try:
        await work
    except (AIRefused, AIFailed) as e:
        await reply.send_text(e.message_ja)
    except InputError as e:
        await reply.send_text(e.message)


# -- starting ----------------------------------------------------------------------------------------------------

def _split_type(text: str) -> tuple[DocType | None, str]:
    """「通知文 研修会の開催…」 -> (通知文, 「研修会の開催…」); no type word first -> (None, text)."""
    t = (text or "").strip()
    m = re.match(r"(\S+)\s*(.*)", t, re.S)     # \s covers the full-width space too
    if m:
        dt = type_from_word(m.group(1))
        if dt:
            return dt, m.group(2).strip()
    return None, t


def _commitment_in(text: str) -> str:
    for c in COMMITMENTS:
        if c in text:
            return c
    return ""


async def _start(req: SkillRequest, reply: ReplyPort, services, text: str, forced: DocType | None = None) -> None:
    text = unicodedata.normalize("NFC", text or "").strip()
    _limit(services, text)
    if forced:
        dt, rest = forced, text
        word_dt, word_rest = _split_type(text)
        if word_dt is forced:
            rest = word_rest
    else:
        dt, rest = _split_type(text)
        dt = for_audience(dt, text)          # a plain 通知文 for citizens is an お知らせ
        if dt is None and text:
            dt = guess_type(text)
    if dt is None:
        types = [(t.key, t.label) for t in DOC_TYPES.values()]
        await reply.send_card(cards.type_choice_card(types, points=text))
        return
    fields = parse_fields(rest)
    if dt.key == "gikai" and not fields.get("commitment"):
        fields["commitment"] = _commitment_in(rest)
    today = services.clock.now_jst().date()
    clean = compose.normalize_fields(dt, fields, today)
    lacking = missing(dt, clean)
    if lacking:
        await reply.send_card(_form(dt, clean, lacking, easy=False))
        return
    await _generate(req, reply, services, dt, clean, easy=False)


def _form(dt: DocType, values: dict, lacking: list[str], *, easy: bool) -> dict:
    rows = [{"id": f, "label": dt.label_of(f), "value": values.get(f, ""), "multiline": f in MULTILINE,
             "essential": f in dt.essentials, "missing": f in lacking} for f in dt.fields]
    return cards.form_card(dt.key, dt.label, rows, missing_labels=[dt.label_of(f) for f in lacking],
                           easy_variant=dt.easy_variant, easy=easy, commitments=COMMITMENTS, tones=TONES)


def _limit(services, *values: str) -> None:
    n = settings_of(services).DRAFT_MAX_INPUT_CHARS
    if any(len(v or "") > n for v in values):
        raise InputError(strings.TOO_LONG.format(n=n))


def _type_of(data: dict) -> DocType:
    dt = DOC_TYPES.get(str(data.get("doc_type") or ""))
    if dt is None:
        raise InputError(strings.UNKNOWN_TYPE)
    return dt


def _truthy(v) -> bool:
    return str(v).lower() in ("true", "1", "yes", "on")


# -- verbs -------------------------------------------------------------------------------------------------------

class FormData(CardData):
    doc_type: Name = ""
    points: Text = ""


class DraftRef(CardData):
    draft_id: RowId
    instruction: Text = ""


async def on_form(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    await _guarded(_on_form(req, reply, services), reply)


async def _on_form(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    data = req.data
    dt = _type_of(data)
    points = str(data.get("points") or "")
    _limit(services, points)
    values = compose.normalize_fields(dt, parse_fields(points), services.clock.now_jst().date())
    await reply.refresh_card(_form(dt, values, [], easy=False))


async def on_create(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    await _guarded(_on_create(req, reply, services), reply)


async def _on_create(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    data = req.data
    dt = _type_of(data)
    raw = {k: str(data.get(k) or "") for k in dt.fields}
    _limit(services, *raw.values())
    easy = dt.easy_variant and _truthy(data.get("easy"))
    values = compose.normalize_fields(dt, raw, services.clock.now_jst().date())
    lacking = missing(dt, values)
    if lacking:
        await reply.refresh_card(_form(dt, values, lacking, easy=easy))
        return
    pairs = [(dt.label_of(k), v) for k, v in values.items() if v]
    await reply.refresh_card(cards.submitted_card(dt.label, pairs, strings.SUBMITTED))
    try:
        await _generate(req, reply, services, dt, values, easy=easy)
    except (AIRefused, AIFailed) as e:   # keep what was typed: the form comes back with the message
        await reply.send_text(e.message_ja)
        await reply.send_card(_form(dt, values, [], easy=easy))


def _revision(kind: str):
    async def on_revision(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
        await _guarded(_revise(req, reply, services, kind), reply)
    return on_revision


async def on_docx(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    await _guarded(_docx(req, reply, services), reply)


VERBS = {
    cards.FORM_VERB: Verb(on_form, FormData),
    cards.CREATE_VERB: Verb(on_create, FormData),
    cards.REVISE_VERB: Verb(_revision("revise"), DraftRef),
    cards.SHORTER_VERB: Verb(_revision("shorter"), DraftRef),
    cards.POLITE_VERB: Verb(_revision("polite"), DraftRef),
    cards.EASY_VERB: Verb(_revision("easy"), DraftRef),
    cards.DOCX_VERB: Verb(on_docx, DraftRef),
}


# -- generating --------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    text: str
    issues: list[checks.Issue]
    notices: list[str] = field(default_factory=list)
    masked_note: str = ""


async def _finalize(req, services, dt: DocType, values: dict, text: str, *, easy: bool, masked_note: str) -> Outcome:
    """Mechanical fixes, the type's checks, one model repair round when the layout is still broken."""
    text = checks.autofix(dt.key, compose.clean_output(text))
    commitment = values.get("commitment") or None
    issues = checks.check(dt.key, text, commitment=commitment, easy=easy)
    out = Outcome(text, issues, masked_note=masked_note)
    if checks.errors(issues) and settings_of(services).DRAFT_AUTO_REPAIR:
        problems = [i.message for i in checks.errors(issues)]
        try:
            ans = await services.ai.chat(req, SKILL_NAME, compose.rewrite_messages(dt, values, text, "repair",
                                                                                  problems))
        except (AIRefused, AIFailed) as e:
            log.info("repair round skipped: %s", type(e).__name__)
            return out
        fixed = checks.autofix(dt.key, compose.clean_output(ans.text))
        fixed_issues = checks.check(dt.key, fixed, commitment=commitment, easy=easy)
        if len(checks.errors(fixed_issues)) < len(checks.errors(issues)):
            out = Outcome(fixed, fixed_issues, [strings.REPAIRED] if not checks.errors(fixed_issues) else [],
                          masked_note=_join_notes(masked_note, ans.masked_note))
    return out


def _join_notes(*notes: str) -> str:
    seen = []
    for n in notes:
        if n and n not in seen:
            seen.append(n)
    return " ".join(seen)


async def _generate(req, reply: ReplyPort, services, dt: DocType, values: dict, *, easy: bool) -> None:
    if services.ai.offline:
        text = compose.fill_template(dt, values)
        issues = checks.check(dt.key, text, commitment=values.get("commitment") or None, easy=easy)
        draft = await create_draft(services.db, user_id=req.user_id, doc_type=dt.key, fields=values, text=text,
                                   masked_note="", easy=easy, offline=True)
        await services.ai.record_offline(req, SKILL_NAME)
        await reply.send_card(_result(dt, draft, issues, []), ai_generated=False, feedback=False)
        return
    notices: list[str] = []
    refs: list[compose.Reference] = []
    if dt.key == "gikai":
        try:
            refs = await find_references(services, req, f"{values.get('subject', '')} {values.get('points', '')}",
                                         settings_of(services))
        except ReferencesUnavailable:
            notices.append(strings.REFERENCES_UNAVAILABLE)
    if values.get("basis"):
        laws = await law_references(services, values["basis"], start=len(refs) + 1)
        if laws:     # past answers and law text share one budget: the prompt keeps to its token target
            refs = compose.budget_references(refs + laws, settings_of(services).DRAFT_REFERENCE_CHARS)
    await reply.inform(strings.WORKING)
    ans = await services.ai.chat(req, SKILL_NAME, compose.generation_messages(dt, values, easy=easy, references=refs))
    out = await _finalize(req, services, dt, values, ans.text, easy=easy, masked_note=ans.masked_note)
    kept = [replace(r, text=r.text[:160]) for r in refs]      # an excerpt is enough to cite it later
    draft = await create_draft(services.db, user_id=req.user_id, doc_type=dt.key, fields=values, text=out.text,
                               masked_note=out.masked_note, easy=easy, offline=False, references=kept)
    await reply.send_card(_result(dt, draft, out.issues, notices + out.notices), ai_generated=True, feedback=True,
                          citations=_citations(kept))


async def law_references(services, basis: str, *, start: int) -> list[compose.Reference]:
    """The 根拠法令 the user named, looked up through the law search tool (e-Gov 法令API), to quote and cite.
    Nothing when e-Gov cannot be reached: the draft then names the law as written by the user."""
    hits = await find_law(services.law, basis, limit=2)
    return [compose.Reference(position=start + i, title=f"{h.law_title} {h.article or ''}".strip()[:80],
                              text=h.excerpt[:300], url=h.url, kind="law") for i, h in enumerate(hits)]


def _citations(refs: list[compose.Reference]) -> list[Citation]:
    return [Citation(position=r.position, name=r.title, url=r.url or None, abstract=r.text) for r in refs]


def _result(dt: DocType, draft, issues: list[checks.Issue], notices: list[str]) -> dict:
    heading = (strings.RESULT_REVISED.format(label=dt.label, n=draft.revision) if draft.revision
               else strings.RESULT_TITLE.format(label=dt.label))
    refs = [(r.position, r.title) for r in references_of(draft)]
    return cards.result_card(draft_id=draft.id, heading=heading, draft=draft.text,
                             issues=[(i.severity, i.message) for i in issues], masked_note=draft.masked_note,
                             offline=draft.offline, easy_variant=dt.easy_variant, easy=draft.easy,
                             references=refs, notices=notices)


async def _owned_draft(req: SkillRequest, services):
    draft_id = req.data.get("draft_id")
    if not isinstance(draft_id, int):
        raise InputError(strings.NOT_FOUND)
    draft = await load_draft(services.db, draft_id, req.user_id)
    if draft is None:
        raise InputError(strings.NOT_FOUND)
    dt = DOC_TYPES.get(draft.doc_type)
    if dt is None:
        raise InputError(strings.NOT_FOUND)
    return draft, dt


async def _revise(req: SkillRequest, reply: ReplyPort, services, kind: str) -> None:
    draft, dt = await _owned_draft(req, services)
    if services.ai.offline:
        await reply.send_text(strings.OFFLINE_REVISE)
        return
    values = dict(draft.fields or {})
    easy = draft.easy or kind == "easy"
    notices: list[str] = []
    if kind == "revise":
        instruction = str((req.data or {}).get("instruction") or "").strip()
        if not instruction:
            await reply.send_text(strings.NO_INSTRUCTION)
            return
        _limit(services, instruction)
        await reply.inform(strings.REVISING)
        ans = await services.ai.chat(req, SKILL_NAME, compose.revision_messages(dt, values, draft.text, instruction))
        edit = compose.apply_edits(draft.text, ans.text)
        if edit.failed:
            notices.append(strings.EDIT_FAILED.format(items="、".join(f"「{f}」" for f in edit.failed)))
        new_text = edit.text
    else:
        await reply.inform(strings.REVISING)
        ans = await services.ai.chat(req, SKILL_NAME, compose.rewrite_messages(dt, values, draft.text, kind))
        new_text = ans.text
    out = await _finalize(req, services, dt, values, new_text, easy=easy, masked_note=ans.masked_note)
    draft = await update_draft(services.db, draft.id, text=out.text, masked_note=out.masked_note, easy=easy)
    await reply.send_card(_result(dt, draft, out.issues, notices + out.notices), ai_generated=True, feedback=True,
                          citations=_citations(references_of(draft)))


async def _docx(req: SkillRequest, reply: ReplyPort, services) -> None:
    draft, dt = await _owned_draft(req, services)
    values = dict(draft.fields or {})
    try:
        data = render_docx(dt, draft.text, values, ai_generated=not draft.offline)
    except Exception:  # noqa: BLE001 - never a stack trace to the user
        log.exception("docx rendering failed")
        await reply.send_text(strings.DOCX_FAILED)
        return
    name = file_name(dt, values)
    description = strings.FILE_DESCRIPTION.format(name=name)
    if not draft.offline:
        description += strings.FILE_AI
    await reply.send_file(name, data, DOCX_CONTENT_TYPE, description=description)

