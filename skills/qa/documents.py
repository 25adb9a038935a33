"""Documents sent to the bot in personal chat → a knowledge set the sender may write to.

The file is fetched from Teams' download URL (pre-authenticated, short-lived) with a size cap, only from the hosts
Teams serves files from (QA_DOWNLOAD_HOSTS) and under core.net's address policy, both checked at every redirect
hop; it is converted by the search package (markitdown) and upserted (source "chat", key = file name). When the
sender may write to several sets, a card asks which; the pending files wait in the `kv` table under a random token
(the card carries only the token, never a URL)."""
from __future__ import annotations

import base64
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete

from cards import qa as qa_cards
from core.chatfiles import DownloadError, attachment_bytes, download_check  # noqa: F401 - download_check: qa's name for tests
from core.search.index import SearchError
from core.search.ingest import IngestError, supported, to_markdown, to_markdown_async
from core.skills import ReplyPort, SkillRequest
from core.store.db import upsert
from core.store.models import KeyValue
from skills.qa import strings as S
from skills.qa.service import settings_of, writable_sets

log = logging.getLogger(__name__)

PENDING_PREFIX = "qa.upload."
TARGET_PREFIX = "qa.target."
PENDING_MINUTES = 30
MAX_FILES = 5


@dataclass
class _File:
    name: str
    url: str | None = None
    content: bytes | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "url": self.url,
                "content": base64.b64encode(self.content).decode() if self.content is not None else None}

    @classmethod
    def from_json(cls, d: dict) -> "_File":
        raw = d.get("content")
        return cls(name=str(d.get("name") or "file"), url=d.get("url"),
                   content=base64.b64decode(raw) if raw else None)


# ------------------------------------------------------------------------------------------------ kv helpers

async def get_target(services, user_id: str) -> str | None:
    async with services.db.session() as s:
        row = await s.get(KeyValue, TARGET_PREFIX + user_id)
    return (row.value or {}).get("set") if row else None


async def set_target(services, user_id: str, set_name: str) -> None:
    now = services.clock.now()
    async with services.db.session() as s:
        await upsert(s, KeyValue, {"key": TARGET_PREFIX + user_id, "value": {"set": set_name}, "expires_at": None,
                                   "updated_at": now}, keys=["key"])


async def _park(services, user_id: str, files: list[_File]) -> str:
    token = secrets.token_urlsafe(18)
    now = services.clock.now()
    async with services.db.session() as s:
        s.add(KeyValue(key=PENDING_PREFIX + token, value={"user_id": user_id, "files": [f.to_json() for f in files]},
                       expires_at=now + timedelta(minutes=PENDING_MINUTES), updated_at=now))
    return token


async def _claim(services, token: str, user_id: str) -> list[_File] | None:
    """The parked files for this token and user, removed so that they are registered once."""
    if not token or not isinstance(token, str):
        return None
    now = services.clock.now()
    async with services.db.session() as s:
        row = await s.get(KeyValue, PENDING_PREFIX + token)
        if row is None or (row.value or {}).get("user_id") != user_id:
            return None
        expires = row.expires_at
        files = [_File.from_json(f) for f in (row.value or {}).get("files", [])]
        res = await s.execute(delete(KeyValue).where(KeyValue.key == PENDING_PREFIX + token))
        if res.rowcount != 1 or (expires is not None and expires < now):
            return None
    return files


# ------------------------------------------------------------------------------------------------ download

async def file_bytes(settings, name: str, url: str | None, content: bytes | None) -> bytes:
    """A file sent in chat: its bytes (inline, or downloaded under the size cap and the host policy). Raises
    DownloadError whose `message` is the Japanese line for the user."""
    cap = settings.QA_MAX_FILE_MB * 1024 * 1024
    try:
        data = await attachment_bytes(url, content, max_bytes=cap, timeout=settings.QA_DOWNLOAD_TIMEOUT_SECONDS,
                                      hosts=settings.download_hosts, allowlist=settings.download_allowlist)
    except DownloadError as e:
        raise DownloadError(S.UPLOAD_TOO_LARGE.format(name=name, mb=settings.QA_MAX_FILE_MB)
                            if e.message == "too_large" else S.UPLOAD_URL_REFUSED.format(name=name)
                            if e.message == "refused" else S.UPLOAD_DOWNLOAD_FAILED.format(name=name)) from None
    return data


