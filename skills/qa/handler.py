"""/ask: questions, knowledge-set listing, registration hints, set creation, files, and the card verbs."""
from __future__ import annotations

import logging
from typing import Annotated

from pydantic import Field

from cards import qa as qa_cards
from cards import qa_approved as approved_cards
from core.carddata import CardData, Name, RowId, StrictBool, Text, Token
from core.kintone.client import KintoneError
from core.profiles import group_ids
from core.search.index import SearchError, readable_sets
from core.services import Services
from core.skills import Handler, ReplyPort, SkillRequest, Verb
from skills.qa import approved
from skills.qa import strings as S
from skills.qa.answer import ask
from skills.qa.documents import choose_set, receive_files, set_target
from skills.qa.escalation import escalate, staff_answer
from skills.qa.service import can_write, settings_of, writable_sets

log = logging.getLogger(__name__)

SETS_WORDS = {"sets", "set", "セット", "一覧", "セット一覧", "ナレッジセット"}
REGISTER_WORDS = {"登録", "register", "upload"}
CREATE_WORDS = {"作成", "create", "new"}
HELP_WORDS = {"help", "使い方", "ヘルプ", "?", "？"}


def _answering(work: Handler) -> Handler:
    """Search and kintone trouble become the user's message (their `message`/`message_ja` is Japanese)."""
    async def guarded(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
        try:
            await work(req, reply, services)
        except SearchError as e:
            await reply.send_text(e.message)
        except KintoneError as e:
            await reply.send_text(e.message_ja)
    return guarded


class QuestionRef(CardData):
    q: RowId
    answer: Text = ""


class UploadChoice(CardData):
    token: Token
    set: Name = ""


Page = Annotated[int, Field(ge=0, le=100_000, strict=False)]


class ApprovedPage(CardData):
    set: Name = ""
    page: Page = 0


class ApprovedRef(ApprovedPage):
    id: RowId


class ApprovedEdit(ApprovedRef):
    question: Text | None = None      # the edit form's inputs; absent = show the form
    answer: Text | None = None
    expires: Name | None = None


class ApprovedDelete(ApprovedRef):
    confirm: StrictBool = False


VERBS = {
    qa_cards.ESCALATE_VERB: Verb(_answering(escalate), QuestionRef),
    qa_cards.STAFF_ANSWER_VERB: Verb(_answering(staff_answer), QuestionRef),
    qa_cards.UPLOAD_VERB: Verb(_answering(choose_set), UploadChoice),
    approved_cards.APPROVED_LIST_VERB: Verb(_answering(approved.on_list), ApprovedPage),
    approved_cards.APPROVED_EDIT_VERB: Verb(_answering(approved.on_edit), ApprovedEdit),
    approved_cards.APPROVED_EXPIRE_VERB: Verb(_answering(approved.on_expire), ApprovedRef),
    approved_cards.APPROVED_DELETE_VERB: Verb(_answering(approved.on_delete), ApprovedDelete),
}


async def _dispatch(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    """/ask …, free text, and files sent in chat."""
    if approved.wants_import(req):
        await approved.import_csv(req, reply, services)
        return
    if req.attachments:
        await receive_files(req, reply, services)
        return
    text = (req.text or "").strip()
    if req.command == "ask":
        head, _, rest = text.partition(" ")
        word = head.strip().lower()
        if not text or word in HELP_WORDS:
            await reply.send_text(S.USAGE)
            return
        if word in SETS_WORDS and not rest.strip():
            await list_sets(req, reply, services)
            return
        if word in REGISTER_WORDS:
            await register_hint(req, reply, services, rest.strip())
            return
        if word in CREATE_WORDS:
            await create_set(req, reply, services, rest.strip())
            return
        if word in S.APPROVED_WORDS:
            await approved.list_command(req, reply, services, rest)
            return
    if not text:
        await reply.send_text(S.USAGE)
        return
    await ask(req, reply, services, text)


handle = _answering(_dispatch)


async def list_sets(req: SkillRequest, reply: ReplyPort, services) -> None:
    index = services.knowledge
    settings = settings_of(services)
    readable = set(await readable_sets(req.aad_object_id, await group_ids(services, req.aad_object_id),
                                          services.db))
    defaults = set(settings.channel_sets(req.conversation_id))
    rows = []
    for info in await index.list_sets():
        if info.name not in readable:
            continue
        docs = await index.list_documents(info.name)
        rows.append({"name": info.name, "title": info.title, "documents": len(docs),
                     "access": S.SETS_MEMBERS if info.members else S.SETS_ALL_STAFF,
                     "writable": can_write(info, req.aad_object_id, settings), "default": info.name in defaults})
    await reply.send_card(qa_cards.sets_card(rows), text=S.SETS_TITLE if rows else S.SETS_NONE)


async def register_hint(req: SkillRequest, reply: ReplyPort, services, set_name: str) -> None:
    writable = await writable_sets(services, req.aad_object_id)
    names = [w.name for w in writable]
    if not set_name:
        if not names:
            await reply.send_text(S.UPLOAD_NO_WRITABLE)
        else:
            await reply.send_text(S.REGISTER_WHICH.format(example=names[0], sets="、".join(names)))
        return
    if await services.knowledge.get_set(set_name) is None:
        await reply.send_text(S.REGISTER_UNKNOWN.format(set=set_name))
        return
    if set_name not in names:
        await reply.send_text(S.UPLOAD_NOT_WRITABLE.format(set=set_name))
        return
    await set_target(services, req.user_id, set_name)
    await reply.send_text(S.REGISTER_HINT.format(set=set_name))


async def create_set(req: SkillRequest, reply: ReplyPort, services, args: str) -> None:
    settings = settings_of(services)
    if not settings.QA_ALLOW_SET_CREATION and (req.aad_object_id or "").lower() not in settings.admin_ids:
        await reply.send_text(S.CREATE_DISABLED)
        return
    name, _, title = args.partition(" ")
    name = name.strip()
    if not name or not req.aad_object_id:
        await reply.send_text(S.CREATE_USAGE)
        return
    await services.knowledge.create_set(name, title=title.strip() or name, owner=req.aad_object_id)
    await set_target(services, req.user_id, name)
    await reply.send_text(S.CREATED.format(set=name))
