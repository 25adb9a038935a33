"""Client of the e-Gov 法令API Version 2 (https://laws.e-gov.go.jp/api/2, no key).

Three calls, shaped after the published OpenAPI document (lawapi-v2.yaml, v2.1.x):

* ``GET /keyword``  → ``{total_count, sentence_count, next_offset, items[{law_info, revision_info,
  sentences[{position, text}]}]}``; ``position`` is an ``elm`` path such as
  ``MainProvision-Article_21-Paragraph_3`` and ``text`` carries the hit wrapped in ``<span>`` (``highlight_tag``).
* ``GET /laws``     → ``{total_count, count, next_offset, laws[{law_info, revision_info, current_revision_info}]}``.
* ``GET /law_data/{law_id}?elm=…`` → ``{attached_files_info, law_info, revision_info, law_full_text}``; with
  ``response_format=json`` the body is a ``{tag, attr, children}`` tree (children are nodes or strings). With
  ``elm`` the tree's root is the selected element (e.g. ``Article``); without it, ``Law``.

Successful answers are cached in-process for LAW_CACHE_SECONDS, keyed by the request (path + query). Timeouts,
connection failures, HTTP errors and malformed bodies raise `LawError` whose ``message_ja`` can be shown as is.

People get links to the e-Gov page of the law, ``https://laws.e-gov.go.jp/law/{law_id}``, with an article anchor
``#Mp-At_709`` for articles of the main provision (the anchor form e-Gov法令検索 uses for 本則の条)."""
from __future__ import annotations

import asyncio
import html
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from core.cache import TTLCache
from core.settings import AppSettings

log = logging.getLogger(__name__)


class LawSettings(AppSettings):
    section = "law"
    EGOV_LAW_API_BASE: str = "https://laws.e-gov.go.jp/api/2"
    """Base URL of the e-Gov 法令API Version 2 (no key needed)."""
    EGOV_LAW_PAGE_BASE: str = "https://laws.e-gov.go.jp/law"
    """Base URL of the human-readable law pages linked in answers ({base}/{law_id}#Mp-At_N)."""
    LAW_TIMEOUT_SECONDS: float = 10.0
    """Timeout of one e-Gov 法令API request (seconds)."""
    LAW_CACHE_SECONDS: int = 86400
    """How long e-Gov answers are kept in the in-process cache (seconds); 0 disables the cache."""


LAW_ERROR_JA = {
    "timeout": "法令検索サービスが応答しませんでした。時間をおいて再度お試しください。",
    "unavailable": "法令検索サービスに接続できませんでした。時間をおいて再度お試しください。",
    "server": "法令検索サービスでエラーが発生しました。時間をおいて再度お試しください。",
    "not_found": "指定された法令または条文が見つかりませんでした。法令名や条番号をご確認ください。",
    "bad_request": "検索条件が正しくありません。キーワードや条番号を見直してください。",
    "busy": "法令検索サービスが混み合っているか、一時的に停止しています。時間をおいて再度お試しください。",
    "bad_response": "法令検索サービスから想定外の応答がありました。時間をおいて再度お試しください。",
    "invalid_input": "検索するキーワードを入力してください。",
}


class LawError(Exception):
    """A failed e-Gov call. ``kind`` is one of LAW_ERROR_JA's keys; ``message_ja`` is safe to show to staff."""

    def __init__(self, kind: str, message_ja: str | None = None, *, status: int | None = None,
                 code: str | None = None) -> None:
        self.kind = kind
        self.message_ja = message_ja or LAW_ERROR_JA.get(kind, LAW_ERROR_JA["server"])
        self.status = status
        self.code = code
        self.retry_after: float | None = None     # "busy": seconds the service asked to wait, when short
        super().__init__(f"{kind} (status={status}, code={code})")


@dataclass(frozen=True)
class LawHit:
    """One sentence that matched a keyword search."""
    law_id: str
    law_num: str
    law_title: str
    article: str | None      # 第七百九条 / 附則第一条; None when the hit is not inside an article
    elm: str | None          # MainProvision-Article_709 (article level, usable with `LawClient.article`)
    excerpt: str             # the matched sentence, highlight tags stripped
    url: str                 # e-Gov page for people (article anchor when known)
    position: str = ""       # the API's raw position (e.g. MainProvision-Article_709-Paragraph_1)


