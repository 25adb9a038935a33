"""Issue #21: the process is SIGKILLed in the middle of work — a news digest run, a document ingest and a kintone
hand-off — and started again. Each test runs the real program as an OS process (`python -m bot`, or `python -m bot
ingest`), kills it with SIGKILL at a moment it controls, restarts it and checks what the users and the database end
up with. The /plan job killed mid-research is tests/skills/planning/test_plan_interrupted.py (#22-9).

* digest: no reader without a digest; doubles at most what was in flight (NEWS_SEND_CONCURRENCY) — the window
  documented in skills/news/schedule.py and docs/reliability.md.
* ingest: a document is in the index whole or not at all (one transaction per document); running the command again
  completes the set, and every document then has exactly the chunks of an uninterrupted run.
* kintone hand-off: killed while the record POST is on the wire (before kintone stored it, or after): after the
  restart the record exists once, the question points at it, and the asker is told in the personal chat."""
from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from core.store import Database
from skills.qa import strings as S
from skills.qa.models import QAQuestion
from tests.reliability.botproc import alive, run_cli, start_bot, wait_ready
from tests.reliability.holding import HoldingKintone
from tests.skills.news.helpers import jst, seed_readers, write_sources
from tests.standins.connector import ConnectorStandIn

# ------------------------------------------------------------------------------------------------ the news digest

READERS = 30
MORNING = jst(2026, 8, 21, 8, 30)          # a Friday, not a holiday: a business day at the default delivery time


def digests(connector: ConnectorStandIn) -> Counter:
    return Counter(p["path"].split("/")[3] for p in connector.posts
                   if p["status"] == 200 and p["method"] == "POST" and (p["body"] or {}).get("type") == "message")


@pytest.mark.postgres
async def test_digest_run_killed_then_restarted(pg_url, tmp_path):
    sources = write_sources(tmp_path, [])
    connector = await ConnectorStandIn().start()
    connector.delay = 0.15                                    # a slow Connector: the run takes ~2.5 s
    env = dict(DATABASE_URL=pg_url, NEWS_SOURCES_FILE=str(sources), NEWS_SEND_CONCURRENCY="2",
               NEWS_SEND_RATE="1000", NEWS_CLAIM_LEASE_MINUTES="10", EMBEDDINGS_LOCAL="false")
    bots = []
    try:
        await seed_readers(pg_url, connector.url, MORNING, READERS)
        first = start_bot(tmp_path / "first.log", module="tests.reliability.clocked_bot",
                          BOT_CLOCK_AT=MORNING.isoformat(), **env)
        bots.append(first)
        for _ in range(1200):
            if sum(digests(connector).values()) >= 6 or first.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        first.kill()
        before = sum(digests(connector).values())
        assert 6 <= before < READERS, first.tail()
        # restarted at once (the clock 1 minute on): the dead process's claims are still within their lease
        soon = start_bot(tmp_path / "soon.log", module="tests.reliability.clocked_bot",
                         BOT_CLOCK_AT=(MORNING + timedelta(minutes=1)).isoformat(), **env)
        bots.append(soon)
        await wait_ready(soon)
        await connector.wait_for(lambda a: sum(digests(connector).values()) >= READERS - 2, timeout=60)
        soon.stop()
        # after the lease (NEWS_CLAIM_LEASE_MINUTES): the killed process's claims are taken over
        later = start_bot(tmp_path / "later.log", module="tests.reliability.clocked_bot",
                          BOT_CLOCK_AT=(MORNING + timedelta(minutes=11)).isoformat(), **env)
        bots.append(later)
        await wait_ready(later)
        await connector.wait_for(lambda a: len(digests(connector)) == READERS, timeout=60)
        await asyncio.sleep(1.0)                                # anything more it would send
    finally:
        for b in bots:
            b.stop()
        await connector.stop()
    counts = digests(connector)
    duplicates = sum(n - 1 for n in counts.values())
    print(f"\ndigest: {READERS} readers; delivered before SIGKILL {before}; after restarts {sum(counts.values())} "
          f"to {len(counts)} readers; duplicates {duplicates}")
    assert len(counts) == READERS                               # nobody left without a digest
    assert duplicates <= 2, counts                              # at most what was in flight (concurrency 2)
    for b in bots[1:]:
        assert "Traceback" not in b.tail(100_000)


