"""Fetching feeds over HTTP with aiohttp, safely.

The address policy, the pinning resolver and the hop-by-hop fetch live in core.net (shared with the files sent
in chat): every hop is checked, loopback/private/link-local/metadata addresses are refused unless allowlisted
(NEWS_FETCH_ALLOWLIST), the body is capped after decompression. This module adds the feed side: timeouts,
per-host and overall concurrency limits, conditional GET (ETag / Last-Modified)."""
from __future__ import annotations

import asyncio

import aiohttp

from core.net import (  # noqa: F401
    AddressPolicy,
    AddressRefused,
    FetchRefused,
    FetchResult,
    PolicyResolver,
    check_url,
    fetch_checked,
    is_public,
    policy_session,
)
from skills.news.settings import NewsSettings

USER_AGENT = "AmagasakiCityAssistant-News/1.0 (+feed reader)"
ACCEPT = "application/rss+xml, application/rdf+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


class Fetcher:
    """One aiohttp session for a fetch cycle (or for the process). Use as an async context manager."""

    def __init__(self, settings: NewsSettings, *, policy: AddressPolicy | None = None) -> None:
        self.s = settings
        self.policy = policy or AddressPolicy(settings.allowlist())
        self._host_locks: dict[str, asyncio.Semaphore] = {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Fetcher":
        timeout = aiohttp.ClientTimeout(total=self.s.NEWS_FETCH_TOTAL_TIMEOUT,
                                        sock_connect=self.s.NEWS_FETCH_CONNECT_TIMEOUT,
                                        sock_read=self.s.NEWS_FETCH_READ_TIMEOUT)
        self._session = policy_session(self.policy, timeout=timeout, limit=self.s.NEWS_FETCH_CONCURRENCY,
                                       limit_per_host=self.s.NEWS_FETCH_PER_HOST,
                                       headers={"User-Agent": USER_AGENT, "Accept": ACCEPT,
                                                "Accept-Encoding": "gzip, deflate"})
        return self

    async def __aexit__(self, *exc) -> None:
        if self._session is not None:
            await self._session.close()

    def _lock(self, host: str) -> asyncio.Semaphore:
        lock = self._host_locks.get(host)
        if lock is None:
            lock = self._host_locks[host] = asyncio.Semaphore(self.s.NEWS_FETCH_PER_HOST)
        return lock

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        assert self._session is not None, "use `async with Fetcher(...)`"
        validators = {}
        if etag:
            validators["If-None-Match"] = etag
        if last_modified:
            validators["If-Modified-Since"] = last_modified
        return await fetch_checked(self._session, url, self.policy, max_bytes=self.s.NEWS_FETCH_MAX_BYTES,
                                   max_redirects=self.s.NEWS_FETCH_MAX_REDIRECTS, validators=validators,
                                   host_gate=self._lock)
