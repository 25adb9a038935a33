"""Feed parsing (feedparser, from bytes) and the item identity / de-duplication rules.

Encodings: the HTTP charset and the XML declaration are honoured by feedparser. A feed that declares nothing and
is not UTF-8 (typical of older Japanese sites: EUC-JP, Shift_JIS) is decoded here by trying the Japanese
encodings strictly, then charset-normalizer, and handed to feedparser as UTF-8 (feedparser would otherwise fall
back to windows-1252 and produce mojibake, since chardet is not installed).

Dates: some feeds write a JST date as midnight GMT (`Fri, 21 Aug 2026 00:00:00 GMT` for 2026-08-21 JST). When
every dated entry of a feed is exactly 00:00:00 at offset +0000/GMT, the dates are read as JST calendar dates."""
from __future__ import annotations

import calendar
import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser

from core.timeutil import JST, as_utc

_DECL = re.compile(rb"^\s*(?:\xef\xbb\xbf)?<\?xml[^>]*encoding\s*=", re.I)
_TAG = re.compile(r"<[^>]+>")
_WS = re.compile(r"\s+")
_MIDNIGHT_GMT = re.compile(r"\b00:00(?::00)?\s*(?:GMT|UT|UTC|Z|\+00:?00)\s*$", re.I)
_ISO_MIDNIGHT = re.compile(r"T00:00(?::00)?(?:\.0+)?(?:Z|\+00:?00)$", re.I)


@dataclass
class ParsedEntry:
    title: str
    link: str | None
    guid: str | None
    summary: str
    published: datetime | None
    raw_date: str | None = None
    identity: str = ""


@dataclass
class ParsedFeed:
    ok: bool
    title: str = ""
    entries: list[ParsedEntry] = field(default_factory=list)
    reason: str | None = None            # why the feed is unhealthy (ok=False) or a warning (bozo with entries)
    encoding: str | None = None
    jst_dates: bool = False
    shared_links: set[str] = field(default_factory=set)   # links used by several entries: not item-specific


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = re.search(r"charset\s*=\s*\"?([\w.:-]+)", content_type, re.I)
    return m.group(1) if m else None


def decode_undeclared(body: bytes) -> tuple[bytes, str] | None:
    """For a body that declares no encoding and is not UTF-8: (utf-8 bytes, detected encoding), else None."""
    if body.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or _DECL.match(body[:400]):
        return None
    try:
        body.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    for enc in ("euc_jp", "cp932", "iso2022_jp"):
        try:
            return body.decode(enc).encode("utf-8"), enc
        except UnicodeDecodeError:
            continue
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(body).best()
        if best is not None:
            return str(best).encode("utf-8"), best.encoding
    except Exception:  # noqa: BLE001 - detection is best effort
        pass
    return None


def clean_text(value: str | None) -> str:
    s = _TAG.sub(" ", value or "")
    s = html.unescape(s)
    return _WS.sub(" ", s).strip()


def parse_feed(body: bytes, content_type: str | None = None, url: str = "") -> ParsedFeed:
    headers = {"content-type": content_type} if content_type else {}
    detected = None
    if not _charset(content_type):
        fixed = decode_undeclared(body)
        if fixed is not None:
            body, detected = fixed
            ct = (content_type or "application/xml").split(";")[0]
            headers = {"content-type": f"{ct}; charset=utf-8"}
    try:
        d = feedparser.parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    except Exception as e:  # noqa: BLE001 - feedparser should not raise, but a run must never stop
        return ParsedFeed(ok=False, reason=f"parse error: {type(e).__name__}")
    bozo = str(d.get("bozo_exception") or "")[:200] if d.get("bozo") else None
    feed_title = clean_text(d.feed.get("title")) if d.get("feed") else ""
    entries = [_entry(e) for e in d.entries]
    entries = [e for e in entries if e.title or e.link]
    if not entries:
        return ParsedFeed(ok=False, title=feed_title, reason=bozo or "no entries", encoding=detected or d.get("encoding"))
    jst = detect_jst_midnights(entries)
    if jst:
        for e in entries:
            if e.published is not None:
                e.published = datetime(e.published.year, e.published.month, e.published.day, tzinfo=JST)
    assign_identities(url, entries)
    links = [canonical_url(e.link) for e in entries if e.link]
    shared = {u for u in links if u and links.count(u) > 1}
    return ParsedFeed(ok=True, title=feed_title, entries=entries, reason=bozo, encoding=detected or d.get("encoding"),
                      jst_dates=jst, shared_links=shared)


