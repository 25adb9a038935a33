"""Knowledge-set and tenant isolation, every path, through the real app (issue #21).

A members-only set 「人事課限定」 (members: MEMBER) holds a passage and an approved answer, each carrying a mark no
other text has. The same requests run, over the real aiohttp app and the stand-in Bot Connector (the LLM through the
real openai client to a loopback OpenAI-compatible server, e-Gov through its stand-in, the 照会 form downloaded from a
loopback file server), as three people:
  - an outsider (a staff member of the tenant, not a member),
  - a member,
  - the member's AAD object id arriving from another tenant (ALLOWED_TENANT_IDS = tenant-1).
Paths: /ask (retrieval and the LLM), free text in personal chat (the model picks /ask as its tool), /ask matched by an approved answer, the approved answers' list and edit form
(`/ask 承認済み`, the list and edit verbs with the pair's id), /draft 議会答弁 references, /plan research, the 照会
(/inquiry) form. What the user received (every activity, every invoke response, the files delivered, decoded) and
what the model received must hold the set's marks for the member and never for the outsider or the other tenant;
the outsider's run must reach the all-staff set's passage (the path really searched), and the other tenant gets the
short refusal and nothing reaches the model.
Residents (Web Chat) are tested apart: only public sets, even when CITIZEN_PUBLIC_SETS names a members-only set.
"""
from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web

from bot.handler import TENANT_REFUSAL
from core.knowledge.approved import ApprovedAnswers, NewApproved
from core.knowledge.public import Contact, configure
from skills.citizen.settings import CitizenSettings
from skills.drafting.settings import DraftingSettings
from skills.notices.settings import NoticesSettings
from skills.qa import strings as S
from skills.qa.settings import QASettings
from tests.harness import make_services, running_bot
from tests.skills.notices.documents import inquiry_xlsx
from tests.skills.planning.plan_helpers import outline_json
from tests.standins.connector import ConnectorStandIn
from tests.standins.law import LawStandIn
from tests.standins.openai_server import OpenAIStandIn

MEMBER_AAD = "00000000-0000-0000-0000-00000000c0de"
OUTSIDER_AAD = "00000000-0000-0000-0000-0000000000aa"
SECRET_SET, OPEN_SET, PUBLIC_SET = "jinji-gentei", "soumu", "shimin"
SECRET_MARK = "HIMITSU7731"               # in the members-only passage (title and text)
APPROVED_MARK = "SHOUNIN5524"             # in the members-only approved answer
OPEN_MARK = "KOUKAI2208"                  # in the all-staff passage: the outsider's control
PUBLIC_MARK = "SHIMIN4410"                # in the public page: the resident's control
SECRET_DOC = ("# 喫煙所跡地の分室計画\n\n## 庁舎内の喫煙所\n\n"
              f"庁舎内の喫煙所は令和6年度末ですべて廃止し、跡地は人事課の分室（管理番号{SECRET_MARK}）としました。\n")
OPEN_DOC = ("# 庁舎の喫煙所の案内\n\n## 喫煙所の設置状況\n\n"
            f"庁舎の喫煙所は敷地内の屋外に1か所設置しています（案内番号{OPEN_MARK}）。\n")
PUBLIC_DOC = ("# 市役所の喫煙所\n\n## 喫煙所の設置状況\n\n"
              f"市役所の敷地内は禁煙です。喫煙所は設置していません（ページ番号{PUBLIC_MARK}）。\n")
QUESTION = "庁舎内の喫煙所の設置状況を教えてください"
APPROVED_Q = "職員の喫煙時間の取扱いはどうなっていますか"
APPROVED_A = f"喫煙のための離席は休憩時間に限ります（通知番号{APPROVED_MARK}）。"
PROFILES = """
default: iso
profiles:
  - id: iso
    name: 総務（分離の試験）
    method: [現状分析, 施策案]
    knowledge_sets: [jinji-gentei, soumu]
    case_sets: []
    law_keywords: [住民の福祉]
"""
FILE_INFO = "application/vnd.microsoft.teams.file.download.info"


