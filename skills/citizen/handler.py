"""Citizen mode: what the bot does with an activity from the city's website (Web Chat over Direct Line).

Every such activity comes here (the router sends the channels of CITIZEN_CHANNELS to this skill and nowhere else).
One question's way:

1. the request is made anonymous: the Web Chat user id and conversation id are replaced by hashes, no name, no
   staff identity, the tier is CITIZEN_TIER whatever the request says;
2. limits: per-conversation and per-client rate limits, the length limit, staff commands, files and card actions are
   refused with a Japanese message;
3. personal data is masked (core.guard's detector) before anything else: search, the LLM, the transcript and the
   hand-off only ever see the masked text;
4. only the public sets are searched (`search_sets.public`, and CITIZEN_PUBLIC_SETS), with the same pipeline as /ask
   (core.knowledge.answer): a staff-approved answer of a public set first, then retrieval, then (with an LLM) an
   answer in the question's language citing the city pages, or (offline) the Japanese passages, labelled;
5. a question the pages cannot answer names the 窓口 (the document's, else the set's, else the city's) and goes to
   staff through kintone, tagged 市民 (jobs.py brings the staff answer back as an approved answer of the public set);
6. one transcript row (masked) and one audit record per question (outcome answered / handed_off / declined)."""
from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from cards.common import search_label
from core.ai import AIFailed, AIRefused
from core.cache import TTLCache
from core.guard.pii import SUMMARY_LABELS
from core.kintone.client import KintoneError
from core.knowledge import public
from core.knowledge.answer import (
    RetrievalOptions,
    RetrievalPrompts,
    WeakRule,
    citation_for,
    ground,
    json_object,
    min_similarity,
    passages_from_hits,
    retrieve,
)
from core.knowledge.approved import ApprovedAnswers
from core.knowledge.public import Contact, PublicSet
from core.ratelimit import RateLimits
from core.search.index import Hit, SearchError
from core.search.passages import Passage, passage_label
from core.skills import ReplyPort, SkillRequest
from core.store.models import CITIZEN_USER_PREFIX
from core.timeutil import jst_text
from skills.citizen import language
from skills.citizen import strings as S
from skills.citizen.models import CitizenTranscript
from skills.citizen.settings import CitizenSettings
from skills.prompts import load, render

log = logging.getLogger(__name__)

SKILL = "citizen"
LIMITER_KEY = "citizen.limiter"
WELCOMED_KEY = "citizen.welcomed"
WELCOMED_TTL = 24 * 3600.0
OFFLINE_PASSAGES = 3
OFFLINE_EXCERPT = 240
STORED_CHARS = 4000
HANDOFF_ASKER = "市民（ウェブチャット）"
HANDOFF_TAG = "【市民】"


def settings_of(services) -> CitizenSettings:
    return services.settings.get(CitizenSettings)


def _hash(value: str) -> str:
    return hashlib.sha256((value or "").encode("utf-8")).hexdigest()[:24]


@dataclass
class Turn:
    """One resident's message, made anonymous; what was decided about it is filled in as it goes."""

    req: SkillRequest
    client: str                          # hash of the Web Chat user id (rate limits)
    conversation: str                    # hash of the conversation id (transcript, rate limits)
    question: str = ""                   # masked
    masked: dict[str, int] = field(default_factory=dict)
    language: str = "ja"
    sets: list[str] = field(default_factory=list)

    @property
    def frame(self) -> str:
        return language.frame(self.language)


def anonymous_turn(req: SkillRequest, settings: CitizenSettings) -> Turn:
    """The request as the rest of the code sees it: hashes instead of the Web Chat ids, no name, no staff identity,
    the citizen tier (a resident cannot choose one)."""
    client, conversation = _hash(req.user_id), _hash(req.conversation_id)
    req.user_id = CITIZEN_USER_PREFIX + client
    req.conversation_id = CITIZEN_USER_PREFIX + conversation
    req.aad_object_id = req.user_name = req.tenant_id = None
    req.command = SKILL
    req.tier = settings.CITIZEN_TIER
    req.data = {}
    return Turn(req, client, conversation)


