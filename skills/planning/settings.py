"""Settings of 企画サポート (/plan)."""
from __future__ import annotations

from core.sections import BUNDLED as BUNDLED_PROFILES  # noqa: F401 - /plan's name for the bundled profiles
from core.settings import AppSettings


class PlanningSettings(AppSettings):
    section = "planning"
    PLANNING_LLM_TIMEOUT_SECONDS: float = 120.0
    """Timeout of one LLM call of a planning stage (research notes, outline, revision), in seconds."""
    PLANNING_SEARCH_K: int = 4
    """Passages taken per search (per query) from the profile's knowledge sets and case sets."""
    PLANNING_LAW_RESULTS: int = 3
    """Law passages (e-Gov) gathered for the legal basis of a plan."""
    PLANNING_MAX_SOURCES: int = 12
    """Most sources one plan cites (Teams shows at most 20 citations)."""
    PLANNING_HEARTBEAT_SECONDS: float = 15.0
    """A running plan job renews its heartbeat this often, in seconds. After 3 missed beats its process is presumed
    gone: the job is shown as interrupted (中断) and can be retried at once."""
