"""画像点検: photos (JPEG, PNG, HEIC, or a zip of them) sent in chat are read (EXIF time and GPS, upright, shrunk),
faces are blurred when the tier's endpoint is not approved for personal data, each photo is judged by a vision model
through core.ai with a structured-output schema, and the results come back as a card per photo, a summary card, an
Excel/Word report and, on a button, a kintone record of the 補修要望 app with the photo attached.

A SharePoint/OneDrive sharing link (to a folder of photos, or to one photo) sent with /photo is read through
Microsoft Graph: GET /shares/{encoded url}/driveItem, then the folder's children, then each photo's content as its
turn comes (at most IMAGES_FOLDER_MAX_PHOTOS of a folder), taken only when the link itself lets the user open it.

Photos are taken IMAGES_CONCURRENCY at a time (downloaded, decoded and judged inside that bound, so a batch of 200
never holds 200 photos in memory); the cards go out in the order the photos were sent."""
from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import PurePath
from typing import Awaitable, Callable

from PIL import Image
from sqlalchemy import and_, delete, or_, select, update

from cards import images as cards
from core.ai import AIFailed, AIRefused
from core.carddata import CardData, Name, RowId
from core.chatfiles import DownloadError, attachment_bytes
from core.graph import GraphError, GraphService, SharedItem, sharing_link
from core.graph_sharepoint import FolderEntry, SharePointDrive
from core.kintone.client import MAX_ADD_RECORDS, KintoneClient, KintoneError, KintoneSettings, kintone_datetime
from core.search.extract import Limits, Refused
from core.search.ingest import IngestSettings
from core.services import Services
from core.skills import FileAttachment, ReplyPort, SkillRequest, Verb
from core.tiers import personal_data_tiers
from skills.images import geocoder, photos, privacy, report, vision
from skills.images import strings as S
from skills.images.models import ImageBatch, ImagePhoto
from skills.images.settings import ImagesSettings, settings_of

log = logging.getLogger(__name__)

EXTENSIONS = photos.PHOTO_EXTENSIONS + (".zip",)
SKILL = "images"
BOX_COLOURS = ("#2E7D32", "#F9A825", "#EF6C00", "#C62828")
WORST_SHOWN = 8


class FileError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Source:
    """One photo to check: its name and how to get its bytes (a download, or a member of a zip)."""

    name: str
    load: Callable[[], Awaitable[bytes]]


@dataclass
class Checked:
    position: int
    name: str
    facts: dict = field(default_factory=dict)
    judgement: vision.Judgement | None = None
    error: str = ""
    picture: bytes | None = None          # report/kintone copy, boxes drawn, no EXIF
    thumb: bytes | None = None            # card copy
    privacy: list[str] = field(default_factory=list)
    sent_bytes: int = 0                   # bytes of the JPEG sent to the model (0: nothing sent)
    photo_id: int | None = None


# ------------------------------------------------------------------------------------------------- entry points

