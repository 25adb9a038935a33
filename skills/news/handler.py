"""/news and its sub-commands, and the digest cards' actions (news.like / news.dislike / news.settings.save)."""
from __future__ import annotations

import logging
import unicodedata
from datetime import date
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from cards import news as news_cards
from cards.news import digest_card, settings_card, sources_card
from core.carddata import CardData, RowId
from core.skills import Verb
from core.store.models import Feedback
from skills.news import strings as S
from skills.news.digest import Digest, RankedItem, delivered_recently, learn
from skills.news.fetch import AddressPolicy, FetchRefused, check_url
from skills.news.models import NewsItem, NewsProfile, NewsSource
from skills.news.profiles import MAX_PERSONAL_SOURCES, get_or_create, parse_keywords, parse_time, valid_mail
from skills.news.schedule import deliverer_of

log = logging.getLogger(__name__)

PAUSE = {"一時停止", "停止", "pause", "stop", "休止"}
RESUME = {"再開", "resume", "start"}
SETTINGS = {"設定", "settings", "setting", "config"}
SOURCES = {"sources", "source", "情報源", "ソース"}
ADD = {"add", "追加"}
REMOVE = {"remove", "削除", "del"}
HELP = {"help", "ヘルプ", "使い方"}


async def handle(req, reply, services) -> None:
    """/news [設定|一時停止|再開|sources|add|remove] and free text."""
    text = unicodedata.normalize("NFKC", req.text or "").strip() if req.command else ""
    head, _, rest = text.partition(" ")
    word = head.lower()
    if not text:
        return await show_digest(req, reply, services)
    if word in PAUSE or word in RESUME:
        return await _pause(req, reply, services, paused=word in PAUSE)
    if word in SETTINGS:
        return await _settings(req, reply, services)
    if word in SOURCES:
        return await _sources(req, reply, services)
    if word in ADD:
        return await _add(req, reply, services, rest.strip())
    if word in REMOVE:
        return await _remove(req, reply, services, rest.strip())
    if word in HELP:
        return await reply.send_text(S.USAGE)
    await reply.send_text(S.UNKNOWN.format(text=text[:40]))


async def show_digest(req, reply, services) -> None:
    """Today's digest now, for the asking user (fetches first when the last cycle is old)."""
    d = deliverer_of(services)
    profile = await get_or_create(services, req, d.s)
    if await d.engine.cycle_due():
        await reply.inform(S.FETCHING)
        try:
            await d.engine.run_cycle()
        except Exception:  # noqa: BLE001 - show what is stored
            log.exception("fetch cycle failed (on demand)")
    today = services.clock.now_jst().date()
    corpus = await d.corpus()
    seen = await delivered_recently(services.db, [req.user_id], today, d.s.NEWS_WINDOW_DAYS)
    digest = d.build(corpus, profile, req.user_id, today, seen.get(req.user_id, set()))
    card = digest_card(digest, user_name=req.user_name, paused=profile.paused)
    # One staff use per digest read. The summaries in it were made in the background (audited as "system:news",
    # which the KPI does not count), so reading them is the use, with or without an LLM configured.
    await services.ai.record_offline(req, "news", outcome="ok" if digest.ai_used else "offline")
    if not digest.items:
        total, failed = await d.engine.source_health()
        if failed:        # not "no news": the sources could not be read (no network, a feed gone…)
            return await reply.send_text(S.ALL_SOURCES_FAILED.format(total=total) if failed == total
                                         else S.SOME_SOURCES_FAILED.format(total=total, failed=failed))
    await reply.send_card(card, ai_generated=digest.ai_used, feedback=digest.ai_used)


async def _pause(req, reply, services, *, paused: bool) -> None:
    d = deliverer_of(services)
    await get_or_create(services, req, d.s)
    async with services.db.session() as s:
        p = await s.get(NewsProfile, req.user_id)
        p.paused = paused
        at = p.delivery_time
    await reply.send_text(S.PAUSED if paused else S.RESUMED.format(time=at))


async def _known_tags(services, d) -> list[str]:
    tags: list[str] = []
    for spec in d.engine.config.current():
        for t in spec.tags:
            if t not in tags:
                tags.append(t)
    return tags


async def _settings(req, reply, services, *, message: str | None = None, error: str | None = None) -> None:
    d = deliverer_of(services)
    profile = await get_or_create(services, req, d.s)
    mail_ok = bool(d.s.NEWS_MAIL_SENDER and services.graph is not None)
    card = settings_card(profile, known_tags=await _known_tags(services, d), mail_available=mail_ok,
                         message=message, error=error)
    if req.is_invoke:
        await reply.refresh_card(card)
    else:
        await reply.send_card(card)


async def _save_settings(req, reply, services) -> None:
    d = deliverer_of(services)
    await get_or_create(services, req, d.s)
    data = req.data or {}
    at = parse_time(str(data.get("delivery_time") or d.s.NEWS_DEFAULT_TIME))
    if at is None:
        return await _settings(req, reply, services, error=S.SETTINGS_BAD_TIME)
    mail_address = str(data.get("mail_address") or "").strip()
    if mail_address and not valid_mail(mail_address):
        return await _settings(req, reply, services, error=S.SETTINGS_BAD_MAIL)
    known = set(await _known_tags(services, d))
    tags = [t for t in str(data.get("tags") or "").split(",") if t.strip() and t in known]
    async with services.db.session() as s:
        p = await s.get(NewsProfile, req.user_id)
        p.keywords = parse_keywords(str(data.get("keywords") or ""))
        p.tags = tags
        p.delivery_time = at
        p.department = str(data.get("department") or "").strip()[:200] or None
        p.job_title = str(data.get("job_title") or "").strip()[:200] or None
        if "mail" in data:
            p.mail = str(data.get("mail")).lower() == "true"
        if "mail_address" in data:
            p.mail_address = mail_address or None
        p.paused = str(data.get("paused")).lower() == "true"
    await _settings(req, reply, services, message=S.SETTINGS_SAVED)


