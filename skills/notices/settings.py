"""Settings of 通知・照会と公用文チェック (/check, /notice, /inquiry)."""
from __future__ import annotations

from core.chatfiles import TEAMS_FILE_HOSTS
from core.settings import AppSettings, csv_list


class NoticesSettings(AppSettings):
    section = "notices"

    NOTICES_MAX_FILE_MB: int = 20
    """Largest file (MB) accepted for /check, /notice and 照会 forms sent in chat."""
    NOTICES_DOWNLOAD_TIMEOUT_SECONDS: float = 30.0
    """Timeout for downloading a file sent in chat for these commands (seconds)."""
    NOTICES_DOWNLOAD_HOSTS: str = TEAMS_FILE_HOSTS
    """Hosts a file sent in chat may be downloaded from (comma separated, "*.example.com" = any name below it), every redirect hop included. Default: where Teams serves files."""
    NOTICES_DOWNLOAD_ALLOWLIST: str = ""
    """Hosts, addresses or CIDR ranges a download may reach although private/loopback (plain http only for these). Normally empty."""
    NOTICES_CHECK_MAX_CHARS: int = 30000
    """Longest text (characters) /check takes, typed or from a Word file."""
    NOTICES_PAGE_SIZE: int = 8
    """Suggestions shown per page of the /check card (a Teams card stays well under its 28 KB)."""
    NOTICES_KEEP_DAYS: int = 7
    """Days a checked document and a read 通知 are kept for the cards' buttons (then deleted)."""
    NOTICES_AI_MAX_SUGGESTIONS: int = 10
    """Most AI suggestions (clarity, やさしい日本語) taken from one model answer."""
    NOTICES_REMINDER_DAYS_BEFORE: int = 3
    """The Outlook reminder for a 通知's deadline is set this many days before it (0 = on the day)."""
    NOTICES_KNOWLEDGE_SETS: str = ""
    """Knowledge sets (comma separated) searched for answers to 照会 forms; empty = every set the user may read."""
    NOTICES_MIN_COVERAGE: float = 0.25
    """A 照会 question is answered from a passage only when at least this share (0–1) of the question's term weight is found in it (or the passage is as similar as NOTICES_MIN_SIMILARITY); else the cell stays empty and is listed."""
    NOTICES_MIN_SIMILARITY: float | None = None
    """Hybrid search: a passage at least this similar (cosine) to a 照会 question may answer it below NOTICES_MIN_COVERAGE; empty = 0.86 with the in-process model (as /ask), off with an endpoint."""
    NOTICES_ANSWERS_KEEP_DAYS: int = 730
    """Days the city's reviewed answers to a 照会 (sent back with 「回答済み」) are kept to draft the next one of the same sender."""
    NOTICES_CITY_NAME: str = "尼崎市"
    """What a 照会 form's 団体名 / 市区町村名 cell is filled with."""
    NOTICES_PREFECTURE: str = "兵庫県"
    """What a 照会 form's 都道府県名 cell is filled with."""

    @property
    def download_hosts(self) -> list[str]:
        return csv_list(self.NOTICES_DOWNLOAD_HOSTS)

    @property
    def download_allowlist(self) -> list[str]:
        return csv_list(self.NOTICES_DOWNLOAD_ALLOWLIST)

    @property
    def knowledge_sets(self) -> list[str]:
        return csv_list(self.NOTICES_KNOWLEDGE_SETS)
