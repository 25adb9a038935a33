"""Settings of the residents' chatbot (citizen mode on the Web Chat / Direct Line channel)."""
from __future__ import annotations

from core.settings import AppSettings, csv_list


class CitizenSettings(AppSettings):
    section = "citizen"

    CITIZEN_CHANNELS: str = "webchat,directline"
    """Bot Framework channel ids (comma separated) whose activities run in citizen mode: public knowledge only, no staff commands."""
    CITIZEN_PUBLIC_SETS: str = ""
    """Knowledge sets (comma separated) residents may search, besides those registered with `ingest --public`."""
    CITIZEN_TIER: str = "internet"
    """Network tier of residents' questions (the tier whose LLM endpoint answers them)."""
    CITIZEN_RETENTION_DAYS: int = 90
    """How long the masked transcript of residents' questions is kept (days); older rows are deleted daily."""
    CITIZEN_MAX_CHARS: int = 500
    """Longest question a resident may send (characters); longer ones are refused with a message."""
    CITIZEN_RATE_PER_CONVERSATION: int = 10
    """Questions one conversation may send per CITIZEN_RATE_WINDOW_SECONDS."""
    CITIZEN_RATE_PER_CLIENT: int = 30
    """Questions one Web Chat user id (the activity's from.id) may send per CITIZEN_RATE_WINDOW_SECONDS, over all its conversations."""
    CITIZEN_RATE_WINDOW_SECONDS: int = 60
    """The window of the rate limits above (seconds)."""
    CITIZEN_TOP_K: int = 4
    """How many passages of the public sets are given to the model (or quoted offline)."""
    CITIZEN_DEFAULT_SECTION: str = "尼崎市役所 代表"
    """窓口 named when the sets' documents name none."""
    CITIZEN_DEFAULT_PHONE: str = "06-6375-5639"
    """Telephone number given with CITIZEN_DEFAULT_SECTION."""

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(c.lower() for c in csv_list(self.CITIZEN_CHANNELS))

    @property
    def public_sets(self) -> list[str]:
        return csv_list(self.CITIZEN_PUBLIC_SETS)
