"""Section profiles (課ごと): research method, knowledge sets, other-city case sets, law keywords, output preferences.

Shared by the skills that need to know the city's sections: /plan takes a section's method and sources from them,
/notice tells which sections a 通知 concerns. Administrators edit a YAML file (PLANNING_PROFILES_FILE; the bundled
core/sections.yaml by default). The file is re-read when it changes. A broken file is reported in the log and the
bundled profiles are used instead, so the skills keep working."""
from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.datafile import cached
from core.settings import AppSettings

BUNDLED = Path(__file__).with_name("sections.yaml")


class SectionSettings(AppSettings):
    section = "planning"

    PLANNING_PROFILES_FILE: str = ""
    """YAML file of the section profiles (課ごとの調査手法・参照ナレッジ・事例・出力・関係法令); empty = core/sections.yaml."""

    def profiles_path(self) -> Path:
        return Path(self.PLANNING_PROFILES_FILE) if self.PLANNING_PROFILES_FILE.strip() else BUNDLED


log = logging.getLogger(__name__)

OUTPUT_KINDS = ("report", "slides")


class ProfileError(ValueError):
    """The profiles file is not usable; the message names the problem (for administrators)."""


@dataclass(frozen=True)
class MethodStep:
    name: str
    guide: str = ""


@dataclass(frozen=True)
class Profile:
    id: str
    name: str
    departments: tuple[str, ...] = ()
    method: tuple[MethodStep, ...] = ()
    knowledge_sets: tuple[str, ...] = ()
    case_sets: tuple[str, ...] = ()
    law_keywords: tuple[str, ...] = ()
    outputs: tuple[str, ...] = OUTPUT_KINDS
    tone: str = ""

    def method_text(self) -> str:
        return "→".join(s.name for s in self.method)


@dataclass
class Profiles:
    default: str
    items: list[Profile] = field(default_factory=list)

    def get(self, profile_id: str | None) -> Profile:
        """The profile with this id, else the default one."""
        for p in self.items:
            if p.id == profile_id:
                return p
        return self.default_profile

    @property
    def default_profile(self) -> Profile:
        return next((p for p in self.items if p.id == self.default), self.items[0])

    def for_department(self, department: str | None) -> Profile:
        """The profile whose `departments` names occur in the user's department (longest match), else default."""
        dept = unicodedata.normalize("NFKC", department or "")
        best, best_len = None, 0
        if dept:
            for p in self.items:
                for d in p.departments:
                    key = unicodedata.normalize("NFKC", d)
                    if key and key in dept and len(key) > best_len:
                        best, best_len = p, len(key)
        return best or self.default_profile


def _strs(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ProfileError(f"{where} は文字列のリストで指定してください。")
    return tuple(str(v).strip() for v in value if str(v).strip())


def parse_profiles(data) -> Profiles:
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), list) or not data["profiles"]:
        raise ProfileError("profiles（プロファイルのリスト）がありません。")
    items: list[Profile] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["profiles"], 1):
        if not isinstance(raw, dict):
            raise ProfileError(f"{i}番目のプロファイルの形式が正しくありません。")
        pid = str(raw.get("id") or "").strip()
        name = str(raw.get("name") or "").strip()
        if not pid or not name:
            raise ProfileError(f"{i}番目のプロファイルに id または name がありません。")
        if pid in seen:
            raise ProfileError(f"プロファイル id「{pid}」が重複しています。")
        seen.add(pid)
        steps = []
        for j, st in enumerate(raw.get("method") or [], 1):
            if isinstance(st, str):
                steps.append(MethodStep(st.strip()))
            elif isinstance(st, dict) and str(st.get("name") or "").strip():
                steps.append(MethodStep(str(st["name"]).strip(), str(st.get("guide") or "").strip()))
            else:
                raise ProfileError(f"プロファイル「{pid}」の method の{j}番目に name がありません。")
        outputs = _strs(raw.get("outputs"), f"{pid}.outputs") or OUTPUT_KINDS
        bad = [o for o in outputs if o not in OUTPUT_KINDS]
        if bad:
            raise ProfileError(f"プロファイル「{pid}」の outputs に使えない値があります：{', '.join(bad)}（report / slides）")
        items.append(Profile(
            id=pid, name=name, departments=_strs(raw.get("departments"), f"{pid}.departments"),
            method=tuple(steps) or (MethodStep("現状分析"), MethodStep("課題"), MethodStep("先進事例"),
                                    MethodStep("施策案")),
            knowledge_sets=_strs(raw.get("knowledge_sets"), f"{pid}.knowledge_sets"),
            case_sets=_strs(raw.get("case_sets"), f"{pid}.case_sets"),
            law_keywords=_strs(raw.get("law_keywords"), f"{pid}.law_keywords"),
            outputs=outputs, tone=str(raw.get("tone") or "").strip()))
    default = str(data.get("default") or items[0].id).strip()
    if default not in seen:
        raise ProfileError(f"default に指定されたプロファイル「{default}」がありません。")
    return Profiles(default=default, items=items)


def load_file(path: Path) -> Profiles:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ProfileError(f"プロファイルファイル {path} を読めません（{type(e).__name__}）。") from e
    except yaml.YAMLError as e:
        raise ProfileError(f"プロファイルファイル {path} の YAML が正しくありません：{e}") from e
    return parse_profiles(data)


def load_profiles(path: Path) -> Profiles:
    """The profiles of `path`, reused until the file changes; the bundled ones when `path` is unusable."""
    def load() -> Profiles:
        try:
            return load_file(path)
        except ProfileError as e:
            if path == BUNDLED:
                raise
            log.error("section profiles unusable, using the bundled ones: %s", e)
            return load_profiles(BUNDLED)

    try:
        return cached("planning.profiles", path, load)
    except OSError as e:
        if path == BUNDLED:
            raise ProfileError(f"プロファイルファイル {path} を読めません（{type(e).__name__}）。") from e
        log.error("section profiles file %s unreadable, using the bundled ones", path)
        return load_profiles(BUNDLED)


def section_profiles(services) -> Profiles:
    """The section profiles in force (PLANNING_PROFILES_FILE, else the bundled ones), for any skill."""
    return load_profiles(services.settings.get(SectionSettings).profiles_path())
