"""The kpi skill's handler: /kpi, /skillcheck, /examples, /helpdesk and their card verbs."""
from __future__ import annotations

import dataclasses
import logging
import re
import unicodedata
from datetime import date

from sqlalchemy import func, select

from cards import kpi as kpi_cards
from cards.kpi import examples_category_card, examples_index_card, kpi_card, quiz_card, quiz_result_card, roles_card
from core.carddata import CardData, Name, RowId, Text
from core.profiles import department_of, group_ids
from core.skills import Handler, ReplyPort, SkillRequest, Verb
from core.timeutil import JST
from skills.kpi import helpdesk
from skills.kpi import strings as S
from skills.kpi.content import ContentError, load_library, load_quiz, score
from skills.kpi.export import audit_csv, monthly_csv, monthly_detail_csv
from skills.kpi.models import QuizResult
from skills.kpi.report import (
    FIRST_DATE,
    LAST_DATE,
    U,
    build_report,
    fiscal_year,
    fiscal_year_label,
    jst_midnight_utc,
)
from skills.kpi.settings import KpiSettings, settings_of

log = logging.getLogger(__name__)

EXPORT_WORDS = {"export", "csv", "エクスポート", "出力"}
EXPORT_CHAT_MAX_ROWS = 100_000


async def is_admin(req: SkillRequest, settings: KpiSettings, services=None) -> bool:
    """An administrator is listed in KPI_ADMIN_IDS by Entra ID object id, or belongs (transitively) to a group
    listed there — group membership comes from Microsoft Graph when it is configured. In anonymous local mode
    (`make run`: no bot credentials, loopback only) the one local user is the administrator."""
    if services is not None and services.local_admin:
        return True
    if not req.aad_object_id:
        return False
    if req.aad_object_id.lower() in settings.admin_ids:
        return True
    if services is None:
        return False
    return any(g.lower() in settings.admin_ids for g in await group_ids(services, req.aad_object_id))


async def handle(req: SkillRequest, reply: ReplyPort, services) -> None:
    """/kpi, /skillcheck, /examples, /helpdesk and free text."""
    try:
        if req.command == "kpi":
            await _kpi_command(req, reply, services)
        elif req.command == "skillcheck":
            await _skillcheck(req, reply, services)
        elif req.command == "examples":
            await _examples(req, reply, services)
        elif req.command == "helpdesk":
            await helpdesk.ask(req, reply, services)
        else:
            await _free_text(req, reply, services)
    except ContentError as e:
        await reply.send_text(e.message_ja)


# -- card verbs ---------------------------------------------------------------------------------------------------

def _content(handler: Handler) -> Handler:
    """Broken administrator-edited content (quiz, examples) becomes the user's message."""
    async def guarded(req: SkillRequest, reply: ReplyPort, services) -> None:
        try:
            await handler(req, reply, services)
        except ContentError as e:
            await reply.send_text(e.message_ja)
    return guarded


def _admin_personal(handler: Handler) -> Handler:
    async def checked(req: SkillRequest, reply: ReplyPort, services) -> None:
        if not await is_admin(req, settings_of(services), services):
            await reply.send_text(S.NOT_ADMIN)
        elif not req.personal:                # department figures are for administrators' eyes only
            await reply.send_text(S.PERSONAL_ONLY.format(command="/kpi"))
        else:
            await handler(req, reply, services)
    return checked


def _personal(command: str, handler: Handler) -> Handler:
    async def checked(req: SkillRequest, reply: ReplyPort, services) -> None:
        if not req.personal:                  # a result refreshed in a channel card would show to everyone
            await reply.send_text(S.PERSONAL_ONLY.format(command=command))
        else:
            await handler(req, reply, services)
    return checked


async def on_export(req: SkillRequest, reply: ReplyPort, services) -> None:
    await _export(req, reply, services, None)


async def on_refresh(req: SkillRequest, reply: ReplyPort, services) -> None:
    await reply.refresh_card(await _kpi_card(services))


async def on_roles(req: SkillRequest, reply: ReplyPort, services) -> None:
    await reply.refresh_card(roles_card(_quiz(services).roles))


