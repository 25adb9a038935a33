"""GET /admin/audit.csv over real HTTP on loopback: bearer token, date range, BOM, never the prompt text."""
from __future__ import annotations

import contextlib
import csv
import io

import aiohttp

from tests.harness import running_bot
from tests.skills.kpi.seed import seed

TOKEN = "audit-export-token-0123456789"


@contextlib.asynccontextmanager
async def serve(services):
    """The real app, which mounts the route the kpi skill declares."""
    async with running_bot(services) as base, aiohttp.ClientSession() as http:
        yield http, f"{base}/admin/audit.csv"


async def test_endpoint_is_off_without_a_token(make_svc):
    async with serve(make_svc()) as (http, url):
        async with http.get(url, headers={"Authorization": "Bearer anything"}) as r:
            assert r.status == 404


async def test_token_is_required(make_svc):
    async with serve(make_svc(guard_env={"AUDIT_EXPORT_TOKEN": TOKEN})) as (http, url):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": "Bearer"}):
            async with http.get(url, headers=headers) as r:
                assert r.status == 401, headers
                assert "秘密" not in await r.text()


async def test_csv_for_a_date_range(make_svc, sqlite_db):
    services = make_svc(guard_env={"AUDIT_EXPORT_TOKEN": TOKEN})
    await seed(sqlite_db, prompt_text="秘密の相談内容")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with serve(services) as (http, url):
        async with http.get(url, headers=auth, params={"from": "2026-11-29", "to": "2026-11-30"}) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
            assert 'filename="ai_audit_20261129_20261130.csv"' in r.headers["Content-Disposition"]
            body = await r.read()
        assert body.startswith(b"\xef\xbb\xbf") and "秘密".encode() not in body
        rows = list(csv.reader(io.StringIO(body[3:].decode("utf-8"))))
        assert rows[0][:3] == ["番号", "日時（日本時間）", "利用者ID"]
        # 11/29 19:00 and 20:00 JST (u3), 11/30 09:00 JST (u1); 12/1 00:00 JST is outside "to"
        assert [(r[1], r[2], r[7]) for r in rows[1:]] == [
            ("2026-11-29 19:00:00", "u3", "オフライン"), ("2026-11-29 20:00:00", "u3", "拒否"),
            ("2026-11-30 09:00:00", "u1", "成功")]

        async with http.get(url, headers=auth) as r:          # default: this fiscal year to today
            rows = list(csv.reader(io.StringIO((await r.read())[3:].decode("utf-8"))))
            assert len(rows) - 1 == 9 and rows[1][1] == "2026-04-01 00:00:00"

        for params in ({"from": "2026/11/01"}, {"from": "2026-11-30", "to": "2026-11-01"},
                       {"from": "2020-01-01", "to": "2026-11-30"}):
            async with http.get(url, headers=auth, params=params) as r:
                assert r.status == 400, params