def _entry(e) -> ParsedEntry:
    title = clean_text(e.get("title"))
    link = (e.get("link") or "").strip() or None
    guid = (e.get("id") or "").strip() or None
    summary = clean_text(e.get("summary") or e.get("description") or "")
    if not summary and e.get("content"):
        summary = clean_text(e["content"][0].get("value"))
    raw = e.get("published") or e.get("updated") or e.get("dc_date")
    parsed = e.get("published_parsed") or e.get("updated_parsed")
    published = None
    if parsed:
        try:
            published = datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)
        except (OverflowError, ValueError, OSError):
            published = None
    return ParsedEntry(title=title[:1000], link=link[:2000] if link else None, guid=guid[:1000] if guid else None,
                       summary=summary[:5000], published=published, raw_date=raw)


def detect_jst_midnights(entries: list[ParsedEntry]) -> bool:
    """True when every dated entry is written as exactly midnight at offset zero (JST dates in disguise)."""
    raws = [e.raw_date.strip() for e in entries if e.raw_date and e.published is not None]
    if not raws:
        return False
    return all(_MIDNIGHT_GMT.search(r) or _ISO_MIDNIGHT.search(r) for r in raws)


def _h(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def assign_identities(feed_url: str, entries: list[ParsedEntry]) -> None:
    """guid when present and unique within the feed; else hash(link + title + published). Scoped by feed URL."""
    guids = [e.guid for e in entries if e.guid]
    dup = {g for g in guids if guids.count(g) > 1}
    for e in entries:
        if e.guid and e.guid not in dup:
            e.identity = _h(feed_url, "guid", e.guid)
        else:
            e.identity = _h(feed_url, "item", e.link or "", e.title, e.published.isoformat() if e.published else "")


def content_hash(title: str, summary: str) -> str:
    return _h(normalize_title(title), clean_text(summary))


_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|mc_|ref$|ref_src$)", re.I)


def canonical_url(url: str | None) -> str | None:
    """Scheme-less, lower-case host, no fragment, no tracking parameters, no trailing slash."""
    if not url:
        return None
    try:
        p = urlsplit(url.strip())
    except ValueError:
        return None
    host = (p.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    port = f":{p.port}" if p.port and p.port not in (80, 443) else ""
    query = urlencode(sorted((k, v) for k, v in parse_qsl(p.query, keep_blank_values=True)
                             if not _TRACKING.match(k)))
    path = p.path.rstrip("/") or ""
    for index in ("/index.html", "/index.htm"):
        if path.endswith(index):
            path = path[: -len(index)]
    return urlunsplit(("", host + port, path, query, ""))[2:] or None


_NON_WORD = re.compile(r"[\W_]+")


def normalize_title(title: str) -> str:
    t = unicodedata.normalize("NFKC", title or "").lower()
    t = re.sub(r"[【\[（(][^】\]）)]{0,20}[】\]）)]", "", t)   # 【報道発表】 (総務省) style prefixes
    return _NON_WORD.sub("", t)


def bigrams(norm: str) -> frozenset[str]:
    if len(norm) < 2:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i:i + 2] for i in range(len(norm) - 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def cut_sentences(text: str, limit: int = 160) -> str:
    """The first sentences (ending in 。！？) within `limit` characters; hard cut with … when none fits."""
    s = clean_text(text)
    if len(s) <= limit:
        return s
    out = ""
    for sent in re.findall(r"[^。！？!?]*[。！？!?]", s):
        if len(out) + len(sent) > limit:
            break
        out += sent
    return out.strip() if out else s[: limit - 1] + "…"


def within(a: datetime | None, b: datetime | None, days: int) -> bool:
    """Whether two dates are at most `days` apart (a feed's date may be naive: it is taken as UTC)."""
    a, b = as_utc(a), as_utc(b)
    if a is None or b is None:
        return True
    return abs(a - b) <= timedelta(days=days)
