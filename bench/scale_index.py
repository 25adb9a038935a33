"""A city-wide knowledge index at scale (issue #15): 200,000 chunks, queried the way a replica of the bot queries it.

    .venv/bin/python bench/scale_index.py [--chunks 200000] [--baseline 20000] [--sample 3000] [--workdir DIR]
                                          [--no-postgres] [--nice -10] [--stages baseline,bm25,hybrid,ingest]

Results and what they mean: docs/scale.md.

What is synthesised, and how (deterministic, seed 42). The shipped sets give 3,783 base entries: the Kyoto
vaccination FAQ (question, answer), the Kanazawa garbage dictionary (H27_gomi_jiten.tsv and target_2014.csv) and the
Kyotango one (target.csv) as 「品名は「種類」に分別します。注意」, both cities' collection calendars (one entry per
district: which day each kind of waste is collected) and Kyotango's centre closures, the sections of docs/samples
(年次休暇, 出張旅費) and every question of bench/data's municipal question sets as an inquiry record (the question and
the answer text of the entry it is about). 京都市/金沢市/京丹後市 are written 尼崎市. Documents are then made for
48 knowledge sets (8 departments × 6 地区 of 尼崎市): each has a title (department, theme, 地区, year, edition) and
6–12 numbered sections; a section is one base entry, followed by 1–8 other entries of the same group (e.g. the same
kind of waste) while it stays under 480 characters, and, in 40 % of sections, a sentence naming the year, 地区 and the
department's telephone number. Every section is one chunk (chunk_markdown), so chunks are near-duplicates of the
base entries, recombined: the vocabulary is that of the shipped sets (small for 200,000 chunks, so common terms have
long postings: a harder case for BM25 than varied documents).

How the 200,000-chunk databases are built. Through `core.search.index.Index.upsert` (chunking, analysis, the rows,
the change log), with two shortcuts so that the build takes minutes instead of hours: (1) vectors: every base entry
is embedded once with the in-process model (multilingual-e5-small, passage); a section's stored vector is the
normalised sum of its head entry's vector, half of each added entry's vector and Gaussian noise (σ 0.015 per
dimension) — the right dimension, norm and neighbourhoods, not the model's vector for that exact text; (2)
analysis: each distinct sentence is analysed once by the production Sudachi analyser and its terms reused (the terms of a chunk are those of its sentences, in order). The database is copied
when it passes --baseline chunks (the baseline: the same index at a tenth of the size). When PostgreSQL is reachable
(TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test), a scratch database is created beside it, the
SQLite rows are copied in unchanged and it is measured as a second column (dropped afterwards).

What is measured, each in a fresh child process (so that memory is the replica's own), pinned to 2 cores. The child
is a replica as production builds it (`bot.app.build_services`, offline: no LLM, no embeddings endpoint, so the
in-process model; EMBEDDINGS_LOCAL=false for the BM25-only baseline) and asks `services.knowledge.search(question,
all 48 sets, k=5)` for each of bench/data's 319 municipal questions (the whole city-wide index is searched; the
embedding of the question is included in every figure):
- cold start: process start (before the interpreter starts) → the first question's results (imports, services,
  the index loaded from the database, the model loaded, the question embedded and searched);
- query p50 / p95 / max over the questions after the first; the p50 of the index's BM25 and vector rankings
  inside those searches, and of embedding the same questions alone afterwards;
- RSS: peak (VmHWM) and steady (VmRSS after all questions), and the replica with an empty index for reference;
- ingest rate: --sample chunks of synthesised documents through the real path, uncached (`services.knowledge.upsert`:
  chunking, Sudachi, the in-process model in batches of 64, the database), against the same documents BM25-only.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TESTDATA = Path(os.environ.get("TESTDATA_DIR", ROOT.parent / "shared" / "testdata"))
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
QUESTION_FILES = ("municipal_questions.jsonl", "municipal_questions_holdout.jsonl", "municipal_questions_final.jsonl",
                  "municipal_questions_fourth.jsonl", "municipal_questions_fifth.jsonl")
DEPARTMENTS = (("生活環境課", "gomi"), ("資源循環課", "gomi"), ("業務課", "calendar"), ("美化推進課", "gomi"),
               ("保健企画課", "vaccine"), ("感染症対策課", "vaccine"), ("人事課", "staff"), ("市民相談課", "mixed"))
WARDS = ("中央", "小田", "大庄", "立花", "武庫", "園田")
SECTION_CHARS = 480
NOISE = 0.015


# ------------------------------------------------------------------ base entries from the shipped sets
@dataclass(frozen=True)
class Entry:
    group: str     # entries of one group are combined in a section (the same kind of waste, the FAQ, …)
    title: str
    text: str


def _city(text: str) -> str:
    return re.sub(r"京丹後市|京都市|金沢市", "尼崎市", text)


def base_entries() -> list[Entry]:
    from bench.retrieval_eval import municipal_docs, municipal_questions

    out: list[Entry] = []
    docs = municipal_docs()
    body_of: dict[str, str] = {}
    for set_name, key, title, md in docs:
        body = md.split("\n\n", 1)[1]
        body_of[key] = body
        if set_name == "kyoto-vaccine":
            out.append(Entry("vaccine", _city(title), _city(body)))
        else:
            kind = re.search(r"「(.+?)」", body)
            out.append(Entry(f"gomi:{kind.group(1) if kind else '?'}", title.replace(" の分別", "の出し方"), body))
    muni = TESTDATA / "municipal"
    with open(muni / "kanazawa-5374" / "target_2014.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            name, label, note = row["name"].strip(), row["label"].strip(), (row["notice"] or "").strip()
            if name:
                out.append(Entry(f"gomi:{label}", f"{name}の分別",
                                 f"{name}は{label}として出してください。" + (f"{note}。" if note else "")))
    for path, delim, district in ((muni / "kanazawa-5374" / "H27_gomi_calendar.tsv", "\t", "校下・地区"),
                                  (muni / "kyotango-5374" / "area_days.csv", ",", "地区")):
        with open(path, encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter=delim):
                name = (row.get(district) or "").strip()
                days = [f"{k}は{v.replace(' ', '・')}" for k, v in row.items()
                        if k not in (district, "センター") and v and re.match(r"^[月火水木金土日][0-9 月火水木金土日]*$", v)]
                if name and days:
                    out.append(Entry("calendar", f"{name}のごみ収集日",
                                     f"{name}の収集日は、{'、'.join(days)}曜日です（数字は第何週かを表します）。"))
    with open(muni / "kyotango-5374" / "center.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.append(Entry("calendar", f"{row['名称']}の年末年始の休止",
                             f"{row['名称']}は{row['休止開始日']}から{row['休止終了日']}まで受入れを休止します。"))
    for sample in sorted((ROOT / "docs" / "samples").glob("*.md")):
        text = sample.read_text(encoding="utf-8")
        doc_title = re.search(r"^#\s+(.+)$", text, re.M).group(1).replace("（サンプル文書）", "")  # type: ignore[union-attr]
        for m in re.finditer(r"^##\s+(.+?)\n+(.+?)(?=\n## |\Z)", text, re.M | re.S):
            out.append(Entry("staff", f"{doc_title} {m.group(1).strip()}", m.group(2).strip()))
    for name in QUESTION_FILES:
        for set_name, question, rel in municipal_questions(docs, name):
            answer = body_of[sorted(rel)[0]]
            group = "vaccine" if set_name == "kyoto-vaccine" else "inquiry"
            out.append(Entry(group, "問い合わせ記録", _city(f"問い合わせ：{question}\n回答：{answer}")))
    return out


def questions() -> list[str]:
    out = []
    for name in QUESTION_FILES:
        for line in (ROOT / "bench" / "data" / name).read_text(encoding="utf-8").splitlines():
            out.append(json.loads(line)["question"])
    return out


def base_vectors(entries: list[Entry], workdir: Path):
    """Each base entry's passage vector from the in-process model (cached in the work directory)."""
    import numpy as np

    from core import embeddings

    texts = [f"{e.title}\n{e.text}" for e in entries]
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    cache = workdir / f"base-vectors-{digest}.npy"
    if cache.exists():
        return np.load(cache)
    t0 = time.perf_counter()
    model = embeddings.embedder()
    vecs = []
    for i in range(0, len(texts), 64):
        vecs.extend(model.embed_sync(texts[i:i + 64], "document"))
    mat = np.asarray(vecs, dtype=np.float32)
    np.save(cache, mat)
    print(f"embedded {len(texts):,} base entries in {time.perf_counter() - t0:.0f} s", flush=True)
    return mat


