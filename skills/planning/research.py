"""The research stage: cited material from the section's knowledge sets (core.search), law search (e-Gov, through
core.law.lookup.find_law) and the registered other-city cases; then, with an LLM, research notes along the
profile's method. Material is numbered once here and cited as [n] everywhere after (outline, report, slides)."""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Iterable

from core.law.lookup import find_law
from core.profiles import group_ids
from core.search.index import readable_sets
from core.search.passages import Source
from core.skills import SkillRequest
from skills.planning.profiles import Profile
from skills.planning.settings import PlanningSettings

log = logging.getLogger(__name__)

KIND_LABELS = {"knowledge": "庁内資料", "case": "他都市事例", "law": "法令"}
EXCERPT_CHARS = 600


async def _search(services, query: str, sets: list[str], k: int) -> list:
    if not sets or not query.strip():
        return []
    try:
        return await services.knowledge.search(query, sets, k=k)
    except Exception as e:  # noqa: BLE001 - a broken or empty index must not stop the plan
        log.warning("planning search failed on %s: %s", sets, type(e).__name__)
        return []


async def _readable(services, req: SkillRequest, names: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(n for n in names if n))
    if not wanted:
        return []
    try:
        groups = await group_ids(services, req.aad_object_id)
        allowed = set(await readable_sets(req.aad_object_id, groups, services.db))
    except Exception as e:  # noqa: BLE001
        log.warning("could not read knowledge-set permissions: %s", type(e).__name__)
        return []
    return [n for n in wanted if n in allowed]


def _hit_material(kind: str, hit) -> Source:
    section = hit.section if hit.section and hit.section != hit.title else ""
    return Source(kind=kind, title=hit.title or hit.set_name, section=section, page=hit.page, url=hit.url,
                  text=" ".join(hit.text.split())[:EXCERPT_CHARS], set_name=hit.set_name, key=f"chunk:{hit.chunk_id}")


def _law_material(hit) -> Source:
    title = " ".join(p for p in (hit.law_title, hit.article) if p)
    return Source(kind="law", title=title or hit.law_id, url=hit.url, text=hit.excerpt[:EXCERPT_CHARS],
                  set_name="e-Gov", key=f"law:{hit.law_id}:{hit.elm or hit.position}")


def _interleave(groups: list[list]) -> list:
    out, i = [], 0
    while any(i < len(g) for g in groups):
        out.extend(g[i] for g in groups if i < len(g))
        i += 1
    return out


async def gather(services, req: SkillRequest, profile: Profile, theme: str, inputs: dict,
                 settings: PlanningSettings) -> list[Source]:
    """Numbered material: knowledge passages (one search per method step), cases, law passages."""
    k = max(1, settings.PLANNING_SEARCH_K)
    limit = max(3, settings.PLANNING_MAX_SOURCES)
    purpose = str(inputs.get("purpose") or "")
    knowledge_sets = await _readable(services, req, profile.knowledge_sets)
    case_sets = await _readable(services, req, profile.case_sets)

    queries = [f"{theme} {purpose}".strip()] + [f"{theme} {step.name}" for step in profile.method]
    knowledge = _interleave([await _search(services, q, knowledge_sets, k) for q in queries])
    cases = await _search(services, f"{theme} 事例 取組", case_sets, k)

    laws: list = []
    for q in [*profile.law_keywords, theme]:
        if len(laws) >= settings.PLANNING_LAW_RESULTS:
            break
        laws.extend(await find_law(services.law, q, limit=settings.PLANNING_LAW_RESULTS))

    materials: list[Source] = []
    seen: set[str] = set()

    def add(m: Source, cap: int) -> None:
        if m.key in seen or len(materials) >= limit or sum(1 for x in materials if x.kind == m.kind) >= cap:
            return
        seen.add(m.key)
        materials.append(m)

    law_cap = max(0, settings.PLANNING_LAW_RESULTS)
    case_cap = max(2, limit // 4)
    for hit in laws:
        add(_law_material(hit), law_cap)
    for hit in cases:
        add(_hit_material("case", hit), case_cap)
    for hit in knowledge:
        add(_hit_material("knowledge", hit), limit)
    # number them in reading order: the section's own documents first, then cases, then law
    order = {"knowledge": 0, "case": 1, "law": 2}
    materials.sort(key=lambda m: order[m.kind])
    return [replace(m, n=n) for n, m in enumerate(materials, 1)]


def materials_text(materials: list[Source], *, chars: int = 500) -> str:
    if not materials:
        return "（資料は見つかりませんでした）"
    lines = []
    for m in materials:
        head = f"[{m.n}]（{KIND_LABELS.get(m.kind, '資料')}）{m.title}"
        if m.section:
            head += f"／{m.section}"
        lines.append(f"{head}\n{m.text[:chars]}")
    return "\n\n".join(lines)


def inputs_text(inputs: dict) -> str:
    labels = (("purpose", "目的"), ("target", "対象"), ("period", "期間"), ("budget", "予算規模"))
    return "\n".join(f"- {label}：{inputs.get(key) or '未定'}" for key, label in labels)


def method_text(profile: Profile) -> str:
    return "\n".join(f"{i}. {s.name}" + (f"：{s.guide}" if s.guide else "") for i, s in enumerate(profile.method, 1))
