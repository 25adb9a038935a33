"""/check: the 公用文 rules (core.kobun) over typed text or a Word file, a paged card of suggestions, the document
back with Word revisions, and — with an LLM — the AI's suggestions on clarity and やさしい日本語, kept apart."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import unicodedata
import zipfile
from datetime import timedelta
from pathlib import PurePath

from sqlalchemy import delete

from cards import notices as cards
from core import kobun
from core.ai import AIFailed, AIRefused
from core.carddata import CardData, Name, RowId, StrictBool
from core.docx import DOCX_CONTENT_TYPE
from core.kobun import tracked
from core.search.extract import Limits, Refused, inspect_zip
from core.services import Services
from core.skills import FileAttachment, ReplyPort, SkillRequest
from skills import prompts
from skills.notices import strings as S
from skills.notices.files import FileError, fetch
from skills.notices.models import KobunCheck
from skills.notices.settings import NoticesSettings

log = logging.getLogger(__name__)

SKILL = "notices"
AUTHOR = "尼崎市AIアシスタント（公用文チェック）"
AI_AUTHOR = "尼崎市AIアシスタント（AIの提案）"
KIND_WORDS = {"広報": "public", "市民向け": "public", "お知らせ": "public", "広報向け": "public",
              "通知": "notice", "庁内": "notice", "公用文": "notice"}
MAX_AI_CHARS = 12000      # characters of a document the model is given for its suggestions
DOCX_LIMITS = Limits(max_uncompressed_mb=40, max_members=2000)   # the document is opened in this process
# python-docx builds the whole body in this process: about 8 MB of parse tree per MB of word/document.xml (a 38 MB
# body in a 2.5 MB file took 300 MB). 8 MB of body XML is far more than NOTICES_CHECK_MAX_CHARS' text ever needs.
DOCX_BODY_MAX_MB = 8


def settings_of(services: Services) -> NoticesSettings:
    return services.settings.get(NoticesSettings)


class CheckError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def split_kind(text: str) -> tuple[str, str]:
    """「広報 本文…」 → ("public", "本文…"); no kind word first → ("notice", text)."""
    t = (text or "").strip()
    m = re.match(r"(\S+)[\s　]+(.*)", t, re.S)
    if m and m.group(1) in KIND_WORDS:
        return KIND_WORDS[m.group(1)], m.group(2).strip()
    return "notice", t


def kind_in_words(text: str) -> str:
    t = text or ""
    return "public" if any(w in t for w, k in KIND_WORDS.items() if k == "public") else "notice"


# -- starting a check ------------------------------------------------------------------------------------------

async def check_text(req: SkillRequest, reply: ReplyPort, services: Services, text: str) -> None:
    kind, body = split_kind(unicodedata.normalize("NFC", text or ""))
    body = body.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not body.strip():
        await reply.send_text(S.CHECK_USAGE)
        return
    limit = settings_of(services).NOTICES_CHECK_MAX_CHARS
    if len(body) > limit:
        await reply.send_text(S.CHECK_TOO_LONG.format(n=limit))
        return
    found = await _run(body, kind)
    row = await _store(services, req, kind=kind, name="", text=body, docx=None, found=found)
    await services.ai.record_offline(req, SKILL)
    await reply.send_card(result_card(row, services, page=0))


def read_docx(data: bytes, name: str, max_chars: int = 30000) -> None:
    """Refuse what is not a sound Word package before python-docx opens it in this process: zip bombs, odd parts,
    a body too large to parse here (DOCX_BODY_MAX_MB), a package carrying macros (never run: refused unread)."""
    try:
        inspect_zip(data, "docx", DOCX_LIMITS)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = {i.filename: i for i in z.infolist()}
            types = z.read("[Content_Types].xml") if "[Content_Types].xml" in infos else b""
    except Refused as e:
        if e.code in ("zip_size", "zip_ratio", "zip_members", "zip_nested"):
            raise CheckError(S.CHECK_DOCX_UNSAFE.format(name=name)) from None
        raise CheckError(S.CHECK_DOCX_BROKEN.format(name=name)) from None
    except (zipfile.BadZipFile, ValueError, OSError, KeyError):
        raise CheckError(S.CHECK_DOCX_BROKEN.format(name=name)) from None
    if "word/document.xml" not in infos:
        raise CheckError(S.CHECK_DOCX_BROKEN.format(name=name))
    if any(n.lower().endswith("vbaproject.bin") for n in infos) or b"macroEnabled" in types:
        raise CheckError(S.CHECK_DOCX_MACRO.format(name=name))
    if infos["word/document.xml"].file_size > DOCX_BODY_MAX_MB << 20:
        raise CheckError(S.CHECK_DOCX_TOO_LARGE.format(name=name, n=max_chars))


async def check_file(req: SkillRequest, reply: ReplyPort, services: Services, att: FileAttachment) -> None:
    name = PurePath(att.name or "文書.docx").name
    if not name.lower().endswith(".docx"):
        await reply.send_text(S.CHECK_DOCX_ONLY.format(name=name))
        return
    try:
        data = await fetch(settings_of(services), att)
        read_docx(data, name, settings_of(services).NOTICES_CHECK_MAX_CHARS)
        text = await asyncio.to_thread(_docx_text, data, name)
    except (FileError, CheckError) as e:
        await reply.send_text(e.message)
        return
    if not text.strip():
        await reply.send_text(S.CHECK_DOCX_EMPTY.format(name=name))
        return
    limit = settings_of(services).NOTICES_CHECK_MAX_CHARS
    if len(text) > limit:
        await reply.send_text(S.CHECK_TOO_LONG.format(n=limit))
        return
    kind = kind_in_words(req.text)
    found = await _run(text, kind)
    row = await _store(services, req, kind=kind, name=name, text=text, docx=data, found=found)
    await services.ai.record_offline(req, SKILL)
    await reply.send_card(result_card(row, services, page=0))
    if found:
        await _send_docx(reply, row, with_ai=False)


def _docx_text(data: bytes, name: str) -> str:
    import docx

    try:
        return tracked.document_text(docx.Document(io.BytesIO(data)))
    except Exception:  # noqa: BLE001 - python-docx raises many kinds on a broken package
        raise CheckError(S.CHECK_DOCX_BROKEN.format(name=name)) from None


async def _run(text: str, kind: str) -> list[kobun.Suggestion]:
    return await asyncio.to_thread(kobun.check, text, kind=kind)


async def _store(services: Services, req: SkillRequest, *, kind: str, name: str, text: str, docx: bytes | None,
                 found: list[kobun.Suggestion]) -> KobunCheck:
    now = services.clock.now()
    row = KobunCheck(user_id=req.user_id, kind=kind, name=name, text=text, docx=docx,
                     suggestions=[s.to_json() for s in found], created_at=now,
                     expires_at=now + timedelta(days=settings_of(services).NOTICES_KEEP_DAYS))
    async with services.db.session() as s:
        s.add(row)
        await s.flush()
        await s.refresh(row)
    return row


# -- the card --------------------------------------------------------------------------------------------------

def _suggestions(row: KobunCheck) -> list[kobun.Suggestion]:
    return [kobun.Suggestion.from_json(d) for d in row.suggestions or []]


def _item(s: kobun.Suggestion) -> dict:
    return {"line": s.line, "level": s.level, "level_label": kobun.LEVEL_LABELS.get(s.level, s.level),
            "category": s.category, "title": s.title, "original": s.original, "replacement": s.replacement,
            "source": s.source, "rule_id": s.rule_id}


def result_card(row: KobunCheck, services: Services, *, page: int, message: str = "") -> dict:
    found = _suggestions(row)
    size = max(1, settings_of(services).NOTICES_PAGE_SIZE)
    pages = max(1, -(-len(found) // size))
    page = min(max(0, page), pages - 1)
    counts = {label: sum(1 for s in found if s.level == level) for level, label in kobun.LEVEL_LABELS.items()}
    return cards.check_result_card(check_id=row.id, items=[_item(s) for s in found[page * size:(page + 1) * size]],
                                   total=len(found), counts=counts, page=page, pages=pages, kind=row.kind,
                                   kinds=kobun.default_rules().kinds, name=row.name,
                                   ai_available=not services.ai.offline, ai_done=row.ai_suggestions is not None,
                                   message=message)


# -- verbs -----------------------------------------------------------------------------------------------------

class CheckPage(CardData):
    check_id: RowId
    page: int = 0


class CheckKind(CardData):
    check_id: RowId
    kind: Name = "notice"


class CheckDocx(CardData):
    check_id: RowId
    with_ai: StrictBool = False


class CheckRef(CardData):
    check_id: RowId


async def _own(req: SkillRequest, services: Services) -> KobunCheck:
    async with services.db.session() as s:
        row = await s.get(KobunCheck, int(req.data.get("check_id") or 0))
    if row is None or row.user_id != req.user_id or row.expires_at < services.clock.now():
        raise CheckError(S.CHECK_NOT_FOUND)
    return row


async def _show(req: SkillRequest, reply: ReplyPort, card: dict) -> None:
    if req.is_invoke:
        await reply.refresh_card(card)
    else:
        await reply.send_card(card)


async def on_page(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    try:
        row = await _own(req, services)
    except CheckError as e:
        await reply.send_text(e.message)
        return
    page = req.data.get("page")
    await _show(req, reply, result_card(row, services, page=page if isinstance(page, int) else 0))


async def on_kind(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    try:
        row = await _own(req, services)
    except CheckError as e:
        await reply.send_text(e.message)
        return
    kinds = kobun.default_rules().kinds
    kind = str(req.data.get("kind") or "")
    if kind not in kinds:
        await reply.send_text(S.CHECK_NOT_FOUND)
        return
    found = await _run(row.text, kind)
    async with services.db.session() as s:
        stored = await s.get(KobunCheck, row.id)
        stored.kind = kind
        stored.suggestions = [x.to_json() for x in found]
        stored.ai_suggestions = None
        await s.flush()
        await s.refresh(stored)
        row = stored
    await _show(req, reply, result_card(row, services, page=0, message=f"{kinds[kind]}として確認し直しました。"))


async def on_docx(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    try:
        row = await _own(req, services)
    except CheckError as e:
        await reply.send_text(e.message)
        return
    await _send_docx(reply, row, with_ai=req.data.get("with_ai") is True)


def docx_name(row: KobunCheck) -> str:
    base = PurePath(row.name).stem if row.name else "公用文チェック"
    base = re.sub(r'[\\/:*?"<>|\r\n\t]', "_", base)[:60] or "公用文チェック"
    return f"{base}_公用文チェック.docx"


def build_docx(row: KobunCheck, *, with_ai: bool, when) -> tracked.Outcome:
    found = _suggestions(row)
    if with_ai and row.ai_suggestions:
        found = merge_ai(found, [kobun.Suggestion.from_json(d) for d in row.ai_suggestions])
    if row.docx:
        import docx

        doc = docx.Document(io.BytesIO(row.docx))
        if tracked.document_text(doc) != row.text:
            raise CheckError(S.CHECK_DOCX_FAILED)
        return tracked.annotate(doc, found, author=AUTHOR, when=when, ai_author=AI_AUTHOR)
    return tracked.from_text(row.text, found, author=AUTHOR, when=when, title="公用文チェック",
                             ai_author=AI_AUTHOR)


async def _send_docx(reply: ReplyPort, row: KobunCheck, *, with_ai: bool) -> None:
    from datetime import datetime, timezone

    try:
        out = await asyncio.to_thread(build_docx, row, with_ai=with_ai, when=datetime.now(timezone.utc))
    except CheckError as e:
        await reply.send_text(e.message)
        return
    except Exception:  # noqa: BLE001 - never a stack trace to the user
        log.exception("tracked-changes docx failed")
        await reply.send_text(S.CHECK_DOCX_FAILED)
        return
    name = docx_name(row)
    description = S.CHECK_FILE_DESCRIPTION.format(name=name, revisions=out.revisions, comments=out.comments)
    if out.not_tracked:
        description += S.CHECK_NOT_TRACKED.format(n=len(out.not_tracked))
    await reply.send_file(name, out.data, DOCX_CONTENT_TYPE, description=description)


# -- AI suggestions ---------------------------------------------------------------------------------------------

ASPECTS = {"clarity": "分かりやすさ", "easy": "やさしい日本語"}


def parse_ai(answer: str, text: str, limit: int) -> list[kobun.Suggestion]:
    """The model's JSON list of {original, replacement, reason, aspect}: only quotes found verbatim in the text are
    kept (the first occurrence), at most `limit`, never two on the same characters."""
    raw = answer.strip()
    m = re.search(r"\[.*\]", raw, re.S)
    if not m:
        raise ValueError("no JSON list")
    items = json.loads(m.group(0))
    if not isinstance(items, list):
        raise ValueError("not a list")
    out: list[kobun.Suggestion] = []
    taken: list[tuple[int, int]] = []
    line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    for it in items:
        if not isinstance(it, dict):
            continue
        original, replacement = str(it.get("original") or ""), it.get("replacement")
        if not original or not isinstance(replacement, str) or original == replacement:
            continue
        start = text.find(original)
        if start < 0 or any(start < b and a < start + len(original) for a, b in taken):
            continue
        aspect = ASPECTS.get(str(it.get("aspect") or ""), ASPECTS["clarity"])
        reason = " ".join(str(it.get("reason") or "").split())[:200] or "より分かりやすい表現にする"
        line = sum(1 for ls in line_starts if ls <= start)
        out.append(kobun.Suggestion(rule_id=f"ai.{'easy' if aspect == ASPECTS['easy'] else 'clarity'}",
                                    category=aspect, title=reason, source="AIによる提案（内容を確認してください）",
                                    level="review", start=start, end=start + len(original), original=original,
                                    replacement=replacement, message=f"「{original}」→「{replacement}」", line=line))
        taken.append((start, start + len(original)))
        if len(out) >= limit:
            break
    return out


def merge_ai(rules: list[kobun.Suggestion], ai: list[kobun.Suggestion]) -> list[kobun.Suggestion]:
    """The AI's suggestions that change no character a rule already changes (the rules come first)."""
    spans = [s.edit[:2] for s in rules if s.edits]
    kept = [s for s in ai if not any(s.start < b and a < s.end for a, b in spans)]
    return sorted(rules + kept, key=lambda s: s.start)


