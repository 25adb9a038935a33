"""A file sent in chat for this skill: its bytes through core.chatfiles (the skill's size cap and host policy), or a
Japanese line for the user."""
from __future__ import annotations

from pathlib import PurePath

from core.chatfiles import DownloadError, attachment_bytes
from core.skills import FileAttachment
from skills.notices import strings as S
from skills.notices.settings import NoticesSettings


class FileError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def fetch(settings: NoticesSettings, att: FileAttachment) -> bytes:
    name = PurePath(att.name or "file").name
    cap = settings.NOTICES_MAX_FILE_MB * 1024 * 1024
    try:
        return await attachment_bytes(att.download_url, att.content, max_bytes=cap,
                                      timeout=settings.NOTICES_DOWNLOAD_TIMEOUT_SECONDS,
                                      hosts=settings.download_hosts, allowlist=settings.download_allowlist)
    except DownloadError as e:
        line = {"too_large": S.DOWNLOAD_TOO_LARGE, "refused": S.DOWNLOAD_REFUSED}.get(e.message, S.DOWNLOAD_FAILED)
        raise FileError(line.format(name=name, mb=settings.NOTICES_MAX_FILE_MB)) from None
