"""scripts/audit_deps.py: waivers need a reason; a finding is waived only for its package; pins pip-audit could not
audit are counted as such (never as clean). The report shape is pip-audit 2.10's JSON (`--format json`)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("audit_deps", ROOT / "scripts" / "audit_deps.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)

REPORT = {"dependencies": [
    {"name": "aiohttp", "version": "3.14.5", "vulns": [
        {"id": "PYSEC-2099-1", "fix_versions": ["3.14.6"], "aliases": ["CVE-2099-0001"], "description": "d"}]},
    {"name": "pyyaml", "version": "6.0.4", "vulns": [
        {"id": "GHSA-xxxx-yyyy-zzzz", "fix_versions": [], "aliases": [], "description": "d"}]},
    {"name": "numpy", "version": "2.4.6", "vulns": []},
    {"name": "openai", "skip_reason": "Dependency not found on PyPI and could not be audited: openai (3.57.0)"}],
    "fixes": []}


def test_the_shipped_waiver_file_is_valid():
    for vid, (package, reason) in audit.read_waivers(audit.WAIVERS.read_text(encoding="utf-8")).items():
        assert vid and package and len(reason) >= 10


def test_a_waiver_without_a_reason_is_refused():
    with pytest.raises(audit.WaiverError, match=":2:"):
        audit.read_waivers("# comment\nPYSEC-2099-1 aiohttp\n")


def test_findings_waivers_and_unaudited_pins_are_told_apart():
    waivers = audit.read_waivers("CVE-2099-0001 aiohttp the client is never used against untrusted servers\n"
                                 "GHSA-xxxx-yyyy-zzzz numpy waiver of another package's id\n")
    found, waived, skipped, audited = audit.summarise(REPORT, waivers)
    assert audited == 3
    assert found == ["pyyaml 6.0.4: GHSA-xxxx-yyyy-zzzz (fixed in no fixed version)"]
    assert waived == ["aiohttp 3.14.5: PYSEC-2099-1 / CVE-2099-0001 (fixed in 3.14.6) — waived: the client is never "
                      "used against untrusted servers"]
    assert skipped == ["openai: Dependency not found on PyPI and could not be audited: openai (3.57.0)"]
