"""Action items to Microsoft To Do: the minutes card carries one 「To Doに登録」 button per item when Graph is
configured; pressing it creates the task in the user's default list through the real msgraph-sdk against the Graph
stand-in (due date when the item names one, the meeting and transcript time in the note)."""
from __future__ import annotations

from datetime import datetime, timezone

from cards import minutes as cards
from core import router
from core.graph import GraphService
from core.skills import FileAttachment
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.minutes.samples import TEAMS_VTT
from tests.standins.graph import FixedCredential
from tests.standins.graph_meetings import MeetingsGraphStandIn

ME = "00000000-0000-0000-0000-0000000000aa"


async def test_action_items_to_microsoft_to_do(sqlite_db, model):
    graph = await MeetingsGraphStandIn().start()
    graph.todo_lists[ME] = [{"id": "list-flagged", "displayName": "フラグを設定したメール", "wellknownListName": "flaggedEmails"},
                            {"id": "list-default", "displayName": "タスク", "wellknownListName": "defaultList"}]
    try:
        services = make_services(sqlite_db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": model.base_url,
                                                   "LLM_PERSONAL_DATA": "true"})
        services.graph = GraphService(FixedCredential(), graph.base_url)
        services.clock.now = lambda: datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)
        port = RecorderPort()
        att = FileAttachment(name="委員会.vtt", content_type="text/vtt", content=TEAMS_VTT.encode())
        await router.dispatch(make_request("議事録", attachments=[att]), port, services)
        buttons = card_nodes(port.cards()[0], lambda n: n.get("type") == "Action.Execute"
                            and n.get("verb") == cards.TODO_VERB)
        assert [b["data"]["task"] for b in buttons] == ["アンケートの設問案を作成する", "人員の見込みを示す"]
        for b in buttons:
            pressed = RecorderPort()
            data = {k: v for k, v in b["data"].items() if k != "verb"}
            await router.dispatch(make_request(verb=cards.TODO_VERB, data=data), pressed, services)
        assert pressed.texts() == ["Microsoft To Doの「タスク」に「人員の見込みを示す」を登録しました（期限：令和8年12月15日（火））。"]
        assert [t["list"] for t in graph.tasks] == ["list-default", "list-default"]
        first, second = graph.tasks
        assert first["title"] == "アンケートの設問案を作成する" and "dueDateTime" not in first   # 「来週中」: no date
        assert "期限（発言）：来週中" in first["body"]["content"] and "文字起こしの位置：00:01:24" in first["body"]["content"]
        assert second["dueDateTime"] == {"dateTime": "2026-12-15T00:00:00", "timeZone": "Tokyo Standard Time"}
        # Graph refusing: a Japanese line
        graph.fail_task_status = 403
        denied = RecorderPort()
        await router.dispatch(make_request(verb=cards.TODO_VERB, data={"task": "x", "due": ""}), denied, services)
        assert "Tasks.ReadWrite.All" in denied.texts()[0]
    finally:
        await graph.stop()
