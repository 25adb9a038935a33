"""Draft rows: create, load (owner only), update."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import select

from core.store import Database
from core.store.models import utcnow
from skills.drafting.compose import Reference
from skills.drafting.models import Draft


def references_of(draft: Draft) -> list[Reference]:
    """The references stored with a draft, in their cited order."""
    return [Reference.from_json(r) for r in draft.references or []]


async def create_draft(db: Database, *, user_id: str, doc_type: str, fields: dict, text: str, masked_note: str,
                       easy: bool, offline: bool, references: Sequence[Reference] = ()) -> Draft:
    async with db.session() as s:
        row = Draft(user_id=user_id, doc_type=doc_type, fields=fields, text=text, masked_note=masked_note or "",
                    easy=easy, offline=offline, revision=0, references=[r.to_json() for r in references])
        s.add(row)
        await s.flush()
        await s.refresh(row)
        s.expunge(row)
    return row


async def load_draft(db: Database, draft_id: int, user_id: str) -> Draft | None:
    """The draft when it belongs to `user_id`, else None (another person's draft is not found)."""
    async with db.session() as s:
        row = (await s.execute(select(Draft).where(Draft.id == draft_id, Draft.user_id == user_id))).scalar_one_or_none()
        if row is not None:
            s.expunge(row)
    return row


async def update_draft(db: Database, draft_id: int, *, text: str, masked_note: str, easy: bool) -> Draft:
    async with db.session() as s:
        row = await s.get(Draft, draft_id)
        row.text = text
        row.masked_note = masked_note or ""
        row.easy = easy
        row.revision = (row.revision or 0) + 1
        row.updated_at = utcnow()
        await s.flush()
        await s.refresh(row)
        s.expunge(row)
    return row
