"""Precision and recall of the 公用文 rules (core.kobun), with a regular-expression-only baseline in the same run.

    .venv/bin/python bench/kobun_rules.py [--verbose]

Corpora:
* correct 公用文 — the shipped sample documents (docs/samples/*.md) and the drafting templates
  (skills/drafting/templates/*.txt), raw and filled with realistic facts: every finding there is a false alarm;
* seeded errors — bench/data/kobun_seeded.yaml: pairs of a correct sentence and the same sentence with one error of
  one rule (at least one pair per rule). A pair is found when the check reports that rule on the changed characters;
  it is fixed when applying that finding's replacement gives the correct sentence; the correct sentence of each pair
  is also checked, and anything found there is a false alarm.

Also, when ../shared/testdata is present: the findings on real municipal text nobody wrote for these rules (京都市's
2021 vaccination FAQ, 128 answers, 解説・広報 kind), per rule — unlabelled, to be read, not scored.

Baseline: the same rules with morphology switched off — each `tokens` / `lemmas` rule becomes plain substring
patterns of its table (the wrong word, or the wrong stem of a conjugating word), as a regex-only checker would do.
Prints recall, exact-fix rate, false alarms and precision for both, per rule and overall."""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import kobun  # noqa: E402
from core.kobun.rules import RuleSet  # noqa: E402

TEMPLATE_KINDS = {"notice_internal": "notice", "notice_external": "notice", "jimu": "notice", "gikai": "notice",
                  "oshirase": "public", "citizen": "public", "aisatsu": "public"}
FACTS = {"subject": "市民健康診断の実施", "addressee": "各課長", "points": "健康診断を実施しますので、受診してください。",
         "when_where": "令和7年5月1日 本庁舎", "contact": "健康増進課 電話06-6489-6000", "sender": "健康福祉局長",
         "background": "受診率は40%です。", "basis": "労働安全衛生法第66条", "commitment": "研究"}


def correct_corpus() -> list[tuple[str, str, str]]:
    """(name, kind, text) of documents written correctly."""
    from skills.drafting import compose
    from skills.drafting.doctypes import DOC_TYPES

    docs = [(p.name, "notice", p.read_text(encoding="utf-8")) for p in sorted((ROOT / "docs" / "samples").glob("*.md"))]
    for p in sorted((ROOT / "skills" / "drafting" / "templates").glob("*.txt")):
        docs.append((p.name, TEMPLATE_KINDS[p.stem], p.read_text(encoding="utf-8")))
    for key, dt in DOC_TYPES.items():
        fields = compose.normalize_fields(dt, FACTS, date(2025, 4, 1))
        docs.append((f"{key}（記入済み）", TEMPLATE_KINDS[key], compose.fill_template(dt, fields)))
    return docs


def seeded() -> list[dict]:
    return yaml.safe_load((ROOT / "bench" / "data" / "kobun_seeded.yaml").read_text(encoding="utf-8"))["cases"]


def regex_only(rules: RuleSet) -> RuleSet:
    """The baseline: every morphology rule as substring patterns of its table, without conditions."""
    out = []
    for r in rules.rules:
        if r.tokens:
            pats = tuple((re.compile(re.escape("".join(seq))), repl) for seq, repl in r.tokens.items())
            out.append(replace(r, tokens={}, when=(), unless=(), patterns=pats))
        elif r.lemmas:
            pats = []
            for wrong, right in r.lemmas.items():
                k = 0
                while k < min(len(wrong), len(right)) and wrong[-1 - k] == right[-1 - k]:
                    k += 1
                pats.append((re.compile(re.escape(wrong[:len(wrong) - k])), right[:len(right) - k]))
            out.append(replace(r, lemmas={}, when=(), unless=(), patterns=tuple(pats)))
        else:
            out.append(r)
    return RuleSet(rules=out, sources=rules.sources, kinds=rules.kinds)


def touches(s, wrong: str, right: str) -> bool:
    """The finding covers the characters that differ (or, for an insertion, the point where it goes)."""
    a, b, _ = kobun.minimal_edit(wrong, right)
    return s.start <= a <= s.end if a == b else (s.start < b and a < s.end)