# ------------------------------------------------------------------------------------------------ flows

async def receive_files(req: SkillRequest, reply: ReplyPort, services) -> None:
    """Files arrived in chat: register them in the user's set (ask which when several are possible)."""
    if not req.personal:
        await reply.send_text(S.UPLOAD_PERSONAL_ONLY)
        return
    files = [_File(a.name, a.download_url, a.content) for a in req.attachments]
    notes = []
    if len(files) > MAX_FILES:
        notes.append(S.UPLOAD_TOO_MANY.format(n=MAX_FILES))
        files = files[:MAX_FILES]
    writable = await writable_sets(services, req.aad_object_id)
    if not writable:
        await reply.send_text(S.UPLOAD_NO_WRITABLE)
        return
    names = [w.name for w in writable]
    preferred = await get_target(services, req.user_id)
    if preferred in names:
        target = preferred
    elif len(writable) == 1:
        target = writable[0].name
    else:
        token = await _park(services, req.user_id, files)
        await reply.send_card(qa_cards.choose_set_card([f.name for f in files], [(w.name, w.title) for w in writable],
                                                       token), text=S.UPLOAD_CHOOSE)
        return
    lines = notes + await ingest_files(services, files, target)
    await reply.send_text("\n".join(lines))


async def choose_set(req: SkillRequest, reply: ReplyPort, services) -> None:
    """verb qa.upload {token, set}: the user chose where the parked files go."""
    set_name = str(req.data.get("set") or "").strip()
    writable = {w.name for w in await writable_sets(services, req.aad_object_id)}
    if set_name not in writable:
        message = S.UPLOAD_NOT_WRITABLE.format(set=set_name or "（未選択）")
        await (reply.refresh_card(qa_cards.notice_card(message)) if req.is_invoke else reply.send_text(message))
        return
    files = await _claim(services, str(req.data.get("token") or ""), req.user_id)
    if files is None:
        await (reply.refresh_card(qa_cards.notice_card(S.UPLOAD_EXPIRED)) if req.is_invoke
               else reply.send_text(S.UPLOAD_EXPIRED))
        return
    await set_target(services, req.user_id, set_name)
    lines = await ingest_files(services, files, set_name)
    if req.is_invoke:
        await reply.refresh_card(qa_cards.notice_card(lines[0], detail="\n".join(lines[1:])))
    else:
        await reply.send_text("\n".join(lines))


async def ingest_files(services, files: list[_File], set_name: str) -> list[str]:
    """Download, convert and upsert each file; one Japanese line per file."""
    settings = settings_of(services)
    index = services.knowledge
    lines = []
    for f in files:
        name = f.name or "file"
        if not supported(name):
            try:
                to_markdown(b"", name)            # raises the search package's "unsupported type" message
            except IngestError as e:
                lines.append(e.message)
            continue
        try:
            data = await file_bytes(settings, name, f.url, f.content)
            conv = await to_markdown_async(data, name)
            res = await index.upsert(set_name, "chat", f"chat:{name}", conv.title, None, conv.markdown)
        except DownloadError as e:
            lines.append(e.message)
            continue
        except IngestError as e:
            lines.append(e.message)
            continue
        except SearchError as e:
            lines.append(e.message)
            continue
        lines.append(S.UPLOAD_DONE[res.status].format(name=name, set=set_name, chunks=res.chunks))
        if conv.truncated_note:             # only the first part of a long document was taken in
            lines.append(conv.truncated_note)
    return lines
