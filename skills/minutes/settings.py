"""Settings of 会議録・相談記録 (/minutes)."""
from __future__ import annotations

from core.chatfiles import TEAMS_FILE_HOSTS
from core.settings import AppSettings, csv_list


class MinutesSettings(AppSettings):
    section = "minutes"

    MINUTES_MAX_TRANSCRIPT_MB: int = 10
    """Largest VTT/text transcript (MB) taken from chat or from a Teams meeting."""
    MINUTES_MAX_AUDIO_MB: int = 500
    """Largest audio/video file (MB) taken for transcription (m4a, mp3, wav, mp4, webm)."""
    MINUTES_DOWNLOAD_TIMEOUT_SECONDS: float = 120.0
    """Timeout for downloading a file sent in chat for /minutes (seconds)."""
    MINUTES_DOWNLOAD_HOSTS: str = TEAMS_FILE_HOSTS
    """Hosts a file sent in chat may be downloaded from (comma separated, "*.example.com" = any name below it), every redirect hop included. Default: where Teams serves files."""
    MINUTES_DOWNLOAD_ALLOWLIST: str = ""
    """Hosts, addresses or CIDR ranges a download may reach although private/loopback (plain http only for these). Normally empty."""
    MINUTES_CONTEXT_TOKENS: int = 32000
    """Context window (tokens) of the model that writes the minutes; a transcript larger than about half of it is summarised section by section, then combined."""
    MINUTES_SECTION_TOKENS: int = 6000
    """Transcript tokens per section in the section-by-section summary of a long meeting (kept below half of MINUTES_CONTEXT_TOKENS)."""
    MINUTES_ANSWER_TOKENS: int = 3000
    """Most tokens the model may write for one section summary or for the combined minutes."""
    MINUTES_LLM_TIMEOUT_SECONDS: float = 120.0
    """Timeout of one model call while writing minutes (seconds)."""
    MINUTES_SUMMARY_LINES: int = 12
    """Sentences in the offline extractive summary (no AI)."""
    MINUTES_AUDIO_CHUNK_SECONDS: int = 600
    """Audio is sent for transcription in pieces of this length (seconds; 16 kHz mono WAV, 600 s = 19 MB, under the 25 MB upload limit of OpenAI)."""
    MINUTES_AUDIO_OVERLAP_SECONDS: int = 4
    """Seconds by which consecutive audio pieces overlap, so that no word is cut at a boundary; the stitch keeps each overlap's words once."""
    MINUTES_AUDIO_MAX_HOURS: float = 4.0
    """Longest recording (hours) taken for transcription."""
    MINUTES_TRANSCRIBE_SECONDS: float = 300.0
    """Timeout of one audio piece's transcription request (seconds)."""

    @property
    def download_hosts(self) -> list[str]:
        return csv_list(self.MINUTES_DOWNLOAD_HOSTS)

    @property
    def download_allowlist(self) -> list[str]:
        return csv_list(self.MINUTES_DOWNLOAD_ALLOWLIST)

    @property
    def section_tokens(self) -> int:
        """The section size actually used: never more than a third of the context (prompt + section + answer)."""
        return max(500, min(self.MINUTES_SECTION_TOKENS, self.MINUTES_CONTEXT_TOKENS // 3))
