"""The activity handler: tenant gate, conversation references, mention handling, card actions, feedback,
and the hand-off to the router. Builds the SDK-independent SkillRequest; skills never see an Activity."""
from __future__ import annotations

import asyncio
import html
import logging
import re
import uuid
from typing import Any

from botbuilder.core import Bot, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes
from sqlalchemy import select

from bot import inline
from bot.files import on_consent
from bot.logs import correlation_id
from bot.reply import TurnReplyPort
from core import jsonsafe, router
from core.chatfiles import Bearer
from core.profiles import enrich_from_graph
from core.services import Services
from core.skills import FileAttachment, SkillRequest
from core.store.db import unavailable as db_unavailable
from core.store.db import upsert
from core.store.models import ConversationRef, Feedback, UserProfile, utcnow

log = logging.getLogger(__name__)

INVOKE_RESPONSE_KEY = "BotFrameworkAdapter.InvokeResponse"
APOLOGY = "申し訳ありません。処理中に問題が発生しました。時間をおいて、もう一度お試しください。（お問い合わせ番号: {cid}）"
DB_UNAVAILABLE = ("ただいまデータベースに接続できないため、このメッセージを処理できませんでした。"
                  "お手数ですが、数分おいてから同じ内容をもう一度送ってください。（お問い合わせ番号: {cid}）")
TENANT_REFUSAL = "このアシスタントは、尼崎市のテナントの職員のみご利用いただけます。"
WELCOME = ("尼崎市AIアシスタントです。文書の素案づくり、庁内文書からの回答、ニュースの要約などをお手伝いします。"
           "まずは /help で使い方をご覧ください。")
_AT = re.compile(r"<at[^>]*>.*?</at>", re.S)
FILE_INFO = "application/vnd.microsoft.teams.file.download.info"


def scope_of(activity: Activity) -> str:
    return (getattr(activity.conversation, "conversation_type", None) or "personal") if activity.conversation else \
        "personal"


def tenant_of(activity: Activity) -> str | None:
    conv = activity.conversation
    tid = getattr(conv, "tenant_id", None) if conv else None
    if not tid and isinstance(activity.channel_data, dict):
        tid = (activity.channel_data.get("tenant") or {}).get("id")
    return tid


def _entities(activity: Activity) -> list[dict]:
    out = []
    for e in activity.entities or []:
        data = e.serialize() if hasattr(e, "serialize") else e
        if isinstance(data, dict):
            out.append(data)
    return out


def bot_mentioned(activity: Activity) -> bool:
    rid = activity.recipient.id if activity.recipient else None
    return any(d.get("type") == "mention" and isinstance(d.get("mentioned"), dict) and d["mentioned"].get("id") == rid
               for d in _entities(activity))


def strip_mentions(activity: Activity) -> str:
    """Remove the bot's <at>…</at> mention (and any other <at> tags) and HTML entities Teams leaves around."""
    text = activity.text or ""
    rid = activity.recipient.id if activity.recipient else None
    for data in _entities(activity):
        if data.get("type") == "mention" and isinstance(data.get("mentioned"), dict) and \
                data["mentioned"].get("id") == rid and isinstance(data.get("text"), str):
            text = text.replace(data["text"], " ")
    text = _AT.sub(" ", text)
    text = html.unescape(text).replace("\u00a0", " ")
    return re.sub(r"[ \t]+", " ", text).strip()


def attachments_of(activity: Activity, bearer: Bearer | None = None) -> list[FileAttachment]:
    """Files of a message: Teams file attachments (pre-authenticated download URL), inline images (pasted, or sent
    from the mobile app: named 写真1.jpg … by content type, fetched with `bearer`, the bot's token; see
    bot/inline.py) and other attachments with a contentUrl. Cards and the HTML copy of the message are not files."""
    out = []
    images = 0
    for a in activity.attachments or []:
        ctype = a.content_type or ""
        if ctype == FILE_INFO and isinstance(a.content, dict):
            out.append(FileAttachment(name=a.name or "file", content_type=a.content.get("fileType") or ctype,
                                      download_url=a.content.get("downloadUrl")))
        elif ctype.startswith("application/vnd.microsoft.card") or ctype.lower().startswith("text/html"):
            continue   # cards quoted back and the HTML copy of the message are not files
        elif inline.is_inline_image(ctype) and isinstance(a.content_url, str) and a.content_url:
            images += 1
            name = inline.image_name(a.name, ctype, images)
            if a.content_url.startswith("data:"):
                data = inline.data_url_bytes(a.content_url)
                if data is not None:
                    out.append(FileAttachment(name=name, content_type=ctype, content=data))
                continue
            out.append(FileAttachment(name=name, content_type=ctype, download_url=a.content_url, bearer=bearer))
        elif a.content_url:
            out.append(FileAttachment(name=a.name or "file", content_type=ctype, download_url=a.content_url,
                                      bearer=bearer))
    return out


