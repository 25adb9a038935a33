"""Settings of the news digest (environment variables NEWS_*)."""
from __future__ import annotations

from pathlib import Path

from core.settings import AppSettings, csv_list

DEFAULT_SOURCES_FILE = str(Path(__file__).with_name("sources.yaml"))


class NewsSettings(AppSettings):
    section = "news"
    NEWS_SOURCES_FILE: str = ""
    """YAML list of admin-managed feeds (url, title, tags, weight), reloaded when it changes; empty = the shipped skills/news/sources.yaml."""
    NEWS_FETCH_ALLOWLIST: str = ""
    """Hosts, addresses or CIDR ranges feeds may reach even though they are private/loopback (comma separated)."""
    NEWS_FETCH_CONNECT_TIMEOUT: float = 5.0
    """Feed fetch: connect timeout in seconds."""
    NEWS_FETCH_READ_TIMEOUT: float = 15.0
    """Feed fetch: read timeout in seconds (between bytes)."""
    NEWS_FETCH_TOTAL_TIMEOUT: float = 30.0
    """Feed fetch: overall timeout per request in seconds."""
    NEWS_FETCH_MAX_BYTES: int = 5_000_000
    """Feed fetch: maximum body size (after decompression); larger feeds are cut off and marked unhealthy."""
    NEWS_FETCH_CONCURRENCY: int = 10
    """Feed fetch: concurrent requests overall."""
    NEWS_FETCH_PER_HOST: int = 2
    """Feed fetch: concurrent requests per host."""
    NEWS_FETCH_MAX_REDIRECTS: int = 5
    """Feed fetch: redirects followed (each hop is checked against the address policy)."""
    NEWS_FETCH_INTERVAL_MINUTES: int = 30
    """Minutes between fetch cycles (fetch, store, summarise once for everybody)."""
    NEWS_WINDOW_DAYS: int = 7
    """Items first seen within this many days are candidates for a digest (items already delivered are skipped)."""
    NEWS_TOP_N: int = 7
    """Items per digest."""
    NEWS_DEFAULT_TIME: str = "08:30"
    """Default delivery time (Asia/Tokyo) for users who have not chosen one."""
    NEWS_SEND_RATE: float = 40.0
    """Proactive messages per second at most (Teams allows 50/s per app and tenant)."""
    NEWS_SEND_CONCURRENCY: int = 20
    """Digest deliveries in flight at once."""
    NEWS_CLAIM_LEASE_MINUTES: int = 10
    """A delivery claimed but not finished for this long (crash) is taken over by the next run."""
    NEWS_MAX_ATTEMPTS: int = 3
    """Delivery attempts per user and day before giving up."""
    NEWS_SUMMARY_CONCURRENCY: int = 4
    """LLM summary calls in flight at once (one per new item, shared by every reader)."""
    NEWS_MAIL_SENDER: str | None = None
    """Mailbox (UPN or id) the HTML digest mail is sent from through Graph sendMail; empty = no mail."""
    NEWS_SCHEDULER_ENABLED: bool = True
    """Run the daily digest scheduler in this process."""

    def sources_file(self) -> str:
        return self.NEWS_SOURCES_FILE or DEFAULT_SOURCES_FILE

    def allowlist(self) -> list[str]:
        return csv_list(self.NEWS_FETCH_ALLOWLIST)
