"""The reply port over a Bot Framework TurnContext, speaking Teams' wire formats:
AI label and citation entities, the feedback loop, Teams streaming (informative → streaming → final)."""
from __future__ import annotations

import asyncio
import base64
import logging
import time
from typing import Any, AsyncIterator, Sequence

from botbuilder.core import CardFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes, Attachment, Entity

from core.skills import Citation

log = logging.getLogger(__name__)

AI_LABEL = {"type": "https://schema.org/Message", "@type": "Message", "@context": "https://schema.org",
            "additionalType": ["AIGeneratedContent"]}
STREAM_INTERRUPTED = "（AIの応答が途中で途切れたため、この回答は不完全です。）"
STREAM_INTERVAL = 1.0          # Teams accepts about one streaming update per second
MAX_CITATIONS = 20


class RawEntity(Entity):
    """An Entity that keeps every property on the wire. botbuilder's `Entity` serialises only `type` and drops
    the rest (the AI label's @type/additionalType/citation, streaminfo's streamId …)."""

    _attribute_map = {"type": {"key": "type", "type": "str"},
                      "additional_properties": {"key": "", "type": "{object}"}}

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(type=data.get("type"))
        self.additional_properties = {k: v for k, v in data.items() if k != "type"}


def ai_entity(citations: Sequence[Citation] = ()) -> dict:
    """The root schema.org Message entity: AI label plus citation claims (at most 20; name ≤ 80, abstract ≤ 160)."""
    e = dict(AI_LABEL)
    if citations:
        e["citation"] = [{
            "@type": "Claim", "position": c.position,
            "appearance": {k: v for k, v in {
                "@type": "DigitalDocument", "name": (c.name or f"出典{c.position}")[:80],
                "url": c.url or None, "abstract": (c.abstract or "")[:160] or None,
                "keywords": list(c.keywords)[:3] or None}.items() if v is not None},
        } for c in list(citations)[:MAX_CITATIONS]]
    return e


def citation_entity_for_human(citations: Sequence[Citation]) -> dict:
    """Citations without the AI label (offline search results are not AI-generated)."""
    e = ai_entity(citations)
    e.pop("additionalType", None)
    return e


def status_of(exc: BaseException) -> int | None:
    """HTTP status of a failed Bot Connector call (msrest ErrorResponseException or aiohttp errors)."""
    for attr in ("status_code", "status"):
        v = getattr(exc, attr, None)
        if isinstance(v, int):
            return v
    resp = getattr(exc, "response", None)
    for attr in ("status_code", "status"):
        v = getattr(resp, attr, None)
        if isinstance(v, int):
            return v
    return None


def message_activity(text: str | None = None, *, card: dict | None = None, ai_generated: bool = False,
                     citations: Sequence[Citation] = (), feedback: bool = False,
                     extra_entities: list[dict] | None = None) -> Activity:
    entities: list[dict] = list(extra_entities or [])
    if ai_generated:
        entities.append(ai_entity(citations))
    elif citations:
        entities.append(citation_entity_for_human(citations))
    act = Activity(type=ActivityTypes.message, text=text, text_format="markdown" if text else None)
    if card is not None:
        act.attachments = [CardFactory.adaptive_card(card)]
    if entities:
        act.entities = [RawEntity(e) for e in entities]
    if feedback:
        act.channel_data = {"feedbackLoop": {"type": "default"}}
    return act


