"""Proactive sends (digests, answers from staff) to stored conversation references, over the Bot Framework."""
from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from botbuilder.schema import ConversationReference

from bot.reply import message_activity, status_of
from core.services import SendResult
from core.store.models import ConversationRef

log = logging.getLogger(__name__)


def _retry_after(exc: BaseException) -> float | None:
    resp = getattr(exc, "response", None)
    headers = getattr(resp, "headers", None) or {}
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class BotProactiveSender:
    def __init__(self, adapter, app_id: str | None, db=None) -> None:
        self.adapter = adapter
        self.app_id = app_id
        self.db = db

    async def send(self, conversation_id: str, *, text: str | None = None, card: dict | None = None,
                   ai_generated: bool = False) -> SendResult:
        async with self.db.session() as s:
            row = await s.get(ConversationRef, conversation_id)
            if row is None or not row.installed:
                return SendResult(ok=False, status=404, gone=True)
            reference = ConversationReference().deserialize(row.reference)
        sent: dict = {}

        async def callback(turn: TurnContext) -> None:
            # Caught here: an exception escaping the callback would reach on_turn_error (an apology to nobody).
            try:
                resp = await turn.send_activity(message_activity(text, card=card, ai_generated=ai_generated))
                sent["id"] = getattr(resp, "id", None)
            except Exception as e:  # noqa: BLE001
                sent["error"] = e

        try:
            await self.adapter.continue_conversation(reference, callback, self.app_id)
            if "error" in sent:
                raise sent["error"]
        except Exception as e:  # noqa: BLE001 - mapped to a result the caller can act on
            status = status_of(e) or 0
            if status in (403, 404):
                async with self.db.session() as s:
                    row = await s.get(ConversationRef, conversation_id)
                    if row is not None:
                        row.installed = False
                return SendResult(ok=False, status=status, gone=True)
            log.warning("proactive send failed with status %s", status)
            return SendResult(ok=False, status=status, retry_after=_retry_after(e))
        return SendResult(ok=True, status=200, activity_id=sent.get("id"))
