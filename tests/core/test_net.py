"""core.net's hop-by-hop fetch over real HTTP on loopback: the deadline covers every hop together, the caller's
check runs before each hop's request."""
from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from core.net import AddressPolicy, FetchRefused, fetch_checked, host_matches, policy_session
from tests.standins.base import LoopbackServer


class Hops(LoopbackServer):
    """/1 → /2 → /3 → /end, each answer after `delay` seconds; paths are recorded."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.hits: list[str] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/{n}", self._get)

    async def _get(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        await asyncio.sleep(self.delay)
        n = request.match_info["n"]
        if n == "end":
            return web.Response(body=b"done")
        return web.Response(status=302, headers={"Location": f"/{int(n) + 1}" if n != "3" else "/end"})


async def test_deadline_bounds_all_hops_together():
    """Each hop is well within the per-request timeout, but the redirects together exceed the deadline."""
    policy = AddressPolicy(["127.0.0.1"])
    async with Hops(delay=0.25) as srv, policy_session(policy, timeout=aiohttp.ClientTimeout(total=5)) as session:
        res = await fetch_checked(session, f"{srv.origin}/1", policy, max_bytes=100, deadline=0.6)
        assert not res.ok and res.error == "timeout"
        assert len(srv.hits) < 4
        srv.delay = 0.0
        done = await fetch_checked(session, f"{srv.origin}/1", policy, max_bytes=100, deadline=0.6)
    assert done.ok and done.body == b"done" and done.url.endswith("/end")


async def test_caller_check_refuses_a_hop_before_its_request():
    policy = AddressPolicy(["127.0.0.1"])

    def check(url: str) -> None:
        if url.endswith("/3"):
            raise FetchRefused("not_allowed", url)

    async with Hops(delay=0.0) as srv, policy_session(policy, timeout=aiohttp.ClientTimeout(total=5)) as session:
        res = await fetch_checked(session, f"{srv.origin}/1", policy, max_bytes=100, check=check)
    assert not res.ok and res.error == "not_allowed" and srv.hits == ["/1", "/2"]


def test_host_patterns():
    pats = ["*.sharepoint.com", "smba.trafficmanager.net"]
    assert host_matches("city-my.sharepoint.com", pats) and host_matches("A.B.SharePoint.com.", pats)
    assert host_matches("smba.trafficmanager.net", pats)
    for bad in ("sharepoint.com", "evilsharepoint.com", "x.sharepoint.com.evil.jp", "a.smba.trafficmanager.net", ""):
        assert not host_matches(bad, pats), bad
