"""The plan as files: a report (.docx through core.docx.OfficialDocument) and a slide deck (.pptx through
core.pptx.SlideDeck). Both carry every section, the sources list and the label of how they were made."""
from __future__ import annotations

import re

from cards.common import AI_REMINDER
from core.docx import DOCX_CONTENT_TYPE, OfficialDocument
from core.pptx import PPTX_CONTENT_TYPE, SlideDeck
from core.search.passages import Source
from skills.planning import strings
from skills.planning.research import KIND_LABELS

__all__ = ["build_report", "build_slides", "file_name", "DOCX_CONTENT_TYPE", "PPTX_CONTENT_TYPE"]


def _label(outline: dict) -> str:
    return strings.OFFLINE_LABEL if outline.get("mode") == "offline" else AI_REMINDER


def _source_line(m: Source) -> str:
    name = f"（{KIND_LABELS.get(m.kind, '資料')}）{m.title}"
    if m.section:
        name += f"／{m.section}"
    if m.page:
        name += f"（{m.page}）"
    return name


def file_name(theme: str, ext: str) -> str:
    safe = re.sub(r'[\\/:*?"<>|\s]+', "_", theme).strip("_")[:40] or "企画"
    return f"企画書_{safe}.{ext}"


def build_report(theme: str, profile_name: str, inputs: dict, outline: dict, sources: list[Source],
                 *, date_text: str = "") -> bytes:
    doc = OfficialDocument()
    doc.right(*(x for x in (date_text, profile_name) if x))
    doc.title(outline.get("title") or theme)
    doc.left(_label(outline)).blank()
    doc.heading("企画の前提")
    doc.bullets([f"{label}：{inputs.get(key) or '未定'}" for key, label in
                 (("purpose", "目的"), ("target", "対象"), ("period", "期間"), ("budget", "予算規模"))])
    if outline.get("method"):
        doc.blank().heading("調査手法")
        doc.numbered(outline["method"])
    for i, sec in enumerate(outline.get("sections", []), 1):
        doc.blank().heading(f"{i}　{sec['name']}")
        doc.bullets(sec["points"])
    doc.blank().heading("出典")
    if sources:
        for m in sources:
            doc.left(f"[{m.n}] {_source_line(m)}" + (f"　{m.url}" if m.url else ""))
    else:
        doc.left("（出典なし）")
    doc.core_properties(title=outline.get("title") or theme, comments=_label(outline))
    return doc.to_bytes()


def build_slides(theme: str, profile_name: str, outline: dict, sources: list[Source], *,
                 date_text: str = "") -> bytes:
    deck = SlideDeck()
    label = _label(outline)
    deck.title_slide(outline.get("title") or theme,
                     "\n".join(x for x in (profile_name, date_text, label) if x), notes=label)
    for sec in outline.get("sections", []):
        deck.bullets(sec["name"], sec["points"], notes=label)
    deck.sources([(f"{_source_line(m)}", m.url) for m in sources], title="出典")
    deck.core_properties(title=outline.get("title") or theme, comments=label)
    return deck.to_bytes()
