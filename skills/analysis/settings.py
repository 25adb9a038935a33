"""Settings of the データ分析 skill (/analyze): what a file may cost, what a query may cost, where data waits."""
from __future__ import annotations

from core.chatfiles import TEAMS_FILE_HOSTS
from core.settings import AppSettings, csv_list


class AnalysisSettings(AppSettings):
    section = "analysis"

    ANALYSIS_MAX_FILE_MB: int = 100
    """Largest CSV/TSV/Excel file (MB) taken for analysis; a larger one is refused (the download stops at the cap)."""
    ANALYSIS_MAX_ROWS: int = 2_000_000
    """Rows read per table (CSV/TSV; each Excel sheet at most ANALYSIS_MAX_EXCEL_ROWS); later rows are left out and the user is told."""
    ANALYSIS_MAX_EXCEL_ROWS: int = 200_000
    """Rows read per Excel workbook (all sheets together, blank rows included); later rows are left out and the user is told."""
    ANALYSIS_MAX_COLUMNS: int = 300
    """Columns read per table; later columns are left out and the user is told."""
    ANALYSIS_MAX_SHEETS: int = 20
    """Excel sheets read per workbook; later sheets are left out and the user is told."""
    ANALYSIS_MEMORY_MB: int = 512
    """Memory DuckDB may use for one file's load or query (MB); beyond it DuckDB spills to disk or the query fails."""
    ANALYSIS_LOAD_MEMORY_MB: int = 1536
    """Memory ceiling (MB, address space; at least 768) of the child process that reads a received file (CSV/Excel parsing, typing, profile, Parquet copy); a file that needs more is refused with a message and the bot is untouched. DuckDB gets at most half of it."""
    ANALYSIS_LOAD_SECONDS: float = 300.0
    """Time (seconds, wall clock and CPU) the child process reading a received file may take; then it is stopped and the user is told."""
    ANALYSIS_THREADS: int = 2
    """Threads DuckDB uses for one load or query."""
    ANALYSIS_QUERY_SECONDS: float = 10.0
    """Time one query may run (seconds); a slower one is stopped and the user is told."""
    ANALYSIS_RESULT_ROWS: int = 1000
    """Rows of a query's result that are kept and shown (paged); the rest are counted, not kept."""
    ANALYSIS_PAGE_ROWS: int = 15
    """Rows of a result table per card page."""
    ANALYSIS_DATA_DIR: str = "./var/analysis"
    """Folder where a received file waits (its tables as Parquet files) while its conversation asks about it."""
    ANALYSIS_KEEP_HOURS: int = 24
    """Hours a received file is kept for follow-up questions; then it is deleted and must be sent again."""
    ANALYSIS_DOWNLOAD_TIMEOUT_SECONDS: float = 60.0
    """Timeout for downloading a file sent in chat (seconds)."""
    ANALYSIS_DOWNLOAD_HOSTS: str = TEAMS_FILE_HOSTS
    """Hosts a data file sent in chat may be downloaded from, comma separated ("*.example.com" = any name below it); every redirect hop must match too."""
    ANALYSIS_DOWNLOAD_ALLOWLIST: str = ""
    """Hosts, addresses or CIDR ranges a data file download may reach although private/loopback (comma separated); plain http only for these. Normally empty."""
    ANALYSIS_LLM_TIMEOUT_SECONDS: float = 60.0
    """Timeout of the LLM call that writes a query (seconds)."""
    ANALYSIS_SAMPLE_ROWS: int = 3
    """Sample rows (masked; personal-data columns left out) given to the LLM with the schema."""
    ANALYSIS_THEME_MAX_ANSWERS: int = 300
    """Distinct free-text answers (most frequent first) the LLM codes into themes (/analyze 分類); the rest are counted as not coded and the user is told."""
    ANALYSIS_THEME_BATCH: int = 60
    """Free-text answers per LLM request when coding them into themes (the first request also proposes the themes)."""

    @property
    def download_hosts(self) -> list[str]:
        return csv_list(self.ANALYSIS_DOWNLOAD_HOSTS)

    @property
    def download_allowlist(self) -> list[str]:
        return csv_list(self.ANALYSIS_DOWNLOAD_ALLOWLIST)


def settings_of(services) -> AnalysisSettings:
    return services.settings.get(AnalysisSettings)
