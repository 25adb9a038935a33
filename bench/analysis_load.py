"""Load + automatic profile of a 1,000,000-row CSV: the データ分析 skill (DuckDB) against plain pandas, same run.

    .venv/bin/python bench/analysis_load.py [--rows 1000000] [--rounds 2] [--threads 2]

A CSV shaped like a 住民異動 / 申請 log (受付番号, 受付日, 区, 異動区分, 手数料, 件数, 備考; about 40 MB) is written to
a temporary folder. Each measurement runs in a fresh child process, which reads the file's bytes (as the bot holds a
downloaded file) and reports its wall time and its peak RSS (ru_maxrss, the whole process: interpreter and libraries
included):

* ours: skills.analysis.loader.load (encoding check, header detection, every column typed by the Japanese rules)
  with skills.analysis.profile.profile_table (counts, missing values, distinct values, sum/mean/median/min/max/sd,
  top categories, 10-bin distributions, the yearly trend) — what the user waits for; then, timed apart because the
  bot does it in the background after the profile card is sent, the Parquet copy later query connections load;
* ours, as the bot runs it: the same load and profile in a child process under ANALYSIS_LOAD_MEMORY_MB
  (skills.analysis.isolated, core.search.extract's runner; its converter process warmed by a small file first, as a
  running bot's is), which also writes the Parquet copy before it answers; the child's peak RSS is its own, and the
  bot's RSS growth is measured beside it;
* pandas: read_csv (C engine), to_datetime of the date column, describe(include="all"), isna().sum(), nunique(),
  value_counts().head(6) of each text column, a 10-bin histogram of each numeric column and the yearly count and sum.
  pandas gets the plain file and no Japanese number or date rules: the baseline does less work than ours.

Targets (issue #17): ours ≤ 5 s and ≤ 1 GB on 2 cores, and faster than pandas. The machine's load average is printed
with the figures: on a shared machine both sides slow down alike."""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARDS = ("中央", "小田", "大庄", "立花", "武庫", "園田")
KINDS = ("転入", "転出", "転居", "出生", "死亡")


def write_csv(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    start = date(2020, 4, 1).toordinal()
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("受付番号,受付日,区,異動区分,手数料,件数,備考\n")
        buf = []
        for i in range(rows):
            d = date.fromordinal(start + rng.randrange(1800))
            buf.append(f"{i + 1},{d.isoformat()},{WARDS[i % 6]},{KINDS[rng.randrange(5)]},{rng.randrange(0, 1500)},"
                       f"{rng.randrange(1, 5)},{'' if i % 7 else '窓口'}\n")
            if len(buf) >= 50_000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


OURS = """
import json, resource, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {root!r})
from skills.analysis.loader import LoadLimits, load, save_tables
from skills.analysis.profile import profile_table
data = Path({path!r}).read_bytes()
t = time.perf_counter()
with tempfile.TemporaryDirectory() as d:
    loaded, profiles, con = load(data, "log.csv", Path(d), LoadLimits(threads={threads}, memory_mb=1024),
                                 lambda con, l: [profile_table(con, t) for t in l.tables])
    seconds = time.perf_counter() - t
    t = time.perf_counter()
    save_tables(con, loaded, Path(d))
    save = time.perf_counter() - t
    con.close()
kinds = {{c.name: c.kind for c in loaded.tables[0].columns}}
print(json.dumps({{"seconds": seconds, "save": save, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": profiles[0]["rows"], "kinds": kinds}}, ensure_ascii=False))
"""

ISOLATED = """
import json, re, resource, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {root!r})
from skills.analysis.isolated import load_in_child
from skills.analysis.loader import LoadLimits
def peak():
    return int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
limits = LoadLimits(threads={threads}, memory_mb={memory} // 2)
with tempfile.TemporaryDirectory() as d:
    load_in_child(b"a,b\\n1,2\\n", "warm.csv", Path(d), limits, memory_mb={memory}, seconds=600, file_mb=400)
data = Path({path!r}).read_bytes()
before = peak()
t = time.perf_counter()
with tempfile.TemporaryDirectory() as d:
    out = load_in_child(data, "log.csv", Path(d), limits, memory_mb={memory}, seconds=600, file_mb=400)
seconds = time.perf_counter() - t
print(json.dumps({{"seconds": seconds, "rss_mb": out["peak_rss_mb"], "parent_growth_mb": peak() - before,
                  "rows": out["profiles"][0]["rows"]}}))
"""

PANDAS = """
import io, json, resource, time
import numpy as np
import pandas as pd
data = open({path!r}, "rb").read()
t = time.perf_counter()
df = pd.read_csv(io.BytesIO(data))
df["受付日"] = pd.to_datetime(df["受付日"], errors="coerce")
desc = df.describe(include="all")
missing = df.isna().sum()
distinct = df.nunique()
tops = {{c: df[c].value_counts().head(6) for c in df.columns if df[c].dtype == object}}
hists = {{c: np.histogram(df[c].dropna(), bins=10) for c in df.select_dtypes("number").columns}}
trend = df.groupby(df["受付日"].dt.year).agg(n=("受付番号", "size"), fee=("手数料", "sum"))
seconds = time.perf_counter() - t
print(json.dumps({{"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": int(len(df))}}))
"""


def child(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory", type=int, default=1536, help="ANALYSIS_LOAD_MEMORY_MB of the child (MB)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "log.csv"
        t = time.perf_counter()
        write_csv(path, a.rows)
        print(f"CSV: {a.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB (written in {time.perf_counter() - t:.1f} s)")
        results: dict[str, list[dict]] = {"ours (DuckDB)": [], "ours, isolated": [], "pandas": []}
        for _ in range(a.rounds):
            results["ours (DuckDB)"].append(child(OURS.format(root=str(ROOT), path=str(path), threads=a.threads)))
            results["ours, isolated"].append(child(ISOLATED.format(root=str(ROOT), path=str(path),
                                                                    threads=a.threads, memory=a.memory)))
            results["pandas"].append(child(PANDAS.format(path=str(path))))
        print(f"load average during the run: {os.getloadavg()[0]:.1f} (2 cores)")
        for name, runs in results.items():
            best = min(runs, key=lambda r: r["seconds"])
            print(f"{name:15s} load + profile: best {best['seconds']:.2f} s of {[round(r['seconds'], 2) for r in runs]}"
                  f"; peak RSS {max(r['rss_mb'] for r in runs):.0f} MB; rows {best['rows']:,}")
        saves = [round(r["save"], 2) for r in results["ours (DuckDB)"]]
        print(f"ours (DuckDB), in process: the Parquet copy for later queries took {saves} s more")
        growth = [round(r["parent_growth_mb"]) for r in results["ours, isolated"]]
        print(f"ours, isolated (the child's peak RSS above; the Parquet copy included): the bot's RSS grew {growth} MB")
        kinds = results["ours (DuckDB)"][0]["kinds"]
        print("column kinds read by ours:", ", ".join(f"{k}={v}" for k, v in kinds.items()))
        ours = min(r["seconds"] for r in results["ours (DuckDB)"])
        base = min(r["seconds"] for r in results["pandas"])
        print(f"ours / pandas: {ours / base:.2f}x the time")


if __name__ == "__main__":
    main()
