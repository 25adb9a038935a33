"""A draft's text laid out as a Word document (core.docx): the number/date block right, the addressee left, the
title centred, 「記」 centred, numbered items, 「以上」 and the contact block right."""
from __future__ import annotations

import re

from core.docx import OfficialDocument
from skills.drafting.checks import DATE_LINE, HONORIFIC, ITEM_LINE, lines_of, title_line
from skills.drafting.doctypes import DocType

CONTACT = re.compile(r"^[（(]?(担当|電話|TEL|Tel|メール|E-?mail|e-?mail|問い合わせ|問合せ|FAX|ファクス)")
AI_NOTE = "この文書はAIを利用して作成した素案です。内容を確認のうえご利用ください。"


def _paragraphs(doc: OfficialDocument, lines: list[str]) -> None:
    for ln in lines:
        s = ln.strip()
        if not s:
            continue
        if ITEM_LINE.match(s):
            doc.numbered([s], numbers=False)
        else:
            doc.paragraph(s)


def _notice(doc: OfficialDocument, text: str) -> None:
    lines = lines_of(text)
    t = title_line(text)
    ti = t[0] if t else -1
    for ln in (s.strip() for s in lines[:max(ti, 0)]):
        if not ln:
            continue
        if HONORIFIC.search(ln):
            doc.addressee(ln)
        else:           # 文書番号, 事務連絡, 日付, 発信者
            doc.right(ln)
    if t:
        doc.title(t[1])
    rest = lines[ti + 1:]
    stripped = [s.strip() for s in rest]
    ki = stripped.index("記") if "記" in stripped else None
    end = stripped.index("以上") if "以上" in stripped else None
    body_end = ki if ki is not None else (end if end is not None else len(rest))
    body, tail = rest[:body_end], []
    if ki is None and end is None:      # no 記/以上: the contact lines at the end go right
        while body and (not body[-1].strip() or CONTACT.match(body[-1].strip())):
            tail.insert(0, body.pop())
    _paragraphs(doc, body)
    if ki is not None:
        doc.ki()
        items = rest[ki + 1:end if end is not None and end > ki else len(rest)]
        doc.numbered([s.strip() for s in items if s.strip()], numbers=False)
    if end is not None:
        doc.closing("以上")
        tail = rest[end + 1:]
    doc.contact(*[s.strip() for s in tail if s.strip()])


def _prose(doc: OfficialDocument, dt: DocType, text: str, fields: dict) -> None:
    lines = [s.strip() for s in lines_of(text)]
    while lines and not lines[0]:
        lines.pop(0)
    if dt.key == "gikai":
        doc.title(f"{fields.get('subject') or '議会答弁'}（答弁案）")
        if fields.get("sender"):
            doc.right(f"答弁者　{fields['sender']}")
    elif dt.key == "citizen":
        if lines and HONORIFIC.search(lines[0]):
            doc.addressee(lines.pop(0))
    elif lines and len(lines[0]) <= 40 and not lines[0].endswith("。"):
        doc.title(lines.pop(0))
    # trailing date / sender / contact lines are right-aligned
    tail: list[str] = []
    if dt.key in ("aisatsu", "citizen"):
        while lines and (not lines[-1] or DATE_LINE.match(lines[-1]) or CONTACT.match(lines[-1]) or
                         (len(lines[-1]) <= 30 and not lines[-1].endswith("。"))):
            tail.insert(0, lines.pop())
    _paragraphs(doc, lines)
    doc.contact(*[s for s in tail if s])


def render_docx(dt: DocType, text: str, fields: dict, *, ai_generated: bool = True) -> bytes:
    doc = OfficialDocument()
    if dt.key in ("notice_internal", "notice_external", "jimu"):
        _notice(doc, text)
    else:
        _prose(doc, dt, text, fields)
    title = fields.get("subject") or dt.label
    doc.core_properties(title=f"{title}（素案）", author="尼崎市AIアシスタント",
                        comments=AI_NOTE if ai_generated else "テンプレートから作成した素案です。")
    return doc.to_bytes()


def file_name(dt: DocType, fields: dict) -> str:
    base = (fields.get("subject") or dt.label).strip()
    base = re.sub(r'[\\/:*?"<>|\r\n\t]', "_", base)[:40] or "素案"
    return f"{base}_素案.docx"