# ------------------------------------------------------------------ synthesised documents
@dataclass
class SynthDoc:
    set_name: str
    key: str
    title: str
    markdown: str
    sections: list[tuple[int, list[int]]]   # per section: (head entry, added entries)


def set_names() -> list[str]:
    return [f"{dept}（{ward}）" for dept, _ in DEPARTMENTS for ward in WARDS]


def synthesise(entries: list[Entry], seed: int = 42):
    """Documents without end, in a fixed order (see the module docstring)."""
    rng = random.Random(seed)
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        groups.setdefault(e.group, []).append(i)
    themes = {"gomi": [i for g, ids in groups.items() if g.startswith("gomi:") or g == "inquiry" for i in ids],
              "calendar": groups["calendar"] + groups["inquiry"], "vaccine": groups["vaccine"],
              "staff": groups["staff"], "mixed": list(range(len(entries)))}
    subjects = {"gomi": "ごみの分け方・出し方", "calendar": "ごみ収集日程", "vaccine": "予防接種のご案内",
                "staff": "職員向け手続の手引き", "mixed": "よくある問い合わせ"}
    n = 0
    while True:
        n += 1
        d = rng.randrange(len(DEPARTMENTS))
        dept, theme = DEPARTMENTS[d]
        ward = rng.choice(WARDS)
        year = rng.randint(1, 8)
        phone = f"06-64{89 + d:02d}-{rng.randint(1000, 9999)}"
        title = f"{dept} {subjects[theme]}（{ward}地区・令和{year}年度 第{rng.randint(1, 5)}版）"
        parts, sections = [f"# {title}"], []
        for s in range(rng.randint(6, 12)):
            head = rng.choice(themes[theme])
            pool = groups[entries[head].group]
            body, added = entries[head].text, []
            for _ in range(rng.randint(1, 8)):
                other = rng.choice(pool)
                if other != head and len(body) + len(entries[other].text) < SECTION_CHARS:
                    body += "\n" + entries[other].text
                    added.append(other)
            if rng.random() < 0.4:
                body += f"\n令和{year}年度の{ward}地区の取扱いです。お問い合わせは{dept}（電話 {phone}）へ。"
            parts.append(f"## {s + 1}. {entries[head].title}\n\n{body}")
            sections.append((head, added))
        yield SynthDoc(f"{dept}（{ward}）", f"synth-{n:06d}.md", title, "\n\n".join(parts), sections)


