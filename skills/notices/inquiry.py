"""照会 (an .xlsx form sent in chat with 「照会」): its questions and answer cells found (skills.notices.form), answers
drafted from the knowledge sets the user may read and from the city's earlier answers to the same sender, the
workbook returned with every drafted cell filled in yellow with a comment (source, 要確認), the cells left empty
listed. Sent back reviewed with 「回答済み」, its answers are kept for the next 照会 of the same sender.

Offline an answer is the passage's own sentence (【抜粋】); with an LLM it is the model's (services.ai: masked,
audited), and an answer that names no source is dropped."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePath

from sqlalchemy import delete, select

from cards import notices as cards
from core.ai import AIFailed, AIRefused
from core.jdate import wareki
from core.kobun.sentences import sentences
from core.profiles import department_of, group_ids
from core.search.extract import Limits, Refused, inspect_zip
from core.search.index import SearchError, readable_sets
from core.services import Services
from core.skills import FileAttachment, ReplyPort, SkillRequest
from skills import prompts
from skills.notices import form
from skills.notices import strings as S
from skills.notices.files import FileError, fetch
from skills.notices.models import InquiryAnswer
from skills.notices.settings import NoticesSettings

log = logging.getLogger(__name__)

SKILL = "notices"
XLSX_LIMITS = Limits(max_uncompressed_mb=40, max_members=2000)      # the workbook is opened in this process
# openpyxl builds every cell of the workbook in this process: about 8 MB per MB of sheet XML (32 MB of sheets in a
# 3 MB file took 272 MB and 50 s). A 照会 form's sheets and shared strings are far below this.
SHEETS_MAX_MB = 5
MAX_QUESTIONS = 40
EARLIER_SIMILARITY = 0.6
LOCAL_MIN_SIMILARITY = 0.86       # the cosine /ask uses with the in-process model (QA_MIN_SIMILARITY's default)
_ISSUER = re.compile(r"([^\s　「」（）()]{1,10}?(?:省|庁|府|県|道|都))(?=[^\s　]{0,20}(?:局|部|課|室|長|照会|$))")
DONE_WORDS = ("回答済み", "提出済み", "回答済", "提出済")


def settings_of(services: Services) -> NoticesSettings:
    return services.settings.get(NoticesSettings)


@dataclass
class Draft:
    ref: str
    question: str
    answer: str = ""
    source: str = ""               # what the answer rests on, for the card and the cell's comment
    origin: str = ""               # earlier | knowledge | profile


@dataclass
class Result:
    drafts: list[Draft] = field(default_factory=list)
    labels: list[Draft] = field(default_factory=list)
    unfilled: list[Draft] = field(default_factory=list)
    answered: int = 0              # answer cells that already held something
    mode: str = "extractive"
    masked_note: str = ""


def issuer_of(text: str, name: str = "") -> str:
    """Who sent the 照会 (「総務省」「兵庫県」), from the form's title block or its file name; "" when unknown."""
    for source in (text, name):
        for line in source.split("\n"):
            m = _ISSUER.search(unicodedata.normalize("NFKC", line))
            if m:
                return m.group(1)
    return ""


def _bigrams(s: str) -> set[str]:
    t = re.sub(r"[\s、。，．・「」（）()？?]", "", unicodedata.normalize("NFKC", s))
    return {t[i:i + 2] for i in range(len(t) - 1)}


def similarity(a: str, b: str) -> float:
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def best_sentence(question: str, passage: str, limit: int = 150) -> str:
    """The passage's sentence that shares most with the question (the extractive answer)."""
    q = _bigrams(question)
    cands = [s.text for s in sentences(passage)] or [passage.strip()]
    best = max(cands, key=lambda s: len(q & _bigrams(s)))
    best = " ".join(best.split())
    return best if len(best) <= limit else best[:limit - 1] + "…"


def read_xlsx(data: bytes, name: str):
    """The workbook, opened in this process once the package passed the zip bomb checks and its sheets are small
    enough to build (SHEETS_MAX_MB). Raises FileError with the Japanese line."""
    try:
        inspect_zip(data, "xlsx", XLSX_LIMITS)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
        if "xl/workbook.xml" not in {i.filename for i in infos}:
            raise ValueError("no workbook part")
        sheets = sum(i.file_size for i in infos
                     if i.filename.startswith("xl/worksheets/") or i.filename == "xl/sharedStrings.xml")
        if sheets > SHEETS_MAX_MB << 20:
            raise FileError(S.INQUIRY_TOO_LARGE.format(name=name, mb=SHEETS_MAX_MB))
        return form.open_workbook(data)
    except FileError:
        raise
    except Refused as e:
        unsafe = e.code in ("zip_size", "zip_ratio", "zip_members", "zip_nested")
        raise FileError((S.INQUIRY_UNSAFE if unsafe else S.INQUIRY_BROKEN).format(name=name)) from None
    except (zipfile.BadZipFile, ValueError, KeyError, OSError):
        raise FileError(S.INQUIRY_BROKEN.format(name=name)) from None
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds on a broken package
        raise FileError(S.INQUIRY_BROKEN.format(name=name)) from None


