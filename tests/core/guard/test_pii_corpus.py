"""Precision / recall by kind on the corpus of sentences city staff paste (tests/core/guard/pii_corpus.jsonl)."""
from __future__ import annotations

import pytest

from core.guard.pii import KINDS, MaskSession, PiiDetector
from core.guard.policy import GuardSettings
from tests.core.guard.corpus_eval import load_corpus, score

RECALL_TARGETS = {"mynumber": 0.99, "phone": 0.99, "email": 0.99, "postal": 0.99, "name": 0.9, "address": 0.9}


@pytest.fixture(scope="module")
def rows():
    return load_corpus()


@pytest.fixture(scope="module")
def report(rows):
    return score(PiiDetector(GuardSettings(_env_file=None)), rows)


def test_corpus_is_large_and_covers_every_kind_and_decoy(rows):
    assert len(rows) >= 300
    kinds = {p["kind"] for r in rows for p in r["pii"]}
    assert kinds == set(KINDS)
    clean = [r for r in rows if not r["pii"]]
    assert len(clean) >= 80
    texts = "\n".join(r["text"] for r in clean)
    for decoy in ("06-6375-5639", "東七松町1丁目23番1号", "2026年4月1日から", "受付番号", "円"):
        assert decoy in texts


@pytest.mark.parametrize("kind", sorted(RECALL_TARGETS))
def test_recall_target_per_kind(report, kind):
    ks = report.kinds[kind]
    assert ks.gold >= 15, f"too few {kind} items in the corpus to measure"
    missed = [m for m in report.misses if m[0] == kind]
    assert ks.recall >= RECALL_TARGETS[kind], f"{kind}: recall {ks.recall:.3f}; missed {missed[:5]}"


@pytest.mark.parametrize("kind", KINDS)
def test_precision_per_kind(report, kind):
    ks = report.kinds[kind]
    fps = [f for f in report.false_positives if f[0] == kind]
    assert ks.precision >= 0.95, f"{kind}: precision {ks.precision:.3f}; false positives {fps[:5]}"


def test_nothing_personal_leaks_unmasked(report):
    assert report.leaks == []


def test_clean_sentences_pass_unchanged(rows):
    session = MaskSession(PiiDetector(GuardSettings(_env_file=None)))
    changed = [r["text"] for r in rows if not r["pii"] and session.mask(r["text"]) != r["text"]]
    assert changed == []
    assert session.counts == {}


def test_masked_corpus_contains_no_gold_value_and_restores_exactly(rows):
    detector = PiiDetector(GuardSettings(_env_file=None))
    for r in rows:
        session = MaskSession(detector)
        masked = session.mask(r["text"])
        for item in r["pii"]:
            assert item["text"] not in masked, (item, masked)
        assert session.restore(masked) == r["text"]