class SentenceCachedSudachi:
    """The production Sudachi analyser, applied once per distinct sentence (for building the large index only: the
    terms of a text are its sentences' terms in order). The ingest rate is measured without it."""

    name = "sudachi"

    def __init__(self) -> None:
        from core.search.text import sudachi

        self._inner = sudachi()
        self._terms: dict[str, list[str]] = {}
        self._index: dict[str, list[str]] = {}

    @staticmethod
    def _sentences(text: str) -> list[str]:
        return [s for s in re.split(r"(?<=[。！？!?\n])", text) if s.strip()]

    def _cached(self, cache: dict[str, list[str]], fn, text: str) -> list[str]:
        out: list[str] = []
        for s in self._sentences(text):
            got = cache.get(s)
            if got is None:
                got = cache[s] = fn(s)
            out.extend(got)
        return out

    def terms(self, text: str) -> list[str]:
        return self._cached(self._terms, self._inner.terms, text)

    def index_terms(self, text: str) -> list[str]:
        return self._cached(self._index, self._inner.index_terms, text)


class PrecomputedVectors:
    """The build's embedder: the vector decided for each chunk's index text when its document was synthesised."""

    def __init__(self) -> None:
        self.by_text: dict[str, list[float]] = {}

    def add(self, doc: SynthDoc, entries_vecs, rng) -> None:
        import numpy as np

        from core.search.chunking import chunk_markdown
        from core.search.index import _index_text

        heads = {f"{i + 1}. ": sec for i, sec in enumerate(doc.sections)}
        for c in chunk_markdown(doc.markdown, title=doc.title):
            last = c.section.rsplit(" > ", 1)[-1]
            head, added = next(sec for prefix, sec in heads.items() if last.startswith(prefix))
            v = entries_vecs[head] + 0.5 * entries_vecs[added].sum(axis=0) if added else entries_vecs[head].copy()
            v = v + rng.normal(0.0, NOISE, v.shape[0]).astype(np.float32)
            self.by_text[_index_text(c.title, c.section, c.text)] = (v / np.linalg.norm(v)).tolist()

    def __call__(self, texts: list[str], purpose: str) -> list[list[float]]:
        return [self.by_text.pop(t) for t in texts]