async def inquiry_file(req: SkillRequest, reply: ReplyPort, services: Services, att: FileAttachment) -> None:
    name = PurePath(att.name or "照会.xlsx").name
    if not name.lower().endswith(".xlsx"):
        await reply.send_text(S.INQUIRY_XLSX_ONLY.format(name=name))
        return
    try:
        data = await fetch(settings_of(services), att)
        wb = await asyncio.to_thread(read_xlsx, data, name)
    except FileError as e:
        await reply.send_text(e.message)
        return
    fields = form.find_fields(wb)
    questions = [f for f in fields if f.kind == "question"]
    if not questions:
        await reply.send_text(S.INQUIRY_NO_FIELDS.format(name=name))
        return
    title = form.title_text(wb)
    issuer = issuer_of(title, name)
    if any(w in (req.text or "") for w in DONE_WORDS):
        await _remember(req, reply, services, questions, issuer=issuer, title=title.split("\n")[0], name=name)
        return
    await reply.inform(S.INQUIRY_WORKING)
    result = await draft_answers(req, services, fields[:MAX_QUESTIONS * 2], issuer=issuer)
    answers = {d.ref: (d.answer, _comment(d, result.mode)) for d in result.drafts + result.labels}
    out = await asyncio.to_thread(form.write, wb, answers) if answers else data
    if result.mode == "extractive":
        await services.ai.record_offline(req, SKILL)
    await reply.send_card(cards.inquiry_card(
        name=name, issuer=issuer, ai=result.mode == "ai",
        drafted=[(d.ref, d.question, d.answer, d.source) for d in result.drafts],
        labels=[(d.ref, d.question, d.answer) for d in result.labels],
        unfilled=[(d.ref, d.question) for d in result.unfilled], answered=result.answered,
        masked_note=result.masked_note), ai_generated=result.mode == "ai")
    stem = PurePath(name).stem
    await reply.send_file(f"{stem}_回答案.xlsx", out, XLSX_CONTENT_TYPE,
                          description=S.INQUIRY_FILE.format(n=len(result.drafts) + len(result.labels),
                                                            m=len(result.unfilled)))


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _comment(d: Draft, mode: str) -> str:
    if d.origin == "profile":
        return "【自動入力・要確認】Teamsのプロフィール等から記入しました。"
    how = {"earlier": "前回の回答から転記", "ai": "AIが資料から作成", "extractive": "資料の該当箇所を抜粋"}
    kind = "earlier" if d.origin == "earlier" else mode
    return f"【回答案・要確認】{how[kind]}しました。\n出典：{d.source}"


async def _profile_values(req: SkillRequest, services: Services) -> dict[str, str]:
    s = settings_of(services)
    today = services.clock.now_jst().date()
    values = {"city": s.NOTICES_CITY_NAME, "prefecture": s.NOTICES_PREFECTURE, "date": wareki(today)}
    dept = await department_of(services.db, req.user_id)
    if dept:
        values["department"] = dept
    if req.user_name:
        values["name"] = req.user_name
    return values


async def _earlier(services: Services, issuer: str) -> list[InquiryAnswer]:
    if not issuer:
        return []
    async with services.db.session() as s:
        return list((await s.execute(select(InquiryAnswer).where(InquiryAnswer.issuer == issuer)
                                     .order_by(InquiryAnswer.created_at.desc()).limit(500))).scalars())


async def _sets(req: SkillRequest, services: Services) -> list[str]:
    try:
        allowed = await readable_sets(req.aad_object_id, await group_ids(services, req.aad_object_id), services.db)
    except Exception as e:  # noqa: BLE001
        log.warning("could not read knowledge-set permissions: %s", type(e).__name__)
        return []
    wanted = settings_of(services).knowledge_sets
    return [n for n in allowed if not wanted or n in wanted]