def model(body: dict) -> dict:
    """A model that shows what it was given: its answer repeats every message (so a passage given to it reaches the
    user's screen too), with a citation; the /plan outline gets its JSON."""
    given = "\n".join(str(m.get("content")) for m in body["messages"])
    if body.get("tools"):                   # free text: the model picks /ask (the qa skill) as its tool
        return {"tool": "qa", "args": {"request": str(body["messages"][-1].get("content"))}}
    if str(body["messages"][-1].get("content", "")).startswith("次の調査メモと資料をもとに"):
        return {"text": outline_json("庁舎内の喫煙所の今後について")}
    return {"text": "資料によれば次のとおりです[1]。\n" + given}


@dataclass(frozen=True)
class Who:
    name: str
    user: str
    aad: str
    tenant: str = "tenant-1"

    @property
    def refused(self) -> bool:
        return self.tenant != "tenant-1"


OUTSIDER = Who("outsider", "29:outsider", OUTSIDER_AAD)
MEMBER = Who("member", "29:member", MEMBER_AAD)
FOREIGN = Who("member-id-from-another-tenant", "29:foreign", MEMBER_AAD, "tenant-evil")


class Session:
    """One person talking to the real app; records every invoke response body."""

    def __init__(self, url: str, connector: ConnectorStandIn, who: Who) -> None:
        self.url, self.connector, self.who = url, connector, who
        self.invoke_bodies: list[str] = []

    def _activity(self, text: str | None, **kw) -> dict:
        w = self.who
        return self.connector.activity(text, user=w.user, aad=w.aad, tenant=w.tenant,
                                       conversation=f"a:personal-{w.name}", **kw)

    async def _post(self, act: dict) -> tuple[int, str]:
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{self.url}/api/messages", json=act) as r:
                return r.status, await r.text()

    async def say(self, text: str, until, *, timeout: float = 60.0, **kw) -> None:
        """Send a message; wait for `until(new messages)` (for the other tenant: for the refusal)."""
        n = len(self.connector.messages())
        status, _ = await self._post(self._activity(text, **kw))
        assert status in (200, 202)
        new = lambda: self.connector.messages()[n:]  # noqa: E731
        if self.who.refused:
            await self.connector.wait_for(lambda _a: any(m.get("text") == TENANT_REFUSAL for m in new()))
            return
        await self.connector.wait_for(lambda _a: until(new()), timeout=timeout)

    async def invoke(self, verb: str, data: dict, until=None, *, timeout: float = 60.0) -> None:
        n = len(self.connector.messages())
        act = self._activity(None, type="invoke", name="adaptiveCard/action",
                             value={"action": {"type": "Action.Execute", "verb": verb, "data": data},
                                    "trigger": "manual"})
        status, body = await self._post(act)
        self.invoke_bodies.append(body)
        if self.who.refused:
            assert status == 403
            return
        assert status == 200
        if until is not None:
            await self.connector.wait_for(lambda _a: until(self.connector.messages()[n:]), timeout=timeout)


def has_text(fragment: str):
    return lambda msgs: any(fragment in (m.get("text") or "") for m in msgs)


def has_card(msgs: list[dict]) -> bool:
    return any(a.get("contentType") == "application/vnd.microsoft.card.adaptive" for m in msgs
               for a in m.get("attachments") or [])


def final_stream(msgs: list[dict]) -> bool:
    return any(e.get("type") == "streaminfo" and e.get("streamType") == "final" for m in msgs
               for e in m.get("entities") or [])


def decoded_files(acts: list[dict]) -> list[str]:
    """Files delivered inline (FILE_DELIVERY=inline: data URIs), as text: .xlsx cells and comments."""
    from openpyxl import load_workbook

    out = []
    for a in acts:
        for att in a.get("attachments") or []:
            url = str(att.get("contentUrl") or "")
            if not url.startswith("data:") or ";base64," not in url:
                continue
            data = base64.b64decode(url.split(";base64,", 1)[1])
            if (att.get("name") or "").endswith(".xlsx"):
                wb = load_workbook(io.BytesIO(data))
                out.extend(f"{c.value} {c.comment.text if c.comment else ''}" for ws in wb for row in ws.iter_rows()
                           for c in row)
            else:
                out.append(data.decode("utf-8", "replace"))
    return out