async def build(entries: list[Entry], vecs, target: int, baseline: int, big: Path, small: Path) -> dict:
    import numpy as np
    from sqlalchemy import text

    from core import embeddings
    from core.search.index import Index
    from core.store import Database

    db = Database(f"sqlite+aiosqlite:///{big}")
    await db.migrate()
    emb = PrecomputedVectors()
    ix = Index(db, embed=emb, analyzer=SentenceCachedSudachi(), embed_space=embeddings.SPACE)
    for name in set_names():
        await ix.create_set(name)
    rng = np.random.default_rng(42)
    chunks = docs = 0
    t0 = time.perf_counter()
    copied = False
    for doc in synthesise(entries):
        emb.add(doc, vecs, rng)
        res = await ix.upsert(doc.set_name, "folder", doc.key, doc.title, None, doc.markdown)
        chunks += res.chunks
        docs += 1
        if not copied and chunks >= baseline:
            async with db.engine.begin() as conn:
                await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            shutil.copyfile(big, small)
            copied = True
            small_stats = {"chunks": chunks, "documents": docs}
        if docs % 2000 == 0:
            print(f"  built {chunks:,} chunks in {docs:,} documents, {time.perf_counter() - t0:.0f} s", flush=True)
        if chunks >= target:
            break
    seconds = time.perf_counter() - t0
    async with db.engine.begin() as conn:
        await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        chars = (await conn.execute(text("SELECT avg(length(text)) FROM search_chunks"))).scalar()
    await db.dispose()
    return {"chunks": chunks, "documents": docs, "seconds": seconds, "chars_per_chunk": chars,
            "baseline": small_stats, "db_bytes": big.stat().st_size}


# ------------------------------------------------------------------ PostgreSQL copy
async def pg_available() -> bool:
    import socket

    from sqlalchemy.engine import make_url

    url = make_url(PG_ADMIN_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=1):
            return True
    except OSError:
        return False