# ------------------------------------------------------------------------------------------------ document ingest

DOCS = 40


def write_folder(folder: Path) -> None:
    folder.mkdir()
    for i in range(DOCS):
        sections = "\n\n".join(
            f"## 第{j + 1}条 手続{i}の{j + 1}\n\n" + (f"申請者は手続{i}の{j + 1}について、所属長の承認を得て書類を提出する。"
                                                 f"提出先は担当課{i}とし、期限は{j + 1}日以内とする。" * 12)
            for j in range(12))
        (folder / f"kitei{i:02d}.md").write_text(f"# 規程{i:02d} 事務手続要領\n\n{sections}\n", encoding="utf-8")


def chunk_table(path: Path) -> dict[str, list[str]]:
    """source_key -> the texts of its chunks in order, read straight from the SQLite file."""
    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT d.source_key, c.ordinal, c.text FROM search_documents d "
                           "LEFT JOIN search_chunks c ON c.document_id = d.id ORDER BY d.source_key, c.ordinal").fetchall()
    finally:
        con.close()
    out: dict[str, list[str]] = {}
    for key, _ordinal, text in rows:
        out.setdefault(key, [])
        if text is not None:
            out[key].append(text)
    return out


def documents_in(path: Path) -> int:
    try:
        con = sqlite3.connect(path, timeout=0.2)
        try:
            return con.execute("SELECT count(*) FROM search_documents").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


async def test_ingest_killed_then_run_again(tmp_path):
    folder = tmp_path / "docs"
    write_folder(folder)
    log = tmp_path / "ingest.log"
    env = dict(EMBEDDINGS_LOCAL="false")
    # the reference: the same folder ingested without interruption into a database of its own
    reference_db = tmp_path / "reference.db"
    assert run_cli(log, "ingest", "kitei", str(folder), DATABASE_URL=f"sqlite+aiosqlite:///{reference_db}",
                   **env).returncode == 0, log.read_text()[-2000:]
    reference = chunk_table(reference_db)
    assert len(reference) == DOCS and all(len(v) > 1 for v in reference.values())

    db_path = tmp_path / "killed.db"
    proc = start_bot(log, args=("ingest", "kitei", str(folder)), DATABASE_URL=f"sqlite+aiosqlite:///{db_path}", **env)
    for _ in range(6000):
        if documents_in(db_path) >= 3 or proc.proc.poll() is not None:
            break
        await asyncio.sleep(0.01)
    children = proc.children()
    proc.kill()
    for _ in range(300):                      # its converter processes end once their parent is gone
        if not any(alive(c) for c in children):
            break
        await asyncio.sleep(0.1)
    assert not any(alive(c) for c in children), children
    killed = chunk_table(db_path)
    assert 3 <= len(killed) < DOCS, (len(killed), log.read_text()[-2000:])
    # whole or absent: every document the killed run left has every chunk of the uninterrupted run
    assert {k: v for k, v in killed.items()} == {k: reference[k] for k in killed}

    # what a restarted bot loads is what /ask searches: each stored document is found by its last article
    database = Database(f"sqlite+aiosqlite:///{db_path}")
    try:
        from tests.harness import make_services
        services = make_services(database)
        index = services.knowledge
        present = sorted(killed)
        for key in present:
            i = int(key[5:7])
            hits = await index.search(f"手続{i}の12 担当課{i}", ["kitei"], k=3, vectors=False)
            assert hits and hits[0].title.startswith(f"規程{i:02d}"), (key, [h.title for h in hits])
        missing = sorted(set(reference) - set(killed))
        i = int(missing[-1][5:7])
        hits = await index.search(f"手続{i}の12 担当課{i}", ["kitei"], k=3, vectors=False)
        assert not any(h.title.startswith(f"規程{i:02d}") for h in hits)     # not ingested: not found
        await services.llm.close()
    finally:
        await database.dispose()

    # run again: it completes the set, and the documents the killed run stored are left as they are
    assert run_cli(log, "ingest", "kitei", str(folder), DATABASE_URL=f"sqlite+aiosqlite:///{db_path}",
                   **env).returncode == 0, log.read_text()[-2000:]
    assert chunk_table(db_path) == reference
    last = log.read_text().splitlines()
    summary = [line for line in last if line.startswith("ナレッジセット「kitei」:")][-1]
    print(f"\ningest: {DOCS} documents; the killed run left {len(killed)} whole, 0 partial; its {len(children)} "
          f"child processes ended; re-run: {summary}")