async def _sources(req, reply, services) -> None:
    d = deliverer_of(services)
    profile = await get_or_create(services, req, d.s)
    await d.engine.sync_sources()
    async with services.db.session() as s:
        rows = (await s.execute(select(NewsSource).order_by(NewsSource.id))).scalars().all()
    mine = set(profile.sources or [])
    shown = [r for r in rows if (r.origin == "config" and r.active) or (r.origin == "user" and r.url in mine)]
    await reply.send_card(sources_card(shown, reason_ja=S.reason_ja, config_error=d.engine.config.error))


async def _add(req, reply, services, url: str) -> None:
    d = deliverer_of(services)
    url = url.strip("<>「」\"' ")
    if not url:
        return await reply.send_text(S.ADD_USAGE)
    profile = await get_or_create(services, req, d.s)
    if url in (profile.sources or []):
        return await reply.send_text(S.ADD_DUP)
    if len(profile.sources or []) >= MAX_PERSONAL_SOURCES:
        return await reply.send_text(S.ADD_LIMIT.format(n=MAX_PERSONAL_SOURCES))
    try:
        await check_url(url, AddressPolicy(d.s.allowlist()))
    except FetchRefused as e:
        return await reply.send_text(S.ADD_FAILED.format(reason=S.reason_ja(e.reason, e.detail)))
    await reply.inform(S.ADD_CHECKING)
    ok, title, n, code, detail = await d.engine.validate_feed(url)
    if not ok:
        return await reply.send_text(S.ADD_FAILED.format(reason=S.reason_ja(code, detail)))
    await d.engine.add_user_source(url, title or url)
    async with services.db.session() as s:
        p = await s.get(NewsProfile, req.user_id)
        p.sources = [*(p.sources or []), url]
    await reply.send_text(S.ADD_OK.format(title=title or url, n=n))


async def _remove(req, reply, services, url: str) -> None:
    d = deliverer_of(services)
    await get_or_create(services, req, d.s)
    url = url.strip("<>「」\"' ")
    async with services.db.session() as s:
        p = await s.get(NewsProfile, req.user_id)
        if url not in (p.sources or []):
            return await reply.send_text(S.REMOVE_NONE)
        p.sources = [u for u in p.sources if u != url]
    await reply.send_text(S.REMOVE_OK.format(url=url))


class ItemReaction(CardData):
    item: RowId
    items: Annotated[list[RowId], Field(max_length=50)] = []
    day: Annotated[str, Field(max_length=10)] = ""


async def on_like(req, reply, services) -> None:
    await _feedback(req, reply, services, like=True)


async def on_dislike(req, reply, services) -> None:
    await _feedback(req, reply, services, like=False)


VERBS = {
    news_cards.SAVE_SETTINGS_VERB: Verb(lambda req, reply, services: _save_settings(req, reply, services)),
    news_cards.LIKE_VERB: Verb(on_like, ItemReaction),
    news_cards.DISLIKE_VERB: Verb(on_dislike, ItemReaction),
}


def _int(v) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError, OverflowError):
        return None


async def _feedback(req, reply, services, *, like: bool) -> None:
    """👍/👎 on a digest item: learn from the item's terms, record the feedback, mark the item on the card."""
    d = deliverer_of(services)
    item_id = _int((req.data or {}).get("item"))
    async with services.db.session() as s:
        item = await s.get(NewsItem, item_id) if item_id is not None else None
    if item is None:
        return await reply.send_text(S.FEEDBACK_BAD)
    await get_or_create(services, req, d.s)
    async with services.db.session() as s:
        p = await s.get(NewsProfile, req.user_id)
        p.term_weights = learn(p.term_weights or {}, item.terms or [], like)
        user_tags = set(p.tags or [])
        s.add(Feedback(user_id=req.user_id, aad_object_id=req.aad_object_id, conversation_id=req.conversation_id,
                       reply_to_id=req.reply_to_id, skill="news", reaction="like" if like else "dislike",
                       text=f"item:{item.id}"))
    # Rebuild the card from the ids it carried, marking the items this user already reacted to on it.
    ids = [i for i in (_int(x) for x in (req.data or {}).get("items") or []) if i is not None][:20]
    async with services.db.session() as s:
        rows = (await s.execute(select(Feedback.text, Feedback.reaction).where(
            Feedback.user_id == req.user_id, Feedback.skill == "news",
            Feedback.text.in_([f"item:{i}" for i in ids])))).all()
    reactions = {int(t.split(":", 1)[1]): r for t, r in rows}
    if req.is_invoke and ids:
        corpus = await d.corpus()
        try:
            day = date.fromisoformat(str((req.data or {}).get("day")))
        except ValueError:
            day = services.clock.now_jst().date()
        items = [corpus.by_id[i] for i in ids if i in corpus.by_id]
        ranked = [RankedItem(item=it, score=0.0, group=next((t for t in it.tags if t in user_tags),
                                                            it.tags[0] if it.tags else S.OTHER_TAG))
                  for it in items]
        await reply.refresh_card(digest_card(Digest(day=day, items=ranked), reactions=reactions))
    else:
        await reply.send_text(S.LIKED if like else S.DISLIKED)
