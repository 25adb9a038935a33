"""Fetching over real HTTP on loopback: gzip, conditional GET, timeouts, size cap, redirects and the address policy."""
from __future__ import annotations

import socket
import time

import pytest

from skills.news.fetch import AddressPolicy, Fetcher, FetchRefused, PolicyResolver, check_url
from tests.skills.news.helpers import Route, news_settings, rss

GOOD = rss([{"title": "記事1", "link": "https://example.jp/1", "guid": "g1"}])


async def test_gzip_and_conditional_get(feeds, tmp_path):
    feeds.routes["/feed"] = Route(body=GOOD, gzip=True, etag='"v1"', headers={"Last-Modified": "Fri, 21 Aug 2026 00:00:00 GMT"})
    async with Fetcher(news_settings(tmp_path)) as f:
        first = await f.fetch(feeds.url("/feed"))
        assert first.ok and first.body == GOOD and first.etag == '"v1"'
        assert "gzip" in feeds.requests[-1][1].get("Accept-Encoding", "")
        again = await f.fetch(feeds.url("/feed"), etag=first.etag, last_modified=first.last_modified)
    assert again.ok and again.not_modified and again.status == 304
    sent = feeds.requests[-1][1]
    assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == "Fri, 21 Aug 2026 00:00:00 GMT"


async def test_slow_feed_times_out(feeds, tmp_path):
    feeds.routes["/slow"] = Route(body=GOOD, delay=3)
    s = news_settings(tmp_path, NEWS_FETCH_READ_TIMEOUT=0.3, NEWS_FETCH_TOTAL_TIMEOUT=0.6)
    t0 = time.monotonic()
    async with Fetcher(s) as f:
        res = await f.fetch(feeds.url("/slow"))
    assert not res.ok and res.error == "timeout"
    assert time.monotonic() - t0 < 2


async def test_huge_feed_is_cut(feeds, tmp_path):
    feeds.routes["/huge"] = Route(stream_forever=True, content_type="application/rss+xml")
    feeds.routes["/bomb"] = Route(body=b"<rss>" + b" " * 3_000_000 + b"</rss>", gzip=True)
    s = news_settings(tmp_path, NEWS_FETCH_MAX_BYTES=200_000)
    async with Fetcher(s) as f:
        huge = await f.fetch(feeds.url("/huge"))
        bomb = await f.fetch(feeds.url("/bomb"))
    assert not huge.ok and huge.error == "too_large" and huge.body == b""
    assert not bomb.ok and bomb.error == "too_large"     # counted after decompression


async def test_http_error_is_reported(feeds, tmp_path):
    async with Fetcher(news_settings(tmp_path)) as f:
        res = await f.fetch(feeds.url("/missing"))
    assert not res.ok and res.error == "http" and res.status == 404


async def test_redirect_followed_when_allowed(feeds, tmp_path):
    feeds.routes["/feed"] = Route(body=GOOD)
    feeds.routes["/old"] = Route(status=301, headers={"Location": "/feed"}, body=b"")
    async with Fetcher(news_settings(tmp_path)) as f:
        res = await f.fetch(feeds.url("/old"))
    assert res.ok and res.body == GOOD and res.url.endswith("/feed")


async def test_redirect_to_private_address_is_refused(feeds, tmp_path):
    """The first hop (host 'localhost', allowlisted by name) may be fetched; its redirect to 127.0.0.1 may not."""
    feeds.routes["/feed"] = Route(body=GOOD)
    feeds.routes["/jump"] = Route(status=302, headers={"Location": feeds.url("/feed")}, body=b"")
    s = news_settings(tmp_path, NEWS_FETCH_ALLOWLIST="localhost")
    async with Fetcher(s) as f:
        res = await f.fetch(feeds.url("/jump", host="localhost"))
    assert not res.ok and res.error == "blocked" and "127.0.0.1" in res.detail
    assert [p for p, _ in feeds.requests] == ["/jump"]          # the private target was never contacted


async def test_direct_private_and_metadata_addresses_refused_without_contact(feeds, tmp_path):
    feeds.routes["/feed"] = Route(body=GOOD)
    s = news_settings(tmp_path, NEWS_FETCH_ALLOWLIST="")
    async with Fetcher(s) as f:
        for url in (feeds.url("/feed"), feeds.url("/feed", host="localhost"), "http://169.254.169.254/latest/meta-data/",
                    "http://[fd00:ec2::254]/", "http://10.1.2.3/feed", "http://[::ffff:127.0.0.1]:80/",
                    "http://0.0.0.0/", "http://224.0.0.1/"):
            res = await f.fetch(url)
            assert not res.ok and res.error == "blocked", url
    assert feeds.requests == []


async def test_non_http_schemes_refused():
    for url in ("file:///etc/passwd", "ftp://example.jp/feed", "gopher://x/", "http://user:pw@example.jp/"):
        with pytest.raises(FetchRefused) as e:
            await check_url(url, AddressPolicy())
        assert e.value.reason == "bad_url"


def test_allowlist_by_cidr_and_host():
    pol = AddressPolicy(["10.0.0.0/8", "intranet.local"])
    assert pol.address_allowed("10.9.8.7")
    assert not pol.address_allowed("192.168.1.1")
    assert not pol.address_allowed("169.254.169.254")
    assert pol.address_allowed("8.8.8.8")
    assert pol.host_allowed("INTRANET.local.")


async def test_resolver_pins_to_allowed_addresses(monkeypatch):
    """A name that resolves (e.g. after a DNS rebinding) to a private address yields no address to connect to."""
    res = PolicyResolver(AddressPolicy())
    with pytest.raises(OSError):
        await res.resolve("localhost", 80, socket.AF_INET)
    allowed = PolicyResolver(AddressPolicy(["127.0.0.0/8"]))
    got = await allowed.resolve("localhost", 80, socket.AF_INET)
    assert got and all(g["host"].startswith("127.") for g in got)
    await res.close()
    await allowed.close()


async def test_rebinding_between_check_and_connect_is_caught(feeds, tmp_path, monkeypatch):
    """check_url sees a public address, but the connection's resolver gets 127.0.0.1: the connect is refused."""
    feeds.routes["/feed"] = Route(body=GOOD)
    import core.net as net_mod  # the hop check news fetches go through

    async def fake_check(url, policy):
        return None                       # pretend the pre-check resolved to a public address

    monkeypatch.setattr(net_mod, "check_url", fake_check)
    s = news_settings(tmp_path, NEWS_FETCH_ALLOWLIST="")
    async with Fetcher(s) as f:
        res = await f.fetch(feeds.url("/feed", host="localhost"))
    assert not res.ok and res.error == "blocked"
    assert feeds.requests == []
