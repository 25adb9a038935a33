"""Settings of the KPI / adoption skill (/kpi, /skillcheck, /examples, /helpdesk, nudges)."""
from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from core.settings import AppSettings, csv_list

DATA_DIR = Path(__file__).with_name("data")

DEFAULT_MINUTES_SAVED: dict[str, float] = {
    "drafting": 30, "qa": 10, "news": 15, "planning": 60, "law": 10, "chat": 5,
}


class KpiSettings(AppSettings):
    section = "kpi"

    KPI_ADMIN_IDS: str = ""
    """Administrators of /kpi: Entra ID (AAD) object ids, comma separated (group ids count only when Graph is set up)."""
    KPI_ANNUAL_TARGET_USES: int = 700_000
    """Target number of AI uses per fiscal year (年度, April to March)."""
    KPI_ANNUAL_TARGET_HOURS: float = 20_000
    """Target working hours saved per fiscal year."""
    KPI_STAFF_TOTAL: int = 3000
    """Number of staff who could use the assistant (denominator of the usage share)."""
    KPI_STAFF_BY_DEPT: dict[str, int] = {}
    """JSON {"企画財政局": 250, ...}: staff per department for the share by department (unlisted = counts only)."""
    KPI_MINUTES_SAVED: dict[str, float] = dict(DEFAULT_MINUTES_SAVED)
    """JSON minutes saved per use by skill; merged with the defaults (drafting 30, qa 10, news 15, planning 60, law 10, chat 5)."""
    KPI_MINUTES_SAVED_DEFAULT: float = 5
    """Minutes saved per use for skills not listed in KPI_MINUTES_SAVED."""
    KPI_SKILLCHECK_FILE: str = ""
    """Path of the skill-check questions (YAML); empty = skills/kpi/data/skillcheck.yaml."""
    KPI_EXAMPLES_FILE: str = ""
    """Path of the examples library (YAML); empty = skills/kpi/data/examples.yaml."""
    HELPDESK_BACKEND: str = "teams"
    """Where /helpdesk questions go: teams (the DX support channel) or kintone (the question app)."""
    HELPDESK_CONVERSATION_ID: str = ""
    """Teams conversation id of the DX support channel (the bot must be installed in its team)."""
    NUDGE_DEPARTMENTS: str = ""
    """Departments that receive the weekly tip (comma separated, or * for all); empty = nudges off."""
    NUDGE_INACTIVE_DAYS: int = 14
    """A user gets the weekly tip only after this many days without any AI use."""

    @field_validator("KPI_MINUTES_SAVED", mode="after")
    @classmethod
    def _merge_minutes(cls, value: dict[str, float]) -> dict[str, float]:
        return {**DEFAULT_MINUTES_SAVED, **{k: float(v) for k, v in value.items()}}

    @field_validator("HELPDESK_BACKEND", mode="after")
    @classmethod
    def _backend(cls, value: str) -> str:
        v = (value or "teams").strip().lower()
        if v not in ("teams", "kintone"):
            raise ValueError("HELPDESK_BACKEND must be teams or kintone")
        return v

    @property
    def admin_ids(self) -> set[str]:
        return {i.lower() for i in csv_list(self.KPI_ADMIN_IDS)}

    @property
    def nudge_departments(self) -> list[str]:
        return csv_list(self.NUDGE_DEPARTMENTS.replace("、", ","))

    @property
    def skillcheck_path(self) -> Path:
        return Path(self.KPI_SKILLCHECK_FILE) if self.KPI_SKILLCHECK_FILE else DATA_DIR / "skillcheck.yaml"

    @property
    def examples_path(self) -> Path:
        return Path(self.KPI_EXAMPLES_FILE) if self.KPI_EXAMPLES_FILE else DATA_DIR / "examples.yaml"

    def minutes_for(self, skill: str) -> float:
        return float(self.KPI_MINUTES_SAVED.get(skill, self.KPI_MINUTES_SAVED_DEFAULT))


def settings_of(services) -> KpiSettings:
    """The KPI settings of this app (read once; tests put their own with services.settings.put)."""
    return services.settings.get(KpiSettings)
