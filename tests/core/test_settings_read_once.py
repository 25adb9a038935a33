"""Settings are read once, in the composition root, and injected (#14).

A skill or card that builds a settings class itself (`IngestSettings()`) reads the environment again on every
request, and can disagree with the app it runs in (the /tier card once showed another default tier than the guard
the app was built with). Skills take their settings from `services.settings.get(Cls)`. This test reads the source
of skills/ and cards/ and fails on any call of a settings class made from the environment. Building one from
explicit values (`KintoneSettings(_env_file=None, KINTONE_APP_ID=…)`) is allowed: that reads nothing."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.settings import AppSettings

ROOT = Path(__file__).resolve().parents[2]


def _settings_classes() -> set[str]:
    """Every settings class of the app, found in the source: AppSettings and the classes derived from it."""
    bases: dict[str, set[str]] = {}
    for package in ("core", "skills", "cards", "bot"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    bases.setdefault(node.name, set()).update(
                        b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
                        for b in node.bases)
    seen = {AppSettings.__name__}
    grew = True
    while grew:
        grew = False
        for name, parents in bases.items():
            if name not in seen and parents & seen:
                seen.add(name)
                grew = True
    return seen


def _environment_reads(path: Path, names: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in names and not node.args and not node.keywords:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}()")
    return found


def test_the_settings_classes_are_found():
    names = _settings_classes()
    # a control: the walk must see the classes skills use, or the test below would pass on nothing
    assert {"IngestSettings", "PlanningSettings", "ImagesSettings", "GuardSettings", "QASettings"} <= names


@pytest.mark.parametrize("package", ["skills", "cards"])
def test_no_skill_or_card_reads_settings_from_the_environment(package):
    names = _settings_classes()
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    found = [hit for path in files for hit in _environment_reads(path, names)]
    assert not found, "use services.settings.get(Cls) instead:\n" + "\n".join(found)


def test_the_check_finds_an_environment_read(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def handler(services):\n    s = IngestSettings()\n    k = KintoneSettings(KINTONE_APP_ID='1')\n")
    sample = sample.rename(ROOT / "tests" / "core" / f"_sample_{tmp_path.name}.py")
    try:
        assert _environment_reads(sample, {"IngestSettings", "KintoneSettings"}) == [
            f"{sample.relative_to(ROOT)}:2 IngestSettings()"]
    finally:
        sample.unlink()
