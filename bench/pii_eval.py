"""PII detection quality and speed on the guard's corpus, against a regex-only baseline in the same run.

    .venv/bin/python bench/pii_eval.py [--repeat N]

Prints precision / recall / F1 per kind (recall: a gold item counts only when one span of its kind covers it
entirely; precision: a span counts when it overlaps a gold item of its kind), then throughput in sentences per
second for the full detector (SudachiPy names) and the baseline (same patterns, names from honorific and label
context only), so the cost of the analyser is visible. Corpus: tests/core/guard/pii_corpus.jsonl."""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", category=DeprecationWarning)

from core.guard.pii import KINDS, MaskSession, PiiDetector  # noqa: E402
from core.guard.policy import GuardSettings  # noqa: E402
from tests.core.guard.corpus_eval import load_corpus, score  # noqa: E402


def throughput(detector: PiiDetector, texts: list[str], repeat: int) -> float:
    detector.detect(texts[0])  # warm up (loads the dictionary once)
    start = time.perf_counter()
    for _ in range(repeat):
        for t in texts:
            detector.detect(t)
    return len(texts) * repeat / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="passes over the corpus for the throughput figure")
    args = ap.parse_args()

    rows = load_corpus()
    texts = [r["text"] for r in rows]
    settings = GuardSettings(_env_file=None)
    t0 = time.perf_counter()
    full = PiiDetector(settings)
    full.detect("山田太郎様")
    cold_ms = (time.perf_counter() - t0) * 1000
    base = PiiDetector(settings, use_analyser=False)

    reports = {"sudachi": score(full, rows), "regex-only": score(base, rows)}
    n_items = sum(len(r["pii"]) for r in rows)
    print(f"corpus: {len(rows)} sentences, {n_items} personal-data items, "
          f"{sum(1 for r in rows if not r['pii'])} without any\n")
    print(f"{'kind':<10} {'gold':>5} | {'P':>6} {'R':>6} {'F1':>6}  (SudachiPy) | {'P':>6} {'R':>6} {'F1':>6}  (regex-only)")
    for kind in KINDS:
        a, b = reports["sudachi"].kinds.get(kind), reports["regex-only"].kinds.get(kind)
        if a is None:
            continue
        print(f"{kind:<10} {a.gold:>5} | {a.precision:6.3f} {a.recall:6.3f} {a.f1:6.3f}              | "
              f"{b.precision:6.3f} {b.recall:6.3f} {b.f1:6.3f}")
    for name, rep in reports.items():
        print(f"\n{name}: {len(rep.leaks)} item(s) left (partly) unmasked, "
              f"{len(rep.clean_changed)} clean sentence(s) changed")
        for kind, text, sentence in rep.misses[:8]:
            print(f"  missed {kind}: {text!r} in {sentence[:60]!r}")
        for kind, text, sentence in rep.false_positives[:8]:
            print(f"  false {kind}: {text!r} in {sentence[:60]!r}")

    fs = throughput(full, texts, args.repeat)
    bs = throughput(base, texts, args.repeat)
    session_start = time.perf_counter()
    for _ in range(args.repeat):
        s = MaskSession(full)
        for t in texts:
            s.restore(s.mask(t))
    mask_rate = len(texts) * args.repeat / (time.perf_counter() - session_start)
    avg_len = sum(map(len, texts)) / len(texts)
    print(f"\nthroughput ({args.repeat} passes, mean {avg_len:.0f} characters per sentence):")
    print(f"  SudachiPy detector   {fs:9.0f} sentences/s  ({1000 / fs:.3f} ms each)")
    print(f"  regex-only baseline  {bs:9.0f} sentences/s  ({1000 / bs:.3f} ms each)")
    print(f"  analyser cost        {bs / fs:9.1f}x slower than the baseline")
    print(f"  mask + restore       {mask_rate:9.0f} sentences/s (SudachiPy)")
    print(f"  cold start (dictionary load + first call): {cold_ms:.0f} ms")


if __name__ == "__main__":
    main()


def holdout() -> None:
    """A small held-out set written apart from the corpus the detector was tuned on (bench/data/pii_holdout.jsonl)."""
    import json as _json
    from pathlib import Path as _Path

    from core.guard.pii import PiiDetector as _Det
    from core.guard.policy import GuardSettings as _GS

    det = _Det(_GS(_env_file=None))
    rows = [_json.loads(x) for x in (_Path(__file__).parent / "data" / "pii_holdout.jsonl").read_text().splitlines()
            if x.strip()]
    found: dict[str, list[int]] = {}
    clean_changed = 0
    misses = []
    for row in rows:
        spans = det.detect(row["text"])
        if not row["pii"] and spans:
            clean_changed += 1
            misses.append(("false positive", [s.text for s in spans], row["text"]))
        for item in row["pii"]:
            hit = any(s.kind == item["kind"] and row["text"].find(item["text"]) >= s.start
                      and row["text"].find(item["text"]) + len(item["text"]) <= s.end for s in spans)
            found.setdefault(item["kind"], [0, 0])[0] += hit
            found[item["kind"]][1] += 1
            if not hit:
                misses.append(("missed " + item["kind"], item["text"], row["text"]))
    print(f"\nheld-out set: {len(rows)} sentences ({sum(1 for r in rows if not r['pii'])} without personal data)")
    for kind, (h, n) in sorted(found.items()):
        print(f"  {kind:10} recall {h}/{n} = {h / n:.2f}")
    print(f"  sentences without personal data that were changed: {clean_changed}")
    for m in misses:
        print("  ", m)


if __name__ == "__main__":
    holdout()
