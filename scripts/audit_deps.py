"""Known-vulnerability audit of the pinned dependencies (requirements.txt, requirements-data.txt) with pip-audit
(issue #21).

    .venv/bin/python scripts/audit_deps.py          # `make audit`; .ci/run runs it after the tests

pip-audit (pinned below) lives in its own venv (.venv-audit, override with AUDIT_VENV) so it never touches .venv, and
asks PyPI's JSON API, the only vulnerability service a machine that reaches nothing but the package registries can
use, for each pin (`--no-deps`: every installed package is pinned in requirements.txt; `--disable-pip`: nothing is
resolved or installed). Answers are cached in .cache/pip-audit (AUDIT_CACHE_DIR).

Exit status:
  1  a vulnerability that is not waived, a waiver without a reason, or pip-audit could not run;
  1  some pins could not be audited and AUDIT_STRICT=1;
  0  otherwise. Pins that could not be audited are listed with pip-audit's reason and counted in the last line,
     which never says "no known vulnerabilities" for them.

Waivers: infra/audit-waivers.txt, one finding per line, `<vulnerability id> <package> <reason>`; a line without a
reason is refused. Each waiver is for a finding that does not apply to how the assistant uses the package."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

PIP_AUDIT = "pip-audit==2.10.1"
ROOT = Path(__file__).resolve().parents[1]
WAIVERS = ROOT / "infra" / "audit-waivers.txt"


class WaiverError(ValueError):
    pass


def read_waivers(text: str) -> dict[str, tuple[str, str]]:
    """{vulnerability id: (package, reason)} from the waiver file's text."""
    out: dict[str, tuple[str, str]] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or not parts[2].strip():
            raise WaiverError(f"infra/audit-waivers.txt:{n}: `<id> <package> <reason>` expected, got {raw.strip()!r}")
        out[parts[0]] = (parts[1].lower(), parts[2].strip())
    return out


def summarise(report: dict, waivers: dict[str, tuple[str, str]]) -> tuple[list[str], list[str], list[str], int]:
    """(findings not waived, waived findings, pins not audited, pins audited) from pip-audit's JSON report."""
    found, waived, skipped, audited = [], [], [], 0
    for dep in report.get("dependencies", []):
        name, version = dep.get("name", "?"), dep.get("version", "")
        if dep.get("skip_reason"):
            skipped.append(f"{name}: {dep['skip_reason']}")
            continue
        audited += 1
        for v in dep.get("vulns", []):
            ids = [v.get("id", "?"), *v.get("aliases", [])]
            fixed = ", ".join(v.get("fix_versions", [])) or "no fixed version"
            line = f"{name} {version}: {' / '.join(ids)} (fixed in {fixed})"
            hit = next((i for i in ids if i in waivers and waivers[i][0] == name.lower()), None)
            (waived if hit else found).append(line + (f" — waived: {waivers[hit][1]}" if hit else ""))
    return found, waived, skipped, audited


def ensure_tool(venv_dir: Path) -> Path:
    exe = venv_dir / "bin" / "pip-audit"
    version = PIP_AUDIT.split("==")[1]
    if exe.exists() and version in subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout:
        return exe
    print(f"audit: installing {PIP_AUDIT} into {venv_dir}", flush=True)
    venv.create(venv_dir, with_pip=True, clear=True)
    subprocess.run([str(venv_dir / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", PIP_AUDIT],
                   check=True)
    return exe


def main() -> int:
    try:
        waivers = read_waivers(WAIVERS.read_text(encoding="utf-8") if WAIVERS.exists() else "")
    except WaiverError as e:
        print(f"audit: {e}", file=sys.stderr)
        return 1
    exe = ensure_tool(Path(os.environ.get("AUDIT_VENV") or ROOT / ".venv-audit"))
    cache = Path(os.environ.get("AUDIT_CACHE_DIR") or ROOT / ".cache" / "pip-audit")
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [str(exe), "-r", str(ROOT / "requirements.txt"), "-r", str(ROOT / "requirements-data.txt"),
           "--vulnerability-service", "pypi", "--no-deps",
           "--disable-pip", "--cache-dir", str(cache), "--format", "json", "--progress-spinner", "off"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        print(f"audit: pip-audit failed (exit {run.returncode}):\n{run.stderr[-2000:]}", file=sys.stderr)
        return 1
    found, waived, skipped, audited = summarise(report, waivers)
    for line in found:
        print(f"audit: VULNERABLE {line}")
    for line in waived:
        print(f"audit: {line}")
    for line in skipped:
        print(f"audit: not audited: {line}")
    strict = os.environ.get("AUDIT_STRICT") == "1"
    print(f"audit: {audited} pins audited, {len(found)} vulnerable, {len(waived)} waived, {len(skipped)} could not be "
          f"audited{' (AUDIT_STRICT=1: failing)' if skipped and strict else ''}")
    return 1 if found or (skipped and strict) else 0


if __name__ == "__main__":
    sys.exit(main())
