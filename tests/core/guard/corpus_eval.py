"""Scoring of a PII detector against tests/core/guard/pii_corpus.jsonl (shared by the tests and bench/pii_eval.py).

Recall: a gold item counts as found when one detected span of the same kind covers it entirely (a partly masked
phone number is a leak). Precision: a detected span counts as correct when it overlaps a gold item of its kind.
`leaks` lists gold items not covered by any detected span of any kind (what would actually be sent)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).with_name("pii_corpus.jsonl")


def load_corpus(path: Path = CORPUS) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def gold_spans(row: dict) -> list[tuple[str, int, int]]:
    out = set()
    for item in row["pii"]:
        start = row["text"].find(item["text"])
        if start < 0:
            raise ValueError(f"gold text {item['text']!r} not in {row['text']!r}")
        while start >= 0:
            out.add((item["kind"], start, start + len(item["text"])))
            start = row["text"].find(item["text"], start + 1)
    return sorted(out)


@dataclass
class KindScore:
    tp_recall: int = 0
    gold: int = 0
    tp_precision: int = 0
    predicted: int = 0

    @property
    def recall(self) -> float:
        return self.tp_recall / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        return self.tp_precision / self.predicted if self.predicted else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    kinds: dict[str, KindScore] = field(default_factory=dict)
    misses: list[tuple[str, str, str]] = field(default_factory=list)        # (kind, gold text, sentence)
    false_positives: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, span text, sentence)
    leaks: list[tuple[str, str, str]] = field(default_factory=list)
    clean_changed: list[str] = field(default_factory=list)


def score(detector, rows: list[dict]) -> Report:
    rep = Report()
    for row in rows:
        text = row["text"]
        gold = gold_spans(row)
        pred = detector.detect(text)
        for kind, s, e in gold:
            ks = rep.kinds.setdefault(kind, KindScore())
            ks.gold += 1
            if any(p.kind == kind and p.start <= s and p.end >= e for p in pred):
                ks.tp_recall += 1
            else:
                rep.misses.append((kind, text[s:e], text))
            covered = set()
            for p in pred:
                covered.update(range(max(s, p.start), min(e, p.end)))
            if len(covered) < e - s:
                rep.leaks.append((kind, text[s:e], text))
        for p in pred:
            ks = rep.kinds.setdefault(p.kind, KindScore())
            ks.predicted += 1
            if any(k == p.kind and p.start < e and s < p.end for k, s, e in gold):
                ks.tp_precision += 1
            else:
                rep.false_positives.append((p.kind, p.text, text))
        if not row["pii"] and pred:
            rep.clean_changed.append(text)
    return rep