class AssistantBot(Bot):
    def __init__(self, services: Services, *, allowed_tenants: set[str] | None = None,
                 file_delivery: str = "consent", attachment_hosts: list[str] | None = None) -> None:
        self.services = services
        self.file_delivery = file_delivery
        self.attachment_hosts = attachment_hosts if attachment_hosts is not None else list(inline.TOKEN_HOSTS)
        self.allowed_tenants = allowed_tenants or set()
        self._known_refs: dict[str, tuple] = {}     # conversation id -> what was last stored (skip rewrites)

    # -- entry point --------------------------------------------------------------------------------------------
    async def on_turn(self, turn: TurnContext) -> None:
        act = turn.activity
        cid = correlation_id.get()
        tenant = tenant_of(act)
        if self._own_channel(act):
            # A channel one skill alone serves (residents on Web Chat): no tenant, no stored reference or profile,
            # no staff feedback store; the router hands every message and invoke to that skill.
            if act.type == ActivityTypes.message:
                value = act.value if isinstance(act.value, dict) else {}
                verb = str(value["verb"]) if value.get("verb") else None
                data = {k: v for k, v in value.items() if k != "verb"}
                await router.dispatch(self._request(turn, cid, text="" if verb else strip_mentions(act), verb=verb,
                                                    data=data), self._port(turn), self.services)
            elif act.type == ActivityTypes.invoke:
                self._invoke_response(turn, 200, None)
            elif act.type == ActivityTypes.event and act.name == JOIN_EVENT:
                owner = self.services.registry.for_channel(act.channel_id or "", self.services)
                if owner is not None and owner.serves and owner.on_join is not None:
                    value = act.value if isinstance(act.value, dict) else {}
                    await owner.on_join(self._request(turn, cid, data=value), self._port(turn), self.services)
            return
        if self.allowed_tenants and tenant not in self.allowed_tenants:
            log.warning("activity from a tenant that is not allowed", extra={"tenant": tenant or "-",
                                                                           "activity_type": act.type})
            if act.type == ActivityTypes.message:
                await turn.send_activity(TENANT_REFUSAL)
            elif act.type == ActivityTypes.invoke:
                self._invoke_response(turn, 403, None)
            return
        if act.type in (ActivityTypes.message, ActivityTypes.installation_update, ActivityTypes.conversation_update):
            try:
                await self._remember(turn)
            except Exception as e:
                if not db_unavailable(e):
                    raise
                # Bookkeeping for proactive sends: with the database away, the message itself still goes on
                # (what needs no database is answered); the reference is stored with the next message.
                log.warning("conversation reference not stored: database unavailable (%s)", type(e).__name__)
        if act.type == ActivityTypes.message:
            await self._on_message(turn, cid)
        elif act.type == ActivityTypes.invoke:
            await self._on_invoke(turn, cid)
        elif act.type == ActivityTypes.installation_update:
            await self._on_installation(turn)

    def _own_channel(self, act: Activity) -> bool:
        return self.services.registry.for_channel(act.channel_id or "", self.services) is not None

    def _port(self, turn: TurnContext, *, is_invoke: bool = False) -> TurnReplyPort:
        return TurnReplyPort(turn, is_invoke=is_invoke, db=self.services.db, file_delivery=self.file_delivery)

    # -- messages -----------------------------------------------------------------------------------------------
    def _request(self, turn: TurnContext, cid: str, *, text: str = "", verb: str | None = None,
                 data: dict | None = None, is_invoke: bool = False) -> SkillRequest:
        act = turn.activity
        frm = act.from_property
        return SkillRequest(
            user_id=frm.id if frm else "unknown", aad_object_id=getattr(frm, "aad_object_id", None) if frm else None,
            user_name=getattr(frm, "name", None) if frm else None, tenant_id=tenant_of(act),
            conversation_id=act.conversation.id if act.conversation else "", conversation_type=scope_of(act),
            text=text, verb=verb, data=data or {}, locale=act.locale or "ja-JP", activity_id=act.id,
            reply_to_id=act.reply_to_id, correlation_id=cid, is_invoke=is_invoke,
            attachments=attachments_of(act, inline.bot_token(turn, self.attachment_hosts)),
            channel=act.channel_id or "msteams")

    async def _on_message(self, turn: TurnContext, cid: str) -> None:
        act = turn.activity
        scope = scope_of(act)
        value = act.value if isinstance(act.value, dict) else None
        if scope != "personal" and not value and not bot_mentioned(act):
            return  # channels and group chats: only when @mentioned
        if value and value.get("verb"):       # Action.Submit from one of our cards
            data = {k: v for k, v in value.items() if k != "verb"}
            req = self._request(turn, cid, verb=str(value["verb"]), data=data)
        else:
            req = self._request(turn, cid, text=strip_mentions(act))
        await router.dispatch(req, self._port(turn), self.services)

    # -- invokes ------------------------------------------------------------------------------------------------
    def _invoke_response(self, turn: TurnContext, status: int, body: Any) -> None:
        turn.turn_state[INVOKE_RESPONSE_KEY] = Activity(type=ActivityTypes.invoke_response,
                                                        value=InvokeResponse(status=status, body=body))

    async def _on_invoke(self, turn: TurnContext, cid: str) -> None:
        act = turn.activity
        value = act.value if isinstance(act.value, dict) else {}
        if act.name == "adaptiveCard/action":
            action = value.get("action") if isinstance(value.get("action"), dict) else {}
            verb = str(action.get("verb") or "")
            raw = action.get("data") if isinstance(action.get("data"), dict) else {}
            data = {k: v for k, v in raw.items() if k != "verb"}
            port = self._port(turn, is_invoke=True)
            if not verb:
                self._invoke_response(turn, 200, _message_body("この操作は受け付けられませんでした。"))
                return
            work = asyncio.create_task(router.dispatch(
                self._request(turn, cid, verb=verb, data=data, is_invoke=True), port, self.services))
            card_ready = asyncio.create_task(port.card_ready.wait())
            await asyncio.wait({work, card_ready}, timeout=INVOKE_WAIT_SECONDS,
                               return_when=asyncio.FIRST_COMPLETED)
            card_ready.cancel()
            port.is_invoke = False          # from here on, refresh_card updates the message in place
            if work.done():
                work.result()               # an exception goes to on_turn_error like any turn
            else:
                _BACKGROUND.add(work)
                work.add_done_callback(lambda t: _finish_background(t, turn, cid))
            if port.invoke_card is not None:
                self._invoke_response(turn, 200, {"statusCode": 200,
                                                  "type": "application/vnd.microsoft.card.adaptive",
                                                  "value": port.invoke_card})
            elif work.done():
                self._invoke_response(turn, 200, _message_body("処理しました。"))
            else:
                self._invoke_response(turn, 200, _message_body("処理を受け付けました。結果はこのチャットでお知らせします。"))
        elif act.name == "fileConsent/invoke":
            self._invoke_response(turn, 200, None)
            await on_consent(turn, self.services.db, value)
        elif act.name == "message/submitAction":
            self._invoke_response(turn, 200, None)
            feedback = await self._store_feedback(turn, value)
            if feedback:
                req = self._request(turn, cid, data=feedback)
                for skill in self.services.registry.skills:
                    if skill.on_feedback:
                        await skill.on_feedback(req, self._port(turn), self.services)
        else:
            self._invoke_response(turn, 200, None)

    async def _store_feedback(self, turn: TurnContext, value: dict) -> dict | None:
        if value.get("actionName") != "feedback":
            return None
        av = value.get("actionValue") if isinstance(value.get("actionValue"), dict) else {}
        reaction = av.get("reaction") if av.get("reaction") in ("like", "dislike") else "unknown"
        text = parse_feedback_text(av.get("feedback"))
        act = turn.activity
        async with self.services.db.session() as s:
            s.add(Feedback(user_id=act.from_property.id if act.from_property else "unknown",
                           aad_object_id=getattr(act.from_property, "aad_object_id", None),
                           conversation_id=act.conversation.id if act.conversation else None,
                           reply_to_id=act.reply_to_id, reaction=reaction, text=text))
        return {"reaction": reaction, "text": text, "reply_to_id": act.reply_to_id}

    # -- lifecycle ----------------------------------------------------------------------------------------------
    async def _on_installation(self, turn: TurnContext) -> None:
        act = turn.activity
        if act.action in ("add", "add-upgrade") and scope_of(act) == "personal":
            await turn.send_activity(WELCOME)
        elif act.action == "remove":
            await self._mark_removed(act)


    async def _remember(self, turn: TurnContext) -> None:
        """Store the conversation reference (for proactive sends) and the user's profile row."""
        act = turn.activity
        if not act.conversation or not act.service_url:
            return
        ref = TurnContext.get_conversation_reference(act).serialize()
        frm = act.from_property
        removed = act.type == ActivityTypes.installation_update and act.action == "remove"
        fingerprint = (act.service_url, frm.id if frm else None, frm.name if frm else None, removed,
                       ref.get("bot", {}).get("id"), scope_of(act))
        if act.type == ActivityTypes.message and self._known_refs.get(act.conversation.id) == fingerprint:
            return      # unchanged since this process last stored it
        async with self.services.db.session() as s:
            await upsert(s, ConversationRef, {
                "conversation_id": act.conversation.id, "user_id": frm.id if frm else None,
                "aad_object_id": getattr(frm, "aad_object_id", None), "tenant_id": tenant_of(act),
                "conversation_type": scope_of(act), "service_url": act.service_url, "reference": ref,
                "installed": not removed, "updated_at": utcnow()}, keys=["conversation_id"])
            if frm and frm.id and scope_of(act) == "personal":
                await upsert(s, UserProfile, {
                    "user_id": frm.id, "aad_object_id": getattr(frm, "aad_object_id", None),
                    "tenant_id": tenant_of(act), "display_name": frm.name, "locale": act.locale, "prefs": {},
                    "created_at": utcnow(), "updated_at": utcnow()},
                    keys=["user_id"], update=["aad_object_id", "display_name", "updated_at"])
        if len(self._known_refs) > 50_000:
            self._known_refs.clear()
        first_seen = act.conversation.id not in self._known_refs
        self._known_refs[act.conversation.id] = fingerprint
        if first_seen and self.services.graph is not None and frm and frm.id and scope_of(act) == "personal":
            task = asyncio.get_running_loop().create_task(enrich_from_graph(self.services, frm.id))
            _BACKGROUND.add(task)                 # department and job title for the audit, off the turn's path
            task.add_done_callback(_BACKGROUND.discard)

    async def _mark_removed(self, act: Activity) -> None:
        async with self.services.db.session() as s:
            rows = (await s.execute(select(ConversationRef).where(
                ConversationRef.conversation_id == act.conversation.id))).scalars().all()
            for row in rows:
                row.installed = False


