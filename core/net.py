"""Outbound HTTP to URLs that come from outside (feeds, files sent in chat), safely.

- Address policy (SSRF): a URL whose host resolves to a loopback, private, link-local, multicast, reserved,
  unspecified or cloud-metadata address is refused unless the host name, the address or its range is in the
  allowlist. Every redirect hop is checked the same way (redirects are followed by hand, never by aiohttp).
- The checked addresses are the ones connected to: a session made by `policy_session` resolves through
  `PolicyResolver`, which filters what getaddrinfo returns through the same policy, so a DNS answer that changes
  between the check and the connect (DNS rebinding) cannot reach a forbidden address. IP-literal hosts bypass
  resolvers in aiohttp; they are checked before the request.
- `fetch_checked`: one GET with redirects followed by hand (each hop checked by the policy and by an optional
  caller check such as a host list), a maximum body size counted after decompression (gzip bombs are cut too), an
  optional overall deadline, conditional GET validators sent to the original URL only."""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from typing import AsyncContextManager, BinaryIO, Callable, Iterable
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver

METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
            ipaddress.ip_address("100.100.100.200")}
REDIRECTS = (301, 302, 303, 307, 308)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchRefused(Exception):
    """The URL may not be fetched (address policy / scheme / host list)."""

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
    error: str | None = None   # blocked | bad_url | dns | not_allowed (caller check) | timeout | too_large | http
    detail: str = ""           # | connect | redirects


class AddressPolicy:
    """Decides which hosts and addresses may be reached. Allowlist entries are host names (reached whatever they
    resolve to), addresses or CIDR ranges (reachable even though private, loopback, link-local or metadata)."""

    def __init__(self, allowlist: Iterable[str] = ()) -> None:
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

    def listed(self, host: str) -> bool:
        """The host is named by the allowlist itself: by name, or an IP literal inside an allowlisted range."""
        if self.host_allowed(host):
            return True
        lit = _ip_literal(host)
        return lit is not None and any(lit in n for n in self.nets)


def is_public(ip: IPAddress) -> bool:
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


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    """Whether host matches one of the patterns: an exact name (or address), or "*.example.com" for any name
    below example.com (not example.com itself). Case and a trailing dot are ignored."""
    h = (host or "").lower().rstrip(".").strip("[]")
    if not h:
        return False
    for p in patterns:
        p = p.strip().lower().rstrip(".").strip("[]")
        if not p:
            continue
        if p.startswith("*."):
            if h.endswith(p[1:]) and len(h) > len(p) - 1:
                return True
        elif h == p:
            return True
    return False


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
    addrs = {str(i[4][0]) for i in infos}  # an AF_INET/AF_INET6 host is a str; anything else fails the check
    bad = [a for a in addrs if not policy.address_allowed(a)]
    if bad or not addrs:
        raise FetchRefused("blocked", f"{host} -> {sorted(bad)[0] if bad else '?'}")


def policy_session(policy: AddressPolicy, *, timeout: aiohttp.ClientTimeout, headers: dict | None = None,
                   limit: int = 100, limit_per_host: int = 0) -> aiohttp.ClientSession:
    """An aiohttp session whose connections only reach addresses the policy allows (no proxy from the
    environment: the checked address must be the one connected to)."""
    connector = aiohttp.TCPConnector(resolver=PolicyResolver(policy), limit=limit, limit_per_host=limit_per_host,
                                     ttl_dns_cache=60)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False, headers=headers)


async def fetch_checked(session: aiohttp.ClientSession, url: str, policy: AddressPolicy, *, max_bytes: int,
                        max_redirects: int = 5, validators: dict[str, str] | None = None,
                        check: Callable[[str], None] | None = None,
                        host_gate: Callable[[str], AsyncContextManager] | None = None,
                        deadline: float | None = None, authorization: str | None = None,
                        into: BinaryIO | None = None) -> FetchResult:
    """GET url following redirects by hand. Before each hop (the first URL included) `check(url)` runs (it raises
    FetchRefused to refuse, e.g. for a host outside a list), then `check_url` applies the address policy. Never
    raises for network trouble: the result carries an error code. `validators` (If-None-Match /
    If-Modified-Since) go to the original URL only; `host_gate(host)` wraps each request (per-host limits);
    `deadline` bounds the whole fetch, every hop included (seconds). `authorization` (an Authorization header
    value) goes, like the validators, to the original URL only: a credential never follows a redirect. `session`
    should come from `policy_session` with the same policy. `into`: the body is written to this file as it arrives
    (the result's body stays empty), so that a large download is never held in memory."""
    first = dict(validators or {})
    if authorization:
        first["Authorization"] = authorization
    try:
        async with asyncio.timeout(deadline):
            return await _fetch(session, url, policy, max_bytes=max_bytes, max_redirects=max_redirects,
                                validators=first, check=check, host_gate=host_gate, into=into)
    except TimeoutError:
        return FetchResult(url=url, ok=False, error="timeout")


async def _fetch(session, url, policy, *, max_bytes, max_redirects, validators, check, host_gate,
                 into=None) -> FetchResult:
    current = url
    for _hop in range(max_redirects + 1):
        try:
            if check is not None:
                check(current)
            await check_url(current, policy)
        except FetchRefused as e:
            return FetchResult(url=current, ok=False, error=e.reason, detail=e.detail)
        host = urlsplit(current).hostname or ""
        gate = host_gate(host) if host_gate is not None else contextlib.nullcontext()
        try:
            async with gate:
                async with session.get(current, headers=validators, allow_redirects=False) as resp:
                    if resp.status in REDIRECTS:
                        loc = resp.headers.get("Location")
                        if not loc:
                            return FetchResult(url=current, ok=False, status=resp.status, error="http",
                                               detail="redirect without Location")
                        try:
                            current = urljoin(current, loc)
                        except ValueError as e:
                            return FetchResult(url=current, ok=False, status=resp.status, error="bad_url",
                                               detail=str(e))
                        validators = {}              # validators and credentials belong to the original URL only
                        continue
                    if resp.status == 304:
                        return FetchResult(url=current, ok=True, status=304, not_modified=True,
                                           etag=resp.headers.get("ETag"),
                                           last_modified=resp.headers.get("Last-Modified"))
                    if resp.status != 200:
                        return FetchResult(url=current, ok=False, status=resp.status, error="http",
                                           detail=str(resp.status))
                    declared = resp.content_length
                    if declared is not None and declared > max_bytes and not resp.headers.get("Content-Encoding"):
                        return FetchResult(url=current, ok=False, status=200, error="too_large",
                                           detail=f"Content-Length {declared}")
                    buf = bytearray()
                    size = 0
                    async for chunk in resp.content.iter_chunked(65536):
                        size += len(chunk)
                        if size > max_bytes:
                            return FetchResult(url=current, ok=False, status=200, error="too_large",
                                               detail=f"> {max_bytes} bytes")
                        if into is not None:
                            into.write(chunk)
                        else:
                            buf += chunk
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