async def handle(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    if not req.attachments:
        url = sharepoint_link(req.text)
        if url is not None:
            await check_link(req, reply, services, url)
            return
        await reply.send_text(S.USAGE)
        return
    await check(req, reply, services, req.attachments)


async def check(req: SkillRequest, reply: ReplyPort, services: Services, attachments: list[FileAttachment]) -> None:
    messages: list[str] = []
    sources = await _sources(settings_of(services), services.settings.get(IngestSettings), attachments, messages)
    await _check_sources(req, reply, services, sources, messages)


def sharepoint_link(text: str) -> str | None:
    """The first SharePoint/OneDrive for Business link in the text, or None."""
    found = sharing_link(text)
    return found[0] if found else None


async def check_link(req: SkillRequest, reply: ReplyPort, services: Services, url: str) -> None:
    """A sharing link to a folder of photos (or to one photo), read through Microsoft Graph with the bot's own
    rights: taken only when the link shows that the user may open it (as /analyze does)."""
    graph = services.graph
    if graph is None:
        await reply.send_text(S.LINK_NO_GRAPH)
        return
    settings = settings_of(services)
    try:
        item = await graph.shared_item(url)
    except GraphError as e:
        log.info("images: shared item not read (status %s)", e.status)
        await reply.send_text(S.LINK_NOT_FOUND if e.status in (400, 401, 403, 404) else S.LINK_FAILED)
        return
    name = item.name[:200] or "リンク先"
    if not (item.is_folder or (item.is_file and _is_photo(item.name, item.mime))):
        await reply.send_text(S.LINK_NOT_PHOTO.format(name=name))
        return
    if not item.lets_open(req.aad_object_id):
        log.info("images: shared link not usable for this user (scope %s)", item.scope)
        await reply.send_text(S.LINK_NO_ACCESS.format(name=name))
        return
    messages: list[str] = []
    if item.is_file:
        sources = [Source(PurePath(item.name).name, _shared_loader(settings, graph, url, item))]
    else:
        try:
            sources = await _folder_sources(settings, graph, item, messages)
        except GraphError as e:
            log.info("images: shared folder not listed (status %s)", e.status)
            await reply.send_text(S.LINK_NOT_FOUND if e.status in (400, 401, 403, 404) else S.LINK_FAILED)
            return
    await _check_sources(req, reply, services, sources, messages)


def _is_photo(name: str, mime: str | None) -> bool:
    return photos.is_photo_name(name) or (mime or "").lower() in PHOTO_MIMES


PHOTO_MIMES = ("image/jpeg", "image/png", "image/heic", "image/heif")


async def _folder_sources(settings: ImagesSettings, graph: GraphService, folder: SharedItem,
                          messages: list[str]) -> list[Source]:
    if not folder.drive_id or not folder.id:
        raise GraphError("shared folder without drive or item id")
    drive = SharePointDrive(graph)
    entries, unfinished = await drive.children(folder.drive_id, folder.id)
    found = [e for e in entries if e.is_file and _is_photo(e.name, e.mime)]
    others = [e.name for e in entries if e.is_file and not _is_photo(e.name, e.mime)]
    subfolders = sum(1 for e in entries if e.is_folder)
    limit = max(1, settings.IMAGES_FOLDER_MAX_PHOTOS)
    taken = found[:limit]
    messages.append(S.FOLDER_READ.format(name=folder.name[:200], n=len(taken)))
    if len(found) > limit:
        messages.append(S.FOLDER_SKIPPED.format(skipped=len(found) - limit, limit=limit))
    if others:
        shown = "、".join(f"「{n[:60]}」" for n in others[:5]) + ("など" if len(others) > 5 else "")
        messages.append(S.FOLDER_NOT_PHOTOS.format(n=len(others), names=shown))
    if subfolders:
        messages.append(S.FOLDER_SUBFOLDERS.format(n=subfolders))
    if unfinished:
        messages.append(S.FOLDER_UNFINISHED)
    return [Source(PurePath(e.name).name, _drive_loader(settings, drive, folder.drive_id, e)) for e in taken]


def _drive_loader(settings: ImagesSettings, drive: SharePointDrive, drive_id: str,
                  entry: FolderEntry) -> Callable[[], Awaitable[bytes]]:
    async def load() -> bytes:
        return await _graph_bytes(settings, entry.name, entry.size, lambda: drive.download(drive_id, entry.id))
    return load


def _shared_loader(settings: ImagesSettings, graph: GraphService, url: str,
                   item: SharedItem) -> Callable[[], Awaitable[bytes]]:
    async def load() -> bytes:
        return await _graph_bytes(settings, item.name, item.size, lambda: graph.shared_content(url))
    return load


async def _graph_bytes(settings: ImagesSettings, name: str, size: int | None,
                       get: Callable[[], Awaitable[bytes]]) -> bytes:
    """One photo's content through Graph, refused before the download when its listed size is over the cap."""
    cap = settings.IMAGES_MAX_FILE_MB * 1024 * 1024
    too_large = FileError(S.DOWNLOAD_TOO_LARGE.format(name=name, mb=settings.IMAGES_MAX_FILE_MB))
    if size is not None and size > cap:
        raise too_large
    try:
        data = await asyncio.wait_for(get(), settings.IMAGES_DOWNLOAD_TIMEOUT_SECONDS)
    except (GraphError, asyncio.TimeoutError) as e:
        log.info("images: shared photo not read: %s", type(e).__name__)
        raise FileError(S.DOWNLOAD_FAILED.format(name=name)) from None
    if len(data) > cap:
        raise too_large
    return data


async def _check_sources(req: SkillRequest, reply: ReplyPort, services: Services, sources: list[Source],
                         messages: list[str]) -> None:
    settings = settings_of(services)
    if len(sources) > settings.IMAGES_MAX_PHOTOS:
        sources = sources[:settings.IMAGES_MAX_PHOTOS]
        messages.append(S.TOO_MANY.format(n=settings.IMAGES_MAX_PHOTOS))
    if not sources:
        await reply.send_text("\n".join([*messages, S.NO_PHOTOS]))
        return
    config = vision.load_config(settings)
    run = _Run(req, services, settings, config, total=len(sources))
    now = services.clock.now()
    async with services.db.session() as s:
        batch = ImageBatch(user_id=req.user_id, user_name=req.user_name or "", mode=run.mode, summary={},
                           created_at=now, expires_at=now + timedelta(days=settings.IMAGES_KEEP_DAYS))
        s.add(batch)
        await s.flush()
        batch_id = batch.id
    await reply.inform(S.WORKING.format(done=0, total=len(sources)))
    sem = asyncio.Semaphore(max(1, settings.IMAGES_CONCURRENCY))
    tasks = [asyncio.create_task(run.one(i, src, sem)) for i, src in enumerate(sources, start=1)]
    results: list[Checked] = []
    try:
        for i, task in enumerate(tasks, start=1):
            done = await task
            done.photo_id = await _store(services, batch_id, done)
            results.append(done)
            if i <= settings.IMAGES_CARDS_MAX:
                await reply.send_card(cards.photo_card(_card_data(done, len(sources), run, config),
                                                       label=_label(done), kintone=_kintone_ready(settings)),
                                      ai_generated=done.judgement is not None)
            elif i % 10 == 0:
                await reply.inform(S.WORKING.format(done=i, total=len(sources)))
    finally:
        for t in tasks:
            t.cancel()
        if run.geocoder is not None:
            await run.geocoder.close()
    size = max(1, settings.IMAGES_CARDS_MAX)
    next_page = _next_page(size, size, len(sources))
    if next_page is not None:
        messages.append(S.MORE_IN_SUMMARY.format(n=size + 1, k=next_page[1] - next_page[0] + 1))
    if run.refused:
        messages.insert(0, S.REFUSED.format(why=run.refused))
    elif run.mode == "offline":
        messages.insert(0, S.OFFLINE)
    summary = _summary(results, config)
    async with services.db.session() as s:
        row = await s.get(ImageBatch, batch_id)
        if row is not None:
            row.mode = "ai" if any(r.judgement for r in results) else "offline"
            row.summary = {"messages": messages, **summary["counts"]}
    judged = any(r.judgement for r in results)
    threshold = _threshold(settings, config)
    eligible = sum(1 for r in results if r.picture is not None and _eligible(r.judgement, config, threshold))
    await reply.send_card(cards.summary_card(
        batch_id=batch_id, total=len(results), label=cards.AI_LABEL if judged else cards.OFFLINE_LABEL,
        grades=summary["grades"], kinds=summary["kinds"], worst=summary["worst"],
        not_judged=summary["not_judged"], no_location=summary["no_location"], messages=messages,
        privacy=summary["privacy"],
        kintone_all=(_min_grade_text(settings, config), eligible) if eligible and _kintone_ready(settings) else None,
        next_page=next_page), ai_generated=judged)
    await services.ai.record_offline(req, SKILL, outcome="ok" if judged else "offline",
                                     reason=None if judged else (run.refused_reason or "offline"))


# ------------------------------------------------------------------------------------------------- one photo

class _Run:
    """What one batch shares: the mode, the tier, whether faces are blurred, a refusal seen once."""

    def __init__(self, req: SkillRequest, services: Services, settings: ImagesSettings, config: vision.Config,
                 *, total: int) -> None:
        self.req, self.services, self.settings, self.config, self.total = req, services, settings, config, total
        self.tier = req.tier or services.ai.guard.settings.GUARD_DEFAULT_TIER
        self.mode = "offline" if services.ai.offline else "ai"
        self.blur = self.mode == "ai" and (settings.IMAGES_BLUR_ALWAYS
                                           or self.tier not in personal_data_tiers(services))
        self.refused: str | None = None
        self.refused_reason: str | None = None
        self.geocoder = geocoder.for_request(settings, self.tier)

    async def one(self, position: int, src: Source, sem: asyncio.Semaphore) -> Checked:
        out = Checked(position=position, name=src.name)
        async with sem:
            try:
                data = await src.load()
            except FileError as e:
                out.error = e.message
                return out
            try:
                prep, sent, faces = await asyncio.to_thread(self._prepare, data, src.name)
            except photos.PhotoError as e:
                out.error = (S.TOO_MANY_PIXELS.format(name=src.name, limit=self.settings.IMAGES_MAX_PIXELS // 10000)
                             if e.code == "too_many_pixels" else S.UNREADABLE.format(name=src.name))
                return out
            del data
            out.facts = _facts(prep, faces if self.blur else 0)
            if self.geocoder is not None and out.facts.get("lat") is not None:
                found = await self.geocoder.address(out.facts["lat"], out.facts["lon"])
                if found is not None:
                    out.facts["address"] = found.text
            if self.mode == "ai" and self.refused is None:
                out.judgement, out.error = await self._judge(sent)
                if out.judgement is not None or out.error:
                    out.sent_bytes = len(sent)
                    out.facts["sent_bytes"] = len(sent)
                    out.privacy = [S.BLURRED.format(n=faces) if self.blur and faces
                                   else (S.NOT_BLURRED_APPROVED if not self.blur else "")]
                    out.privacy = [p for p in out.privacy if p]
            out.picture, out.thumb = await asyncio.to_thread(self._pictures, prep.image, out.judgement)
            return out

    def _prepare(self, data: bytes, name: str) -> tuple[photos.Prepared, bytes, int]:
        st = self.settings
        prep = photos.prepare(data, name, max_side=st.IMAGES_SEND_MAX_SIDE, max_pixels=st.IMAGES_MAX_PIXELS)
        faces = 0
        if self.blur:
            boxes = privacy.detect_faces(prep.image)
            faces = len(boxes)
            if boxes:
                prep.image = privacy.blur(prep.image, boxes)
        sent = photos.jpeg(prep.image, quality=st.IMAGES_SEND_QUALITY) if self.mode == "ai" else b""
        return prep, sent, faces

    def _pictures(self, image, judgement: vision.Judgement | None) -> tuple[bytes, bytes]:
        boxes = []
        for f in (judgement.findings if judgement else []):
            rank = self.config.rank(f.grade)
            grade = self.config.grade(f.grade)
            boxes.append((*f.box, grade.colour if grade else BOX_COLOURS[max(0, min(rank, 3))]))
        boxed = photos.draw_boxes(image, boxes)
        picture = photos.jpeg(boxed, quality=80, max_side=self.settings.IMAGES_REPORT_SIDE)
        thumb = photos.thumbnail(boxed, max_bytes=self.settings.IMAGES_CARD_THUMB_BYTES)
        return picture, thumb

    async def _judge(self, sent: bytes) -> tuple[vision.Judgement | None, str]:
        msgs = vision.messages(self.config, sent)
        fmt = vision.response_format(self.config)
        why = ""
        for _ in range(2):     # the answer is asked for once more when it does not fit the schema
            if self.refused is not None:
                return None, ""
            try:
                answer = await self.services.ai.chat(self.req, SKILL, msgs, tier=self.tier, response_format=fmt,
                                                     temperature=0.0, timeout=self.settings.IMAGES_LLM_TIMEOUT_SECONDS,
                                                     step="vision")
            except AIRefused as e:
                self.refused, self.refused_reason = e.message_ja.rstrip("。"), e.reason
                return None, ""
            except AIFailed as e:
                return None, S.AI_FAILED.format(why=e.message_ja.rstrip("。"))
            try:
                return vision.parse(answer.text, self.config), ""
            except vision.BadAnswer as e:
                why = e.why
                log.info("vision answer refused: %s", why)
        return None, S.BAD_ANSWER.format(why=why)


# ------------------------------------------------------------------------------------------------- sources

async def _sources(settings: ImagesSettings, ingest: IngestSettings, attachments: list[FileAttachment],
                   messages: list[str]) -> list[Source]:
    out: list[Source] = []
    for att in attachments:
        name = PurePath(att.name or "photo").name
        lower = name.lower()
        if lower.endswith(".zip"):
            try:
                data = await _fetch(settings, att, name)
            except FileError as e:
                messages.append(e.message)
                continue
            out += await _zip_sources(settings, ingest, data, name, messages)
        elif photos.is_photo_name(name):
            out.append(Source(name, _loader(settings, att, name)))
        else:
            messages.append(S.NOT_PHOTO.format(name=name))
    return out


def _loader(settings: ImagesSettings, att: FileAttachment, name: str) -> Callable[[], Awaitable[bytes]]:
    async def load() -> bytes:
        return await _fetch(settings, att, name)
    return load


async def _fetch(settings: ImagesSettings, att: FileAttachment, name: str) -> bytes:
    cap = settings.IMAGES_MAX_FILE_MB * 1024 * 1024
    try:
        return await attachment_bytes(att.download_url, att.content, max_bytes=cap,
                                      timeout=settings.IMAGES_DOWNLOAD_TIMEOUT_SECONDS,
                                      hosts=settings.download_hosts, allowlist=settings.download_allowlist,
                                      bearer=att.bearer)
    except DownloadError as e:
        line = {"too_large": S.DOWNLOAD_TOO_LARGE, "refused": S.DOWNLOAD_REFUSED}.get(e.message, S.DOWNLOAD_FAILED)
        raise FileError(line.format(name=name, mb=settings.IMAGES_MAX_FILE_MB)) from None


async def _zip_sources(settings: ImagesSettings, ingest: IngestSettings, data: bytes, name: str,
                       messages: list[str]) -> list[Source]:
    limits = Limits(max_uncompressed_mb=max(1, ingest.INGEST_MAX_UNCOMPRESSED_MB),
                    max_ratio=max(1, ingest.INGEST_MAX_RATIO), max_members=max(1, ingest.INGEST_MAX_MEMBERS))
    cap = settings.IMAGES_MAX_FILE_MB * 1024 * 1024
    try:
        members = await asyncio.to_thread(photos.zip_entries, data, limits=limits, max_member_bytes=cap,
                                          max_photos=settings.IMAGES_MAX_PHOTOS + 1)
    except Refused as e:
        messages.append(S.ZIP_REFUSED.format(name=name, why=S.ZIP_WHY.get(e.code, S.ZIP_WHY["zip_broken"])))
        return []
    out = []
    for m in members:
        if m.error == "too_large":
            messages.append(S.ZIP_MEMBER_TOO_LARGE.format(name=m.name, mb=settings.IMAGES_MAX_FILE_MB))
        elif m.error == "not_photo":
            messages.append(S.NOT_PHOTO.format(name=m.name))
        else:
            out.append(Source(m.name, _member_loader(data, m.path, cap)))
    return out


def _member_loader(data: bytes, path: str, cap: int) -> Callable[[], Awaitable[bytes]]:
    async def load() -> bytes:
        def read() -> bytes:
            with zipfile.ZipFile(BytesIO(data)) as z, z.open(path) as f:
                return f.read(cap + 1)[:cap]
        return await asyncio.to_thread(read)
    return load


# ------------------------------------------------------------------------------------------------- presenting

def _facts(prep: photos.Prepared, faces: int) -> dict:
    return {"taken_at": prep.taken_at.isoformat() if prep.taken_at else None,
            "lat": prep.location.lat if prep.location else None, "lon": prep.location.lon if prep.location else None,
            "width": prep.original_size[0], "height": prep.original_size[1], "bytes": prep.original_bytes,
            "orientation": prep.orientation, "faces_blurred": faces}


def _taken_text(facts: dict) -> str:
    raw = facts.get("taken_at")
    if not raw:
        return S.NO_TIME
    when = datetime.fromisoformat(raw)
    return f"{when.year}年{when.month}月{when.day}日 {when:%H:%M}"


def _location(facts: dict) -> tuple[str, str]:
    if facts.get("lat") is None or facts.get("lon") is None:
        return S.NO_LOCATION, ""
    loc = photos.Located(facts["lat"], facts["lon"])
    return loc.text, loc.map_url


def _address(facts: dict) -> str:
    """The address found for the photo's position (「兵庫県尼崎市東七松町一丁目付近」), or ""."""
    found = str(facts.get("address") or "")
    return S.ADDRESS_NEAR.format(address=found) if found else ""


def _grade_text(judgement: vision.Judgement | None, config: vision.Config) -> tuple[str, int]:
    if judgement is None:
        return "", -1
    if not judgement.judgeable:
        return vision.NOT_JUDGED, -1
    g = config.grade(judgement.overall_grade)
    return (f"{config.scale} {g.code}（{g.label}）" if g else judgement.overall_grade), config.rank(judgement.overall_grade)


def _label(c: Checked) -> str:
    return cards.AI_LABEL if c.judgement is not None else cards.OFFLINE_LABEL


def _card_data(c: Checked, total: int, run: _Run, config: vision.Config) -> dict:
    return _photo_fields(c.position, total, c.name, c.facts, c.judgement, c.error, c.thumb, c.privacy, c.photo_id,
                         config)


def _photo_fields(position: int, total: int, name: str, facts: dict, j: vision.Judgement | None, error: str,
                  thumb: bytes | None, privacy_lines: list[str], photo_id: int | None, config: vision.Config) -> dict:
    location, map_url = _location(facts) if facts else (S.NO_LOCATION, "")
    grade, rank = _grade_text(j, config)
    return {"position": position, "total": total, "name": name,
            "thumb": "data:image/jpeg;base64," + base64.b64encode(thumb).decode("ascii") if thumb else "",
            "taken": _taken_text(facts) if facts else S.NO_TIME, "location": location, "map_url": map_url,
            "address": _address(facts or {}),
            "grade": grade, "grade_rank": rank, "subject": j.subject if j else "", "reason": j.reason if j else "",
            "findings": [vars(f) for f in j.findings] if j else [], "error": error, "privacy": privacy_lines,
            "photo_id": photo_id, "ai": j is not None}


def _summary(results: list[Checked], config: vision.Config) -> dict:
    counts = {g.code: 0 for g in config.grades}
    kinds: dict[str, int] = {}
    not_judged = no_location = blurred = 0
    for r in results:
        if r.facts.get("lat") is None:
            no_location += 1
        blurred += int(r.facts.get("faces_blurred") or 0)
        j = r.judgement
        if j is None or not j.judgeable:
            not_judged += 1
            continue
        counts[j.overall_grade] = counts.get(j.overall_grade, 0) + 1
        for f in j.findings:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
    ranked = sorted((r for r in results if r.judgement and r.judgement.judgeable and r.judgement.findings),
                    key=lambda r: (-config.rank(r.judgement.overall_grade), r.position))  # type: ignore[union-attr]
    worst = [{"position": r.position, "name": r.name, "grade": _grade_text(r.judgement, config)[0],
              "address": _address(r.facts),
              "kinds": "、".join(dict.fromkeys(f.kind for f in r.judgement.findings))}  # type: ignore[union-attr]
             for r in ranked[:WORST_SHOWN]]
    grades = [(f"{config.scale} {g.code}（{g.label}）", counts.get(g.code, 0)) for g in config.grades]
    sent = [r for r in results if r.sent_bytes]
    privacy_lines = []
    if sent:
        privacy_lines.append(f"AIに送信した写真：{len(sent)}枚（1枚あたり平均{sum(r.sent_bytes for r in sent) // len(sent) // 1024}KB、"
                             f"撮影情報を除き縮小済み）。顔と思われる部分をぼかした数：{blurred}か所。")
        privacy_lines.append(S.PRIVACY_LIMITS)
    return {"grades": grades, "kinds": sorted(kinds.items(), key=lambda kv: -kv[1]), "worst": worst,
            "not_judged": not_judged if any(r.judgement for r in results) else 0, "no_location": no_location,
            "privacy": privacy_lines,
            "counts": {"total": len(results), "grades": counts, "not_judged": not_judged, "blurred": blurred}}


async def _store(services: Services, batch_id: int, c: Checked) -> int:
    async with services.db.session() as s:
        facts = {**c.facts, "privacy": c.privacy} if c.privacy else c.facts
        row = ImagePhoto(batch_id=batch_id, position=c.position, name=c.name[:255], facts=facts,
                         judgement=c.judgement.to_json() if c.judgement else None, error=c.error[:500],
                         picture=c.picture)
        s.add(row)
        await s.flush()
        return row.id


# ------------------------------------------------------------------------------------------------- buttons

class ReportData(CardData):
    batch_id: RowId
    format: Name = "xlsx"


class KintoneData(CardData):
    photo_id: RowId


class BatchData(CardData):
    batch_id: RowId


class PageData(CardData):
    batch_id: RowId
    start: RowId


async def _batch(req: SkillRequest, services: Services, batch_id: int) -> tuple[ImageBatch, list[ImagePhoto]] | None:
    async with services.db.session() as s:
        batch = await s.get(ImageBatch, batch_id)
        if batch is None or batch.user_id != req.user_id or batch.expires_at < services.clock.now():
            return None
        rows = list((await s.execute(select(ImagePhoto).where(ImagePhoto.batch_id == batch_id)
                                     .order_by(ImagePhoto.position))).scalars())
    return batch, rows


def _report_row(p: ImagePhoto, config: vision.Config) -> report.Row:
    j = vision.Judgement.from_json(p.judgement) if p.judgement else None
    location, map_url = _location(p.facts or {})
    grade, _ = _grade_text(j, config)
    return report.Row(position=p.position, name=p.name, taken=_taken_text(p.facts) if p.facts else S.NO_TIME,
                      location=location, map_url=map_url, address=_address(p.facts or {}), subject=j.subject if j else "", grade=grade,
                      reason=(j.reason if j else "") or p.error, findings=[vars(f) for f in j.findings] if j else [],
                      picture=p.picture)


async def on_report(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    found = await _batch(req, services, int(req.data["batch_id"]))
    if found is None:
        await reply.send_text(S.NOT_FOUND)
        return
    batch, rows = found
    config = vision.load_config(settings_of(services))
    made = services.clock.now().astimezone(photos.JST)
    label = cards.AI_LABEL if batch.mode == "ai" else cards.OFFLINE_LABEL
    data = [_report_row(p, config) for p in rows]
    fmt = "docx" if req.data.get("format") == "docx" else "xlsx"
    try:
        build = report.docx if fmt == "docx" else report.xlsx
        content = await asyncio.to_thread(build, data, title="写真点検報告書", label=label, made_at=made,
                                          author=req.user_name or "")
    except Exception:  # noqa: BLE001 - a report that fails to build is a Japanese line, never a trace
        log.exception("image report failed (batch %s)", batch.id)
        await reply.send_text(S.REPORT_FAILED)
        return
    ctype = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document" if fmt == "docx"
             else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    await reply.send_file(f"写真点検報告書_{made:%Y%m%d_%H%M}.{fmt}", content, ctype,
                          description=S.REPORT_DONE.format(n=len(rows)))


def _kintone_ready(settings: ImagesSettings) -> bool:
    token = settings.IMAGES_KINTONE_API_TOKEN
    return bool(settings.IMAGES_KINTONE_APP_ID and token and token.get_secret_value())


def repair_client(services: Services) -> KintoneClient | None:
    """A kintone client for the 補修要望 app (its own app id and token; the base URL defaults to KINTONE_BASE_URL)."""
    settings = settings_of(services)
    if not _kintone_ready(settings):
        return None
    base = settings.IMAGES_KINTONE_BASE_URL or services.kintone.settings.KINTONE_BASE_URL
    ks = KintoneSettings(_env_file=None, KINTONE_BASE_URL=base, KINTONE_APP_ID=settings.IMAGES_KINTONE_APP_ID,
                         KINTONE_API_TOKEN=settings.IMAGES_KINTONE_API_TOKEN,
                         KINTONE_TIMEOUT_SECONDS=services.kintone.settings.KINTONE_TIMEOUT_SECONDS)
    return KintoneClient(ks)


def repair_record(p: ImagePhoto, j: vision.Judgement, config: vision.Config, fields: dict[str, str], *,
                  reporter: str, file_key: str) -> dict:
    grade, _ = _grade_text(j, config)
    kinds = "、".join(dict.fromkeys(f.kind for f in j.findings))
    location, map_url = _location(p.facts or {})
    address = _address(p.facts or {})
    if address:
        location = f"{address}（{location}）"
    values: dict[str, object] = {
        "title": f"{kinds}（{grade}）{p.name}"[:120], "subject": j.subject, "kind": kinds, "grade": grade,
        "extent": "\n".join(f"{f.kind}：{f.extent}" for f in j.findings),
        "action": "\n".join(f"{f.kind}：{f.action}" for f in j.findings),
        "confidence": f"{round(max(f.confidence for f in j.findings) * 100)}%", "location": location,
        "reporter": reporter, "photo": [{"fileKey": file_key}]}
    if map_url:
        values["map_url"] = map_url
    taken = (p.facts or {}).get("taken_at")
    if taken:
        values["taken_at"] = kintone_datetime(datetime.fromisoformat(taken))
    return {fields[k]: {"value": v} for k, v in values.items() if fields.get(k)}


# A photo being registered carries a claim in kintone_record_id ("pending:<epoch seconds>:<nonce>") until kintone's
# record id replaces it: two presses (one photo's button twice, the bulk button twice, or both) never register a photo
# twice, on one replica or several. A claim older than CLAIM_STALE_SECONDS (a crash mid-way) may be taken again.
CLAIM = "pending:"
CLAIM_STALE_SECONDS = 600


def _pending(value: str | None) -> bool:
    return bool(value) and str(value).startswith(CLAIM)


def _registered(value: str | None) -> bool:
    return bool(value) and not _pending(value)


async def _claim(services: Services, photo_ids: list[int]) -> tuple[str, set[int]]:
    """Claim the photos not yet registered nor being registered; returns (the claim, the ids it holds)."""
    if not photo_ids:
        return "", set()
    now = int(services.clock.now().timestamp())
    mine = f"{CLAIM}{now:010d}:{secrets.token_hex(6)}"
    stale = f"{CLAIM}{now - CLAIM_STALE_SECONDS:010d}"
    async with services.db.session() as s:
        await s.execute(update(ImagePhoto).where(
            ImagePhoto.id.in_(photo_ids),
            or_(ImagePhoto.kintone_record_id.is_(None),
                and_(ImagePhoto.kintone_record_id.like(f"{CLAIM}%"), ImagePhoto.kintone_record_id < stale)))
            .values(kintone_record_id=mine))
    async with services.db.session() as s:
        held = set((await s.execute(select(ImagePhoto.id).where(ImagePhoto.kintone_record_id == mine))).scalars())
    return mine, held


async def _settle(services: Services, claim: str, record_ids: dict[int, str | None]) -> None:
    """Replace the claim by kintone's record id, or release it (None) so that a later press may try again."""
    async with services.db.session() as s:
        for photo_id, record_id in record_ids.items():
            await s.execute(update(ImagePhoto).where(ImagePhoto.id == photo_id, ImagePhoto.kintone_record_id == claim)
                            .values(kintone_record_id=record_id))


async def on_kintone(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    async with services.db.session() as s:
        photo = await s.get(ImagePhoto, int(req.data["photo_id"]))
        batch = await s.get(ImageBatch, photo.batch_id) if photo is not None else None
    if photo is None or batch is None or batch.user_id != req.user_id or batch.expires_at < services.clock.now():
        await reply.send_text(S.NOT_FOUND)
        return
    if _registered(photo.kintone_record_id):
        await reply.send_text(S.KINTONE_ALREADY.format(name=photo.name, record=photo.kintone_record_id))
        return
    j = vision.Judgement.from_json(photo.judgement) if photo.judgement else None
    if j is None or not j.findings or photo.picture is None:
        await reply.send_text(S.KINTONE_NOTHING)
        return
    client = repair_client(services)
    if client is None:
        await reply.send_text(S.KINTONE_NOT_CONFIGURED)
        return
    claim, held = await _claim(services, [photo.id])
    if photo.id not in held:
        async with services.db.session() as s:
            now = await s.get(ImagePhoto, photo.id)
        current = now.kintone_record_id if now is not None else None
        await reply.send_text(S.KINTONE_ALREADY.format(name=photo.name, record=current) if _registered(current)
                              else S.KINTONE_IN_PROGRESS.format(name=photo.name))
        return
    settings = settings_of(services)
    config = vision.load_config(settings)
    try:
        async with client:
            key = await client.upload_file(_upload_name(photo), photo.picture, "image/jpeg")
            record_id = await client.add_record(repair_record(photo, j, config, settings.kintone_fields,
                                                              reporter=req.user_name or req.user_id, file_key=key))
    except KintoneError as e:
        await _settle(services, claim, {photo.id: None})
        await reply.send_text(e.message_ja)
        return
    await _settle(services, claim, {photo.id: record_id})
    await reply.send_text(S.KINTONE_DONE.format(name=photo.name, record=record_id))


def _upload_name(photo: ImagePhoto) -> str:
    return f"{PurePath(photo.name).stem}_点検.jpg"


def _threshold(settings: ImagesSettings, config: vision.Config) -> int:
    """Rank of IMAGES_KINTONE_MIN_GRADE in the grade scale (an unknown code: the second grade, as Ⅱ is)."""
    rank = config.rank(settings.IMAGES_KINTONE_MIN_GRADE.strip())
    return rank if rank >= 0 else min(1, len(config.grades) - 1)


def _min_grade_text(settings: ImagesSettings, config: vision.Config) -> str:
    grade = config.grades[_threshold(settings, config)] if config.grades else None
    return f"{config.scale}{grade.code}" if grade else config.scale


def _eligible(j: vision.Judgement | None, config: vision.Config, threshold: int) -> bool:
    """A finding the bulk button registers: judged, with damage found, at the threshold grade or worse."""
    return bool(j is not None and j.judgeable and j.findings and config.rank(j.overall_grade) >= threshold)


def _record_numbers(ids: list[str]) -> str:
    """「1、2、3」, 「101〜150」 (consecutive), or 「7ほか59件」."""
    if len(ids) <= 10:
        return "、".join(ids)
    if all(i.isdigit() for i in ids) and [int(i) for i in ids] == list(range(int(ids[0]), int(ids[0]) + len(ids))):
        return f"{ids[0]}〜{ids[-1]}"
    return f"{ids[0]}ほか{len(ids) - 1}件"


async def on_kintone_all(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    """The summary card's button: every finding at IMAGES_KINTONE_MIN_GRADE or worse of the batch to the 補修要望 app,
    each photo uploaded (POST /k/v1/file.json), then the records MAX_ADD_RECORDS at a time (POST
    /k/v1/records.json, all or none per request). Photos already registered (or being registered) are skipped."""
    found = await _batch(req, services, int(req.data["batch_id"]))
    if found is None:
        await reply.send_text(S.NOT_FOUND)
        return
    _, rows = found
    settings = settings_of(services)
    config = vision.load_config(settings)
    threshold = _threshold(settings, config)
    grade = _min_grade_text(settings, config)
    judged = {p.id: vision.Judgement.from_json(p.judgement) for p in rows if p.judgement}
    eligible = [p for p in rows if p.picture is not None and _eligible(judged.get(p.id), config, threshold)]
    if not eligible:
        await reply.send_text(S.KINTONE_BULK_NOTHING.format(grade=grade))
        return
    client = repair_client(services)
    if client is None:
        await reply.send_text(S.KINTONE_NOT_CONFIGURED)
        return
    before = [p for p in eligible if _registered(p.kintone_record_id)]
    claim, held = await _claim(services, [p.id for p in eligible if not _registered(p.kintone_record_id)])
    todo = [p for p in eligible if p.id in held]
    busy = len(eligible) - len(before) - len(todo)
    if not todo:
        lines = [S.KINTONE_BULK_ALL_DONE.format(grade=grade, n=len(eligible))] if not busy else \
            [S.KINTONE_BULK_BUSY.format(n=busy)]
        await reply.send_text("".join(lines))
        return
    await reply.inform(S.KINTONE_BULK_WORKING.format(n=len(todo)))
    added: list[str] = []
    failure: KintoneError | None = None
    reporter = req.user_name or req.user_id
    sem = asyncio.Semaphore(max(1, settings.IMAGES_CONCURRENCY))

    async def upload(p: ImagePhoto) -> str:
        async with sem:
            return await client.upload_file(_upload_name(p), p.picture or b"", "image/jpeg")

    try:
        async with client:
            for start in range(0, len(todo), MAX_ADD_RECORDS):
                chunk = todo[start:start + MAX_ADD_RECORDS]
                keys = await asyncio.gather(*(upload(p) for p in chunk), return_exceptions=True)
                bad = next((k for k in keys if isinstance(k, BaseException)), None)
                try:
                    if bad is not None:
                        raise bad
                    records = [repair_record(p, judged[p.id], config, settings.kintone_fields, reporter=reporter,
                                             file_key=str(k)) for p, k in zip(chunk, keys)]
                    ids = await client.add_records(records)
                except KintoneError as e:
                    failure = e
                    break
                await _settle(services, claim, {p.id: i for p, i in zip(chunk, ids)})
                added += ids
    finally:
        left = todo[len(added):]          # not registered: released, so that the next press sends them
        if left:
            await _settle(services, claim, {p.id: None for p in left})
    lines = []
    if added:
        lines.append(S.KINTONE_BULK_DONE.format(grade=grade, n=len(eligible), added=len(added),
                                                records=_record_numbers(added)))
    if before:
        lines.append(S.KINTONE_BULK_SKIPPED.format(n=len(before)))
    if busy:
        lines.append(S.KINTONE_BULK_BUSY.format(n=busy))
    if failure is not None:
        lines.append(S.KINTONE_BULK_FAILED.format(n=len(left), why=failure.message_ja.rstrip("。")))
    await reply.send_text("".join(lines))


# ------------------------------------------------------------------------------------------------- pages of cards

def _next_page(last_shown: int, size: int, total: int) -> tuple[int, int] | None:
    """(first, last) position of the page after `last_shown`, or None when every photo has had its card."""
    if last_shown >= total:
        return None
    return last_shown + 1, min(total, last_shown + size)


def _thumb_of(picture: bytes, settings: ImagesSettings) -> bytes:
    with Image.open(BytesIO(picture)) as im:
        return photos.thumbnail(im.convert("RGB"), max_bytes=settings.IMAGES_CARD_THUMB_BYTES)


async def on_page(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    """「次の30枚」: the cards of the batch's next IMAGES_CARDS_MAX photos (thumbnails made again from the kept
    pictures), IMAGES_CARD_INTERVAL_SECONDS apart, then a small card that says how far the batch has been shown
    and offers the page after (Teams allows about 60 messages per 30 s in a conversation; a batch of 200 is 7 pages)."""
    found = await _batch(req, services, int(req.data["batch_id"]))
    if found is None:
        await reply.send_text(S.NOT_FOUND)
        return
    batch, rows = found
    settings = settings_of(services)
    config = vision.load_config(settings)
    size = max(1, settings.IMAGES_CARDS_MAX)
    total = len(rows)
    start = int(req.data["start"])
    page = [p for p in rows if start <= p.position < start + size]
    if not page:
        await reply.send_text(S.PAGE_NONE.format(total=total))
        return
    ready = _kintone_ready(settings)
    pause = max(0.0, settings.IMAGES_CARD_INTERVAL_SECONDS)
    for k, p in enumerate(page):
        if k and pause:
            await asyncio.sleep(pause)
        thumb = await asyncio.to_thread(_thumb_of, p.picture, settings) if p.picture else None
        j = vision.Judgement.from_json(p.judgement) if p.judgement else None
        facts = dict(p.facts or {})
        data = _photo_fields(p.position, total, p.name, facts, j, p.error, thumb, list(facts.get("privacy") or []),
                             p.id, config)
        await reply.send_card(cards.photo_card(data, label=cards.AI_LABEL if j is not None else cards.OFFLINE_LABEL,
                                               kintone=ready and not _registered(p.kintone_record_id)),
                              ai_generated=j is not None)
    if pause:
        await asyncio.sleep(pause)
    last = page[-1].position
    await reply.send_card(cards.page_card(batch_id=batch.id, first=page[0].position, last=last, total=total,
                                          next_page=_next_page(last, size, total)))


async def purge(services: Services) -> None:
    """Delete batches (and their photos) past their keeping time."""
    now = services.clock.now()
    async with services.db.session() as s:
        expired = select(ImageBatch.id).where(ImageBatch.expires_at < now)
        await s.execute(delete(ImagePhoto).where(ImagePhoto.batch_id.in_(expired)))
        await s.execute(delete(ImageBatch).where(ImageBatch.expires_at < now))


VERBS = {
    cards.REPORT_VERB: Verb(on_report, ReportData),
    cards.KINTONE_VERB: Verb(on_kintone, KintoneData),
    cards.KINTONE_ALL_VERB: Verb(on_kintone_all, BatchData),
    cards.PAGE_VERB: Verb(on_page, PageData),
}
