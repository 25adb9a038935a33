"""Settings of the 庁内Q&A skill (/ask)."""
from __future__ import annotations

from pydantic import field_validator

from core.chatfiles import TEAMS_FILE_HOSTS
from core.settings import AppSettings, csv_list


class QASettings(AppSettings):
    section = "qa"

    QA_TOP_K: int = 5
    """How many passages are retrieved for a question (and given to the model)."""
    QA_MIN_SCORE: float = 0.5
    """Minimum BM25 score of the best passage for an answer to be attempted (BM25-only mode; hybrid scores are ranks)."""
    QA_MIN_COVERAGE: float = 0.25
    """Minimum share (0–1) of the question's term weight found in the best passage; below it retrieval is weak."""
    QA_MIN_SIMILARITY: float | None = None
    """Hybrid mode: a best passage at least this similar (cosine) is answered from even below QA_MIN_COVERAGE; model-specific (bench/retrieval_eval.py); empty = 0.86 with the in-process model, off with an endpoint."""
    QA_MIN_LIFT: float | None = 0.3
    """Hybrid mode: a best passage whose lift — how far its similarity stands above the question's average similarity to the passages searched, 0–1 — reaches this is answered from even below QA_MIN_COVERAGE; needs no knowledge of the model's cosine scale, so it also serves embeddings endpoints. Empty = off. With an LLM both thresholds are relaxed (0.02 and 0.08) and the model declines itself when the passages do not answer."""
    QA_CHANNEL_SETS: dict[str, list[str] | str] = {}
    """JSON {"<Teams conversation id>": "<set>" or ["<set>", …]}: default knowledge sets searched in that channel/chat."""
    QA_FALLBACK_CHANNELS: dict[str, str] = {}
    """JSON {"<set>": "<Teams channel conversation id>", "*": "<default>"}: where questions go when kintone is not configured. Passages of a members-only set are shown only in the channel that set names here (never in "*", nor in kintone)."""
    QA_ADMIN_IDS: str = ""
    """Entra ID (AAD) object ids, comma separated, who may register documents in any knowledge set."""
    QA_ALLOW_SET_CREATION: bool = True
    """Whether staff may create their own knowledge set from chat (/ask 作成 <名前>); the creator becomes its owner."""
    QA_MAX_FILE_MB: int = 20
    """Largest file (MB) accepted when a document is sent to the bot in chat."""
    QA_DOWNLOAD_TIMEOUT_SECONDS: float = 30.0
    """Timeout for downloading a file sent in chat (seconds)."""
    QA_DOWNLOAD_HOSTS: str = TEAMS_FILE_HOSTS
    """Hosts a file sent in chat may be downloaded from, comma separated ("*.example.com" = any name below it); every redirect hop must match too. Default: where Teams serves files (SharePoint/OneDrive, Bot Framework attachments)."""
    QA_DOWNLOAD_ALLOWLIST: str = ""
    """Hosts, addresses or CIDR ranges a chat file download may reach although private/loopback/link-local/metadata (comma separated); plain http is accepted only for these. Normally empty."""
    QA_SHAREPOINT_DRIVES: dict[str, list[str] | str] = {}
    """JSON {"<set>": "<drive id>" or ["<drive id>", …]}: SharePoint document libraries kept in sync with a set (needs Graph)."""
    QA_SHAREPOINT_SYNC_MINUTES: int = 30
    """How often the SharePoint libraries are synced (minutes); 0 = never automatically."""
    QA_REWRITE: bool = True
    """With an LLM: the question is rewritten into up to 2 more search queries (one small LLM call, masked, the question's tier) and the result lists are fused. Offline nothing changes."""
    QA_RERANK: bool = True
    """With an LLM: the top QA_RERANK_CANDIDATES passages are re-ranked, by the rerank endpoint (RERANK_BASE_URL) when one serves the question's tier, else by one LLM call; on any failure the search order is kept."""
    QA_RERANK_CANDIDATES: int = 20
    """How many passages are retrieved per search query and re-ranked before the best QA_TOP_K go to the model."""
    QA_STEP_TIMEOUT_SECONDS: float = 10.0
    """Timeout of each question-understanding LLM call (rewrite, LLM re-ranking), in seconds; on timeout the question is searched as asked / the search order is kept."""
    QA_APPROVED_DAYS: int = 365
    """How long a staff answer (kintone, the Teams channel or a CSV row without a date) stays an approved answer (days)."""
    QA_APPROVED_MIN_OVERLAP: float = 0.75
    """Approved answers: the smaller share (0–1) of whole words each question finds in the other for a question to be answered from an approved answer; 1.1 = never."""
    QA_APPROVED_MIN_SIMILARITY: float | None = 0.9
    """Approved answers, with embeddings: the cosine the two questions must also reach (it confirms a word match, never replaces it). 0.9 suits the bundled multilingual-e5-small; endpoint models score lower (model-specific). Empty = words only."""

    @field_validator("QA_CHANNEL_SETS", mode="after")
    @classmethod
    def _sets_as_lists(cls, value: dict) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for conv, sets in (value or {}).items():
            names = [sets] if isinstance(sets, str) else list(sets)
            out[_base_conversation(conv)] = [n.strip() for n in names if n and n.strip()]
        return out

    @field_validator("QA_SHAREPOINT_DRIVES", mode="after")
    @classmethod
    def _drives_as_lists(cls, value: dict) -> dict[str, list[str]]:
        return {k: [v] if isinstance(v, str) else [d for d in v if d] for k, v in (value or {}).items()}

    @property
    def download_hosts(self) -> list[str]:
        return csv_list(self.QA_DOWNLOAD_HOSTS)

    @property
    def download_allowlist(self) -> list[str]:
        return csv_list(self.QA_DOWNLOAD_ALLOWLIST)

    @property
    def admin_ids(self) -> set[str]:
        return {x.lower() for x in csv_list(self.QA_ADMIN_IDS)}

    def channel_sets(self, conversation_id: str) -> list[str]:
        return list(self.QA_CHANNEL_SETS.get(_base_conversation(conversation_id), []))

    def fallback_channel(self, set_names: list[str]) -> str | None:
        for name in set_names:
            if self.QA_FALLBACK_CHANNELS.get(name):
                return self.QA_FALLBACK_CHANNELS[name]
        return self.QA_FALLBACK_CHANNELS.get("*") or None


def _base_conversation(conversation_id: str) -> str:
    """A channel thread's id carries ";messageid=…"; the channel itself is the part before it."""
    return (conversation_id or "").split(";", 1)[0].strip()
