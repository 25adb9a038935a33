"""Files sent in chat are fetched only from the hosts Teams serves files from, under the address policy, with every
redirect hop checked — over real HTTP on loopback (127.0.0.1 is allowlisted explicitly, as Teams' stand-in)."""
from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from aiohttp import web

from core.net import AddressPolicy
from core.skills import FileAttachment
from skills.qa import strings as S
from skills.qa.documents import download_check
from skills.qa.handler import handle
from skills.qa.settings import QASettings
from tests.harness import RecorderPort, make_request
from tests.skills.qa.conftest import OTHER_AAD, build, make_docx

NAME = "テレワーク実施要領.docx"


@contextlib.asynccontextmanager
async def server(host: str, routes: dict):
    """aiohttp on host:<free port>; routes map a path to a response factory; every request's path is recorded."""
    hits: list[str] = []

    async def get(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        make = routes.get(request.path)
        return make() if make else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", get)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    try:
        yield f"http://{host}:{site._server.sockets[0].getsockname()[1]}", hits
    finally:
        await runner.cleanup()


def docx() -> web.Response:
    return web.Response(body=make_docx(), content_type="application/octet-stream")


def redirect(location: str):
    return lambda: web.Response(status=302, headers={"Location": location})


async def ask(services, text: str, **kw) -> str:
    port = RecorderPort()
    await handle(make_request(text, command="ask", **kw), port, services)
    return (port.last().text or "") + json.dumps(port.last().card, ensure_ascii=False)


async def send(services, url: str) -> str:
    """The user creates the set "jinji" (becoming its owner) and sends the file in personal chat."""
    assert "jinji" in await ask(services, "作成 jinji 人事課")
    port = RecorderPort()
    await handle(make_request("", attachments=[FileAttachment(name=NAME, content_type="docx", download_url=url)]),
                 port, services)
    return port.last().text


async def nothing_registered(services) -> None:
    """Neither the sender's nor another user's /ask finds anything from the refused file."""
    for who in ({}, {"user_id": "29:user-2", "aad_object_id": OTHER_AAD}):
        assert "実施日の3日前" not in await ask(services, "テレワークの申請はいつまでですか", **who)


async def test_download_url_on_a_host_teams_does_not_serve_files_from_is_not_contacted(db):
    """The default host list (Teams' file hosts) does not name the loopback server: refused before any request,
    even though 127.0.0.1 is in the address allowlist."""
    async with server("127.0.0.1", {"/dl/telework": docx}) as (base, hits):
        services = build(db, QA_DOWNLOAD_HOSTS=QASettings.model_fields["QA_DOWNLOAD_HOSTS"].default)
        assert await send(services, base + "/dl/telework") == S.UPLOAD_URL_REFUSED.format(name=NAME)
    assert hits == []
    await nothing_registered(services)


async def test_redirect_to_another_loopback_address_is_refused_at_the_hop(db):
    """The allowed loopback host answers 302 to a file on another loopback address (the issue's case: fetched,
    registered and shown to others before): the hop's host is not listed, the second server is never contacted."""
    async with server("127.0.0.2", {"/secret.docx": docx}) as (inner, inner_hits):
        async with server("127.0.0.1", {"/jump": redirect(inner + "/secret.docx")}) as (base, hits):
            services = build(db, QA_DOWNLOAD_HOSTS="127.0.0.1", QA_DOWNLOAD_ALLOWLIST="127.0.0.1")
            assert await send(services, base + "/jump") == S.UPLOAD_URL_REFUSED.format(name=NAME)
    assert hits == ["/jump"] and inner_hits == []
    await nothing_registered(services)


async def test_hop_to_a_listed_host_on_a_private_address_is_refused_by_the_address_policy(db):
    """The host list names 127.0.0.2 and the hop is https, so only the address policy stands in the way: no
    connection at all reaches the listener there (counted at the TCP level)."""
    connections = []
    listener = await asyncio.start_server(lambda r, w: (connections.append(1), w.close()), "127.0.0.2", 0)
    target = f"https://127.0.0.2:{listener.sockets[0].getsockname()[1]}/secret.docx"
    try:
        async with server("127.0.0.1", {"/jump": redirect(target)}) as (base, hits):
            services = build(db, QA_DOWNLOAD_HOSTS="127.0.0.1,127.0.0.2", QA_DOWNLOAD_ALLOWLIST="127.0.0.1")
            assert await send(services, base + "/jump") == S.UPLOAD_URL_REFUSED.format(name=NAME)
    finally:
        listener.close()
        await listener.wait_closed()
    assert hits == ["/jump"] and connections == []
    await nothing_registered(services)


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"])
async def test_redirect_to_a_metadata_address_is_refused(db, target):
    """Even with the metadata literal in the host list, the address policy refuses it (no allowlist entry)."""
    async with server("127.0.0.1", {"/jump": redirect(target)}) as (base, hits):
        services = build(db, QA_DOWNLOAD_HOSTS="127.0.0.1,169.254.169.254,fd00:ec2::254")
        assert await send(services, base + "/jump") == S.UPLOAD_URL_REFUSED.format(name=NAME)
    assert hits == ["/jump"]
    await nothing_registered(services)


async def test_plain_http_needs_the_address_allowlist(db):
    """A listed host over http without an allowlist entry is refused before contact (https only in production)."""
    async with server("127.0.0.1", {"/dl/telework": docx}) as (base, hits):
        services = build(db, QA_DOWNLOAD_ALLOWLIST="")
        assert await send(services, base + "/dl/telework") == S.UPLOAD_URL_REFUSED.format(name=NAME)
    assert hits == []
    await nothing_registered(services)


async def test_allowed_host_with_a_redirect_on_the_same_host_is_registered(db):
    async with server("127.0.0.1", {"/jump": redirect("/dl/telework"), "/dl/telework": docx}) as (base, hits):
        services = build(db)
        assert await send(services, base + "/jump") == S.UPLOAD_DONE["added"].format(name=NAME, set="jinji", chunks=2)
    assert hits == ["/jump", "/dl/telework"]
    assert "実施日の3日前までに所属長へ申請" in await ask(services, "テレワークの申請はいつまでですか",
                                                 user_id="29:user-2", aad_object_id=OTHER_AAD)


def test_host_list_and_scheme_check():
    """Wildcards match names below the domain only; https only unless the allowlist names the host."""
    check = download_check(QASettings(_env_file=None).download_hosts, AddressPolicy())
    for ok in ("https://contoso-my.sharepoint.com/personal/x/_layouts/15/download.aspx?UniqueId=1",
               "https://CONTOSO.SharePoint.com./x",
               "https://smba.trafficmanager.net/apac/v3/attachments/1/views/original",
               "https://city.sharepoint.us/x"):
        check(ok)
    for bad in ("http://contoso.sharepoint.com/x", "https://sharepoint.com/x", "https://evilsharepoint.com/x",
                "https://contoso.sharepoint.com.evil.example/x", "https://smba.trafficmanager.net.evil.example/",
                "https://127.0.0.1/x", "ftp://contoso.sharepoint.com/x", "https:///x"):
        with pytest.raises(Exception) as e:
            check(bad)
        assert getattr(e.value, "reason", None) in {"not_allowed", "scheme", "bad_url"}, bad