@dataclass(frozen=True)
class LawInfo:
    """One law from the title search."""
    law_id: str
    law_num: str
    law_title: str
    law_type: str = ""
    abbrev: str = ""
    category: str = ""
    promulgation_date: str = ""
    law_revision_id: str = ""
    url: str = ""


@dataclass(frozen=True)
class LawArticle:
    """An article (or other element) flattened to readable text."""
    law_title: str
    article_title: str       # 第二条 ("" when the element is not an article)
    caption: str             # （個人情報の保有の制限等） or ""
    text: str                # 第二条　… / ２　… / 　一　… (one line per paragraph and item)
    url: str
    law_id: str = ""
    elm: str = ""


# --------------------------------------------------------------------------------------------- numbers and elm

_KANJI_DIGITS = "〇一二三四五六七八九"
_KANJI_VALUES = {c: i for i, c in enumerate(_KANJI_DIGITS)} | {"零": 0}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}


def kanji_number(n: int) -> str:
    """7 → 七, 709 → 七百九, 1010 → 千十 (the style of Japanese statute numbering; 1 ≤ n ≤ 9999)."""
    if n <= 0 or n > 9999:
        return str(n)
    out = []
    for unit, value in (("千", 1000), ("百", 100), ("十", 10)):
        digit, n = divmod(n, value)
        if digit:
            out.append(("" if digit == 1 else _KANJI_DIGITS[digit]) + unit)
    if n:
        out.append(_KANJI_DIGITS[n])
    return "".join(out)


def _parse_kanji_number(text: str) -> int | None:
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if all(c in _KANJI_VALUES for c in text):      # 一〇 style
        return int("".join(str(_KANJI_VALUES[c]) for c in text))
    total, digit = 0, None
    for c in text:
        if c in _KANJI_VALUES:
            digit = _KANJI_VALUES[c]
        elif c in _KANJI_UNITS:
            total += (1 if digit is None else digit) * _KANJI_UNITS[c]
            digit = None
        else:
            return None
    return total + (digit or 0)


def article_label(num: str) -> str:
    """Article ``Num`` attribute → label: "709" → 第七百九条, "9_2" → 第九条の二, "2:3" (range) → 第二条から第三条まで."""
    if ":" in num:
        first, last = num.split(":", 1)
        return f"{article_label(first)}から{article_label(last)}まで"
    parts = num.split("_")
    try:
        label = f"第{kanji_number(int(parts[0]))}条"
        return label + "".join(f"の{kanji_number(int(p))}" for p in parts[1:])
    except ValueError:
        return f"第{num}条"


_ARTICLE_REF = re.compile(r"^第?\s*([0-9０-９〇一二三四五六七八九十百千]+)\s*条?((?:\s*の\s*[0-9０-９〇一二三四五六七八九十百千]+)*)$")


def article_elm(ref: str | int) -> str | None:
    """A person's article reference → ``elm`` for the main provision.

    709 / "709" / "第709条" / "第七百九条" → MainProvision-Article_709; "第九条の二" / "9の2" → MainProvision-Article_9_2.
    Returns None when the reference cannot be read."""
    if isinstance(ref, int):
        return f"MainProvision-Article_{ref}" if ref > 0 else None
    text = ref.strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    m = _ARTICLE_REF.match(text)
    if not m:
        return None
    nums = [_parse_kanji_number(m.group(1))]
    nums += [_parse_kanji_number(p.strip()) for p in re.findall(r"の\s*([0-9〇一二三四五六七八九十百千]+)", m.group(2))]
    if any(n is None or n <= 0 for n in nums):
        return None
    return "MainProvision-Article_" + "_".join(str(n) for n in nums)


_ARTICLE_SEGMENT = re.compile(r"^Article_(\d+(?:_\d+)*)$")


def split_position(position: str) -> tuple[str | None, str | None]:
    """``MainProvision-Article_709-Paragraph_1`` → (``MainProvision-Article_709``, 第七百九条).

    Hits outside an article (e.g. ``amendsupplprovision``) give (None, None). Hits in 附則 get a 附則 prefix."""
    segments = position.split("-") if position else []
    for i, seg in enumerate(segments):
        m = _ARTICLE_SEGMENT.match(seg)
        if m:
            elm = "-".join(segments[: i + 1])
            label = article_label(m.group(1))
            if segments[0].startswith("SupplProvision"):
                label = "附則" + label
            return elm, label
    return None, None


