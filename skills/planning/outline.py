"""The outline: eight fixed sections with bullet points citing the research material as [n].

`parse_outline` reads the model's JSON (or, failing that, Markdown headings with bullets); `offline_outline`
builds the labelled skeleton used without an LLM: under each heading, the retrieved passages that fit it, quoted
as they are with their numbers."""
from __future__ import annotations

import json
import re
import unicodedata

from core.search.passages import Source
from skills.planning import strings
from skills.planning.profiles import Profile

SECTIONS = ("背景", "現状と課題", "目的", "施策案", "KPI", "スケジュール", "概算予算", "リスク")

# other names a model (or a person) uses for the same section
_ALIASES = {
    "背景": ("背景", "経緯"),
    "現状と課題": ("現状と課題", "現状・課題", "現状及び課題", "現状", "課題"),
    "目的": ("目的", "ねらい", "目標"),
    "施策案": ("施策案", "施策", "事業案", "取組案", "具体策"),
    "KPI": ("KPI", "成果指標", "評価指標", "指標"),
    "スケジュール": ("スケジュール", "工程", "実施計画", "日程"),
    "概算予算": ("概算予算", "予算", "概算事業費", "事業費", "費用"),
    "リスク": ("リスク", "懸念", "留意点", "課題とリスク"),
}

_BY_LENGTH = sorted(((unicodedata.normalize("NFKC", a), k) for k, aliases in _ALIASES.items() for a in aliases),
                    key=lambda ak: -len(ak[0]))

# words that make a passage fit a heading in the offline skeleton
_HINTS = {
    "背景": ("背景", "経緯", "計画", "方針", "戦略", "国", "法"),
    "現状と課題": ("現状", "課題", "状況", "件数", "割合", "推移", "増加", "減少", "不足"),
    "目的": ("目的", "目指", "ビジョン", "実現", "向上"),
    "施策案": ("事例", "取組", "施策", "導入", "実施", "支援", "事業"),
    "KPI": ("指標", "目標", "KPI", "件数", "率", "満足度"),
    "スケジュール": ("年度", "スケジュール", "期間", "段階", "開始", "予定"),
    "概算予算": ("予算", "費用", "円", "経費", "補助", "交付金"),
    "リスク": ("リスク", "留意", "懸念", "課題", "セキュリティ", "個人情報"),
}

_CITE = re.compile(r"\[(\d{1,3})\]")


class OutlineUnreadable(Exception):
    pass


def section_key(name: str) -> str | None:
    """The canonical section for a heading: "現状・課題" → 現状と課題, "KPI（成果指標）" → KPI."""
    n = unicodedata.normalize("NFKC", str(name or "")).strip().strip("#").strip()
    n = re.sub(r"^[0-9]+[.．、)\s]*", "", n).strip()
    for key in SECTIONS:
        if n == unicodedata.normalize("NFKC", key):
            return key
    for alias, key in _BY_LENGTH:
        if n.startswith(alias):
            return key
    return None


def cited(points: list[str], valid: set[int]) -> list[int]:
    out: list[int] = []
    for p in points:
        for m in _CITE.finditer(p):
            n = int(m.group(1))
            if n in valid and n not in out:
                out.append(n)
    return out


def _clean_point(p) -> str:
    s = " ".join(str(p).split())
    return re.sub(r"^[-・*●]\s*", "", s)


def _from_json(text: str) -> tuple[str, dict[str, list[str]]] | None:
    t = re.sub(r"^```(?:json)?|```$", "", text.strip(), flags=re.M).strip()
    start, end = t.find("{"), t.rfind("}")
    if start == -1 or end <= start:
        return None
    try:
        data = json.loads(t[start:end + 1])
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        return None
    found: dict[str, list[str]] = {}
    for sec in data["sections"]:
        if not isinstance(sec, dict):
            continue
        key = section_key(sec.get("name", ""))
        points = sec.get("points")
        if isinstance(points, str):
            points = [ln for ln in points.splitlines() if ln.strip()]
        if key and isinstance(points, list) and key not in found:
            found[key] = [_clean_point(p) for p in points if str(p).strip()]
    return str(data.get("title") or "").strip(), found


def _from_markdown(text: str) -> tuple[str, dict[str, list[str]]]:
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if s.startswith("#") or (s.startswith("【") and s.endswith("】")):
            current = section_key(s.strip("【】#"))
            if current:
                found.setdefault(current, [])
            continue
        if current and re.match(r"^([-・*●]|\d+[.．])\s*", s):
            found[current].append(_clean_point(re.sub(r"^\d+[.．]\s*", "", s)))
    return "", found


def parse_outline(text: str, theme: str, valid: set[int]) -> dict:
    """The model's answer → {"title", "mode": "ai", "sections": [...]}; raises OutlineUnreadable."""
    parsed = _from_json(text or "") or _from_markdown(text or "")
    title, found = parsed
    if sum(1 for k in SECTIONS if found.get(k)) < 5:
        raise OutlineUnreadable(strings.UNREADABLE_OUTLINE)
    sections = []
    for key in SECTIONS:
        points = [p[:400] for p in found.get(key) or []][:8] or ["（要確認）"]
        sections.append({"name": key, "points": points, "sources": cited(points, valid)})
    return {"title": (title or theme)[:200], "mode": "ai", "sections": sections}


def parse_revision(text: str, valid: set[int]) -> list[str]:
    lines = []
    for line in (text or "").splitlines():
        s = line.strip()
        if re.match(r"^([-・*●]|\d+[.．])\s*", s):
            lines.append(_clean_point(re.sub(r"^\d+[.．]\s*", "", s))[:400])
    if not lines:
        t = (text or "").strip()
        if t and not t.startswith("{") and len(t) < 1200:
            lines = [_clean_point(t)]
    if not lines:
        raise OutlineUnreadable(strings.UNREADABLE_REVISION)
    return lines[:8]


def offline_outline(theme: str, profile: Profile, materials: list[Source], *, per_section: int = 2) -> dict:
    """The method's skeleton with retrieved passages quoted under the headings they fit (no AI)."""
    used: dict[int, int] = {}
    sections = []
    for key in SECTIONS:
        scored = []
        for m in materials:
            blob = f"{m.title} {m.section} {m.text}"
            score = sum(blob.count(h) for h in _HINTS[key])
            if key == "背景" and m.kind == "law":
                score += 3
            if key == "施策案" and m.kind == "case":
                score += 3
            if score and used.get(m.n, 0) < 2:
                scored.append((score - used.get(m.n, 0) * 2, m.n, m))
        scored.sort(key=lambda x: (-x[0], x[1]))
        points = []
        for _score, n, m in scored[:per_section]:
            used[n] = used.get(n, 0) + 1
            quote = m.text[:160] + ("…" if len(m.text) > 160 else "")
            points.append(f"「{quote}」（{m.title}）[{n}]")
        sections.append({"name": key, "points": points or [strings.NO_MATERIAL],
                         "sources": [n for _s, n, _m in scored[:per_section]]})
    steps = [f"{s.name}" + (f"：{s.guide}" if s.guide else "") for s in profile.method]
    return {"title": theme[:200], "mode": "offline", "sections": sections, "method": steps}


def outline_brief(outline: dict, *, skip: str | None = None) -> str:
    return "\n".join(f"## {s['name']}\n" + "\n".join(f"- {p}" for p in s["points"])
                     for s in outline.get("sections", []) if s["name"] != skip)