async def on_ai(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    try:
        row = await _own(req, services)
    except CheckError as e:
        await reply.send_text(e.message)
        return
    if services.ai.offline:
        await reply.send_text(S.CHECK_AI_OFFLINE)
        return
    if row.ai_suggestions is not None:
        await reply.send_card(_ai_card(row), ai_generated=True)
        return
    await reply.inform(S.CHECK_AI_WORKING)
    rules = "\n".join(f"- {s.message}" for s in _suggestions(row)[:30] if s.edits) or "（なし）"
    text = row.text[:MAX_AI_CHARS]          # a long document: the model sees its beginning (the card says so)
    messages = [{"role": "system", "content": prompts.load(SKILL, "clarity")},
                {"role": "user", "content": f"【文書の種類】{kobun.default_rules().kinds.get(row.kind, row.kind)}\n"
                                            f"【規則による指摘（重ねて提案しない）】\n{rules}\n\n【文書】\n{text}"}]
    try:
        ans = await services.ai.chat(req, SKILL, messages, temperature=0.2)
    except (AIRefused, AIFailed) as e:
        await reply.send_text(e.message_ja)
        return
    try:
        found = parse_ai(ans.text, row.text, settings_of(services).NOTICES_AI_MAX_SUGGESTIONS)
    except (ValueError, json.JSONDecodeError):
        log.info("AI suggestions not parseable")
        await reply.send_text(S.CHECK_AI_BAD)
        return
    async with services.db.session() as s:
        stored = await s.get(KobunCheck, row.id)
        stored.ai_suggestions = [x.to_json() for x in found]
        cut = S.CHECK_AI_CUT.format(n=MAX_AI_CHARS) if len(row.text) > MAX_AI_CHARS else ""
        stored.ai_note = " ".join(x for x in (ans.masked_note or "", cut) if x)[:500]
        await s.flush()
        await s.refresh(stored)
        row = stored
    if not found:
        await reply.send_text(S.CHECK_AI_NONE)
        return
    await reply.send_card(_ai_card(row), ai_generated=True, feedback=True)


def _ai_card(row: KobunCheck) -> dict:
    items = [{"original": s.original, "replacement": s.replacement, "reason": s.title, "aspect": s.category}
             for s in (kobun.Suggestion.from_json(d) for d in row.ai_suggestions or [])]
    return cards.check_ai_card(check_id=row.id, items=items, masked_note=row.ai_note)


# -- housekeeping -----------------------------------------------------------------------------------------------

async def purge(services: Services) -> None:
    """Delete checked documents and read 通知 past their keeping time."""
    from skills.notices.models import NoticeReading

    now = services.clock.now()
    async with services.db.session() as s:
        await s.execute(delete(KobunCheck).where(KobunCheck.expires_at < now))
        await s.execute(delete(NoticeReading).where(NoticeReading.expires_at < now))