async def handle(req: SkillRequest, reply: ReplyPort, services) -> None:
    settings = settings_of(services)
    if (req.channel or "").lower() not in settings.channels:
        # never reached through the router (it sends only the citizen channels here); a staff request that got here
        # some other way (a model's tool call naming this skill) is told so and nothing else happens
        await reply.send_text(S.NOT_SERVED)
        return
    turn = anonymous_turn(req, settings)
    text = " ".join((req.text or "").split())
    # every message counts against the limits, whatever it holds: refusals cost a reply and a record too
    limiter: RateLimits = services.extra(LIMITER_KEY, lambda: RateLimits(services.db))
    limited = await limiter.hit([(f"conversation:{turn.conversation}", settings.CITIZEN_RATE_PER_CONVERSATION),
                           (f"client:{turn.client}", settings.CITIZEN_RATE_PER_CLIENT)],
                                settings.CITIZEN_RATE_WINDOW_SECONDS)
    if limited is not None:
        message = S.RATE_LIMITED.format(seconds=limited.retry_after)
        if limited.first:            # a client that keeps sending costs one audit record per window, not one each
            await _decline(services, reply, turn, message, "rate_limit", keep=False)
        else:
            await reply.send_text(message)
        return
    if req.verb:
        await _decline(services, reply, turn, S.NO_ACTIONS, "action")
        return
    if req.attachments:
        await _decline(services, reply, turn, S.NO_FILES, "file")
        return
    if not text:
        await reply.send_text(S.GUIDE)
        return
    if len(text) > settings.CITIZEN_MAX_CHARS:
        await _decline(services, reply, turn, S.TOO_LONG.format(limit=settings.CITIZEN_MAX_CHARS), "too_long",
                       keep=False)
        return
    session = services.ai.guard.new_session()
    turn.question = session.mask(text)
    turn.masked = dict(session.counts)
    turn.language = language.detect(turn.question)
    if turn.masked:
        log.info("citizen question: personal data masked before use: %s", turn.masked)   # kinds and counts only
    if _is_command(text):
        await _decline(services, reply, turn, S.STAFF_COMMAND, "staff_command")
        return
    notice = S.MASKED_NOTICE.format(kinds="・".join(SUMMARY_LABELS.get(k, k) for k in turn.masked)) \
        if turn.masked else ""
    try:
        await answer(services, reply, turn, notice)
    except SearchError as e:
        log.warning("citizen search failed: %s", e.message)
        contact = default_contact(settings)
        await _decline(services, reply, turn, S.NOT_FOUND["ja"].format(section=contact.section, phone=contact.phone),
                       "search_error")


async def welcome(req: SkillRequest, reply: ReplyPort, services) -> None:
    """The page connected (webchat/join): greet once per conversation, in the language of the resident's browser.
    A page that sends the event again (a reconnect, a hostile client) gets nothing more; no record, no audit."""
    settings = settings_of(services)
    if (req.channel or "").lower() not in settings.channels:
        return
    welcomed: TTLCache[str, bool] = services.extra(WELCOMED_KEY, lambda: TTLCache(ttl=WELCOMED_TTL,
                                                                                   max_entries=100_000))
    if welcomed.get(req.conversation_id):
        return
    welcomed.put(req.conversation_id, True)
    await reply.send_text(S.WELCOME[language.of_locale(req.data.get("language"))])


def _is_command(text: str) -> bool:
    t = unicodedata.normalize("NFKC", text).strip()
    return t.startswith("/")


# ------------------------------------------------------------------------------------------------ answering

def default_contact(settings: CitizenSettings) -> Contact:
    return Contact(settings.CITIZEN_DEFAULT_SECTION, settings.CITIZEN_DEFAULT_PHONE)


async def public_sets(services) -> list[PublicSet]:
    """The sets residents may search: those marked public (`ingest --public`) and those CITIZEN_PUBLIC_SETS names,
    never a set with members (staff-only by definition)."""
    found = {info.name: info for info in await public.public_sets(services.db)}
    for name in settings_of(services).public_sets:
        if name in found:
            continue
        info = await public.get(services.db, name)
        if info is None:
            log.warning("CITIZEN_PUBLIC_SETS names %r, which is not a knowledge set", name)
        elif info.members:
            log.warning("CITIZEN_PUBLIC_SETS names %r, which has members (staff only): not searched", name)
        else:
            found[name] = info
    return [found[n] for n in sorted(found)]