async def pg_create(name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


async def pg_drop(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def copy_to(sqlite_path: Path, url: str) -> float:
    """The search tables of the SQLite build, row for row, into a migrated database at `url`."""
    from sqlalchemy import insert, select, text

    from core.search.models import Chunk, Document, IndexChange, KnowledgeSet
    from core.store import Database

    t0 = time.perf_counter()
    src, dst = Database(f"sqlite+aiosqlite:///{sqlite_path}"), Database(url)
    await dst.migrate()
    try:
        for model in (KnowledgeSet, Document, Chunk, IndexChange):
            tbl = model.__table__
            async with src.engine.connect() as sc:
                result = await sc.stream(select(tbl).order_by(tbl.c.id))
                async for part in result.partitions(5000):
                    async with dst.engine.begin() as dc:
                        await dc.execute(insert(tbl), [dict(r._mapping) for r in part])
            async with dst.engine.begin() as dc:
                await dc.execute(text(f"SELECT setval(pg_get_serial_sequence('{tbl.name}', 'id'), "
                                      f"(SELECT max(id) FROM {tbl.name}))"))
                await dc.execute(text(f"ANALYZE {tbl.name}"))
    finally:
        await src.dispose()
        await dst.dispose()
    return time.perf_counter() - t0


# ------------------------------------------------------------------ one replica (child process)
def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def replica(url: str, mode: str, qfile: str, t_spawn: float) -> dict:
    """A replica as production builds it: cold start to the first results, then every question timed. The
    questions are all different, and the embedder's cache of recent questions is off while they are timed (each
    is embedded, as a new question is); a second pass over the first 100 with the cache on gives the time of a
    question asked again."""
    from bot.app import build_services
    from core import embeddings
    from core.store import Database

    cache_size = getattr(embeddings, "QUERY_CACHE", 0)
    embeddings.QUERY_CACHE = 0
    t_imported = time.time()
    db = Database(url)
    services = build_services(db=db)
    ix = services.knowledge
    qs = json.loads(Path(qfile).read_text(encoding="utf-8"))
    out: dict = {"search_mode": services.ai.search_mode, "mode": mode}
    if mode == "empty":     # the replica's own memory, with the index not loaded
        out["rss_steady_mb"] = _status_kb("VmRSS") / 1024
        out["rss_peak_mb"] = _status_kb("VmHWM") / 1024
        await db.dispose()
        return out
    sets = [s.name for s in await ix.list_sets()]
    hits = await ix.search(qs[0], sets, k=5)
    t_first = time.time()
    out["cold_start_s"] = t_first - t_spawn
    out["imports_s"] = t_imported - t_spawn
    out["first_hits"] = len(hits)
    out["chunks"] = len(ix._meta)
    out["rss_after_load_mb"] = _status_kb("VmRSS") / 1024
    parts: dict[str, list[float]] = {"bm25": [], "cosine": []}
    for part in parts:          # time the index's two rankings inside each search (this instance only)
        def timed(*args, _fn=getattr(ix, f"_{part}"), _out=parts[part]):
            t0 = time.perf_counter()
            try:
                return _fn(*args)
            finally:
                _out.append((time.perf_counter() - t0) * 1000)
        setattr(ix, f"_{part}", timed)
    first_pass = getattr(ix, "_quantized_first_pass", None)
    used: list[bool] = []
    if first_pass is not None:          # how often the 8-bit first pass ranked alone (else: the full product)
        def counted(*args, _fn=first_pass):
            r = _fn(*args)
            used.append(r is not None)
            return r
        ix._quantized_first_pass = counted
    lat = []
    for q in qs[1:]:
        t0 = time.perf_counter()
        await ix.search(q, sets, k=5)
        lat.append((time.perf_counter() - t0) * 1000)
    out.update({f"{part}_p50_ms": pct(v, 50) for part, v in parts.items() if v})
    out.update({f"{part}_p95_ms": pct(v, 95) for part, v in parts.items() if v})
    if used:
        out["first_pass_share"] = sum(used) / len(used)
    vectors = getattr(ix, "_vectors", None)
    sq = vectors.quantized() if vectors is not None and hasattr(vectors, "quantized") else None
    out["quantized_rows"] = len(sq) if sq is not None else 0
    out["rss_steady_mb"] = _status_kb("VmRSS") / 1024
    out["rss_peak_mb"] = _status_kb("VmHWM") / 1024
    out.update(p50_ms=pct(lat, 50), p95_ms=pct(lat, 95), max_ms=max(lat), n=len(lat))
    if mode == "hybrid":
        emb = []
        for q in qs[1:]:
            t0 = time.perf_counter()
            await services.ai.embed([q], "query")
            emb.append((time.perf_counter() - t0) * 1000)
        out["embed_p50_ms"] = pct(emb, 50)
        if cache_size:
            embeddings.QUERY_CACHE = cache_size
            again = []
            for q in qs[1:101]:
                await ix.search(q, sets, k=5)
            for q in qs[1:101]:
                t0 = time.perf_counter()
                await ix.search(q, sets, k=5)
                again.append((time.perf_counter() - t0) * 1000)
            out["asked_again_p50_ms"] = pct(again, 50)
    out["load_avg"] = os.getloadavg()[0]
    await db.dispose()
    return out


async def ingest_child(url: str, mode: str, docs_file: str) -> dict:
    """The real ingest path: `services.knowledge.upsert` of the sample documents, uncached."""
    from bot.app import build_services
    from core.store import Database

    db = Database(url)
    await db.migrate()
    services = build_services(db=db)
    ix = services.knowledge
    docs = json.loads(Path(docs_file).read_text(encoding="utf-8"))
    for name in sorted({d[0] for d in docs}):
        await ix.create_set(name)
    if mode == "hybrid":
        await services.ai.embed(["読み込み"], "document")       # the model's load is cold start, not ingest
    chunks = 0
    t0 = time.perf_counter()
    for set_name, key, title, md in docs:
        chunks += (await ix.upsert(set_name, "folder", key, title, None, md)).chunks
    secs = time.perf_counter() - t0
    await db.dispose()
    return {"search_mode": services.ai.search_mode, "chunks": chunks, "documents": len(docs), "seconds": secs,
            "chunks_per_s": chunks / secs, "rss_peak_mb": _status_kb("VmHWM") / 1024}


NICE = 0


def run_child(args: list[str], *, bm25: bool) -> dict:
    env = dict(os.environ, EMBEDDINGS_LOCAL="false" if bm25 else "true", PYTHONHASHSEED="0")
    for var in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "LLM_ENDPOINTS", "EMBEDDINGS_MODEL", "OPENAI_BASE_URL"):
        env.pop(var, None)
    cmd = ["nice", "-n", str(NICE)] if NICE else []
    cmd += ["taskset", "-c", "0,1", sys.executable, __file__, *args, "--t-spawn", repr(time.time())]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=200_000)
    ap.add_argument("--baseline", type=int, default=20_000)
    ap.add_argument("--sample", type=int, default=3_000, help="chunks ingested through the uncached real path")
    ap.add_argument("--workdir", help="keep the built databases here and reuse them (default: a temporary dir)")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--nice", type=int, default=0, help="run the measured replicas at this niceness (negative: "
                    "ahead of other work on a shared machine; needs root)")
    ap.add_argument("--stages", default="baseline,bm25,hybrid,ingest",
                    help="what to measure, comma-separated: baseline (the small index, hybrid), bm25 and hybrid "
                         "(the full index), ingest; e.g. --stages hybrid to measure a change to the search alone")
    ap.add_argument("--child", choices=["replica", "ingest"], help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--t-spawn", type=float, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child == "replica":
        print(json.dumps(asyncio.run(replica(a.url, a.mode, a.file, a.t_spawn))))
        return
    if a.child == "ingest":
        print(json.dumps(asyncio.run(ingest_child(a.url, a.mode, a.file))))
        return

    global NICE
    NICE = a.nice
    tmp = None
    if a.workdir:
        work = Path(a.workdir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="scale-index-")
        work = Path(tmp)
    try:
        run(a, work)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def run(a, work: Path) -> None:
    entries = base_entries()
    print(f"{len(entries):,} base entries from the shipped sets; {len(set_names())} knowledge sets", flush=True)
    vecs = base_vectors(entries, work)
    big, small = work / f"scale-{a.chunks}.db", work / f"scale-{a.chunks}-base-{a.baseline}.db"
    if not (big.exists() and small.exists()):
        for p in (big, small):
            p.unlink(missing_ok=True)
        stats = asyncio.run(build(entries, vecs, a.chunks, a.baseline, big, small))
        (work / f"scale-{a.chunks}.json").write_text(json.dumps(stats))
        print(f"built {stats['chunks']:,} chunks ({stats['documents']:,} documents) in {stats['seconds']:.0f} s; "
              f"baseline {stats['baseline']['chunks']:,} chunks", flush=True)
    stats = json.loads((work / f"scale-{a.chunks}.json").read_text())
    qfile = work / "questions.json"
    qfile.write_text(json.dumps(questions(), ensure_ascii=False), encoding="utf-8")

    backends = {"SQLite": (f"sqlite+aiosqlite:///{small}", f"sqlite+aiosqlite:///{big}")}
    pg_names: list[str] = []
    if not a.no_postgres and asyncio.run(pg_available()):
        try:
            urls = []
            for path, tag in ((small, "base"), (big, "full")):
                name = f"scale_bench_{tag}_{os.getpid()}"
                pg_names.append(name)
                url = asyncio.run(pg_create(name))
                secs = asyncio.run(copy_to(path, url))
                print(f"copied {path.name} into PostgreSQL ({name}) in {secs:.0f} s", flush=True)
                urls.append(url)
            backends["PostgreSQL"] = (urls[0], urls[1])
        except Exception as e:  # noqa: BLE001 - the bench goes on with SQLite alone
            print(f"PostgreSQL column skipped: {type(e).__name__}: {e}")
    else:
        print("PostgreSQL column skipped: not reachable (or --no-postgres)")

    results: dict[str, dict[str, dict]] = {}
    stages = set(a.stages.split(","))
    ingest: dict[str, dict] = {}
    try:
        for backend, (small_url, big_url) in backends.items():
            r = results[backend] = {}
            for stage, label, url, mode in (
                    ("baseline", f"{stats['baseline']['chunks']:,} chunks, hybrid", small_url, "hybrid"),
                    ("bm25", f"{stats['chunks']:,} chunks, BM25 only", big_url, "bm25"),
                    ("hybrid", f"{stats['chunks']:,} chunks, hybrid", big_url, "hybrid")):
                if stage not in stages:
                    continue
                r[label] = run_child(["--child", "replica", "--url", url, "--mode", mode, "--file", str(qfile)],
                                     bm25=mode == "bm25")
                print(f"  {backend:10} {label:28} {json.dumps(r[label], ensure_ascii=False)}", flush=True)
            if "baseline" in stages:
                r["empty"] = run_child(["--child", "replica", "--url", small_url, "--mode", "empty",
                                        "--file", str(qfile)], bm25=False)
        if "ingest" not in stages:
            return report(a, stats, results, ingest)
        # ingest: the first documents of a second synthesis (another seed), uncached, into fresh databases
        sample, n = [], 0
        for doc in synthesise(entries, seed=7):
            sample.append((doc.set_name, doc.key, doc.title, doc.markdown))
            n += len(doc.sections)
            if n >= a.sample:
                break
        dfile = work / "ingest-docs.json"
        dfile.write_text(json.dumps(sample, ensure_ascii=False), encoding="utf-8")
        for mode in ("bm25", "hybrid"):
            path = work / f"ingest-{mode}.db"
            path.unlink(missing_ok=True)
            ingest[mode] = run_child(["--child", "ingest", "--url", f"sqlite+aiosqlite:///{path}", "--mode", mode,
                                      "--file", str(dfile)], bm25=mode == "bm25")
            path.unlink(missing_ok=True)
            print(f"  ingest {mode}: {json.dumps(ingest[mode], ensure_ascii=False)}", flush=True)
    finally:
        for name in pg_names:
            asyncio.run(pg_drop(name))
    report(a, stats, results, ingest)


def report(a, stats: dict, results: dict, ingest: dict) -> None:
    load = os.getloadavg()
    print()
    print(f"City-wide index: {stats['chunks']:,} chunks in {stats['documents']:,} documents, {len(set_names())} sets "
          f"(baseline {stats['baseline']['chunks']:,}); {len(questions()) - 1} questions over all sets, k=5; "
          f"2 cores{f', replicas at niceness {a.nice}' if a.nice else ''}; load average at the end {load[0]:.1f}")
    backends = list(results)
    rows = [k for k in results[backends[0]] if k != "empty"]
    if not rows:
        return
    print(f"{'':46}" + "".join(f"{b:>22}" for b in backends))

    def line(label: str, fn) -> None:
        print(f"{label:46}" + "".join(f"{fn(results[b]):>22}" for b in backends))

    for row in rows:
        print(row)
        line("  query p50 / p95 (ms)", lambda r, row=row: f"{r[row]['p50_ms']:.1f} / {r[row]['p95_ms']:.1f}")
        line("  of which BM25, p50 (ms)", lambda r, row=row: f"{r[row]['bm25_p50_ms']:.1f}")
        if "hybrid" in row:
            line("  of which vector ranking, p50 (ms)", lambda r, row=row: f"{r[row]['cosine_p50_ms']:.1f}")
            line("  embedding the question alone, p50 (ms)", lambda r, row=row: f"{r[row]['embed_p50_ms']:.1f}")
            line("  vector ranking by the 8-bit first pass", lambda r, row=row: (
                f"{r[row].get('first_pass_share', 0):.0%} of questions" if r[row].get("quantized_rows") else "off"))
            line("  a question asked again, p50 (ms)",
                 lambda r, row=row: f"{r[row].get('asked_again_p50_ms', float('nan')):.1f}")
        line("  cold start to first results (s)", lambda r, row=row: f"{r[row]['cold_start_s']:.1f}")
        line("  RSS peak / steady (MB)", lambda r, row=row: f"{r[row]['rss_peak_mb']:.0f} / {r[row]['rss_steady_mb']:.0f}")
    if all("empty" in results[b] for b in backends):
        line("replica with the index not loaded: RSS (MB)", lambda r: f"{r['empty']['rss_steady_mb']:.0f}")
    print()
    for mode, r in ingest.items():
        print(f"ingest, {mode:6}: {r['chunks']:,} chunks ({r['documents']} documents) in {r['seconds']:.1f} s = "
              f"{r['chunks_per_s']:.1f} chunks/s (SQLite, {r['search_mode']})")
    big = results[backends[0]][rows[-1]]
    print()
    print(f"targets at {stats['chunks']:,} chunks ({backends[0]}, hybrid): query p50 {big['p50_ms']:.1f} ms "
          f"(≤50: {'met' if big['p50_ms'] <= 50 else 'NOT met'}), RSS peak {big['rss_peak_mb']:.0f} MB "
          f"(≤1536: {'met' if big['rss_peak_mb'] <= 1536 else 'NOT met'})")


if __name__ == "__main__":
    main()