@pytest.fixture
async def world(sqlite_db, monkeypatch, tmp_path):
    llm, egov, connector = await OpenAIStandIn(default=model).start(), await LawStandIn().start(), \
        await ConnectorStandIn().start()
    form = inquiry_xlsx()

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=form, content_type="application/octet-stream")

    files = web.AppRunner(web.Application())
    files.app.router.add_get("/dl/shoukai", serve)
    await files.setup()
    site = web.TCPSite(files, "127.0.0.1", 0)
    await site.start()
    files_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/dl/shoukai"

    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(PROFILES, encoding="utf-8")
    monkeypatch.setenv("PLANNING_PROFILES_FILE", str(profiles))
    monkeypatch.setenv("EGOV_LAW_API_BASE", egov.base_url)
    services = make_services(sqlite_db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url,
                                                 "LLM_MAX_RETRIES": "0"})
    services.settings.put(QASettings(_env_file=None, QA_REWRITE=False, QA_RERANK=False))
    services.settings.put(DraftingSettings(_env_file=None, DRAFT_REFERENCE_SETS=f"{SECRET_SET},{OPEN_SET}"))
    services.settings.put(NoticesSettings(_env_file=None, NOTICES_DOWNLOAD_HOSTS="127.0.0.1",
                                          NOTICES_DOWNLOAD_ALLOWLIST="127.0.0.1"))
    # a misconfiguration the citizen bot must survive: the members-only set named public (the all-staff set is
    # neither marked nor named public)
    services.settings.put(CitizenSettings(_env_file=None, CITIZEN_REWRITE=False, CITIZEN_RERANK=False,
                                          CITIZEN_PUBLIC_SETS=SECRET_SET))
    ix = services.knowledge
    await ix.create_set(SECRET_SET, title="人事課限定", members=[MEMBER_AAD])
    await ix.upsert_document(SECRET_SET, "folder", "bunshitsu.md", f"喫煙所跡地の分室計画 {SECRET_MARK}", None,
                             SECRET_DOC)
    await ix.create_set(OPEN_SET, title="総務課（全職員）")
    await ix.upsert_document(OPEN_SET, "folder", "kitsuen.md", "庁舎の喫煙所の案内", None, OPEN_DOC)
    await ix.create_set(PUBLIC_SET, title="市民向け情報")
    await configure(services.db, PUBLIC_SET, public=True, contact=Contact("尼崎市役所 代表", "06-6375-5639"))
    await ix.upsert_document(PUBLIC_SET, "folder", "kitsuen.html", "市役所の喫煙所",
                             "https://www.city.amagasaki.example/kitsuen.html", PUBLIC_DOC)
    now = services.clock.now()
    [pair] = await ApprovedAnswers(services.db).add_many([NewApproved(
        set_name=SECRET_SET, question=APPROVED_Q, answer=APPROVED_A, source="csv",
        expires_at=now + timedelta(days=30), owner_name="人事課")], now=now)
    async with running_bot(services, ALLOWED_TENANT_IDS="tenant-1", FILE_DELIVERY="inline") as url:
        yield url, services, llm, connector, files_url, pair.id
    await services.llm.close()
    if services.law:
        await services.law.close()
    await files.cleanup()
    for s in (connector, egov, llm):
        await s.stop()


# ------------------------------------------------------------------------------------------------ the paths

async def ask(s: Session, **_) -> None:
    await s.say(f"/ask {QUESTION}", lambda m: has_card(m) or has_text("資料によれば")(m))


async def free_text(s: Session, **_) -> None:
    # no command: the model chooses the skill (tools), which handles the original request
    await s.say(QUESTION, lambda m: has_card(m) or has_text("資料によれば")(m))


async def approved_match(s: Session, **_) -> None:
    # the member gets the approved card (no model); the outsider's question goes on to retrieval
    await s.say(f"/ask {APPROVED_Q}", lambda m: has_card(m) or has_text("資料によれば")(m))


async def approved_manage(s: Session, *, pair_id: int, **_) -> None:
    await s.say(f"/ask 承認済み {SECRET_SET}", lambda m: bool(m))
    await s.say("/ask 承認済み", lambda m: bool(m))
    # the list and edit buttons with the set's name and the pair's id, as a forged card would send them
    await s.invoke("qa.approved.list", {"set": SECRET_SET, "page": 0})
    await s.invoke("qa.approved.edit", {"id": pair_id, "set": SECRET_SET, "page": 0})


