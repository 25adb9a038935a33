"""Soak (issue #21): hours of mixed traffic compressed into one run, on two `python -m bot` replicas sharing one
database, with faults injected at random; prints the error rate, latency, memory growth per hour and the open
descriptors and connections of each replica.

    .venv/bin/python bench/soak.py [--minutes 12] [--users 12] [--db pg|sqlite] [--llm-faults 0.25]
                                   [--kintone-faults 0.2] [--think 1.0-3.0] [--seed 1]

Everything on loopback: the stand-in Bot Connector (tests/standins/connector.py), an OpenAI-compatible server
(tests/standins/openai_server.py) and a kintone app (tests/standins/kintone.py). The database is a fresh PostgreSQL
database on 127.0.0.1:5432 (created and dropped; TEST_POSTGRES_URL as in the tests) or a SQLite file.

Traffic: `--users` people, each in a personal chat, alternating between the two replicas at random; each turn is
one of /help, /ask (a question the documents answer, or one they do not), /draft, /news, or a button of the last
card that user received (Action.Execute; /ask's 担当課に問い合わせる goes to kintone), followed by a random think
time. Faults: each LLM call fails with probability --llm-faults, as 500, 429 (Retry-After 1), a timeout (the
answer comes after LLM_TIMEOUT_SECONDS) or a broken body; kintone answers 503 for random 20-second spells.

A turn counts as an error when the HTTP answer is not 2xx, when no reply reaches the connector within 90 s, or when
the reply is the bot's generic apology (an unhandled exception). Replies that say the AI is unavailable and answer
another way are counted as degraded, not as errors. Latency: POST → the first message replying to that activity
(for an invoke: the HTTP answer). Memory: RSS of each replica sampled every 10 s; growth per hour is the least-squares
slope of the samples after the first quarter of the run (warm-up), times 3600."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from core.ai import LLM_ERROR_JA  # noqa: E402
from tests.harness import card_nodes  # noqa: E402
from tests.reliability.botproc import Bot, run_cli, start_bot, wait_ready  # noqa: E402
from tests.skills.news.helpers import FeedServer, Route, rss, write_sources  # noqa: E402
from tests.standins.connector import ConnectorStandIn  # noqa: E402
from tests.standins.kintone import KintoneStandIn  # noqa: E402
from tests.standins.openai_server import OpenAIStandIn  # noqa: E402

APOLOGY = "申し訳ありません。処理中に問題が発生しました"
DEGRADED = tuple(m.split("。")[0] for m in LLM_ERROR_JA.values()) + ("代わりに、登録文書の該当しそうな箇所",)
QUESTIONS_KNOWN = ["年次休暇は何日ありますか", "夏季休暇はいつ取れますか", "出張旅費の精算の期限は",
                   "病気休暇の申請に必要なものは"]
QUESTIONS_UNKNOWN = ["庁舎の駐車場は職員も使えますか", "食堂の営業時間は", "名刺の発注方法を教えて"]
DRAFTS = ["/draft お知らせ 図書館の臨時休館 3月1日から3日まで 設備点検のため",
          "/draft 通知 会議の開催 4月10日 午後2時 第1会議室", "/draft 依頼文 アンケートへの協力 締切は5月末"]
DOCS = {
    "kyuka.md": "# 職員の休暇に関する規程\n\n## 年次休暇\n\n年次休暇は1年につき20日とする。請求は原則として前日までに"
                "所属長に行う。\n\n## 夏季休暇\n\n夏季休暇は7月から9月の間に5日以内で取得できる。\n\n## 病気休暇\n\n"
                "病気休暇は医師の診断書を添えて申請する。\n",
    "ryohi.md": "# 旅費の手引き\n\n## 出張の申請\n\n出張する場合は、旅行命令簿により事前に申請してください。\n\n"
                "## 精算\n\n出張後は5日以内に旅費の精算を行ってください。領収書を添付します。\n",
}


@dataclass
class Turn:
    kind: str
    replica: int
    started: float
    latency: float | None = None
    error: str | None = None
    degraded: bool = False


@dataclass
class Stats:
    turns: list[Turn] = field(default_factory=list)
    llm_calls: int = 0
    llm_faults: Counter = field(default_factory=Counter)
    kintone_down_seconds: float = 0.0


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 3:
        return float("nan")
    xs = [t for t, _ in samples]
    ys = [v for _, v in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 3600 if den else float("nan")


class Replies:
    """Waits for the bot's reply to one activity: the connector's path names the activity replied to."""

    def __init__(self, connector: ConnectorStandIn) -> None:
        self.waiting: dict[str, asyncio.Future] = {}
        self.last_card: dict[str, dict] = {}
        self.connector = connector
        connector.fail = self.observe

    def observe(self, method: str, path: str, body: dict):
        if not isinstance(body, dict):
            return None
        conv = (body.get("conversation") or {}).get("id")
        if body.get("type") == "message":
            for att in body.get("attachments") or []:
                if att.get("contentType") == "application/vnd.microsoft.card.adaptive" and conv:
                    self.last_card[conv] = att.get("content") or {}
            reply_to = body.get("replyToId") or path.rstrip("/").rsplit("/", 1)[-1]
            fut = self.waiting.pop(reply_to, None)
            if fut is not None and not fut.done():
                fut.set_result((time.perf_counter(), body))
        return None

    def expect(self, activity_id: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.waiting[activity_id] = fut
        return fut


def text_of(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False)


def card_actions(card: dict) -> list[dict]:
    return card_nodes(card, lambda n: n.get("type") == "Action.Execute" and bool(n.get("verb")))


async def user_loop(i: int, bots: list[Bot], connector: ConnectorStandIn, replies: Replies, stats: Stats,
                    deadline: float, think: tuple[float, float], rng: random.Random,
                    session: aiohttp.ClientSession) -> None:
    user, conv = f"29:soak-{i}", f"a:soak-{i}"
    aad = f"00000000-0000-0000-0000-{i:012d}"
    kinds = ["help", "ask", "ask_unknown", "draft", "news", "button"]
    weights = [2, 4, 2, 2, 2, 3]
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        card = replies.last_card.get(conv)
        actions = card_actions(card) if card else []
        if kind == "button" and not actions:
            kind = "help"
        replica = rng.randrange(len(bots))
        url = bots[replica].url
        turn = Turn(kind, replica, time.monotonic())
        if kind == "button":
            action = rng.choice(actions)
            act = connector.activity(None, type="invoke", name="adaptiveCard/action", user=user, conversation=conv,
                                     aad=aad, value={"action": {"type": "Action.Execute", "verb": action["verb"],
                                                                "data": action.get("data") or {}},
                                                     "trigger": "manual"})
            turn.kind = f"button:{action['verb']}"
        else:
            text = {"help": "/help", "ask": f"/ask {rng.choice(QUESTIONS_KNOWN)}",
                    "ask_unknown": f"/ask {rng.choice(QUESTIONS_UNKNOWN)}", "draft": rng.choice(DRAFTS),
                    "news": "/news"}[kind]
            act = connector.activity(text, user=user, conversation=conv, aad=aad)
        act["id"] = uuid.uuid4().hex
        fut = replies.expect(act["id"]) if act["type"] == "message" else None
        t0 = time.perf_counter()
        try:
            async with session.post(url + "/api/messages", json=act,
                                    timeout=aiohttp.ClientTimeout(total=120)) as r:
                body = await r.read()
                status = r.status
            if status >= 300:
                turn.error = f"HTTP {status}"
            elif fut is None:
                turn.latency = time.perf_counter() - t0
                shown = body.decode("utf-8", "replace")
                if APOLOGY in shown:
                    turn.error = "apology"
                elif any(w in shown for w in DEGRADED):
                    turn.degraded = True
                try:
                    answer = json.loads(body) if body else None
                    if isinstance(answer, dict) and answer.get("type") == "application/vnd.microsoft.card.adaptive":
                        replies.last_card[conv] = answer.get("value") or {}
                except ValueError:
                    pass
            else:
                t1, reply = await asyncio.wait_for(fut, timeout=90)
                turn.latency = t1 - t0
                shown = text_of(reply)
                if APOLOGY in shown:
                    turn.error = "apology"
                elif any(w in shown for w in DEGRADED):
                    turn.degraded = True
        except asyncio.TimeoutError:
            turn.error = "no reply in 90 s"
        except aiohttp.ClientError as e:
            turn.error = type(e).__name__
        finally:
            if fut is not None:
                replies.waiting.pop(act["id"], None)
        stats.turns.append(turn)
        await asyncio.sleep(rng.uniform(*think))


def llm_reply(stats: Stats, faults: float, timeout: float, rng: random.Random):
    def reply(body: dict) -> dict:
        stats.llm_calls += 1
        if rng.random() < faults:
            kind = rng.choice(["500", "429", "timeout", "broken"])
            stats.llm_faults[kind] += 1
            faulty: dict[str, dict] = {"500": {"status": 500}, "429": {"status": 429, "retry_after": 1},
                                       "timeout": {"delay": timeout + 2, "text": "遅すぎた応答です。"},
                                       "broken": {"broken": True}}
            return faulty[kind]
        if body.get("tools"):
            return {"text": "ご質問の内容を確認しました。"}
        return {"text": "年次休暇は1年につき20日です[1]。請求は原則として前日までに所属長に行います[1]。"}
    return reply


async def kintone_chaos(kintone: KintoneStandIn, stats: Stats, deadline: float, rate: float,
                        rng: random.Random) -> None:
    while time.monotonic() < deadline:
        await asyncio.sleep(20)
        if rng.random() < rate:
            kintone.fail_status = 503
            t = time.monotonic()
            await asyncio.sleep(20)
            kintone.fail_status = None
            stats.kintone_down_seconds += time.monotonic() - t


async def sampler(bots: list[Bot], samples: list[list[tuple[float, float]]], deadline: float, t0: float,
                  every: float = 10.0) -> None:
    while time.monotonic() < deadline:
        for b, out in zip(bots, samples):
            try:
                out.append((time.monotonic() - t0, b.rss_mb()))
            except OSError:
                pass
        await asyncio.sleep(every)


async def fresh_pg() -> tuple[str, str, str]:
    import asyncpg

    admin = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = "soak_" + uuid.uuid4().hex[:10]
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = admin.rsplit("/", 1)[0] + "/" + name
    return admin, name, url.replace("postgresql://", "postgresql+asyncpg://")


async def drop_pg(admin: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def pg_connections(admin: str, name: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(admin)
    try:
        return await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name)
    finally:
        await conn.close()


def snapshot(b: Bot) -> dict:
    try:
        return {"rss_mb": round(b.rss_mb(), 1), "fds": b.fds(), "tcp": b.sockets()}
    except OSError as e:
        return {"error": str(e)}


async def main(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    stats = Stats()
    pg = None
    if args.db == "pg":
        admin, name, db_url = await fresh_pg()
        pg = (admin, name)
    else:
        db_url = f"sqlite+aiosqlite:///{tmp}/soak.db"
    connector = await ConnectorStandIn().start()
    llm = await OpenAIStandIn(default=llm_reply(stats, args.llm_faults, args.llm_timeout, rng)).start()
    kintone = await KintoneStandIn().start()
    feeds = await FeedServer().start()                # the news sources: a loopback RSS feed of 20 items
    now = time.gmtime()
    feeds.routes["/rss"] = Route(rss([{"title": f"デジタル化の取組{i}について", "link": f"https://example.jp/n/{i}",
                                       "guid": f"n{i}", "description": f"自治体DXの事例{i}を紹介します。",
                                       "pubDate": time.strftime("%a, %d %b %Y %H:%M:%S GMT", now)}
                                      for i in range(20)]))
    sources = write_sources(tmp, [{"url": feeds.url("/rss"), "title": "ループバック配信", "tags": ["DX"]}])
    folder = tmp / "docs"
    folder.mkdir()
    for name_, text in DOCS.items():
        (folder / name_).write_text(text, encoding="utf-8")
    env = dict(DATABASE_URL=db_url, OPENAI_API_KEY="soak", OPENAI_BASE_URL=llm.base_url,
               LLM_TIMEOUT_SECONDS=str(args.llm_timeout), EMBEDDINGS_LOCAL="true" if args.embeddings else "false",
               KINTONE_BASE_URL=kintone.base_url, KINTONE_APP_ID=kintone.app_id, KINTONE_API_TOKEN=kintone.api_token,
               KINTONE_POLL_SECONDS="5", KINTONE_TIMEOUT_SECONDS="5", LOG_LEVEL="WARNING",
               NEWS_SOURCES_FILE=str(sources), NEWS_FETCH_ALLOWLIST="127.0.0.1", NEWS_FETCH_INTERVAL_MINUTES="2")
    log = tmp / "ingest.log"
    rc = run_cli(log, "ingest", "soumu", str(folder), **env).returncode
    if rc != 0:
        print(log.read_text()[-2000:])
        return 1
    bots = [start_bot(tmp / f"replica{n}.log", **env) for n in range(2)]
    try:
        for b in bots:
            await wait_ready(b, timeout=300)
        replies = Replies(connector)
        async with aiohttp.ClientSession() as s:       # one warm-up turn per replica (imports, index load)
            for b in bots:
                act = connector.activity("/help", user="29:warm", conversation="a:warm")
                act["id"] = uuid.uuid4().hex
                fut = replies.expect(act["id"])
                async with s.post(b.url + "/api/messages", json=act) as r:
                    await r.read()
                await asyncio.wait_for(fut, 120)
        start = [snapshot(b) for b in bots]
        t0 = time.monotonic()
        deadline = t0 + args.minutes * 60
        samples: list[list[tuple[float, float]]] = [[] for _ in bots]
        think = tuple(float(x) for x in args.think.split("-"))
        load_start = os.getloadavg()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
            tasks = [asyncio.create_task(user_loop(i, bots, connector, replies, stats, deadline, think,  # type: ignore[arg-type]
                                                   random.Random(args.seed * 1000 + i), session))
                     for i in range(args.users)]
            tasks.append(asyncio.create_task(kintone_chaos(kintone, stats, deadline, args.kintone_faults, rng)))
            tasks.append(asyncio.create_task(sampler(bots, samples, deadline, t0)))

            async def trim() -> None:                      # the stand-in keeps every post: keep the bench small
                while time.monotonic() < deadline:
                    await asyncio.sleep(30)
                    del connector.posts[:-200]
                    del kintone.requests[:-200]
                    del llm.requests[:-200]
            tasks.append(asyncio.create_task(trim()))
            await asyncio.gather(*tasks)
        elapsed = time.monotonic() - t0
        await asyncio.sleep(2)
        end = [snapshot(b) for b in bots]
        pg_conns = await pg_connections(*pg) if pg else None
        load_end = os.getloadavg()
        alive = [b.proc.poll() is None for b in bots]
    finally:
        for b in bots:
            b.stop()
        await connector.stop()
        await llm.stop()
        await kintone.stop()
        await feeds.stop()
        if pg:
            await drop_pg(*pg)

    turns = stats.turns
    errors = [t for t in turns if t.error]
    lat = [t.latency for t in turns if t.latency is not None and not t.error]
    by_kind: dict[str, list[Turn]] = {}
    for t in turns:
        by_kind.setdefault(t.kind.split(":")[0], []).append(t)
    print(f"soak: {args.minutes} min, {args.users} users, 2 replicas on {args.db}, think {args.think} s, seed {args.seed}; "
          f"load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end ({os.cpu_count()} cores)")
    print(f"turns: {len(turns)} ({len(turns) / elapsed * 60:.0f}/min); errors: {len(errors)} "
          f"({100 * len(errors) / max(1, len(turns)):.2f} %) {dict(Counter(t.error for t in errors))}; "
          f"degraded (AI unavailable, answered another way): {sum(t.degraded for t in turns)}")
    print(f"latency all: p50 {pct(lat, 50):.2f} s, p95 {pct(lat, 95):.2f} s, max {max(lat or [float('nan')]):.2f} s")
    for kind, ts in sorted(by_kind.items()):
        ok = [t.latency for t in ts if t.latency is not None and not t.error]
        print(f"  {kind:12s} n={len(ts):5d} errors={sum(1 for t in ts if t.error):3d} p50 {pct(ok, 50):6.2f} s "
              f"p95 {pct(ok, 95):6.2f} s")
    verbs = Counter(t.kind.split(":", 1)[1] for t in turns if t.kind.startswith("button:"))
    print(f"buttons pressed: {dict(verbs)}")
    print(f"faults: LLM calls {stats.llm_calls}, failed on purpose {sum(stats.llm_faults.values())} "
          f"{dict(stats.llm_faults)}; kintone down {stats.kintone_down_seconds:.0f} s of {elapsed:.0f} s")
    for n in range(len(bots)):
        warm = [s for s in samples[n] if s[0] >= elapsed / 4]
        print(f"replica {n}: alive={alive[n]} start {start[n]} end {end[n]}; RSS growth {slope_per_hour(warm):+.1f} MB/h "
              f"(slope after warm-up, {len(warm)} samples; RSS {warm[0][1] if warm else float('nan'):.1f} -> "
              f"{warm[-1][1] if warm else float('nan'):.1f} MB)")
    for n in range(len(bots)):
        by_minute: dict[int, float] = {}
        for at, v in samples[n]:
            by_minute[int(at // 60)] = v
        print(f"replica {n} RSS (MB) at each minute: " + " ".join(f"{v:.0f}" for _, v in sorted(by_minute.items())))
    if pg_conns is not None:
        print(f"PostgreSQL connections to the soak database at the end: {pg_conns}")
    tracebacks = sum(b.log.read_text(errors="replace").count("Traceback") for b in bots)
    print(f"tracebacks in the replicas' logs: {tracebacks} (logs in {tmp})")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument("--users", type=int, default=12)
    p.add_argument("--db", choices=("pg", "sqlite"), default="pg")
    p.add_argument("--llm-faults", type=float, default=0.25)
    p.add_argument("--llm-timeout", type=float, default=8.0)
    p.add_argument("--kintone-faults", type=float, default=0.2)
    p.add_argument("--think", default="1.0-3.0")
    p.add_argument("--embeddings", action="store_true", help="the in-process embedding model (default: BM25 only)")
    p.add_argument("--seed", type=int, default=1)
    sys.exit(asyncio.run(main(p.parse_args())))