class TurnReplyPort:
    """ReplyPort (core.skills) implemented on a TurnContext."""

    def __init__(self, turn: TurnContext, *, is_invoke: bool = False, db=None, file_delivery: str = "consent") -> None:
        self.turn = turn
        self.db = db
        self.file_delivery = file_delivery
        self.is_invoke = is_invoke          # an Action.Execute invoke whose HTTP response is still open
        self.invoke_card: dict | None = None
        self.card_ready = asyncio.Event()
        self.sent: list[str] = []
        self._informative_stream: str | None = None
        self._informative_seq = 0

    @property
    def personal(self) -> bool:
        conv = self.turn.activity.conversation
        return (getattr(conv, "conversation_type", None) or "personal") == "personal"

    async def _send(self, act: Activity) -> str | None:
        resp = await self.turn.send_activity(act)
        rid = getattr(resp, "id", None)
        if rid:
            self.sent.append(rid)
        return rid

    async def send_text(self, text: str, *, ai_generated: bool = False, citations: Sequence[Citation] = (),
                        feedback: bool = False) -> str | None:
        return await self._send(await self._final(message_activity(text, ai_generated=ai_generated,
                                                                   citations=citations, feedback=feedback)))

    async def send_card(self, card: dict, *, ai_generated: bool = False, citations: Sequence[Citation] = (),
                        feedback: bool = False, text: str | None = None) -> str | None:
        return await self._send(await self._final(message_activity(text, card=card, ai_generated=ai_generated,
                                                                   citations=citations, feedback=feedback)))

    async def update_card(self, activity_id: str, card: dict) -> None:
        act = message_activity(card=card)
        act.id = activity_id
        await self.turn.update_activity(act)

    async def refresh_card(self, card: dict) -> None:
        """In an open invoke: the card goes back in the invoke response. Once the response has gone (long work
        continuing in the background), the actioned message is updated in place instead."""
        if self.is_invoke:
            self.invoke_card = card
            self.card_ready.set()
        elif self.turn.activity.reply_to_id:
            try:
                await self.update_card(self.turn.activity.reply_to_id, card)
            except Exception as e:  # noqa: BLE001 - the original message may be gone: send a new one
                log.info("card update failed (status %s); sending a new card", status_of(e))
                await self.send_card(card)
        else:
            await self.send_card(card)

    async def inform(self, text: str) -> None:
        """Informative streaming update (personal chat only; elsewhere nothing, to keep channels quiet)."""
        if not self.personal:
            return
        self._informative_seq += 1
        info = {"type": "streaminfo", "streamType": "informative", "streamSequence": self._informative_seq}
        if self._informative_stream:
            info["streamId"] = self._informative_stream
        try:
            resp = await self.turn.send_activity(self._stream_activity(ActivityTypes.typing, text, info))
        except Exception as e:  # noqa: BLE001 - progress is best effort
            log.info("informative update not delivered (status %s)", status_of(e))
            return
        if not self._informative_stream:
            self._informative_stream = getattr(resp, "id", None)

    @property
    def teams(self) -> bool:
        return (self.turn.activity.channel_id or "msteams") == "msteams"

    def _stream_activity(self, kind: str, text: str | None, info: dict) -> Activity:
        """A livestream activity. Teams reads the streaminfo entity; Bot Framework Web Chat (4.17+) reads the same
        fields from channelData (docs/LIVESTREAMING.md of microsoft/BotFramework-WebChat)."""
        act = Activity(type=kind, text=text, entities=[RawEntity(info)])
        if not self.teams:
            act.channel_data = {k: v for k, v in info.items() if k != "type"}
        return act

    async def _final(self, act: Activity) -> Activity:
        """Close an informative stream opened by inform(). In Teams the next message is its final message. Web Chat
        takes only text in a final message, so there the stream ends with a contentless final typing activity (which
        removes the progress line) and the message follows on its own."""
        stream_id, self._informative_stream = self._informative_stream, None
        if not stream_id:
            return act
        final = {"type": "streaminfo", "streamId": stream_id, "streamType": "final"}
        if self.teams:
            act.entities = list(act.entities or []) + [RawEntity(final)]
            return act
        try:
            await self.turn.send_activity(self._stream_activity(ActivityTypes.typing, None, final))
        except Exception as e:  # noqa: BLE001 - progress is best effort
            log.info("livestream end not delivered (status %s)", status_of(e))
        return act

    async def stream(self, chunks: AsyncIterator[str], *, ai_generated: bool = True,
                     citations: Sequence[Citation] = (), feedback: bool = True,
                     final_card: dict | None = None) -> str:
        if not self.personal:
            text = "".join([c async for c in chunks])
            await self._send(await self._final(message_activity(text, card=final_card, ai_generated=ai_generated,
                                                                citations=citations, feedback=feedback)))
            return text
        text = ""
        stream_id = self._informative_stream
        seq = self._informative_seq
        last = time.monotonic()     # first update after a second: a quick answer arrives as one message
        stopped = False
        shown = False               # part of the answer is on the user's screen
        try:
            async for chunk in chunks:
                text += chunk
                now = time.monotonic()
                if now - last < STREAM_INTERVAL or not text.strip():
                    continue
                seq += 1
                info = {"type": "streaminfo", "streamType": "streaming", "streamSequence": seq}
                if stream_id:
                    info["streamId"] = stream_id
                try:
                    resp = await self.turn.send_activity(self._stream_activity(ActivityTypes.typing, text, info))
                except Exception as e:  # noqa: BLE001
                    if status_of(e) == 403:      # the user pressed stop (ContentStreamNotAllowed)
                        stopped = True
                        break
                    raise
                stream_id = stream_id or getattr(resp, "id", None)
                shown = True
                last = time.monotonic()
        except Exception:
            if shown and stream_id:
                await self._close_interrupted(text, stream_id, ai_generated=ai_generated)
            raise
        finally:
            if stopped:
                aclose = getattr(chunks, "aclose", None)
                if aclose:
                    await aclose()
        self._informative_stream = None
        if stopped:
            log.info("stream stopped by the user")
            return text
        act = message_activity(text, card=final_card, ai_generated=ai_generated, citations=citations,
                               feedback=feedback)
        if stream_id:
            final = {"type": "streaminfo", "streamId": stream_id, "streamType": "final"}
            if self.teams:
                act.entities = list(act.entities or []) + [RawEntity(final)]
            elif final_card is None:
                act.channel_data = {"streamId": stream_id, "streamType": "final"}
            else:                       # Web Chat: a final message carries text only
                await self.turn.send_activity(self._stream_activity(ActivityTypes.typing, None, final))
        try:
            await self._send(act)
        except Exception as e:  # noqa: BLE001
            if status_of(e) != 403:
                raise
        return text

    async def _close_interrupted(self, text: str, stream_id: str, *, ai_generated: bool) -> None:
        """The source of a stream failed after part of it was shown: end the stream (Teams would leave it
        "streaming") with what was shown and a line saying it is incomplete; the caller's error message follows."""
        self._informative_stream = None
        act = message_activity(text.rstrip() + "\n\n" + STREAM_INTERRUPTED, ai_generated=ai_generated,
                               feedback=False)
        final = {"type": "streaminfo", "streamId": stream_id, "streamType": "final"}
        if self.teams:
            act.entities = list(act.entities or []) + [RawEntity(final)]
        else:
            act.channel_data = {"streamId": stream_id, "streamType": "final"}
        try:
            await self._send(act)
        except Exception as e:  # noqa: BLE001 - the original failure is what the caller reports
            log.info("interrupted stream not closed (status %s)", status_of(e))

    async def send_file(self, name: str, content: bytes, content_type: str, *, description: str = "") -> str | None:
        """Teams: a file-consent card in personal chat (see bot/files.py); elsewhere Teams takes no files from
        bots, so the user is asked to repeat the action in personal chat. FILE_DELIVERY=inline: a data URI."""
        if self.file_delivery == "inline":
            b64 = base64.b64encode(content).decode("ascii")
            act = Activity(type=ActivityTypes.message, text=description or None,
                           attachments=[Attachment(content_type=content_type, name=name,
                                                   content_url=f"data:{content_type};base64,{b64}")])
            return await self._send(act)
        if not self.personal:
            return await self.send_text("ファイルは個人チャットでお送りします。アシスタントとの個人チャットで、"
                                        "同じ操作をお試しください。")
        from bot.files import offer

        rid = await offer(self.turn, self.db, name, content, content_type, description)
        if rid:
            self.sent.append(rid)
        return rid

