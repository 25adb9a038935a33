"""Microsoft To Do tasks through Microsoft Graph (msgraph-sdk), on `core.graph.GraphService`: the user's default
task list (`GET /users/{id}/todo/lists`, the one whose wellknownListName is "defaultList") and a task in it
(`POST /users/{id}/todo/lists/{list-id}/tasks` with title, body and dueDateTime). Application permission
Tasks.ReadWrite.All (see docs/deploy.md)."""
from __future__ import annotations

from datetime import date, datetime

from core.graph import GraphError, GraphService, _status_of


class TodoTasks:
    def __init__(self, graph: GraphService) -> None:
        self.client = graph.client

    async def default_list(self, user_id: str) -> tuple[str, str]:
        """(list id, display name) of the user's default To Do list."""
        try:
            page = await self.client.users.by_user_id(user_id).todo.lists.get()
        except Exception as e:  # noqa: BLE001 - mapped for callers
            raise GraphError(f"todo lists failed: {type(e).__name__}", _status_of(e)) from e
        lists = (page.value if page else None) or []
        for lst in lists:
            known = getattr(lst.wellknown_list_name, "value", lst.wellknown_list_name)
            if known == "defaultList" and lst.id:
                return lst.id, lst.display_name or "タスク"
        if lists and lists[0].id:
            return lists[0].id, lists[0].display_name or "タスク"
        raise GraphError("no To Do list", 404)

    async def create(self, user_id: str, list_id: str, title: str, body: str, due: date | None,
                     time_zone: str = "Tokyo Standard Time") -> str:
        from msgraph.generated.models.body_type import BodyType
        from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
        from msgraph.generated.models.item_body import ItemBody
        from msgraph.generated.models.todo_task import TodoTask

        task = TodoTask(title=title, body=ItemBody(content=body, content_type=BodyType.Text))
        if due is not None:
            task.due_date_time = DateTimeTimeZone(
                date_time=datetime.combine(due, datetime.min.time()).isoformat(), time_zone=time_zone)
        try:
            made = await self.client.users.by_user_id(user_id).todo.lists.by_todo_task_list_id(list_id).tasks.post(task)
        except Exception as e:  # noqa: BLE001
            raise GraphError(f"todo task failed: {type(e).__name__}", _status_of(e)) from e
        if made is None or not made.id:
            raise GraphError("todo task returned no id")
        return made.id
