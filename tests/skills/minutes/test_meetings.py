"""Teams meeting transcripts through the real msgraph-sdk against the loopback Graph stand-in: /minutes in the
meeting's chat (chat → join URL and organizer → meeting → transcripts → VTT content with Accept: text/vtt), and a
join link in personal chat (organizer from the link's context; only participants get the transcript); no
transcript yet, no access policy, no Graph, a link that is no meeting link."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from core import router
from core.graph import GraphService
from core.graph_meetings import parse_join_url
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.minutes.samples import TEAMS_VTT
from tests.standins.graph import FixedCredential
from tests.standins.graph_meetings import MeetingsGraphStandIn

ORGANIZER = "11111111-2222-3333-4444-555555555555"
ME = "00000000-0000-0000-0000-0000000000aa"
CHAT = "19:meeting_NjQ4YzFiZGUtOWQ4Zi00@thread.v2"
JOIN = ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ4YzFiZGUtOWQ4Zi00%40thread.v2/0?context="
        + quote(json.dumps({"Tid": "tenant-1", "Oid": ORGANIZER}, separators=(",", ":"))))


def texts(card: dict) -> list[str]:
    return [n["text"] for n in card_nodes(card, lambda n: n.get("type") == "TextBlock")]


@pytest.fixture
async def graph():
    g = await MeetingsGraphStandIn().start()
    g.chats[CHAT] = {"joinWebUrl": JOIN, "organizer": {"id": ORGANIZER, "displayName": "山田 太郎"}}
    g.meetings["MSpvcmdhbml6ZXIqMCoqMTk6bWVldGluZ19"] = {
        "organizer": ORGANIZER, "joinWebUrl": JOIN, "subject": "第3回地域福祉計画策定委員会",
        "startDateTime": "2026-11-27T05:00:00Z", "endDateTime": "2026-11-27T06:30:00Z", "attendees": [ME]}
    g.transcripts["MSpvcmdhbml6ZXIqMCoqMTk6bWVldGluZ19"] = [
        {"id": "MSMjMCMjOLD", "createdDateTime": "2026-11-27T05:10:00Z", "vtt": "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v 古い>古い文字起こし。</v>\n"},
        {"id": "MSMjMCMjNEW", "createdDateTime": "2026-11-27T06:31:00Z", "vtt": TEAMS_VTT}]
    yield g
    await g.stop()


def services_with(sqlite_db, graph):
    services = make_services(sqlite_db)
    services.graph = GraphService(FixedCredential(), graph.base_url)
    return services


def test_join_links():
    link = parse_join_url(f"この会議の議事録をお願いします {JOIN}")
    assert link is not None and link.organizer_id == ORGANIZER and link.tenant_id == "tenant-1"
    assert parse_join_url("https://example.com/l/meetup-join/x") is None
    assert parse_join_url("会議は明日です") is None


async def test_in_the_meeting_chat(sqlite_db, graph):
    services = services_with(sqlite_db, graph)
    port = RecorderPort()
    await router.dispatch(make_request("/minutes", conversation_id=CHAT + ";messageid=1",
                                       conversation_type="groupChat"), port, services)
    paths = [(r["path"], r["query"]) for r in graph.requests]
    assert paths[0] == (f"/v1.0/chats/{CHAT}", {})
    assert paths[1] == (f"/v1.0/users/{ORGANIZER}/onlineMeetings", {"$filter": f"JoinWebUrl eq '{JOIN}'"})
    assert paths[2][0].endswith("/onlineMeetings/MSpvcmdhbml6ZXIqMCoqMTk6bWVldGluZ19/transcripts")
    assert paths[3][0].endswith("/transcripts/MSMjMCMjNEW/content")        # the newest transcript
    assert all(r["auth"] == "Bearer test-token" for r in graph.requests)
    card = port.cards()[0]
    lines = texts(card)
    assert lines[0] == "会議録（自動抽出）：第3回地域福祉計画策定委員会"
    facts = {f["title"]: f["value"] for f in card_nodes(card, lambda n: "title" in n and "value" in n)}
    assert facts["日時"] == "2026年11月27日（金）14:00～15:30"
    assert facts["出席者"] == "山田 太郎、佐藤 花子、鈴木 一郎"          # speaker names from the voice tags
    assert "古い文字起こし" not in json.dumps(card, ensure_ascii=False)


async def test_with_a_join_link_only_participants(sqlite_db, graph):
    services = services_with(sqlite_db, graph)
    port = RecorderPort()
    await router.dispatch(make_request(f"/minutes {JOIN}"), port,
                          services)
    assert port.cards() and texts(port.cards()[0])[0].startswith("会議録（自動抽出）")
    other = RecorderPort()
    graph.requests.clear()
    await router.dispatch(make_request(f"/minutes {JOIN}",
                                       aad_object_id="99999999-0000-0000-0000-000000000000"), other, services)
    assert other.texts()[-1].startswith("この会議の開催者・招待された出席者ではないため")
    assert not any("transcripts" in r["path"] for r in graph.requests)     # nothing of the transcript was read


async def test_graph_trouble_in_japanese(sqlite_db, graph):
    services = services_with(sqlite_db, graph)
    graph.transcripts["MSpvcmdhbml6ZXIqMCoqMTk6bWVldGluZ19"] = []
    port = RecorderPort()
    await router.dispatch(make_request(f"/minutes {JOIN}"), port, services)
    assert port.texts()[-1].startswith("この会議には、まだ文字起こしがありません。")
    graph.policy_users = set()                                            # no application access policy
    port = RecorderPort()
    await router.dispatch(make_request(f"/minutes {JOIN}"), port, services)
    assert "アプリケーションアクセスポリシー" in port.texts()[-1]
    port = RecorderPort()
    await router.dispatch(make_request("/minutes https://example.com/x"), port, services)
    assert port.texts()[-1].startswith("会議の参加リンクを読み取れませんでした")
    services.graph = None
    port = RecorderPort()
    await router.dispatch(make_request(f"/minutes {JOIN}"), port, services)
    assert port.texts()[-1].startswith("Teams会議の文字起こしの取得は、Microsoft Graphの設定がないため")
