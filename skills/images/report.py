"""The inspection report of a batch: an Excel workbook (one row per finding, the photo beside it) and a Word document
(one section per photo: the picture with its boxes, the judgement, time and place). Pure: rows in, bytes out."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime

from docx.shared import Mm
from openpyxl import Workbook
from openpyxl.drawing.image import Image as XLImage
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from PIL import Image

from core.docx import OfficialDocument
from core.office import set_core_properties, to_bytes

HEADERS = ("番号", "ファイル名", "撮影日時", "位置（緯度, 経度）", "住所", "地理院地図", "対象", "判定区分", "損傷の種類",
           "程度", "確信度", "推奨対応", "根拠・備考", "写真")
WIDTHS = (6, 24, 18, 22, 24, 18, 12, 14, 16, 30, 8, 26, 36, 34)
MAP_COLUMN = HEADERS.index("地理院地図") + 1
GRADE_COLUMN = HEADERS.index("判定区分") + 1
PHOTO_ROW_HEIGHT = 150      # points; the picture is scaled to fit the row
PHOTO_COLUMN = len(HEADERS)


@dataclass
class Row:
    position: int
    name: str
    taken: str
    location: str
    map_url: str
    subject: str
    grade: str
    reason: str
    findings: list[dict] = field(default_factory=list)   # kind, extent, grade, confidence, action
    picture: bytes | None = None
    address: str = ""                                    # 「兵庫県尼崎市…付近」 when a geocoder found it


def xlsx(rows: list[Row], *, title: str, label: str, made_at: datetime, author: str = "") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "点検結果"
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([label])
    ws.append([f"作成日時：{made_at:%Y年%m月%d日 %H:%M}"])
    ws.append(list(HEADERS))
    head = 4
    for c in range(1, len(HEADERS) + 1):
        cell = ws.cell(row=head, column=c)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        ws.column_dimensions[get_column_letter(c)].width = WIDTHS[c - 1]
    ws.freeze_panes = ws.cell(row=head + 1, column=1)
    r = head
    for row in rows:
        items = row.findings or [None]
        first = r + 1
        for f in items:
            r += 1
            values = [row.position, row.name, row.taken, row.location, row.address, row.map_url or "", row.subject,
                      row.grade,
                      f["kind"] if f else "", f["extent"] if f else "",
                      f"{round(f['confidence'] * 100)}%" if f else "", f["action"] if f else "", row.reason]
            for c, v in enumerate(values, start=1):
                cell = ws.cell(row=r, column=c, value=v)
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            if f:
                ws.cell(row=r, column=GRADE_COLUMN, value=f["grade"])
            if row.map_url:
                ws.cell(row=r, column=MAP_COLUMN).hyperlink = row.map_url
                ws.cell(row=r, column=MAP_COLUMN).value = "地図を開く"
            ws.row_dimensions[r].height = PHOTO_ROW_HEIGHT if r == first and row.picture else None
        if row.picture:
            ws.add_image(_xl_image(row.picture), f"{get_column_letter(PHOTO_COLUMN)}{first}")
    set_core_properties(wb.properties, title=title, author=author, comments=label)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xl_image(jpeg: bytes) -> XLImage:
    img = XLImage(io.BytesIO(jpeg))
    with Image.open(io.BytesIO(jpeg)) as im:
        w, h = im.size
    target_h = PHOTO_ROW_HEIGHT * 96 / 72 - 4        # row height in pixels
    scale = min(1.0, target_h / h, 240 / w)
    img.width, img.height = int(w * scale), int(h * scale)
    return img


def docx(rows: list[Row], *, title: str, label: str, made_at: datetime, author: str = "") -> bytes:
    doc = OfficialDocument()
    doc.right(f"{made_at.year}年{made_at.month}月{made_at.day}日")
    doc.title(title)
    doc.paragraph(label, indent_first=False)
    for row in rows:
        doc.blank()
        doc.heading(f"{row.position}．{row.name}")
        if row.picture:
            doc.doc.add_picture(io.BytesIO(row.picture), width=Mm(120))
        lines = [f"撮影日時：{row.taken}", f"位置：{row.location}" + (f"（{row.map_url}）" if row.map_url else "")]
        if row.address:
            lines.append(f"住所：{row.address}")
        lines += [f"対象：{row.subject or '－'}", f"判定区分：{row.grade or '－'}"]
        for i, f in enumerate(row.findings, start=1):
            lines.append(f"損傷{i}：{f['kind']}（{f['grade']}、確信度{round(f['confidence'] * 100)}%）"
                         f"　程度：{f['extent'] or '－'}　推奨対応：{f['action'] or '－'}")
        if row.reason:
            lines.append(f"根拠・備考：{row.reason}")
        doc.bullets(lines)
    doc.core_properties(title=title, author=author, comments=label)
    return to_bytes(doc.doc)
