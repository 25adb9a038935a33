"""Which of a question's candidate passages may go where the question is handed to staff (issue #21).

A question is searched in the sets its asker may read, members-only sets included; its candidate passages are kept
with it and shown to the staff who answer. Those staff are not the set's members unless the place is the set's
own: a members-only set's passage goes only to the Teams channel that set names in QA_FALLBACK_CHANNELS (its
members' channel), never to the general channel ("*") nor to kintone, which has no place per set. Passages of sets
readable by all staff go everywhere. A passage whose set is unknown (deleted since, or stored without one) is kept
back: nobody can say who may read it."""
from __future__ import annotations

from core.search.passages import Passage
from skills.qa.service import settings_of


async def shareable(services, passages: list[Passage], *, channel: str | None) -> list[Passage]:
    """The passages that may be shown in `channel` (a Teams conversation id; None = kintone)."""
    routes = settings_of(services).QA_FALLBACK_CHANNELS
    open_to_all: dict[str, bool] = {}
    out = []
    for p in passages:
        name = p.set_name
        if name not in open_to_all:
            info = await services.knowledge.get_set(name) if name else None
            open_to_all[name] = info is not None and not info.members
        if open_to_all[name] or (channel is not None and bool(name) and routes.get(name) == channel):
            out.append(p)
    return out