def evaluate(rules: RuleSet, cases: list[dict], corpus: list[tuple[str, str, str]], verbose: bool) -> dict:
    per_rule: dict[str, Counter] = defaultdict(Counter)
    false_alarms: list[str] = []
    found_total = fixed_total = 0
    for c in cases:
        rule, kind, wrong, right = c["rule"], c["kind"], c["wrong"], c["right"]
        per_rule[rule]["cases"] += 1
        hits = [s for s in kobun.check(wrong, kind=kind, rules=rules) if s.rule_id == rule and touches(s, wrong, right)]
        if hits:
            found_total += 1
            per_rule[rule]["found"] += 1
            if any(kobun.apply(wrong, [h]) == right for h in hits) or hits[0].replacement is None:
                fixed_total += 1
                per_rule[rule]["fixed"] += 1
        elif verbose:
            print(f"  missed [{rule}] {wrong}")
        for s in kobun.check(right, kind=kind, rules=rules):
            per_rule[s.rule_id]["false_alarms"] += 1
            false_alarms.append(f"[{s.rule_id}] on the correct sentence of {rule}: 「{s.original}」")
    corpus_alarms = 0
    for name, kind, text in corpus:
        for s in kobun.check(text, kind=kind, rules=rules):
            corpus_alarms += 1
            per_rule[s.rule_id]["false_alarms"] += 1
            false_alarms.append(f"[{s.rule_id}] in {name}: 「{s.original[:30]}」")
    if verbose:
        for line in false_alarms:
            print("  false alarm", line)
    fa = sum(c["false_alarms"] for c in per_rule.values())
    return {"per_rule": per_rule, "found": found_total, "fixed": fixed_total, "cases": len(cases),
            "false_alarms": fa, "corpus_alarms": corpus_alarms,
            "precision": found_total / (found_total + fa) if found_total + fa else 1.0}


FAQ = ROOT.parent / "shared" / "testdata" / "municipal" / "kyoto-vaccine-faq" / "kyoto_vaccine_faq_2021.jsonl"


def real_text(rules: RuleSet, verbose: bool) -> None:
    import json

    if not FAQ.exists():
        print("\nreal municipal text: ../shared/testdata not present, skipped")
        return
    rows = [json.loads(line) for line in FAQ.read_text(encoding="utf-8").splitlines() if line.strip()]
    counts: Counter = Counter()
    chars = 0
    for r in rows:
        text = f"{r['question']}\n{r['answer']}"
        chars += len(text)
        for s in kobun.check(text, kind="public", rules=rules):
            counts[s.rule_id] += 1
            if verbose and s.rule_id != "bun.long":
                print(f"  [{s.rule_id}] 「{s.original[:30]}」→「{s.replacement}」")
    print(f"\nreal municipal text (京都市 vaccination FAQ, {len(rows)} answers, {chars:,} characters): "
          f"{sum(counts.values())} findings — " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbose", action="store_true", help="list every miss and false alarm")
    args = ap.parse_args()
    rules = kobun.bundled()
    cases, corpus = seeded(), correct_corpus()
    chars = sum(len(t) for _, _, t in corpus)
    missing = {r.id for r in rules.rules} - {c["rule"] for c in cases}
    print(f"rules: {len(rules.rules)}; seeded pairs: {len(cases)} (rules without a pair: {sorted(missing) or 'none'}); "
          f"correct documents: {len(corpus)} ({chars:,} characters)")
    results = {}
    for label, rs in (("kobun (rules + SudachiPy)", rules), ("baseline (regex only)", regex_only(rules))):
        if args.verbose:
            print(f"\n{label}")
        t = time.perf_counter()
        results[label] = evaluate(rs, cases, corpus, args.verbose)
        results[label]["seconds"] = time.perf_counter() - t
    print()
    print(f"{'':28} {'recall':>8} {'fixed':>8} {'false alarms':>13} {'of which in docs':>17} {'precision':>10} {'time':>7}")
    for label, r in results.items():
        print(f"{label:28} {r['found'] / r['cases']:8.1%} {r['fixed'] / r['cases']:8.1%} {r['false_alarms']:13d} "
              f"{r['corpus_alarms']:17d} {r['precision']:10.1%} {r['seconds']:6.1f}s")
    print("\nper rule (kobun / baseline): found/cases, false alarms")
    ours, base = results["kobun (rules + SudachiPy)"]["per_rule"], results["baseline (regex only)"]["per_rule"]
    for rule in [r.id for r in rules.rules]:
        o, b = ours[rule], base[rule]
        flag = "" if o["found"] == o["cases"] and not o["false_alarms"] else "   <-"
        print(f"  {rule:24} {o['found']}/{o['cases']} fa {o['false_alarms']:<3} | {b['found']}/{b['cases']} "
              f"fa {b['false_alarms']}{flag}")
    real_text(rules, args.verbose)


if __name__ == "__main__":
    main()