async def draft(s: Session, **_) -> None:
    await s.invoke("draft.create", {"doc_type": "gikai", "subject": "庁舎内の喫煙所の設置状況",
                                    "points": "庁舎内の喫煙所の廃止と跡地の活用の方針を問う",
                                    "commitment": "検討してまいります"}, has_card)


async def plan(s: Session, **_) -> None:
    await s.say("/企画 庁舎内の喫煙所の今後について", has_card)
    if s.who.refused:
        start = {"theme": "庁舎内の喫煙所の今後について"}
    else:
        card = [a["content"] for m in s.connector.messages() for a in m.get("attachments") or []
                if a.get("contentType") == "application/vnd.microsoft.card.adaptive"][-1]
        start = card["actions"][0]["data"]
    await s.invoke("plan.start", {**start, "theme": "庁舎内の喫煙所の今後について", "purpose": "喫煙所の設置状況の整理",
                                  "target": "職員", "period": "令和8年度", "budget": "1,000万〜1億円",
                                  "profile": "iso"}, final_stream, timeout=90)


async def inquiry(s: Session, *, files_url: str, **_) -> None:
    att = {"contentType": FILE_INFO, "name": "喫煙所調査.xlsx", "contentUrl": files_url,
           "content": {"downloadUrl": files_url, "uniqueId": "x1", "fileType": "xlsx"}}
    await s.say("この照会に回答してください", lambda m: any(str(a.get("contentUrl", "")).startswith("data:")
                                                  for x in m for a in x.get("attachments") or []),
                attachments=[att], timeout=90)


PATHS = {"ask": ask, "free text (model picks /ask)": free_text, "approved answer": approved_match, "approved list/edit": approved_manage, "draft": draft,
         "plan": plan, "inquiry": inquiry}
# where the member must find the set's mark: in what the model got (passages) or what the user got (approved pairs)
MEMBER_SEES = {"ask": SECRET_MARK, "free text (model picks /ask)": SECRET_MARK, "approved answer": APPROVED_MARK, "approved list/edit": APPROVED_MARK,
               "draft": SECRET_MARK, "plan": SECRET_MARK, "inquiry": SECRET_MARK}


@pytest.mark.parametrize("who", [OUTSIDER, MEMBER, FOREIGN], ids=lambda w: w.name)
@pytest.mark.parametrize("path", list(PATHS))
async def test_a_members_only_set_reaches_only_its_members(world, path, who):
    url, services, llm, connector, files_url, pair_id = world
    s = Session(url, connector, who)
    await PATHS[path](s, files_url=files_url, pair_id=pair_id)
    acts = connector.activities()
    received = "\n".join([json.dumps(acts, ensure_ascii=False), *s.invoke_bodies, *decoded_files(acts)])
    given = llm.seen()
    marks = (SECRET_MARK, APPROVED_MARK)
    if who is MEMBER:
        assert MEMBER_SEES[path] in given + received, f"{path}: the member never got the set's passage"
        if path.startswith("approved"):
            assert APPROVED_MARK in received
        return
    leaked = [m for m in marks if m in received or m in given]
    assert not leaked, f"{path}: {who.name} got {leaked}"
    if who.refused:
        assert llm.requests == [] and all(m.get("text") == TENANT_REFUSAL for m in connector.messages())
        return
    if path != "approved list/edit":
        # the path really searched: the all-staff passage reached the model or the user
        assert OPEN_MARK in given + received, f"{path}: the outsider's run found nothing (the test proves nothing)"
    else:
        # each of the four requests was refused in so many words
        said = [m.get("text") or "" for m in connector.messages()] + s.invoke_bodies
        refused = S.APPROVED_NOT_ALLOWED.format(set=SECRET_SET)
        assert sum(refused in t for t in said) == 3 and sum(S.APPROVED_NO_SETS in t for t in said) == 1, said


async def test_residents_get_only_public_sets_even_when_a_members_only_set_is_named_public(world):
    url, services, llm, connector, _files, _pair = world
    from tests.skills.citizen.conftest import ask as citizen_ask

    replies = [await citizen_ask(url, connector, q) for q in (QUESTION, APPROVED_Q, "人事課の分室はどこですか")]
    received = json.dumps(connector.activities(), ensure_ascii=False)
    given = llm.seen()
    for mark in (SECRET_MARK, APPROVED_MARK, OPEN_MARK):
        assert mark not in received and mark not in given, mark
    assert PUBLIC_MARK in given + received                  # the public page was searched and given
    assert all(r.get("text") or r.get("attachments") for r in replies)


