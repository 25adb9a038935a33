"""Fixtures of the citizen-mode tests: services on the real database, a public set (the shipped sample pages,
ingested as `make run` does) beside private staff sets, and Web Chat activities for the stand-in Bot Connector."""
from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
import pytest

from core.kintone.client import KintoneClient, KintoneSettings
from core.knowledge.public import Contact, configure
from core.search.ingest import ingest_folder
from skills.citizen.settings import CitizenSettings
from tests.harness import make_services
from tests.standins.kintone import KintoneStandIn
from tests.standins.openai_server import OpenAIStandIn

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "docs" / "samples-citizen"
PUBLIC_SET = "市民向け"
GOMI_URL = "https://www.city.amagasaki.example/kurashi/gomi/dashikata.html"
JUMINHYO_URL = "https://www.city.amagasaki.example/kurashi/todokede/juminhyo.html"
# a staff set readable by all staff: its page on 粗大ごみ matches a resident's question better than the public one
PRIVATE_SET = "環境部内規"
PRIVATE_URL = "https://sp.example/sites/kankyo/sodai-naiki.docx"
PRIVATE_TEXT = "粗大ごみの申込みの受付は、粗大ごみ受付センターの委託業者の担当者が内部システムで処理する（職員限定）。"
SECRET_SET = "人事課限定"
SECRET_TEXT = "人事異動の内示は3月15日に行う。"
STAFF_AAD = "00000000-0000-0000-0000-0000000000bb"


@pytest.fixture
async def kintone():
    s = await KintoneStandIn().start()
    yield s
    await s.stop()


def citizen_settings(**kw) -> CitizenSettings:
    # question understanding (rewrite, rerank) off unless a test turns it on: fewer scripted LLM calls
    return CitizenSettings(_env_file=None, **{"CITIZEN_REWRITE": False, "CITIZEN_RERANK": False, **kw})


def build(db, *, llm: OpenAIStandIn | None = None, kintone: KintoneStandIn | None = None, **settings_kw):
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url,
                                          "LLM_MAX_RETRIES": "0"} if llm else None)
    services.settings.put(citizen_settings(**settings_kw))
    values = {"KINTONE_BASE_URL": None, "KINTONE_APP_ID": None, "KINTONE_API_TOKEN": None}
    if kintone is not None:
        values.update(KINTONE_BASE_URL=kintone.base_url, KINTONE_APP_ID=kintone.app_id,
                      KINTONE_API_TOKEN=kintone.api_token)
    services.kintone = KintoneClient(KintoneSettings(_env_file=None, **values))
    return services


async def close(services) -> None:
    await services.llm.close()
    await services.kintone.close()


async def seed(services) -> None:
    """The sample public pages (as `python -m bot ingest 市民向け docs/samples-citizen --public …` registers them),
    a staff set readable by all staff, and a members-only set."""
    ix = services.knowledge
    await ix.create_set(PUBLIC_SET, title="市民向け情報")
    await configure(services.db, PUBLIC_SET, public=True, contact=Contact("尼崎市役所 代表", "06-6375-5639"))
    report = await ingest_folder(ix, PUBLIC_SET, SAMPLES, create_set=False)
    assert report.added == 4 and not report.failed
    await ix.create_set(PRIVATE_SET, title="環境部（職員向け）")
    await ix.upsert_document(PRIVATE_SET, "folder", "naiki.md", "粗大ごみ受付の内規", PRIVATE_URL,
                             f"# 粗大ごみ受付の内規\n\n## 粗大ごみの申込み\n\n{PRIVATE_TEXT}\n")
    await ix.create_set(SECRET_SET, title="人事課", members=[STAFF_AAD])
    await ix.upsert_document(SECRET_SET, "folder", "jinji.md", "人事異動の内示", None,
                             f"# 人事異動の内示\n\n{SECRET_TEXT}")


def webchat(connector, text: str | None = None, *, conversation: str = "dl-conv-1", user: str = "dl_resident-1",
            channel: str = "webchat", **extra) -> dict:
    """An activity as Azure Bot Service delivers one from Web Chat (Direct Line): channelId webchat, no tenant, no
    AAD object id, a Direct Line conversation."""
    act = {"type": "message", "id": str(uuid.uuid4()), "timestamp": "2026-11-30T12:30:00.000Z",
           "serviceUrl": connector.url, "channelId": channel, "from": {"id": user, "name": "", "role": "user"},
           "conversation": {"id": conversation}, "recipient": {"id": "amagasaki-bot@abc", "name": "尼崎市AIアシスタント"},
           "locale": "ja-JP", "textFormat": "plain"}
    if text is not None:
        act["text"] = text
    act.update(extra)
    return act


async def post(url: str, activity: dict) -> int:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", json=activity) as r:
            return r.status


async def ask(url: str, connector, text: str, **kw) -> dict:
    """Send one Web Chat message and wait for the bot's reply (the next message activity the connector receives)."""
    n = len(connector.messages())
    assert await post(url, webchat(connector, text, **kw)) in (200, 202)
    await connector.wait_for(lambda a: len(connector.messages()) > n, timeout=30)
    return connector.messages()[-1]
