"""Helpers of the news tests: a loopback feed server, a controlled clock, feeds and settings."""
from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from aiohttp import web

from core.services import Clock
from core.timeutil import JST
from tests.standins.base import LoopbackServer


class FixedClock(Clock):
    def __init__(self, t: datetime) -> None:
        self.t = t

    def now(self) -> datetime:
        return self.t

    def advance(self, **kw) -> None:
        self.t += timedelta(**kw)


def jst(y, m, d, hh=0, mm=0) -> datetime:
    """A JST wall time as an aware UTC datetime."""
    return datetime(y, m, d, hh, mm, tzinfo=JST).astimezone(timezone.utc)


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    gzip: bool = False
    etag: str | None = None
    stream_forever: bool = False
    handler: Callable | None = None


class FeedServer(LoopbackServer):
    """aiohttp on 127.0.0.1 serving scripted feeds; records each request (path, headers)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict]] = []
        self.port = 0
        self._runner = None

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("GET", "/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.headers)))
        r = self.routes.get(request.path)
        if r is None:
            return web.Response(status=404)
        if r.handler:
            return await r.handler(request)
        if r.delay:
            await asyncio.sleep(r.delay)
        if r.etag and request.headers.get("If-None-Match") == r.etag:
            return web.Response(status=304, headers={"ETag": r.etag})
        headers = dict(r.headers)
        if r.etag:
            headers["ETag"] = r.etag
        if r.stream_forever:
            resp = web.StreamResponse(headers={"Content-Type": r.content_type})
            await resp.prepare(request)
            try:
                for _ in range(2_000):
                    if request.transport is None or request.transport.is_closing():
                        break
                    await resp.write(b"<item><title>x</title></item>" * 1000)
                    await asyncio.sleep(0)
            except (ConnectionResetError, RuntimeError):
                pass
            return resp
        body = r.body
        if r.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, status=r.status, headers={"Content-Type": r.content_type, **headers})


def rss(items: list[dict], title: str = "テスト配信") -> bytes:
    parts = [f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
             "<link>https://example.jp/</link><description>d</description>"]
    for it in items:
        parts.append("<item>")
        for k in ("title", "link", "guid", "description", "pubDate"):
            if it.get(k):
                parts.append(f"<{k}>{it[k]}</{k}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def write_sources(tmp_path: Path, entries: list[dict]) -> Path:
    import yaml

    p = tmp_path / "sources.yaml"
    p.write_text(yaml.safe_dump({"sources": entries}, allow_unicode=True), encoding="utf-8")
    return p


def news_settings(tmp_path: Path, sources: list[dict] | None = None, **kw):
    from skills.news.settings import NewsSettings

    path = write_sources(tmp_path, sources or [])
    base = dict(NEWS_SOURCES_FILE=str(path), NEWS_FETCH_ALLOWLIST="127.0.0.1", NEWS_FETCH_CONNECT_TIMEOUT=2.0,
                NEWS_FETCH_READ_TIMEOUT=1.0, NEWS_FETCH_TOTAL_TIMEOUT=3.0, NEWS_SEND_RATE=1000.0)
    base.update(kw)
    return NewsSettings(_env_file=None, **base)


def install(services, settings):
    """Wire a news engine and deliverer with these settings into services (as the skill's singletons)."""
    from skills.news.engine import NewsEngine
    from skills.news.schedule import Deliverer

    engine = NewsEngine(services, settings)
    services.extras["news.engine"] = engine
    deliverer = Deliverer(services, settings, engine=engine)
    services.extras["news.deliverer"] = deliverer
    return engine, deliverer


async def add_articles(session, now: datetime, count: int):
    """A configured source and `count` articles from it, one an hour back from `now` (for digest tests)."""
    from skills.news.models import NewsItem, NewsSource

    src = NewsSource(url="https://example.jp/feed", title="テスト源", origin="config", tags=["DX"], weight=1.0)
    session.add(src)
    await session.flush()
    for i in range(count):
        session.add(NewsItem(identity=f"id{i}", source_id=src.id, url=f"https://example.jp/{i}", title=f"記事{i}",
                             norm_title=f"記事{i}", feed_summary=f"本文{i}です。", published_at=now - timedelta(hours=i),
                             first_seen_at=now - timedelta(hours=i), content_hash=f"h{i}", terms=[f"語{i}"]))
    return src


async def seed_readers(db_url: str, connector_url: str, now: datetime, readers: int, articles: int = 10) -> None:
    """A migrated database with `articles` articles and `readers` installed personal conversations (29:u0 …) on the
    connector at `connector_url`: the readers of a digest run by another process."""
    from core.store import Database
    from core.store.models import ConversationRef

    db = Database(db_url)
    await db.migrate()
    try:
        async with db.session() as s:
            await add_articles(s, now, articles)
            for u in range(readers):
                conv = f"a:conv{u}"
                s.add(ConversationRef(
                    conversation_id=conv, user_id=f"29:u{u}", conversation_type="personal", service_url=connector_url,
                    installed=True, reference={
                        "user": {"id": f"29:u{u}"}, "bot": {"id": "28:bot-1", "name": "AI"}, "channelId": "msteams",
                        "conversation": {"id": conv, "conversationType": "personal", "tenantId": "tenant-1"},
                        "serviceUrl": connector_url}))
    finally:
        await db.dispose()