GENERAL = "19:general@thread.tacv2"
JINJI = "19:jinji@thread.tacv2"


@pytest.mark.parametrize("routing", ["general channel only", "the set's own channel"])
async def test_a_question_handed_to_staff_shows_members_only_passages_only_in_that_sets_channel(world, routing):
    """「担当課に問い合わせる」 without kintone posts the question and its candidate passages to a staff channel. The
    members-only set's passages may go to the channel that set names (QA_FALLBACK_CHANNELS), never to the general
    one ("*"), whose readers are not its members; the all-staff passages go to either."""
    url, services, llm, connector, _files, _pair = world
    channels = {"*": GENERAL} if routing.startswith("general") else {"*": GENERAL, SECRET_SET: JINJI}
    services.settings.put(QASettings(_env_file=None, QA_REWRITE=False, QA_RERANK=False, QA_FALLBACK_CHANNELS=channels))
    for channel in (GENERAL, JINJI):          # the bot learns the channels (their references) when mentioned there
        staff = Session(url, connector, Who("staff", "29:staff", "00000000-0000-0000-0000-0000000000ee"))
        n = len(connector.messages())
        act = connector.activity("<at>AI Assistant</at> /help", user="29:staff", conversation=channel,
                                 conv_type="channel", entities=[{"type": "mention", "text": "<at>AI Assistant</at>",
                                                                 "mentioned": {"id": "28:bot-1", "name": "AI Assistant"}}])
        assert (await staff._post(act))[0] in (200, 202)
        await connector.wait_for(lambda _a, n=n: len(connector.messages()) > n)
    member = Session(url, connector, MEMBER)
    await member.say("/ask 喫煙所跡地の分室計画はどうなりましたか", has_card)
    assert SECRET_MARK in llm.seen()                 # the member's question did find the members-only passage
    button = [a for m in connector.messages() for att in m.get("attachments") or []
              for a in (att.get("content") or {}).get("actions") or [] if a.get("verb") == "qa.escalate"][-1]
    n = len(connector.posts)
    await member.invoke("qa.escalate", button["data"])
    await connector.wait_for(lambda _a: any("/v3/conversations/19:" in p["path"] for p in connector.posts[n:]))
    posted = {ch: json.dumps([p["body"] for p in connector.posts[n:] if f"/v3/conversations/{ch}" in p["path"]],
                             ensure_ascii=False) for ch in (GENERAL, JINJI)}
    if routing.startswith("general"):
        assert "喫煙所跡地の分室計画はどうなりましたか" in posted[GENERAL] and OPEN_MARK in posted[GENERAL]
        assert SECRET_MARK not in posted[GENERAL]
    else:
        assert SECRET_MARK in posted[JINJI] and posted[GENERAL] == "[]"


async def test_a_question_handed_to_kintone_carries_no_members_only_passage(world):
    """kintone has no place per set (one app for every section): the record gets the all-staff passages only."""
    from core.kintone.client import KintoneClient, KintoneSettings
    from tests.standins.kintone import KintoneStandIn

    url, services, llm, connector, _files, _pair = world
    kintone = await KintoneStandIn().start()
    services.kintone = KintoneClient(KintoneSettings(_env_file=None, KINTONE_BASE_URL=kintone.base_url,
                                                     KINTONE_APP_ID=kintone.app_id, KINTONE_API_TOKEN=kintone.api_token))
    try:
        member = Session(url, connector, MEMBER)
        await member.say("/ask 喫煙所跡地の分室計画と喫煙所の設置状況はどうなりましたか", has_card)
        assert SECRET_MARK in llm.seen() and OPEN_MARK in llm.seen()
        button = [a for m in connector.messages() for att in m.get("attachments") or []
                  for a in (att.get("content") or {}).get("actions") or [] if a.get("verb") == "qa.escalate"][-1]
        await member.invoke("qa.escalate", button["data"])
        [record] = kintone.records.values()
        listed = json.dumps(record, ensure_ascii=False)
        assert "喫煙所跡地の分室計画と喫煙所の設置状況はどうなりましたか" in listed and OPEN_MARK in listed
        assert SECRET_MARK not in listed
    finally:
        await services.kintone.close()
        await kintone.stop()
