"""Fixtures of the qa skill's tests: services on the real database, seeded knowledge sets, stand-ins."""
from __future__ import annotations

import functools
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import docx
import jsonschema
import pytest
from aiohttp import web

from core.kintone.client import KintoneClient, KintoneSettings
from core.services import SendResult
from skills.qa.settings import QASettings
from tests.harness import make_services
from tests.standins.kintone import KintoneStandIn
from tests.standins.openai_server import OpenAIStandIn


# One PostgreSQL database for this folder's tests, emptied before each test (creating and migrating a database per
# test costs ~4 s here); SQLite keeps a fresh file per test. Same coverage of both back ends as tests/conftest.py.
@pytest.fixture(scope="session")
def _qa_pg_url(_pg_template):
    from tests.conftest import _create_pg_database, _drop_pg_database, _run_apart

    name, url = _run_apart(lambda: _create_pg_database(_pg_template))
    yield url
    _run_apart(lambda: _drop_pg_database(name))


async def _truncate_all(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
        if tables:
            await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/test.db"
        return
    url = request.getfixturevalue("_qa_pg_url")
    await _truncate_all(url)
    yield url


USER_AAD = "00000000-0000-0000-0000-0000000000aa"      # make_request's default user
OTHER_AAD = "00000000-0000-0000-0000-0000000000bb"

KYUKA = """# 職員の休暇に関する規程

## 年次休暇

年次休暇は1年につき20日とする。請求は原則として前日までに所属長に行う。

## 夏季休暇

夏季休暇は7月から9月の間に5日以内で取得できる。

## 病気休暇

病気休暇は医師の診断書を添えて申請する。
"""
RYOHI = """# 旅費の手引き

## 出張の申請

出張する場合は、旅行命令簿により事前に申請してください。

## 精算

出張後は5日以内に旅費の精算を行ってください。領収書を添付します。
"""
GOMI = """# ごみの出し方

## 粗大ごみ

粗大ごみは事前の申込みが必要です。粗大ごみ受付センターへ電話してください。
"""


def qa_settings(**kw) -> QASettings:
    # the loopback file server (fixture `files`) stands in for Teams' file hosts; question understanding (rewrite,
    # rerank: extra LLM calls before the answer) is off unless a test turns it on (test_understanding.py)
    kw = {"QA_DOWNLOAD_HOSTS": "127.0.0.1", "QA_DOWNLOAD_ALLOWLIST": "127.0.0.1", "QA_REWRITE": False,
          "QA_RERANK": False, **kw}
    return QASettings(_env_file=None, **kw)


def kintone_settings(standin: KintoneStandIn | None = None, **kw) -> KintoneSettings:
    values = {"KINTONE_BASE_URL": None, "KINTONE_APP_ID": None, "KINTONE_API_TOKEN": None}
    if standin is not None:
        values.update(KINTONE_BASE_URL=standin.base_url, KINTONE_APP_ID=standin.app_id,
                      KINTONE_API_TOKEN=standin.api_token)
    values.update(kw)
    return KintoneSettings(_env_file=None, **values)


@dataclass
class FakeProactive:
    """Records proactive sends (unit tests; the wire is covered through running_bot)."""
    sent: list[dict] = field(default_factory=list)
    fail_for: set[str] = field(default_factory=set)

    async def send(self, conversation_id, *, text=None, card=None, ai_generated=False):
        if conversation_id in self.fail_for:
            return SendResult(ok=False, status=502)
        self.sent.append({"conversation_id": conversation_id, "text": text, "card": card})
        return SendResult(ok=True, status=200, activity_id=f"p-{len(self.sent)}")


OPEN_SERVICES: list = []


@pytest.fixture(autouse=True)
async def _cleanup():
    yield
    while OPEN_SERVICES:
        s = OPEN_SERVICES.pop()
        await s.llm.close()
        client = s.kintone
        if client is not None:
            await client.close()


def build(db, *, llm: OpenAIStandIn | None = None, kintone: KintoneStandIn | None = None,
          llm_env: dict[str, str] | None = None, **settings_kw):
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url,
                                          "LLM_MAX_RETRIES": "0", **(llm_env or {})} if llm else None)
    services.settings.put(qa_settings(**settings_kw))
    services.kintone = KintoneClient(kintone_settings(kintone))
    services.proactive = FakeProactive()
    OPEN_SERVICES.append(services)
    return services


