"""The skill's handler: /check, /notice, /inquiry, files sent in chat, and the card verbs (notices.*)."""
from __future__ import annotations

from pathlib import PurePath

from cards import notices as cards
from core.services import Services
from core.skills import FileAttachment, ReplyPort, SkillRequest, Verb
from skills.notices import check, inquiry, reading
from skills.notices import strings as S

CHECK_WORDS = ("チェック", "公用文", "校正", "表記", "添削", "確認して")
NOTICE_WORDS = ("通知", "要旨", "読んで", "対応事項", "期限", "要約")
INQUIRY_WORDS = ("照会", "回答", "調査票", "アンケート")


def use_of(att: FileAttachment, words: str, command: str | None) -> str | None:
    """What the user wants done with a file: "check", "notice" or "inquiry" (None: cannot tell)."""
    ext = PurePath(att.name or "").suffix.lower()
    if command in ("check", "notice", "inquiry"):
        return command
    t = words or ""
    wants = [use for use, keys in (("inquiry", INQUIRY_WORDS), ("check", CHECK_WORDS), ("notice", NOTICE_WORDS))
             if any(k in t for k in keys)]
    if ext == ".xlsx":
        return "inquiry" if "inquiry" in wants or not wants else None
    if ext == ".pdf":
        return "notice"
    if ext == ".docx":
        return wants[0] if len(wants) == 1 and wants[0] != "inquiry" else ("check" if "check" in wants else None)
    return None


async def handle(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    if req.attachments:
        att = req.attachments[0]
        use = use_of(att, req.text, req.command)
        if use is None:
            await reply.send_text(S.FILE_UNKNOWN_USE.format(name=PurePath(att.name or "").name))
            return
        if use == "check":
            await check.check_file(req, reply, services, att)
        elif use == "notice":
            await reading.notice_file(req, reply, services, att)
        else:
            await inquiry.inquiry_file(req, reply, services, att)
        return
    if req.command == "notice":
        await reading.notice_text(req, reply, services, req.text)
        return
    if req.command == "inquiry":
        await reply.send_text(S.INQUIRY_USAGE)
        return
    if req.command == "check":
        await check.check_text(req, reply, services, req.typed_text if req.typed_text is not None else req.text)
        return
    await reply.send_text(S.CHECK_USAGE)


VERBS = {
    cards.CHECK_PAGE_VERB: Verb(check.on_page, check.CheckPage),
    cards.CHECK_KIND_VERB: Verb(check.on_kind, check.CheckKind),
    cards.CHECK_DOCX_VERB: Verb(check.on_docx, check.CheckDocx),
    cards.CHECK_AI_VERB: Verb(check.on_ai, check.CheckRef),
    cards.NOTICE_REMIND_VERB: Verb(reading.on_remind, reading.RemindData),
}