def _anchor(elm: str | None) -> str:
    """e-Gov page anchor for an article of the main provision: MainProvision-Article_709 → Mp-At_709."""
    if not elm:
        return ""
    m = re.fullmatch(r"MainProvision-Article_(\d+(?:_\d+)*)", elm)
    return f"Mp-At_{m.group(1)}" if m else ""


# ------------------------------------------------------------------------------------------------ flattening

_TAG = re.compile(r"<[^>]+>")
_NEWLINE_WS = re.compile(r"\s*\n\s*")


def strip_tags(text: str) -> str:
    """Remove highlight tags (``<span>…</span>`` or any ``highlight_tag``) and unescape entities."""
    return html.unescape(_TAG.sub("", text or "")).strip()


def _children(node: Any) -> list:
    if isinstance(node, dict):
        children = node.get("children")
        return children if isinstance(children, list) else []
    return []


def _tag(node: Any) -> str:
    return node.get("tag", "") if isinstance(node, dict) else ""


def node_text(node: Any) -> str:
    """All text under a node, in order; ruby readings (Rt) dropped, layout whitespace removed."""
    if isinstance(node, str):
        return _NEWLINE_WS.sub("", node)
    if not isinstance(node, dict) or _tag(node) == "Rt":
        return ""
    parts: list[str] = []
    for child in _children(node):
        if _tag(child) == "Column" and parts:
            parts.append("　")
        parts.append(node_text(child))
    return "".join(parts)


def _child(node: Any, tag: str) -> Any:
    for child in _children(node):
        if _tag(child) == tag:
            return child
    return None


_ITEM_TAGS = {"Item"} | {f"Subitem{i}" for i in range(1, 11)}
_TITLE_TAGS = {"ItemTitle"} | {f"Subitem{i}Title" for i in range(1, 11)}
_SENTENCE_TAGS = {"ItemSentence"} | {f"Subitem{i}Sentence" for i in range(1, 11)}


def _render_item(node: dict, depth: int, lines: list[str]) -> None:
    title, sentence = "", ""
    rest = []
    for child in _children(node):
        tag = _tag(child)
        if tag in _TITLE_TAGS:
            title = node_text(child).strip()
        elif tag in _SENTENCE_TAGS:
            sentence = node_text(child).strip()
        else:
            rest.append(child)
    lines.append("　" * depth + "　".join(p for p in (title, sentence) if p))
    for child in rest:
        _render_block(child, depth + 1, lines)


def _render_paragraph(node: dict, depth: int, lines: list[str], lead: str = "") -> None:
    num, sentence, caption = "", "", ""
    rest = []
    for child in _children(node):
        tag = _tag(child)
        if tag == "ParagraphNum":
            num = node_text(child).strip()
        elif tag == "ParagraphSentence":
            sentence = node_text(child).strip()
        elif tag == "ParagraphCaption":
            caption = node_text(child).strip()
        else:
            rest.append(child)
    if caption:
        lines.append("　" * depth + caption)
    prefix = lead or num
    lines.append("　" * depth + "　".join(p for p in (prefix, sentence) if p))
    for child in rest:
        _render_block(child, depth + 1, lines)


def _render_article(node: dict, depth: int, lines: list[str]) -> tuple[str, str]:
    title = node_text(_child(node, "ArticleTitle") or "").strip()
    caption = node_text(_child(node, "ArticleCaption") or "").strip()
    first = True
    for child in _children(node):
        tag = _tag(child)
        if tag in ("ArticleTitle", "ArticleCaption"):
            continue
        if tag == "Paragraph":
            _render_paragraph(child, depth, lines, lead=title if first else "")
            first = False
        else:
            _render_block(child, depth, lines)
    if first and title:           # an article without paragraphs (e.g. 削除)
        lines.insert(0, title)
    return title, caption


def _render_block(node: Any, depth: int, lines: list[str]) -> None:
    tag = _tag(node)
    if isinstance(node, str):
        text = node_text(node).strip()
        if text:
            lines.append("　" * depth + text)
    elif tag == "Article":
        _render_article(node, depth, lines)
    elif tag == "Paragraph":
        _render_paragraph(node, depth, lines)
    elif tag in _ITEM_TAGS:
        _render_item(node, depth, lines)
    elif tag in ("TableStruct", "Table"):
        for row in _iter_tag(node, "TableRow"):
            cells = [node_text(c).strip() for c in _children(row) if _tag(c) == "TableColumn"]
            lines.append("　" * depth + " | ".join(cells))
    elif tag == "Rt":
        return
    else:
        block_children = [c for c in _children(node) if isinstance(c, dict) and _tag(c) not in ("Sentence", "Ruby", "Line", "Sup", "Sub")]
        if block_children:
            for child in _children(node):
                _render_block(child, depth, lines)
        else:
            text = node_text(node).strip()
            if text:
                lines.append("　" * depth + text)


