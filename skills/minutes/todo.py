"""One action item of the minutes to the user's Microsoft To Do (the card's 「To Doに登録」 button): the task, the
meeting and the transcript time in its note, the due date when the item names one (「12月15日」「令和8年1月10日」;
words such as 「来週中」 stay in the note only)."""
from __future__ import annotations

import logging

from core.carddata import CardData, Name
from core.graph import GraphError
from core.graph_todo import TodoTasks
from core.jdate import dates_in, with_weekday
from core.services import Services
from core.skills import ReplyPort, SkillRequest
from skills.minutes import strings as S

log = logging.getLogger(__name__)


class TodoData(CardData):
    task: Name
    due: Name = ""
    at: Name = ""
    title: Name = ""


async def add(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    if services.graph is None:
        await reply.send_text(S.TODO_NO_GRAPH)
        return
    if not req.aad_object_id:
        await reply.send_text(S.TODO_NO_USER)
        return
    task = str(req.data.get("task") or "").strip()
    if not task:
        await reply.send_text(S.TODO_EMPTY)
        return
    due_words = str(req.data.get("due") or "").strip()
    found = dates_in(due_words, today=services.clock.now_jst().date())
    due = found[0].value if found else None
    meeting, at = str(req.data.get("title") or ""), str(req.data.get("at") or "")
    note = S.TODO_BODY.format(meeting=meeting or "会議", at=at or "－", due=due_words or "未定")
    api = TodoTasks(services.graph)
    try:
        list_id, list_name = await api.default_list(req.aad_object_id)
        await api.create(req.aad_object_id, list_id, task[:250], note, due)
    except GraphError as e:
        log.warning("minutes: To Do failed (%s, %s)", e, e.status)
        await reply.send_text(S.TODO_DENIED if e.status in (401, 403) else S.TODO_FAILED)
        return
    when = f"（期限：{with_weekday(due)}）" if due else ""
    await reply.send_text(S.TODO_DONE.format(task=task[:80], when=when, list=list_name))