def retrieval_options(settings: CitizenSettings) -> RetrievalOptions:
    return RetrievalOptions(skill=SKILL, top_k=settings.CITIZEN_TOP_K, rewrite=settings.CITIZEN_REWRITE,
                            rerank=settings.CITIZEN_RERANK, candidates=settings.CITIZEN_RERANK_CANDIDATES,
                            step_timeout=10.0,
                            prompts=RetrievalPrompts(rewrite_system=load(SKILL, "rewrite_system"),
                                                     rerank_system=load(SKILL, "rerank_system"),
                                                     rerank_user=load(SKILL, "rerank_user")))


def build_messages(question: str, lang: str, passages: list[Passage]) -> list[dict]:
    blocks = "\n\n".join(f"[{p.n}] {passage_label(p)}\n{p.text}" for p in passages)
    user = render(SKILL, "answer_user", passages=blocks, question=question, language=S.LANGUAGE_NAMES.get(lang, "日本語"))
    return [{"role": "system", "content": load(SKILL, "answer_system")}, {"role": "user", "content": user}]


async def answer(services, reply: ReplyPort, turn: Turn, notice: str) -> None:
    settings = settings_of(services)
    req = turn.req
    sets = await public_sets(services)
    turn.sets = [info.name for info in sets]
    if not sets:
        contact = default_contact(settings)
        await _decline(services, reply, turn, S.NO_PUBLIC_SETS.format(section=contact.section, phone=contact.phone),
                       "no_public_sets")
        return
    by_name = {info.name: info for info in sets}
    # the question is embedded only where the default tier's embeddings may see it (or in this process)
    vectors = req.tier == services.ai.embeddings_tier or services.ai.embeds_locally
    if await _approved(services, reply, turn, by_name, vectors, notice):
        return
    hybrid = vectors and services.knowledge.embed is not None

    rule = WeakRule(min_coverage=settings.CITIZEN_MIN_COVERAGE, min_score=settings.CITIZEN_MIN_SCORE,
                    bm25_only=not hybrid, min_similarity=min_similarity(services, settings.CITIZEN_MIN_SIMILARITY),
                    min_lift=settings.CITIZEN_MIN_LIFT)
    found = await retrieve(req, services, turn.question, turn.sets, vectors=vectors, rule=rule,
                           options=retrieval_options(settings))
    hits = found.hits
    contacts = await public.document_contacts(services.db, (h.document_id for h in hits))
    if found.weak:
        await _cannot_answer(services, reply, turn, hits, by_name, contacts, "not_found", notice)
        return
    passages = passages_from_hits(hits)
    keyword_only = all(h.similarity is None for h in hits)
    if services.ai.offline:
        await _search_results(services, reply, turn, hits, passages, by_name, contacts, notice, keyword_only,
                              reason="offline")
        return
    await reply.inform("市のホームページの情報を確認しています…")
    try:
        result = await services.ai.chat(req, SKILL, build_messages(turn.question, turn.language, passages),
                                        temperature=0.1)
    except AIRefused as e:
        if e.reason == "forbidden_word":
            contact = default_contact(settings)
            await _decline(services, reply, turn, S.REFUSED.format(section=contact.section, phone=contact.phone),
                           "refused")
            return
        log.warning("citizen answer not made by the LLM (%s): search results instead", e.reason)
        await _search_results(services, reply, turn, hits, passages, by_name, contacts, notice, keyword_only,
                              reason=f"search:{e.reason}"[:40], lead=S.AI_BUSY[turn.frame])
        return
    except AIFailed as e:
        log.warning("citizen answer failed (%s): search results instead", e.kind)
        await _search_results(services, reply, turn, hits, passages, by_name, contacts, notice, keyword_only,
                              reason=f"search:{e.kind}"[:40], lead=S.AI_BUSY[turn.frame])
        return
    g = ground(result.text, len(passages), decline=S.DECLINE)
    if g.declined or not g.used:
        log.info("citizen answer declined (model said so: %s, citations: %d)", g.declined, len(g.used))
        await _cannot_answer(services, reply, turn, hits, by_name, contacts,
                             "declined_by_model" if g.declined else "ungrounded", notice)
        return
    cited = [passages[n - 1] for n in g.used]
    cited_hits = [hits[n - 1] for n in g.used]
    lines = [g.text, _sources_block(cited, turn.frame)]
    contact = _contact_for(cited_hits[0], by_name, contacts, settings)
    lines.append(S.CONTACT[turn.frame].format(section=contact.section, phone=contact.phone))
    lines.append(S.AI_NOTE[turn.frame])
    if notice:
        lines.append(notice)
    message = "\n\n".join(lines)
    await reply.send_text(message, ai_generated=True,
                          citations=[citation_for(i, p) for i, p in enumerate(cited, start=1)])
    await _record(services, turn, "answered", "llm", answer=g.text, sources=cited,
                  target_set=cited[0].set_name or None)


