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
    """How long the masked transcript of residents' questions is kept (days); older rows are deleted (checked every hour)."""
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
    CITIZEN_MIN_COVERAGE: float = 0.25
    """Minimum share (0–1) of the question's term weight found in the best passage; below it the bot does not answer (as QA_MIN_COVERAGE)."""
    CITIZEN_MIN_SCORE: float = 0.5
    """Minimum BM25 score of the best passage for an answer (BM25-only mode), as QA_MIN_SCORE."""
    CITIZEN_MIN_SIMILARITY: float | None = None
    """Hybrid mode: a best passage at least this similar (cosine) is answered from even below CITIZEN_MIN_COVERAGE; empty = 0.86 with the in-process model, off with an endpoint (as QA_MIN_SIMILARITY)."""
    CITIZEN_MIN_LIFT: float | None = 0.3
    """Hybrid mode: a best passage whose lift (0–1, as QA_MIN_LIFT) reaches this is answered from even below CITIZEN_MIN_COVERAGE; empty = off. With an LLM both thresholds are relaxed and the model declines itself (as /ask)."""
    CITIZEN_REWRITE: bool = True
    """With an LLM: the question (in any language) is also rewritten into up to 2 Japanese search queries."""
    CITIZEN_RERANK: bool = True
    """With an LLM: the candidate passages are re-ranked (rerank endpoint, else one LLM call), as QA_RERANK."""
    CITIZEN_RERANK_CANDIDATES: int = 20
    """How many passages are retrieved per search query and re-ranked."""
    CITIZEN_HANDOFF: bool = True
    """A question the public pages cannot answer goes to staff through kintone (tagged 市民) when kintone is configured; the staff answer becomes an approved answer of the public set."""
    CITIZEN_APPROVED_DAYS: int = 365
    """How long a staff answer to a resident's question stays an approved answer of the public set (days)."""
    CITIZEN_APPROVED_MIN_OVERLAP: float = 0.75
    """Approved answers: the word overlap (0–1) a resident's question needs with an approved question (as QA_APPROVED_MIN_OVERLAP)."""
    CITIZEN_APPROVED_MIN_SIMILARITY: float | None = 0.9
    """Approved answers, with embeddings: the cosine the two questions must also reach (as QA_APPROVED_MIN_SIMILARITY); empty = words only."""
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
