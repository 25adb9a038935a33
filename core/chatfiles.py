"""Files sent in chat: fetched from Teams' download URL (pre-authenticated, short-lived) with a size cap, only from
the hosts Teams serves files from and under core.net's address policy, both checked at every redirect hop. One way
for every skill that takes files (the knowledge sets' documents, approved-answer CSVs, 通知・照会, documents to
check); each skill keeps its own size cap and host settings and turns `DownloadError` into its Japanese line.

Images pasted or sent from a phone into a Teams chat are not files: they come as `image/*` attachments whose
contentUrl is on the Bot Framework attachment service, which answers only to the bot's own Bot Framework token.
bot/ gives such an attachment a `bearer` (url -> token); the token goes with the first request only, never after a
redirect (core.net), and the host list and address policy still apply to every hop."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Awaitable, BinaryIO, Callable
from urllib.parse import urlsplit

import aiohttp

from core.net import AddressPolicy, FetchRefused, fetch_checked, host_matches, policy_session

log = logging.getLogger(__name__)

# Where Teams serves the files users send: SharePoint / OneDrive for Business (commercial and GCC, GCC High, DoD)
# for the downloadUrl of file.download.info attachments, and the Bot Framework attachment service for contentUrl.
TEAMS_FILE_HOSTS = ("*.sharepoint.com,*.sharepoint.us,*.sharepoint-mil.us,"
                    "smba.trafficmanager.net,*.teams.microsoft.com,*.botframework.com")
MAX_REDIRECTS = 5
REFUSED = {"not_allowed", "blocked", "bad_url", "scheme"}     # policy refusals (not network trouble)

Bearer = Callable[[str], Awaitable[str | None]]     # url -> the bearer token that URL needs, or None


class DownloadError(Exception):
    """`message` is "refused" | "too_large" | "failed" from `download`; callers may replace it with their Japanese
    line for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def download_check(hosts: list[str], policy: AddressPolicy):
    """The per-hop check of a chat file URL: https to a host of the list (plain http only for a host the address
    allowlist itself names, i.e. loopback test servers). The address policy is applied after it by core.net."""
    def check(url: str) -> None:
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError as e:
            raise FetchRefused("bad_url", str(e)) from None
        if not host_matches(host, hosts):
            raise FetchRefused("not_allowed", host[:200])
        if parts.scheme != "https" and not (parts.scheme == "http" and policy.listed(host)):
            raise FetchRefused("scheme", f"{parts.scheme}://{host}"[:200])
    return check


async def download(url: str, *, max_bytes: int, timeout: float, hosts: list[str],
                   allowlist: list[str] | tuple[str, ...] = (), bearer: Bearer | None = None,
                   into: BinaryIO | None = None) -> bytes:
    """GET a file with a size cap, only from the allowed hosts, every redirect hop checked against the host list
    and the address policy; with `bearer`, its token (if any) is sent to the first URL only, once that URL passed
    the checks. With `into`, the body is written to that file as it arrives and b"" is returned. Raises
    DownloadError("refused" | "too_large" | "failed")."""
    policy = AddressPolicy(allowlist)
    check = download_check(hosts, policy)
    authorization = None
    if bearer is not None:
        try:
            check(url or "")                 # no token is asked for (nor sent) for a URL that will be refused
        except FetchRefused as e:
            log.warning("file download refused (%s) at host %s: %s", e.reason, _host_of(url), e.detail[:200])
            raise DownloadError("refused") from None
        try:
            token = await bearer(url)
        except Exception as e:  # noqa: BLE001 - the credential provider failed (Entra unreachable, bad secret)
            log.warning("no token for a chat file at host %s: %s", _host_of(url), type(e).__name__)
            raise DownloadError("failed") from None
        authorization = f"Bearer {token}" if token else None
    async with policy_session(policy, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        res = await fetch_checked(session, url or "", policy, max_bytes=max_bytes, max_redirects=MAX_REDIRECTS,
                                  check=check, deadline=timeout, authorization=authorization, into=into)
    if res.ok and not res.not_modified:
        return res.body
    host = _host_of(res.url)              # the URL itself carries a token: only its host is logged
    if res.error in REFUSED:
        log.warning("file download refused (%s) at host %s: %s", res.error, host, res.detail[:200])
        raise DownloadError("refused")
    log.info("file download failed (%s %s) at host %s", res.error, res.status or "", host)
    raise DownloadError("too_large" if res.error == "too_large" else "failed")


async def attachment_bytes(url: str | None, content: bytes | None, *, max_bytes: int, timeout: float,
                           hosts: list[str], allowlist: list[str] | tuple[str, ...] = (),
                           bearer: Bearer | None = None) -> bytes:
    """A file sent in chat: its inline bytes, or its download (see `download`; pass the attachment's `bearer`),
    never more than `max_bytes`."""
    data = content if content is not None else await download(url or "", max_bytes=max_bytes, timeout=timeout,
                                                              hosts=hosts, allowlist=allowlist, bearer=bearer)
    if len(data) > max_bytes:
        raise DownloadError("too_large")
    return data


async def attachment_to_file(url: str | None, content: bytes | None, path: Path, *, max_bytes: int, timeout: float,
                             hosts: list[str], allowlist: list[str] | tuple[str, ...] = (),
                             bearer: Bearer | None = None) -> int:
    """A file sent in chat written to `path` — its inline bytes, or its download streamed to disk under the same
    policy as `download` — so that a large file (a recording of hundreds of MB) is never held in this process's
    memory. Returns its size in bytes; raises DownloadError (a partial file is removed)."""
    if content is not None:
        if len(content) > max_bytes:
            raise DownloadError("too_large")
        path.write_bytes(content)
        return len(content)
    try:
        with path.open("wb") as f:
            await download(url or "", max_bytes=max_bytes, timeout=timeout, hosts=hosts, allowlist=allowlist,
                           bearer=bearer, into=f)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path.stat().st_size


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"
