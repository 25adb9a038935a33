"""Law lookup shared by every skill that cites law (/law, drafting's 根拠法令, planning's legal basis).

One `LawClient` per process, `services.law`, so its cache is shared by every caller.

    hits = await find_law(services.law, "個人情報 利用目的", limit=3)   # keyword search
    hits = await find_law(services.law, "地方自治法第2条")              # a law title + article opens that article

`find_law` never raises for e-Gov trouble (timeouts, 5xx, not found): it logs and returns [] so that a caller's
main work goes on; pass ``strict=True`` to get the `LawError` (its ``message_ja`` can be shown as is)."""
from __future__ import annotations

import logging
import re
import unicodedata

from core.law.client import LawArticle, LawClient, LawError, LawHit, LawInfo, article_elm

log = logging.getLogger(__name__)

_NUM = r"[0-9０-９〇一二三四五六七八九十百千]+"
_REFERENCE = re.compile(
    rf"^(?P<title>.*?[^\s第])\s*(?P<article>第?\s*{_NUM}\s*条(?:\s*の\s*{_NUM})*)"
    rf"(?:\s*第?\s*{_NUM}\s*項)?(?:\s*第?\s*{_NUM}\s*号)?\s*$")


def parse_reference(text: str) -> tuple[str, str] | None:
    """「個人情報保護法 第69条」「地方自治法第2条第1項」「民法709条」 → (law title, elm); None when the text is not
    a law title followed by an article number (then it is a keyword search)."""
    t = unicodedata.normalize("NFKC", text or "").strip()
    # NFKC turns full-width digits into ASCII; keep kanji numerals as they are.
    m = _REFERENCE.match(t)
    if not m:
        return None
    title = m.group("title").strip(" 　・,、")
    if not title or re.fullmatch(r"[0-9\s]+", title):
        return None
    elm = article_elm(re.sub(r"\s+", "", m.group("article")))
    if elm is None:
        return None
    return title, elm


def best_title_match(title: str, laws: list[LawInfo]) -> LawInfo | None:
    """The law a person most likely meant: exact title, exact abbreviation, then the shortest title containing it."""
    if not laws:
        return None
    key = unicodedata.normalize("NFKC", title).strip()
    for law in laws:
        if unicodedata.normalize("NFKC", law.law_title) == key:
            return law
    for law in laws:
        abbrevs = [a.strip() for a in re.split(r"[,、，]", law.abbrev or "") if a.strip()]
        if key in (unicodedata.normalize("NFKC", a) for a in abbrevs):
            return law
    containing = [law for law in laws if key in unicodedata.normalize("NFKC", law.law_title)]
    return min(containing or laws, key=lambda law: len(law.law_title))


async def open_reference(client: LawClient, title: str, elm: str) -> LawArticle:
    """Title search, then the article. Raises LawError("not_found") when no law has that title."""
    laws = await client.search_titles(title, limit=10)
    law = best_title_match(title, laws)
    if law is None:
        raise LawError("not_found", f"「{title}」という法令は見つかりませんでした。法令名（略称も可）をご確認ください。")
    return await client.article(law.law_id, elm)


def article_as_hit(article: LawArticle) -> LawHit:
    return LawHit(law_id=article.law_id, law_num="", law_title=article.law_title, article=article.article_title or None,
                  elm=article.elm or None, excerpt=article.text[:400], url=article.url, position=article.elm)


async def find_law(client: LawClient, query: str, limit: int = 3, *, strict: bool = False) -> list[LawHit]:
    """Law passages for ``query``: a keyword search, or the article itself when the query names a law and an
    article (「地方自治法第2条」). Returns [] on e-Gov trouble unless ``strict``."""
    query = (query or "").strip()
    if not query:
        return []
    try:
        ref = parse_reference(query)
        if ref is not None:
            try:
                return [article_as_hit(await open_reference(client, *ref))]
            except LawError as e:
                if e.kind != "not_found":
                    raise
                # not a known law title after all: fall back to a full-text search
        return await client.keyword_search(query, limit=max(1, limit))
    except LawError as e:
        log.warning("law search for a tool call failed: %s", e.kind)
        if strict:
            raise
        return []