# ------------------------------------------------------------------------------------------------ kintone hand-off

QUESTION = "庁舎の駐車場は職員も使えますか"


async def post(session: aiohttp.ClientSession, url: str, activity: dict) -> int:
    async with session.post(url + "/api/messages", json=activity) as r:
        return r.status


@pytest.mark.parametrize("hold", ["before", "after"])
async def test_kintone_hand_off_killed_mid_post(tmp_path, hold):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "kyuka.md").write_text("# 休暇の規程\n\n## 年次休暇\n\n年次休暇は1年につき20日とする。\n", encoding="utf-8")
    db_url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    log = tmp_path / "bot.log"
    assert run_cli(log, "ingest", "soumu", str(folder), DATABASE_URL=db_url, EMBEDDINGS_LOCAL="false").returncode == 0
    connector = await ConnectorStandIn().start()
    kintone = await HoldingKintone().start()
    env = dict(DATABASE_URL=db_url, EMBEDDINGS_LOCAL="false", NEWS_SCHEDULER_ENABLED="false",
               KINTONE_BASE_URL=kintone.base_url, KINTONE_APP_ID=kintone.app_id, KINTONE_API_TOKEN=kintone.api_token,
               KINTONE_POLL_SECONDS="1", KINTONE_TIMEOUT_SECONDS="1.5")      # a claim is stale after 4 x 1.5 s
    bots = []
    try:
        first = start_bot(log, **env)
        bots.append(first)
        await wait_ready(first)
        async with aiohttp.ClientSession() as s:
            assert await post(s, first.url, connector.activity(f"/ask {QUESTION}")) == 202
            await connector.wait_for(lambda a: any('"qa.escalate"' in json.dumps(c) for c in connector.cards()),
                                            timeout=60)
            card = next(c for c in connector.cards() if '"qa.escalate"' in json.dumps(c))
            action = next(a for a in card["actions"] if a.get("verb") == "qa.escalate")
            kintone.hold = hold
            press = asyncio.ensure_future(post(s, first.url, connector.activity(
                None, type="invoke", name="adaptiveCard/action",
                value={"action": {"type": "Action.Execute", "verb": "qa.escalate", "data": action["data"]},
                       "trigger": "manual"})))
            for _ in range(600):
                if kintone.held:
                    break
                await asyncio.sleep(0.01)
            assert kintone.held == 1, first.tail()
            first.kill()                                     # the POST is on the wire
            await asyncio.gather(press, return_exceptions=True)
        told_before = len(connector.messages())
        kintone.hold = None
        second = start_bot(log, **env)
        bots.append(second)
        await wait_ready(second)
        await connector.wait_for(lambda a: any(S.ESCALATION_RESUMED.split("「")[0] in (m.get("text") or "")
                                               for m in connector.messages()), timeout=60)
        await asyncio.sleep(3)                               # three more poller passes: nothing more may happen
    finally:
        for b in bots:
            b.stop()
        kintone.release()
        await connector.stop()
        await kintone.stop()
    records = [r for r in kintone.records.values() if r.get("質問") == QUESTION]
    assert len(records) == 1                                 # the question reached kintone, once
    assert len([r for r in kintone.requests if r["method"] == "POST"]) == (2 if hold == "before" else 1)
    database = Database(db_url)
    try:
        async with database.session() as s:
            row = (await s.scalars(select(QAQuestion))).one()
            n = await s.scalar(select(func.count()).select_from(QAQuestion))
    finally:
        await database.dispose()
    assert n == 1 and (row.status, row.kintone_record_id) == ("escalated", records[0]["$id"])
    told = [m for m in connector.messages()[told_before:] if "受付番号" in (m.get("text") or "")]
    assert len(told) == 1 and told[0]["conversation"]["id"] == "a:personal-1"
    assert told[0]["text"] == S.ESCALATION_RESUMED.format(record_id=records[0]["$id"], question=QUESTION)
    print(f"\nkintone hand-off killed {hold} the record existed: records {len(records)}, "
          f"POSTs {len([r for r in kintone.requests if r['method'] == 'POST'])}, asker told once")