async def on_role(req: SkillRequest, reply: ReplyPort, services) -> None:
    quiz = _quiz(services)
    role = quiz.role(str(req.data.get("role") or ""))
    await reply.refresh_card(quiz_card(role) if role else roles_card(quiz.roles))


async def on_browse(req: SkillRequest, reply: ReplyPort, services) -> None:
    """The examples library: its categories, or one category's examples. The /help card's 「活用例を見る」 too."""
    lib = _library(services)
    cat = lib.category(str(req.data.get("category") or ""))
    card = examples_category_card(cat) if cat else examples_index_card(lib.categories)
    if req.is_invoke and req.data.get("category") is not None:
        await reply.refresh_card(card)        # browsing inside the library card replaces it
    else:
        await reply.send_card(card)           # from another card (/help): a new message, that card stays


class RoleData(CardData):
    role: Name = ""


class CategoryData(CardData):
    category: Name | None = None


class RunData(CardData):
    text: Text = ""


class TicketData(CardData):
    ticket: RowId
    answer: Text = ""


VERBS = {
    kpi_cards.EXPORT_VERB: Verb(_admin_personal(on_export)),
    kpi_cards.REFRESH_VERB: Verb(_admin_personal(on_refresh)),
    kpi_cards.ROLES_VERB: Verb(_personal("/skillcheck", _content(on_roles))),
    kpi_cards.ROLE_VERB: Verb(_personal("/skillcheck", _content(on_role)), RoleData),
    kpi_cards.SUBMIT_VERB: Verb(_personal("/skillcheck", _content(lambda req, reply, services:
                                                                   _submit_quiz(req, reply, services))), RoleData),
    kpi_cards.BROWSE_VERB: Verb(_content(on_browse), CategoryData),
    kpi_cards.RUN_VERB: Verb(_content(lambda req, reply, services: _run_example(req, reply, services)), RunData),
    kpi_cards.ANSWER_VERB: Verb(lambda req, reply, services: helpdesk.answer(req, reply, services), TicketData),
}


# -- /kpi -------------------------------------------------------------------------------------------------------

async def _kpi_card(services) -> dict:
    report = await build_report(services.db, settings_of(services), services.clock.now())
    titles = {s.name: s.title for s in services.registry.skills}
    return kpi_card(report, titles)


async def _kpi_command(req: SkillRequest, reply: ReplyPort, services) -> None:
    if not await is_admin(req, settings_of(services), services):
        await reply.send_text(S.NOT_ADMIN)
        return
    if not req.personal:                  # department figures are for administrators' eyes only
        await reply.send_text(S.PERSONAL_ONLY.format(command="/kpi"))
        return
    args = unicodedata.normalize("NFKC", req.text or "").split()
    if args and args[0].lower() in EXPORT_WORDS:
        year = None
        if len(args) > 1:
            m = re.fullmatch(r"(\d{4})(年度)?", args[1])
            if not m:
                await reply.send_text(S.EXPORT_BAD_YEAR)
                return
            year = int(m.group(1))
            if not FIRST_DATE.year <= year < LAST_DATE.year:
                await reply.send_text(S.EXPORT_BAD_YEAR)
                return
        await _export(req, reply, services, year)
        return
    if args:
        await reply.send_text(S.KPI_USAGE)
        return
    try:
        card = await _kpi_card(services)
    except Exception:  # noqa: BLE001 - the admin gets a clear message, the log the details
        log.exception("kpi report failed")
        await reply.send_text(S.KPI_FAILED)
        return
    await reply.send_card(card)