def _contact_for(hit: Hit | None, by_name: dict[str, PublicSet], contacts: dict[int, Contact],
                 settings: CitizenSettings) -> Contact:
    """The 窓口 of a passage: its document's own, else its set's, else the city's (each field on its own)."""
    default = default_contact(settings)
    if hit is None:
        only = next(iter(by_name.values())) if len(by_name) == 1 else None
        if only is not None and only.contact.section:
            return Contact(only.contact.section, only.contact.phone or default.phone)
        return default
    doc = contacts.get(hit.document_id)
    info = by_name.get(hit.set_name)
    section = (doc.section if doc else None) or (info.contact.section if info else None)
    phone = (doc.phone if doc else None) or (info.contact.phone if info else None)
    if not section:                  # a phone without its section would be misleading
        return default
    return Contact(section, phone or default.phone)


def _sources_block(passages: list[Passage], frame: str) -> str:
    lines = [f"{S.SOURCES[frame]}:"]
    for i, p in enumerate(passages, start=1):
        label = passage_label(p)
        lines.append(f"- [{i}] [{label}]({p.web_url})" if p.web_url else f"- [{i}] {label}")
    return "\n".join(lines)


async def _search_results(services, reply: ReplyPort, turn: Turn, hits: list[Hit], passages: list[Passage],
                          by_name: dict[str, PublicSet], contacts: dict[int, Contact], notice: str, keyword_only: bool,
                          *, reason: str, lead: str = "") -> None:
    """The passages themselves, in Japanese, labelled as search results (no AI)."""
    settings = settings_of(services)
    shown = passages[:OFFLINE_PASSAGES]
    blocks = [search_label(offline=services.ai.offline, keyword_only=keyword_only), lead or S.OFFLINE_LEAD]
    if turn.frame != "ja" and not lead:
        blocks.append(S.OFFLINE_JA_ONLY)
    for p in shown:
        excerpt = " ".join(p.text.split())
        excerpt = excerpt[:OFFLINE_EXCERPT] + ("…" if len(excerpt) > OFFLINE_EXCERPT else "")
        head = f"[{p.n}] [{passage_label(p)}]({p.web_url})" if p.web_url else f"[{p.n}] {passage_label(p)}"
        blocks.append(f"**{head}**\n\n> {excerpt}")
    contact = _contact_for(hits[0] if hits else None, by_name, contacts, settings)
    blocks.append(S.CONTACT["ja"].format(section=contact.section, phone=contact.phone))
    if notice:
        blocks.append(notice)
    await reply.send_text("\n\n".join(blocks), ai_generated=False,
                          citations=[citation_for(p.n, p) for p in shown])
    await _record(services, turn, "answered", reason, answer=None, sources=shown,
                  target_set=shown[0].set_name if shown else None)