def _iter_tag(node: Any, tag: str):
    if not isinstance(node, dict):
        return
    if _tag(node) == tag:
        yield node
        return
    for child in _children(node):
        yield from _iter_tag(child, tag)


def _find_article(node: Any, num: str | None) -> Any:
    for article in _iter_tag(node, "Article"):
        attr = article.get("attr") if isinstance(article.get("attr"), dict) else {}
        if num is None or attr.get("Num") == num:
            return article
    return None


def flatten_element(root: Any, elm: str | None = None) -> tuple[str, str, str]:
    """Flatten a ``law_full_text`` tree (or the element ``elm`` selected) → (article_title, caption, text)."""
    target = root
    if _tag(root) != "Article":
        num = None
        if elm:
            m = re.search(r"Article_(\d+(?:_\d+)*)$", elm)
            num = m.group(1) if m else None
        if _tag(root) == "Law" and num is not None:
            target = _find_article(root, num) or root
    lines: list[str] = []
    title, caption = "", ""
    if _tag(target) == "Article":
        title, caption = _render_article(target, 0, lines)
    else:
        _render_block(target, 0, lines)
    return title, caption, "\n".join(line for line in lines if line.strip())


# --------------------------------------------------------------------------------------------------- the client

class LawClient:
    """e-Gov 法令API v2 client. Keep one per process (its cache lives in it); close() when you created no session."""

    def __init__(self, settings: LawSettings | None = None, session: aiohttp.ClientSession | None = None) -> None:
        self.settings = settings or LawSettings()
        self._session = session
        self._own_session = session is None
        self.cache: TTLCache[tuple, Any] = TTLCache(float(self.settings.LAW_CACHE_SECONDS), max_entries=512)

    @property
    def base_url(self) -> str:
        return self.settings.EGOV_LAW_API_BASE.rstrip("/")

    def law_url(self, law_id: str, elm: str | None = None) -> str:
        """The e-Gov page of a law for people, with the article anchor when ``elm`` is a main-provision article."""
        url = f"{self.settings.EGOV_LAW_PAGE_BASE.rstrip('/')}/{quote(law_id)}"
        anchor = _anchor(elm)
        return f"{url}#{anchor}" if anchor else url

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> "LawClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ------------------------------------------------------------------------------------------- public calls

    async def keyword_search(self, keyword: str, limit: int = 10) -> list[LawHit]:
        """Full-text search of all laws; one `LawHit` per matching sentence, at most ``limit``."""
        keyword = (keyword or "").strip()
        if not keyword:
            raise LawError("invalid_input")
        limit = max(1, min(int(limit), 100))
        # The API's `limit` counts sentences before `sentences_limit` trims each law to 3, so ask for more than
        # we show: several laws can then appear and we still fill `limit` hits when one law dominates.
        data = await self._get("/keyword", {
            "keyword": keyword, "limit": str(min(limit * 3, 1000)), "sentences_limit": str(min(limit, 3)),
            "sentence_text_size": "200", "response_format": "json"})
        items = data.get("items")
        if not isinstance(items, list):
            raise LawError("bad_response")
        hits: list[LawHit] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            law_info = item.get("law_info") or {}
            revision = item.get("revision_info") or {}
            law_id = str(law_info.get("law_id") or "")
            if not law_id:
                continue
            for sentence in item.get("sentences") or []:
                if not isinstance(sentence, dict):
                    continue
                position = str(sentence.get("position") or "")
                elm, article = split_position(position)
                hits.append(LawHit(
                    law_id=law_id, law_num=str(law_info.get("law_num") or ""),
                    law_title=str(revision.get("law_title") or ""), article=article, elm=elm,
                    excerpt=strip_tags(str(sentence.get("text") or "")), url=self.law_url(law_id, elm),
                    position=position))
                if len(hits) >= limit:
                    return hits
        return hits

    async def search_titles(self, title: str, limit: int = 10) -> list[LawInfo]:
        """Laws whose title or abbreviation contains ``title`` (current revision's title)."""
        title = (title or "").strip()
        if not title:
            raise LawError("invalid_input", "法令名を入力してください。")
        limit = max(1, min(int(limit), 100))
        data = await self._get("/laws", {"law_title": title, "limit": str(limit), "response_format": "json"})
        laws = data.get("laws")
        if not isinstance(laws, list):
            raise LawError("bad_response")
        out = []
        for row in laws[:limit]:
            if not isinstance(row, dict):
                continue
            info = row.get("law_info") or {}
            revision = row.get("current_revision_info") or row.get("revision_info") or {}
            law_id = str(info.get("law_id") or "")
            if not law_id:
                continue
            out.append(LawInfo(
                law_id=law_id, law_num=str(info.get("law_num") or ""),
                law_title=str(revision.get("law_title") or ""), law_type=str(info.get("law_type") or ""),
                abbrev=str(revision.get("abbrev") or ""), category=str(revision.get("category") or ""),
                promulgation_date=str(info.get("promulgation_date") or ""),
                law_revision_id=str(revision.get("law_revision_id") or ""), url=self.law_url(law_id)))
        return out

    async def article(self, law_id: str, elm: str) -> LawArticle:
        """One element (usually ``MainProvision-Article_N``) of a law, flattened to text."""
        law_id = (law_id or "").strip()
        elm = (elm or "").strip()
        if not law_id or not elm:
            raise LawError("invalid_input", "法令と条番号を指定してください。")
        data = await self._get(f"/law_data/{quote(law_id, safe='')}", {"elm": elm, "response_format": "json"})
        tree = data.get("law_full_text")
        if not isinstance(tree, dict):
            raise LawError("bad_response")
        revision = data.get("revision_info") or {}
        info = data.get("law_info") or {}
        real_id = str(info.get("law_id") or law_id)
        title, caption, text = flatten_element(tree, elm)
        if not text:
            raise LawError("not_found")
        return LawArticle(law_title=str(revision.get("law_title") or ""), article_title=title, caption=caption,
                          text=text, url=self.law_url(real_id, elm), law_id=real_id, elm=elm)

    # ------------------------------------------------------------------------------------------------ plumbing

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def _get(self, path: str, params: dict[str, str]) -> dict:
        key = (self.base_url, path, tuple(sorted(params.items())))
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        try:
            data = await self._get_once(path, params)
        except LawError as e:
            if e.kind != "busy" or e.retry_after is None:
                raise
            # 429 / 503: the service asks to come back later. One retry (GET, nothing changes) when it is soon.
            await asyncio.sleep(e.retry_after)
            data = await self._get_once(path, params)
        self.cache.put(key, data)
        return data

    async def _get_once(self, path: str, params: dict[str, str]) -> dict:
        url = self.base_url + path
        timeout = aiohttp.ClientTimeout(total=self.settings.LAW_TIMEOUT_SECONDS)
        try:
            async with self._http().get(url, params=params, timeout=timeout,
                                        headers={"Accept": "application/json"}) as resp:
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
                body = await resp.read()
        except asyncio.TimeoutError as exc:
            log.warning("e-Gov law API timeout: %s", path)
            raise LawError("timeout") from exc
        except aiohttp.ClientError as exc:
            log.warning("e-Gov law API unreachable: %s (%s)", path, type(exc).__name__)
            raise LawError("unavailable") from exc
        data = _json(body)
        if status != 200:
            code = str(data.get("code")) if isinstance(data, dict) and data.get("code") else None
            log.warning("e-Gov law API HTTP %s on %s (code=%s)", status, path, code)
            if status in (429, 503):
                # busy or briefly down: never "check your keywords" (a 429 used to be taken for a bad request)
                err = LawError("busy", status=status, code=code)
                err.retry_after = _retry_after(retry_after, RETRY_AFTER_MAX)
                raise err
            if status == 404:
                raise LawError("not_found", status=status, code=code)
            if 400 <= status < 500:
                raise LawError("bad_request", status=status, code=code)
            raise LawError("server", status=status, code=code)
        if not isinstance(data, dict):
            raise LawError("bad_response", status=status)
        return data


RETRY_AFTER_MAX = 5.0    # seconds: a longer Retry-After is not waited for inside a chat turn


def _retry_after(value: str | None, limit: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds; a missing value means 1 s), None when longer than
    `limit` or unreadable (an HTTP date is not waited for)."""
    if value is None:
        return 1.0
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds) if seconds <= limit else None


def _json(body: bytes) -> Any:
    import json

    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