async def _export(req: SkillRequest, reply: ReplyPort, services, year: int | None) -> None:
    settings = settings_of(services)
    now = services.clock.now()
    fy = year or fiscal_year(now.astimezone(JST).date())
    label = fiscal_year_label(fy)
    start, end = jst_midnight_utc(date(fy, 4, 1)), jst_midnight_utc(date(fy + 1, 4, 1))
    async with services.db.engine.connect() as conn:
        rows = int((await conn.execute(select(func.count()).select_from(U)
                                       .where(U.c.created_at >= start, U.c.created_at < end))).scalar_one())
    await reply.send_file(f"ai_kpi_monthly_{fy}.csv", await monthly_csv(services.db, settings, fy, now), "text/csv",
                          description=f"{label} 月別集計")
    await reply.send_file(f"ai_kpi_monthly_detail_{fy}.csv", await monthly_detail_csv(services.db, settings, fy, now),
                          "text/csv", description=f"{label} 月別・部署別・機能別の集計")
    if rows > EXPORT_CHAT_MAX_ROWS:
        await reply.send_text(S.EXPORT_TOO_LARGE.format(label=label, rows=rows, limit=EXPORT_CHAT_MAX_ROWS))
        return
    await reply.send_file(f"ai_audit_{fy}.csv", await audit_csv(services.db, start, end), "text/csv",
                          description=f"{label} 監査記録（{rows:,}件）")
    await reply.send_text(S.EXPORT_DONE.format(label=label))


# -- /skillcheck ------------------------------------------------------------------------------------------------

def _quiz(services):
    return load_quiz(settings_of(services).skillcheck_path)


def _library(services):
    return load_library(settings_of(services).examples_path)


async def _skillcheck(req: SkillRequest, reply: ReplyPort, services) -> None:
    if not req.personal:                  # a result refreshed in a channel card would show to everyone
        await reply.send_text(S.PERSONAL_ONLY.format(command="/skillcheck"))
        return
    quiz = _quiz(services)
    word = (req.text or "").strip()
    if not word:
        await reply.send_card(roles_card(quiz.roles))
        return
    role = quiz.role(word)
    if role is None:
        await reply.send_text(S.QUIZ_UNKNOWN_ROLE.format(word=word, roles="、".join(r.title for r in quiz.roles)))
        await reply.send_card(roles_card(quiz.roles))
        return
    await reply.send_card(quiz_card(role))


async def _submit_quiz(req: SkillRequest, reply: ReplyPort, services) -> None:
    quiz = _quiz(services)
    role = quiz.role(str(req.data.get("role") or ""))
    if role is None:
        await reply.refresh_card(roles_card(quiz.roles))
        return
    result = score(role, req.data)
    dept = await department_of(services.db, req.user_id)
    async with services.db.session() as s:
        s.add(QuizResult(created_at=services.clock.now(), user_id=req.user_id, aad_object_id=req.aad_object_id,
                         department=dept, role=role.id, score=result.correct, total=result.total,
                         answers=result.answers()))
    await reply.refresh_card(quiz_result_card(role, result, quiz.pass_percent))


# -- /examples --------------------------------------------------------------------------------------------------

async def _examples(req: SkillRequest, reply: ReplyPort, services) -> None:
    lib = _library(services)
    word = (req.text or "").strip()
    if not word:
        await reply.send_card(examples_index_card(lib.categories))
        return
    cat = lib.category(word)
    if cat is None:
        await reply.send_text(S.EXAMPLES_UNKNOWN.format(word=word, cats="、".join(c.title for c in lib.categories)))
        await reply.send_card(examples_index_card(lib.categories))
        return
    await reply.send_card(examples_category_card(cat))


async def _run_example(req: SkillRequest, reply: ReplyPort, services) -> None:
    """Run an example's text in the right skill, exactly as if the user had typed it (through the router, which
    the services carry: no skill imports another)."""
    text = str(req.data.get("text") or "").strip()
    if not text:
        await reply.send_text(S.EXAMPLES_EMPTY_RUN)
        return
    typed = dataclasses.replace(req, text=text, verb=None, command=None, data={}, is_invoke=False)
    await services.dispatch(typed, reply)


# -- free text (offline keyword routing) --------------------------------------------------------------------------

async def _free_text(req: SkillRequest, reply: ReplyPort, services) -> None:
    t = unicodedata.normalize("NFKC", req.text or "")
    if "利用状況" in t:
        req.text = ""
        await _kpi_command(req, reply, services)
    elif "使い方を相談" in t:
        await reply.send_text(S.HELPDESK_USAGE)
    else:
        await reply.send_card(examples_index_card(_library(services).categories))