async def draft_answers(req: SkillRequest, services: Services, fields: list[form.Field], *, issuer: str) -> Result:
    result = Result()
    profile = await _profile_values(req, services)
    earlier = await _earlier(services, issuer)
    sets = await _sets(req, services)
    min_cov = settings_of(services).NOTICES_MIN_COVERAGE
    min_sim = settings_of(services).NOTICES_MIN_SIMILARITY
    if min_sim is None and services.ai.embeds_locally:
        min_sim = LOCAL_MIN_SIMILARITY
    pending: list[tuple[Draft, list]] = []
    for f in fields:
        if f.existing:
            result.answered += 1
            continue
        d = Draft(ref=f.ref, question=f.question)
        if f.kind == "label":
            if f.label in profile:
                d.answer, d.origin, d.source = profile[f.label], "profile", "プロフィール"
                result.labels.append(d)
            else:
                result.unfilled.append(d)
            continue
        if len(result.drafts) + len(pending) >= MAX_QUESTIONS:
            result.unfilled.append(d)
            continue
        match = max(earlier, key=lambda e: similarity(e.question, f.question), default=None)
        if match is not None and similarity(match.question, f.question) >= EARLIER_SIMILARITY:
            d.answer, d.origin = match.answer, "earlier"
            d.source = f"{issuer}への前回の回答（{wareki(match.created_at.date())}）"
            result.drafts.append(d)
            continue
        hits = []
        if sets:
            try:
                hits = [h for h in await services.knowledge.search(f.question, sets, k=3)
                        if h.coverage >= min_cov or (min_sim is not None and (h.similarity or 0.0) >= min_sim)]
                hits.sort(key=lambda h: -(h.similarity if h.similarity is not None else h.coverage))
            except SearchError as e:
                log.warning("inquiry search failed: %s", e.message)
        if not hits:
            result.unfilled.append(d)
            continue
        pending.append((d, hits))
    if pending and not services.ai.offline:
        try:
            await _with_model(req, services, pending, result)
            return result
        except (AIRefused, AIFailed, ValueError) as e:
            log.info("inquiry drafts by the model failed (%s): extractive answers instead", type(e).__name__)
    for d, hits in pending:
        h = hits[0]
        d.answer, d.origin = best_sentence(d.question, h.text), "knowledge"
        d.source = _cite(h)
        result.drafts.append(d)
    return result


def _cite(h) -> str:
    where = f"（{h.section}）" if h.section and h.section != h.title else ""
    return f"{h.title}{where}［{h.set_name}］"


async def _with_model(req: SkillRequest, services: Services, pending: list[tuple[Draft, list]], result: Result) -> None:
    blocks, numbered = [], []
    for i, (d, hits) in enumerate(pending, 1):
        refs = []
        for h in hits:
            numbered.append(h)
            refs.append(f"［{len(numbered)}］{_cite(h)}\n{' '.join(h.text.split())[:600]}")
        blocks.append(f"【設問{i}】{d.question}\n【資料】\n" + "\n".join(refs))
    messages = [{"role": "system", "content": prompts.load(SKILL, "inquiry")},
                {"role": "user", "content": "\n\n".join(blocks)}]
    ans = await services.ai.chat(req, SKILL, messages, temperature=0.1)
    m = re.search(r"\[.*\]", ans.text, re.S)
    items = json.loads(m.group(0)) if m else None
    if not isinstance(items, list):
        raise ValueError("not a JSON list")
    by_id = {}
    for it in items:
        if isinstance(it, dict) and isinstance(it.get("id"), int) and str(it.get("answer") or "").strip():
            srcs = [n for n in it.get("sources") or [] if isinstance(n, int) and 1 <= n <= len(numbered)]
            if srcs:                                  # an answer that names no source is not drafted
                by_id[it["id"]] = (" ".join(str(it["answer"]).split())[:400], srcs)
    result.mode, result.masked_note = "ai", ans.masked_note
    for i, (d, _hits) in enumerate(pending, 1):
        if i in by_id:
            d.answer, srcs = by_id[i]
            d.origin = "knowledge"
            d.source = "、".join(_cite(numbered[n - 1]) for n in dict.fromkeys(srcs))
            result.drafts.append(d)
        else:
            result.unfilled.append(d)


async def _remember(req: SkillRequest, reply: ReplyPort, services: Services, questions: list[form.Field], *,
                    issuer: str, title: str, name: str) -> None:
    answered = [f for f in questions if f.existing]
    if not issuer:
        await reply.send_text(S.INQUIRY_NO_ISSUER.format(name=name))
        return
    now = services.clock.now()
    async with services.db.session() as s:
        for f in answered:
            s.add(InquiryAnswer(issuer=issuer, title=title[:500], question=f.question, answer=f.existing,
                                user_id=req.user_id, file_name=name[:255], created_at=now))
    await reply.send_text(S.INQUIRY_REMEMBERED.format(n=len(answered), issuer=issuer))


async def purge_answers(services: Services) -> None:
    keep = settings_of(services).NOTICES_ANSWERS_KEEP_DAYS
    async with services.db.session() as s:
        await s.execute(delete(InquiryAnswer).where(InquiryAnswer.created_at < services.clock.now()
                                                    - timedelta(days=keep)))
