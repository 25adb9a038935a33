"""/law: keyword search over e-Gov 法令API v2, or a law title + article opened directly; 「条文を表示」 opens one.

Law search is not an AI use: nothing is generated, so no AI label and no usage event (it works the same with or
without an LLM configured, as long as the e-Gov API is reachable)."""
from __future__ import annotations

import logging
import re
from typing import Annotated

from pydantic import Field

from cards import law as law_cards
from core.carddata import CardData, Name
from core.law import LawError
from core.law.lookup import open_reference, parse_reference
from core.services import Services
from core.skills import ReplyPort, SkillRequest, Verb
from skills.law import strings
from skills.law.settings import LawSkillSettings

log = logging.getLogger(__name__)


_REQUEST_WORDS = re.compile(
    r"(について|に関する|の|を)?(条文|法令|法律|条例)?(を)?(検索|表示|確認)?(して|したい|する)?(ください|下さい|ほしい|欲しい)?"
    r"(教えて|見せて|調べて|知りたい)?(ください|下さい)?[。．.!！?？]*$")


def free_text_query(text: str) -> str:
    """Free text routed here (「個人情報保護法の第69条を見せて」) → a query (「個人情報保護法 第69条」)."""
    q = " ".join((text or "").split())
    q = re.sub(r"^(法令検索|法令|条文)[:：\s]*", "", q)
    q = _REQUEST_WORDS.sub("", q).strip()
    q = re.sub(r"の(第?[0-9０-９〇一二三四五六七八九十百千]+条)", r" \1", q)
    return q or (text or "").strip()


async def handle(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    """/law <query>, or free text routed here."""
    try:
        await _search(req.text if req.command else free_text_query(req.text), req, reply, services)
    except LawError as e:
        await reply.send_text(e.message_ja)


class ArticleData(CardData):
    law_id: Annotated[str, Field(min_length=1, max_length=100)]
    elm: Annotated[str, Field(min_length=1, max_length=200)]
    q: Name = ""


class SearchData(CardData):
    q: Name = ""


async def on_article(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    try:
        await _article(req, reply, services)
    except LawError as e:
        await reply.send_text(e.message_ja)


async def on_search(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    try:
        await _search(str(req.data.get("q") or ""), req, reply, services)
    except LawError as e:
        await reply.send_text(e.message_ja)


VERBS = {law_cards.ARTICLE_VERB: Verb(on_article, ArticleData), law_cards.SEARCH_VERB: Verb(on_search, SearchData)}


async def _search(query: str, req: SkillRequest, reply: ReplyPort, services) -> None:
    query = " ".join((query or "").split())
    if not query:
        await reply.send_text(strings.USAGE)
        return
    client = services.law
    ref = parse_reference(query)
    if ref is not None:
        title, elm = ref
        try:
            article = await open_reference(client, title, elm)
        except LawError as e:
            if e.kind != "not_found":
                raise
            log.info("law reference not found, falling back to keyword search")
        else:
            await _show(reply, req, law_cards.article_card(article))
            return
    limit = max(1, min(20, services.settings.get(LawSkillSettings).LAW_RESULTS))
    hits = await client.keyword_search(query, limit=limit)
    if not hits:
        await reply.send_text(strings.NO_HITS.format(query=query))
        return
    await _show(reply, req, law_cards.results_card(query, hits))


async def _article(req: SkillRequest, reply: ReplyPort, services) -> None:
    law_id = str(req.data.get("law_id") or "").strip()
    elm = str(req.data.get("elm") or "").strip()
    if not law_id or not elm:
        await reply.send_text(strings.BAD_ACTION)
        return
    article = await services.law.article(law_id, elm)
    await _show(reply, req, law_cards.article_card(article, query=str(req.data.get("q") or "")))


async def _show(reply: ReplyPort, req: SkillRequest, card: dict) -> None:
    """Card actions replace the card they came from; typed commands get a new message."""
    if req.is_invoke:
        await reply.refresh_card(card)
    else:
        await reply.send_card(card)