async def _approved(services, reply: ReplyPort, turn: Turn, by_name: dict[str, PublicSet], vectors: bool,
                    notice: str) -> bool:
    """A staff-approved answer of a public set close to the question answers it (no retrieval, no LLM)."""
    settings = settings_of(services)
    ix = services.knowledge
    store = ApprovedAnswers(services.db, embed=getattr(ix, "embed", None), embed_space=getattr(ix, "embed_space", ""))
    found = await store.match(turn.question, list(by_name), now=services.clock.now(),
                              min_overlap=settings.CITIZEN_APPROVED_MIN_OVERLAP,
                              min_similarity=settings.CITIZEN_APPROVED_MIN_SIMILARITY, vectors=vectors)
    if found is None:
        return False
    a = found.approved
    info = by_name.get(a.set_name)
    default = default_contact(settings)
    section = (info.contact.section if info else None) or default.section
    phone = (info.contact.phone if info else None) or default.phone
    blocks = [S.APPROVED_LEAD.format(date=jst_text(a.updated_at or a.created_at, "%Y年%m月%d日")), a.answer,
              S.CONTACT["ja"].format(section=section, phone=phone)]
    if notice:
        blocks.append(notice)
    await reply.send_text("\n\n".join(blocks), ai_generated=False)
    await _record(services, turn, "answered", "approved", answer=a.answer, sources=[], target_set=a.set_name)
    return True


async def _cannot_answer(services, reply: ReplyPort, turn: Turn, hits: list[Hit], by_name: dict[str, PublicSet],
                         contacts: dict[int, Contact], reason: str, notice: str) -> None:
    """Name the 窓口 and hand the question to staff (kintone) when that is configured. After weak retrieval the
    passages found are not about the question, so the 窓口 is their set's (else the city's); when the model found
    relevant passages that do not answer it, the first passage's own 窓口."""
    settings = settings_of(services)
    if not services.ai.offline and not await about_the_city(services, turn):
        await _decline(services, reply, turn, S.OUT_OF_SCOPE, "out_of_scope")
        return
    specific = reason != "not_found"
    contact = _contact_for(hits[0] if hits else None, by_name, contacts if specific else {}, settings)
    target = hits[0].set_name if hits else (turn.sets[0] if len(turn.sets) == 1 else None)
    blocks = [S.NOT_FOUND[turn.frame].format(section=contact.section, phone=contact.phone)]
    row_id = await _record(services, turn, "declined", reason, answer=None, sources=[], target_set=target,
                           audit=False)
    handed = await _hand_off(services, turn, row_id, target, hits) if row_id is not None else None
    if handed:
        blocks.append(S.HANDED_OFF[turn.frame])
        await _audit(services, turn, "handed_off", handed)
    else:
        await _audit(services, turn, "declined", reason)
    if notice:
        blocks.append(notice)
    await reply.send_text("\n\n".join(blocks))


async def about_the_city(services, turn: Turn) -> bool:
    """With an LLM, before a question the pages cannot answer goes to staff: is it about the city's services at all
    (not a drafting request, chat, general knowledge, an attempt to change the rules)? One small call, audited as a
    step; any failure counts as "about the city" (staff see it rather than the resident being turned away)."""
    messages = [{"role": "system", "content": load(SKILL, "scope_system")},
                {"role": "user", "content": turn.question}]
    try:
        result = await services.ai.chat(turn.req, SKILL, messages, temperature=0.0, max_tokens=20, timeout=10.0,
                                        step="scope")
    except (AIRefused, AIFailed) as e:
        log.info("citizen scope check skipped: %s", getattr(e, "reason", None) or getattr(e, "kind", ""))
        return True
    return json_object(result.text).get("category") != "other"


# ------------------------------------------------------------------------------------------------ hand-off to staff

def _passage_lines(hits: list[Hit]) -> list[str]:
    out = []
    for p in passages_from_hits(hits[:3], limit=600):
        out.append(f"{passage_label(p)}\n{' '.join(p.text.split())}" + (f"\n{p.url}" if p.web_url else ""))
    return out


def _norm(text: str) -> str:
    return re.sub(r"[\s？?。、,．.！!]", "", unicodedata.normalize("NFKC", text or "")).casefold()


