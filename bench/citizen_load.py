"""Load on the citizen chatbot: N concurrent resident conversations for M minutes through the Direct Line stand-in.

    .venv/bin/python bench/citizen_load.py [--conversations 200] [--minutes 5] [--think 0]
    .venv/bin/python bench/citizen_load.py --bot http://127.0.0.1:3978 --bot-pid 12345     # a bot already running

Without --bot it starts its own bot (`python -m bot`, offline, SQLite in a temporary folder, background jobs off)
after registering docs/samples-citizen as the public set 市民向け, as `make run` does; the per-conversation and
per-user question limits are raised so they do not throttle the load (say --keep-limits to keep the defaults).
The Direct Line stand-in (devtools/directline) runs in this process and posts to the bot's /api/messages; each
conversation takes a token with the secret (tokens/generate), starts, opens the WebSocket stream, then asks
questions one after another (--think seconds apart), each time waiting for the bot's message on the stream.

Reports, for a baseline (one conversation, unloaded, --baseline-seconds) and for the load: answers/s, latency
p50/p95/p99 (POST of the question -> the bot's message on the stream), outcomes (answered with a source, not found,
rate limited, apology, slower than 30 s, lost, refused by Direct Line), and the bot's RSS (start / peak / end) and CPU. Loopback
only; bounded in conversations and time. The stand-in and the clients share this process (one of the machine's
cores); the bot has its own process."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.load import cpu_seconds  # noqa: E402
from bench.turn_latency import free_port, pct  # noqa: E402
from devtools.directline import DirectLineStandIn  # noqa: E402

QUESTIONS = (
    "燃やすごみは週に何回出せますか",
    "粗大ごみはどうやって申し込みますか",
    "缶やペットボトルの出し方を教えてください",
    "住民票の写しはどこで取れますか",
    "住民票の請求に必要なものは何ですか",
    "児童手当の支給額はいくらですか",
    "子どもの予防接種の受け方を教えてください",
    "図書館の開館時間は",                    # not in the sample pages: the "cannot answer" path
)
REPLY_TIMEOUT = 60.0      # HTTP requests to the stand-in
SLOW = 30.0               # an answer later than this counts as an error (a resident would have given up)
LOST_AFTER = 300.0        # no answer at all after this: the conversation stops


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    started: float = 0.0
    ended: float = 0.0

    def answers_per_second(self) -> float:
        return len(self.latencies) / max(1e-9, self.ended - self.started)


def classify(text: str) -> str:
    if "お問い合わせ番号" in text:
        return "apology"
    if "しばらく受付を停止" in text:
        return "rate_limited"
    if "お答えできませんでした" in text or "お答えできません" in text:
        return "not_found"
    if "http" in text or "出典" in text or "[1]" in text:
        return "answered"
    return "other"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def conversation(directline: DirectLineStandIn, http: aiohttp.ClientSession, tally: Tally, deadline: float,
                       think: float, rng: random.Random) -> None:
    base = directline.domain
    try:
        async with http.post(f"{base}/tokens/generate", headers={"Authorization": f"Bearer {directline.secret}"},
                             json={"user": {"id": f"dl_bench{secrets.token_hex(8)}"}}) as r:
            token = (await r.json())["token"]
        auth = {"Authorization": f"Bearer {token}"}
        async with http.post(f"{base}/conversations", headers=auth) as r:
            conv = await r.json()
        ws = await http.ws_connect(conv["streamUrl"], heartbeat=None)
    except (aiohttp.ClientError, KeyError, asyncio.TimeoutError) as e:
        tally.outcomes[f"start_failed:{type(e).__name__}"] += 1
        return
    replies: asyncio.Queue = asyncio.Queue()

    async def read() -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT or not msg.data:
                continue
            for act in json.loads(msg.data).get("activities", []):
                if act.get("type") == "message" and (act.get("from") or {}).get("role") == "bot":
                    replies.put_nowait((time.perf_counter(), act.get("text") or ""))

    reader = asyncio.create_task(read())
    try:
        while time.monotonic() < deadline:
            question = rng.choice(QUESTIONS)
            t0 = time.perf_counter()
            try:
                async with http.post(f"{base}/conversations/{conv['conversationId']}/activities", headers=auth,
                                     json={"type": "message", "text": question, "locale": "ja-JP",
                                           "from": {"id": "bench"}}) as r:
                    if r.status != 200:
                        tally.outcomes[f"directline_{r.status}"] += 1
                        await asyncio.sleep(1)
                        continue
                # one question outstanding per conversation: a slow answer is waited for (and counted as slow)
                t1, text = await asyncio.wait_for(replies.get(), LOST_AFTER)
            except asyncio.TimeoutError:
                tally.outcomes["lost"] += 1
                return
            except aiohttp.ClientError as e:
                tally.outcomes[f"client_error:{type(e).__name__}"] += 1
                await asyncio.sleep(1)
                continue
            kind = classify(text)
            tally.outcomes[kind] += 1
            tally.latencies.append((t1 - t0) * 1000)
            if t1 - t0 > SLOW:
                tally.outcomes[f"over_{SLOW:.0f}s"] += 1
            while not replies.empty():          # a second message for the same question (not expected)
                replies.get_nowait()
                tally.outcomes["extra_message"] += 1
            if think:
                await asyncio.sleep(think)
    finally:
        reader.cancel()
        await ws.close()


async def phase(directline: DirectLineStandIn, n: int, seconds: float, think: float, seed: int) -> Tally:
    tally = Tally()
    rng = random.Random(seed)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=REPLY_TIMEOUT)) as http:
        tally.started = time.perf_counter()
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(conversation(directline, http, tally, deadline, think, random.Random(rng.random()))
                               for _ in range(n)))
        tally.ended = time.perf_counter()
    return tally


def report(name: str, tally: Tally) -> None:
    lat = tally.latencies
    if not lat:
        print(f"{name}: no answers; outcomes {dict(tally.outcomes)}")
        return
    errors = sum(v for k, v in tally.outcomes.items() if k not in ("answered", "not_found"))  # incl. over_30s
    print(f"{name}: {len(lat)} answers in {tally.ended - tally.started:.0f} s = {tally.answers_per_second():.1f} "
          f"answers/s; latency p50 {pct(lat, 50):.0f} ms, p95 {pct(lat, 95):.0f} ms, p99 {pct(lat, 99):.0f} ms, "
          f"max {max(lat):.0f} ms, mean {statistics.mean(lat):.0f} ms; errors {errors}; "
          f"outcomes {dict(sorted(tally.outcomes.items()))}")


async def sample_rss(pid: int | None, samples: list[float], stop: asyncio.Event) -> None:
    while pid and not stop.is_set():
        try:
            samples.append(rss_mb(pid))
        except OSError:
            return
        try:
            await asyncio.wait_for(stop.wait(), 2.0)
        except asyncio.TimeoutError:
            pass


async def start_bot(workdir: Path, keep_limits: bool) -> tuple[subprocess.Popen, str, dict]:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI", "AZURE", "Microsoft", "DIRECTLINE", "CITIZEN", "DATABASE_URL"))}
    env.update({"PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "WARNING", "BACKGROUND_JOBS": "false",
                "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/citizen-load.db", "PYTHONPATH": str(ROOT)})
    if not keep_limits:
        env.update({"CITIZEN_RATE_PER_CONVERSATION": "100000", "CITIZEN_RATE_PER_CLIENT": "100000"})
    ingest = subprocess.run([sys.executable, "-m", "bot", "ingest", "市民向け", str(ROOT / "docs" / "samples-citizen"),
                             "--title", "市民向け（サンプル）", "--public"], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=600)
    if ingest.returncode != 0:
        raise SystemExit(f"ingest failed:\n{ingest.stdout}\n{ingest.stderr}")
    log = open(workdir / "bot.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as s:
        for _ in range(600):
            try:
                async with s.get(url + "/readyz") as r:
                    if r.status == 200:
                        return proc, url, env
            except aiohttp.ClientError:
                pass
            if proc.poll() is not None:
                break
            await asyncio.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the bot did not start (see {workdir / 'bot.log'})")


async def main(args: argparse.Namespace) -> None:
    proc = None
    workdir = Path(tempfile.mkdtemp(prefix="citizen-load-"))
    if args.bot:
        url, pid = args.bot.rstrip("/"), args.bot_pid
    else:
        proc, url, _ = await start_bot(workdir, args.keep_limits)
        pid = proc.pid
    directline = DirectLineStandIn(f"{url}/api/messages", secret=secrets.token_urlsafe(24),
                                   max_conversations=max(5000, args.conversations * 4), bot_timeout=REPLY_TIMEOUT)
    await directline.start()
    try:
        print(f"bot {url} (pid {pid or '?'}), Direct Line stand-in {directline.origin}; "
              f"{args.conversations} conversations x {args.minutes} min, think {args.think} s")
        await phase(directline, 2, 10, 0, seed=1)                                  # warm-up (models, caches)
        cpu0 = cpu_seconds(pid) if pid else None
        base = await phase(directline, 1, args.baseline_seconds, 0, seed=2)
        report("baseline (1 conversation)", base)
        samples: list[float] = []
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(pid, samples, stop))
        cpu1 = cpu_seconds(pid) if pid else None
        load = await phase(directline, args.conversations, args.minutes * 60, args.think, seed=3)
        stop.set()
        await sampler
        report(f"load ({args.conversations} conversations)", load)
        if pid and samples and cpu0 is not None and cpu1 is not None:
            cpu = cpu_seconds(pid) - cpu1
            wall = load.ended - load.started
            print(f"bot RSS: start {samples[0]:.0f} MB, peak {max(samples):.0f} MB, end {samples[-1]:.0f} MB; "
                  f"bot CPU {cpu:.0f} s over {wall:.0f} s ({cpu / max(1e-9, wall) * 100:.0f}% of one core; "
                  f"baseline {cpu1 - cpu0:.1f} s over {base.ended - base.started:.0f} s)")
        if load.latencies and base.latencies:
            print(f"p50 under load / unloaded: {pct(load.latencies, 50) / pct(base.latencies, 50):.1f}x")
    finally:
        await directline.stop()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conversations", type=int, default=200)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--think", type=float, default=0.0, help="seconds between a reply and the next question")
    p.add_argument("--baseline-seconds", type=float, default=20.0)
    p.add_argument("--bot", help="base URL of a running bot (default: start one)")
    p.add_argument("--bot-pid", type=int, help="its process id, for RSS and CPU")
    p.add_argument("--keep-limits", action="store_true", help="keep the citizen question limits of the bot")
    a = p.parse_args()
    if not 1 <= a.conversations <= 2000 or not 0 < a.minutes <= 60:
        raise SystemExit("--conversations 1..2000, --minutes up to 60")
    asyncio.run(main(a))