JOIN_EVENT = "webchat/join"     # the event a Web Chat page sends once connected (the citizen page does)
INVOKE_WAIT_SECONDS = 4.0      # Teams waits a few seconds for an invoke response; longer work continues after it
_BACKGROUND: set[asyncio.Task] = set()


def _finish_background(task: asyncio.Task, turn: TurnContext, cid: str) -> None:
    """Card-action work that outlived its invoke response: surface a failure to the user like on_turn_error."""
    _BACKGROUND.discard(task)
    if task.cancelled() or task.exception() is None:
        return
    log.error("card action failed after the invoke response", exc_info=task.exception())

    text = (DB_UNAVAILABLE if db_unavailable(task.exception()) else APOLOGY).format(cid=cid)

    async def apologise() -> None:
        try:
            await turn.send_activity(text)
        except Exception:  # noqa: BLE001
            log.warning("could not deliver the apology")

    t = asyncio.get_event_loop().create_task(apologise())
    _BACKGROUND.add(t)
    t.add_done_callback(_BACKGROUND.discard)


async def drain_background(timeout: float = 10.0) -> None:
    """Wait for card-action work still running (graceful shutdown)."""
    if _BACKGROUND:
        await asyncio.wait(set(_BACKGROUND), timeout=timeout)


def parse_feedback_text(raw: Any) -> str | None:
    """`actionValue.feedback` is either a JSON string {"feedbackText": …} or plain text (both documented)."""
    import json

    if raw is None:
        return None
    if isinstance(raw, dict):
        return str(raw.get("feedbackText") or "") or None
    s = str(raw)
    try:
        parsed = jsonsafe.clean(json.loads(s))        # the inner JSON may hold escaped lone surrogates too
        if isinstance(parsed, dict):
            return str(parsed.get("feedbackText") or "")[:4000] or None
    except (json.JSONDecodeError, ValueError):
        pass
    return s[:4000] or None


def _message_body(text: str) -> dict:
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:12]