async def _hand_off(services, turn: Turn, row_id: int, target: str | None, hits: list[Hit]) -> str | None:
    """A kintone record for staff, tagged 市民 (asker 「市民（ウェブチャット）」, question prefixed 【市民】). The same
    question already waiting for staff is not sent twice. Returns how staff have the question ("kintone",
    "handoff_duplicate"), or None when they do not."""
    settings = settings_of(services)
    client = services.kintone
    if not (settings.CITIZEN_HANDOFF and client.configured):
        return None
    since = services.clock.now() - timedelta(days=max(1, settings.CITIZEN_RETENTION_DAYS))
    async with services.db.session() as s:
        waiting = list(await s.scalars(select(CitizenTranscript.question).where(
            CitizenTranscript.handoff == "escalated", CitizenTranscript.created_at >= since).limit(1000)))
    if _norm(turn.question) in {_norm(q) for q in waiting}:
        await _update_row(services, row_id, outcome="handed_off", reason="handoff_duplicate")
        return "handoff_duplicate"
    try:
        record_id = await client.create_question(
            HANDOFF_TAG + turn.question, asker_name=HANDOFF_ASKER, asker_id=f"{CITIZEN_USER_PREFIX}{row_id}",
            asked_at=services.clock.now(), knowledge_set=target or "、".join(turn.sets),
            passages=_passage_lines(hits))
    except KintoneError as e:
        log.warning("citizen question %s not handed to kintone: %s", row_id, e)
        return None
    await _update_row(services, row_id, outcome="handed_off", reason="kintone", handoff="escalated",
                      kintone_record_id=record_id)
    return "kintone"


# ------------------------------------------------------------------------------------------------ records

async def _decline(services, reply: ReplyPort, turn: Turn, message: str, reason: str, *, keep: bool = True) -> None:
    """Refuse with `message`. `keep`: store the (masked) question in the transcript; limits keep nothing of it."""
    await reply.send_text(message)
    if keep:
        await _record(services, turn, "declined", reason)
    else:
        await _audit(services, turn, "declined", reason)


async def _record(services, turn: Turn, outcome: str, reason: str, *, answer: str | None = None,
                  sources: list[Passage] | None = None, target_set: str | None = None, audit: bool = True
                  ) -> int | None:
    """The transcript row (masked text only) and, unless the caller writes it later (`audit=False`: the hand-off
    decides the outcome), the one audit record of the question. Returns the row id."""
    row = CitizenTranscript(
        created_at=services.clock.now(), conversation=turn.conversation, language=turn.language,
        question=turn.question[:STORED_CHARS], masked=turn.masked, outcome=outcome, reason=reason[:40],
        answer=(answer or None) and answer[:STORED_CHARS], sets=list(turn.sets), target_set=target_set,
        sources=[{"title": passage_label(p), "url": p.web_url} for p in sources or []])
    row_id = None
    try:
        async with services.db.session() as s:
            s.add(row)
            await s.flush()
            row_id = row.id
    except Exception:  # noqa: BLE001 - the resident has the answer; a lost transcript row must not break the turn
        log.exception("citizen transcript not stored")
    if audit:
        await _audit(services, turn, outcome, reason)
    return row_id


async def _update_row(services, row_id: int, **values) -> None:
    async with services.db.session() as s:
        await s.execute(update(CitizenTranscript).where(CitizenTranscript.id == row_id).values(**values))


async def _audit(services, turn: Turn, outcome: str, reason: str) -> None:
    await services.ai.record_offline(turn.req, SKILL, outcome=outcome, reason=reason[:40])


async def purge_transcripts(services) -> int:
    """Delete transcript rows older than CITIZEN_RETENTION_DAYS. Returns how many went."""
    from sqlalchemy import delete

    days = max(1, settings_of(services).CITIZEN_RETENTION_DAYS)
    cutoff: datetime = services.clock.now() - timedelta(days=days)
    async with services.db.session() as s:
        res = await s.execute(delete(CitizenTranscript).where(CitizenTranscript.created_at < cutoff))
    n = int(res.rowcount or 0)
    if n:
        log.info("citizen transcripts older than %d days deleted: %d", days, n)
    return n
