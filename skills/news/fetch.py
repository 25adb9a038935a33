"""Fetching feeds over HTTP with aiohttp, safely.

- Address policy (SSRF): a URL whose host resolves to a loopback, private, link-local, multicast, reserved,
  unspecified or cloud-metadata address is refused unless the host name, the address or its range is in the
  allowlist. Every redirect hop is checked the same way (redirects are followed by hand, never by aiohttp).
- The checked addresses are the ones connected to: the session's resolver (`PolicyResolver`) filters what
  getaddrinfo returns through the same policy, so a DNS answer that changes between the check and the connect
  (DNS rebinding) cannot reach a forbidden address. IP-literal hosts bypass resolvers in aiohttp; they are checked
  before the request.
- Timeouts (connect / read / total), a maximum body size counted after decompression (gzip bombs are cut too),
  per-host and overall concurrency limits, conditional GET (ETag / Last-Modified)."""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver

from skills.news.settings import NewsSettings

USER_AGENT = "AmagasakiCityAssistant-News/1.0 (+feed reader)"
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
            ipaddress.ip_address("100.100.100.200")}
ACCEPT = "application/rss+xml, application/rdf+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


class FetchRefused(Exception):
    """The URL may not be fetched (address policy / scheme)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class FetchResult:
    url: str
    ok: bool
    status: int = 0
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    error: str | None = None          # code: blocked | timeout | too_large | http | connect | redirects | bad_url
    detail: str = ""


class AddressPolicy:
    """Decides which hosts and addresses may be reached."""

    def __init__(self, allowlist: list[str] | tuple[str, ...] = ()) -> None:
        self.hosts: set[str] = set()
        self.nets: list[ipaddress._BaseNetwork] = []
        for entry in allowlist:
            e = entry.strip().lower()
            if not e:
                continue
            try:
                self.nets.append(ipaddress.ip_network(e, strict=False))
            except ValueError:
                self.hosts.add(e.rstrip("."))

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".").strip("[]") in self.hosts

    def address_allowed(self, addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr.split("%", 1)[0])
        except ValueError:
            return False
        if any(ip in n for n in self.nets):
            return True
        return is_public(ip)


def is_public(ip: ipaddress._BaseAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return is_public(mapped)
        if ip.teredo:
            return False
    if ip in METADATA:
        return False
    return bool(ip.is_global) and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
                                       or ip.is_private or ip.is_unspecified)


def _ip_literal(host: str) -> ipaddress._BaseAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


class AddressRefused(OSError):
    """Raised by the resolver when no resolved address may be connected to."""


class PolicyResolver(AbstractResolver):
    """getaddrinfo through aiohttp's threaded resolver, keeping only addresses the policy allows. The connection
    is made to one of these very addresses, which pins the check to the connect."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        infos = await self._inner.resolve(host, port, family)
        if self.policy.host_allowed(host):
            return infos
        kept = [i for i in infos if self.policy.address_allowed(i["host"])]
        if not kept:
            raise AddressRefused(f"{host} resolves only to addresses that may not be reached")
        return kept

    async def close(self) -> None:
        await self._inner.close()


async def check_url(url: str, policy: AddressPolicy) -> None:
    """Raise FetchRefused unless url is http(s) and its host resolves only to allowed addresses."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as e:
        raise FetchRefused("bad_url", str(e)) from None
    if parts.scheme not in ("http", "https") or not host:
        raise FetchRefused("bad_url", url[:200])
    if parts.username or parts.password:
        raise FetchRefused("bad_url", "credentials in URL")
    if policy.host_allowed(host):
        return
    lit = _ip_literal(host)
    if lit is not None:
        if not policy.address_allowed(str(lit)):
            raise FetchRefused("blocked", host)
        return
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise FetchRefused("dns", f"{host}: {e}") from None
    addrs = {i[4][0] for i in infos}
    bad = [a for a in addrs if not policy.address_allowed(a)]
    if bad or not addrs:
        raise FetchRefused("blocked", f"{host} -> {sorted(bad)[0] if bad else '?'}")


class Fetcher:
    """One aiohttp session for a fetch cycle (or for the process). Use as an async context manager."""

    def __init__(self, settings: NewsSettings, *, policy: AddressPolicy | None = None) -> None:
        self.s = settings
        self.policy = policy or AddressPolicy(settings.allowlist())
        self._host_locks: dict[str, asyncio.Semaphore] = {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Fetcher":
        connector = aiohttp.TCPConnector(resolver=PolicyResolver(self.policy), limit=self.s.NEWS_FETCH_CONCURRENCY,
                                         limit_per_host=self.s.NEWS_FETCH_PER_HOST, ttl_dns_cache=60)
        timeout = aiohttp.ClientTimeout(total=self.s.NEWS_FETCH_TOTAL_TIMEOUT,
                                        sock_connect=self.s.NEWS_FETCH_CONNECT_TIMEOUT,
                                        sock_read=self.s.NEWS_FETCH_READ_TIMEOUT)
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False,
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
        current = url
        for _hop in range(self.s.NEWS_FETCH_MAX_REDIRECTS + 1):
            try:
                await check_url(current, self.policy)
            except FetchRefused as e:
                return FetchResult(url=current, ok=False, error=e.reason, detail=e.detail)
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            host = urlsplit(current).hostname or ""
            try:
                async with self._lock(host):
                    async with self._session.get(current, headers=headers, allow_redirects=False) as resp:
                        if resp.status in (301, 302, 303, 307, 308):
                            loc = resp.headers.get("Location")
                            if not loc:
                                return FetchResult(url=current, ok=False, status=resp.status, error="http",
                                                   detail="redirect without Location")
                            current = urljoin(current, loc)
                            etag = last_modified = None    # validators belong to the original URL only
                            continue
                        if resp.status == 304:
                            return FetchResult(url=current, ok=True, status=304, not_modified=True,
                                               etag=resp.headers.get("ETag"),
                                               last_modified=resp.headers.get("Last-Modified"))
                        if resp.status != 200:
                            return FetchResult(url=current, ok=False, status=resp.status, error="http",
                                               detail=str(resp.status))
                        declared = resp.content_length
                        limit = self.s.NEWS_FETCH_MAX_BYTES
                        if declared is not None and declared > limit and \
                                not resp.headers.get("Content-Encoding"):
                            return FetchResult(url=current, ok=False, status=200, error="too_large",
                                               detail=f"Content-Length {declared}")
                        buf = bytearray()
                        async for chunk in resp.content.iter_chunked(65536):
                            buf += chunk
                            if len(buf) > limit:
                                return FetchResult(url=current, ok=False, status=200, error="too_large",
                                                   detail=f"> {limit} bytes")
                        return FetchResult(url=current, ok=True, status=200, body=bytes(buf),
                                           content_type=resp.headers.get("Content-Type"),
                                           etag=resp.headers.get("ETag"),
                                           last_modified=resp.headers.get("Last-Modified"))
            except asyncio.TimeoutError:
                return FetchResult(url=current, ok=False, error="timeout")
            except aiohttp.ClientConnectorError as e:
                blocked = isinstance(getattr(e, "os_error", None), AddressRefused) or \
                    isinstance(e.__cause__, AddressRefused)
                return FetchResult(url=current, ok=False, error="blocked" if blocked else "connect",
                                   detail=type(e).__name__)
            except (aiohttp.ClientError, OSError, ValueError) as e:
                return FetchResult(url=current, ok=False, error="connect", detail=type(e).__name__)
        return FetchResult(url=current, ok=False, error="redirects")
