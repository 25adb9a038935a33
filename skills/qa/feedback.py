"""A 👎 on an /ask answer → the offer to ask the section's staff (for the Teams feedback hand-off in bot/)."""
from __future__ import annotations

from sqlalchemy import select

from cards import qa as qa_cards
from skills.qa import strings as S
from skills.qa.answer import can_escalate
from skills.qa.models import QAQuestion


async def escalation_offer(services, reply_to_id: str | None, user_id: str, reaction: str) -> dict | None:
    """The card to send after feedback on message `reply_to_id`, or None (not a 👎, not an /ask answer of this
    user, already handed to staff, or no hand-off backend)."""
    if reaction != "dislike" or not reply_to_id:
        return None
    async with services.db.session() as s:
        row = await s.scalar(select(QAQuestion).where(QAQuestion.answer_activity_id == reply_to_id,
                                                      QAQuestion.user_id == user_id))
    if row is None or row.status not in ("answered", "offline", "approved") or not can_escalate(services, row.target_set):
        return None
    return qa_cards.declined_card(S.DISLIKE_OFFER, row.id, offer=S.ESCALATE_OFFER)