async def seed(services) -> None:
    """Two sets readable by all staff; one members-only set the default user cannot read."""
    ix = services.knowledge
    await ix.create_set("soumu", title="総務課", owner=OTHER_AAD)
    await ix.create_set("kankyo", title="環境部")
    await ix.create_set("himitsu", title="人事課限定", members=[OTHER_AAD])
    await ix.upsert_document("soumu", "folder", "kyuka.md", "職員の休暇に関する規程", "https://city.example/kyuka.docx",
                             KYUKA)
    await ix.upsert_document("soumu", "folder", "ryohi.md", "旅費の手引き", None, RYOHI)
    await ix.upsert_document("kankyo", "folder", "gomi.md", "ごみの出し方", None, GOMI)
    await ix.upsert_document("himitsu", "folder", "jinji.md", "人事異動の内示",
                             None, "# 人事異動の内示\n\n人事異動の内示は3月15日に行う。")


@pytest.fixture
async def kintone():
    s = await KintoneStandIn().start()
    yield s
    await s.stop()


@pytest.fixture(scope="session")
def card_validator(testdata: Path):
    schema = json.loads((testdata / "schemas" / "adaptive-cards" / "1.5.0" / "adaptive-card.json")
                        .read_text(encoding="utf-8"))
    return jsonschema.Draft6Validator(schema)


def assert_valid_card(validator, card: dict) -> None:
    """The official 1.5 schema, except Teams' host extension `msteams` (card-level width)."""
    card = dict(card)
    assert card.pop("msteams", {"width": "Full"}) == {"width": "Full"}
    errors = sorted(validator.iter_errors(card), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]


@functools.lru_cache(maxsize=1)
def make_docx() -> bytes:
    """A real Word document (python-docx), with the default template's hundreds of unused style definitions
    removed so that each conversion takes ~0.1 s instead of ~1 s (the converter parses every style)."""
    d = docx.Document()
    d.add_heading("テレワーク実施要領", level=1)
    d.add_heading("申請", level=2)
    d.add_paragraph("テレワークを行う職員は、実施日の3日前までに所属長へ申請する。")
    d.add_heading("勤務時間", level=2)
    d.add_paragraph("勤務時間は通常勤務と同じとし、始業と終業の報告はチャットで行う。")
    buf = io.BytesIO()
    d.save(buf)
    used = {b"Normal", b"Heading1", b"Heading2", b"Title", b"DefaultParagraphFont"}
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "word/styles.xml":
                data = re.sub(rb"<w:latentStyles.*?</w:latentStyles>", b"", data, flags=re.S)
                data = re.sub(rb'<w:style [^>]*w:styleId="([^"]+)".*?</w:style>',
                              lambda m: m.group(0) if m.group(1) in used else b"", data, flags=re.S)
            dst.writestr(info, data)
    return out.getvalue()


@pytest.fixture
async def files():
    """A loopback file server standing in for Teams' pre-authenticated download URLs."""
    served: dict[str, bytes] = {"/dl/telework": make_docx()}
    hits: list[str] = []

    async def get(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        if request.path == "/dl/big":
            resp = web.StreamResponse()        # chunked: no Content-Length, the cap must hold while reading
            await resp.prepare(request)
            for _ in range(24):
                await resp.write(b"x" * 65536)
            await resp.write_eof()
            return resp
        if request.path not in served:
            return web.Response(status=404)
        return web.Response(body=served[request.path], content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/{tail:.*}", get)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    yield base, hits
    await runner.cleanup()
