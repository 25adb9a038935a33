"""照会 forms (.xlsx): finding the questions and where their answers go, and writing drafted answers back marked for
review. Pure functions over an openpyxl workbook.

Two shapes are found: a table whose header row has a question column (設問・質問・照会事項・調査項目…) and an answer
column (回答・回答欄・記入欄…), each row below one question; and labelled cells (団体名：, 担当者：, 電話番号：, or a
question ending in 「か。」「？」) with an empty cell to the right or below. Merged cells are read and written through
the top-left cell of their range. An answer cell that already holds something is left alone."""
from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass

from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

MAX_SHEETS = 10
MAX_ROWS = 400
MAX_COLS = 40
REVIEW_FILL = PatternFill(fill_type="solid", start_color="FFFFF2CC", end_color="FFFFF2CC")   # light yellow
AUTHOR = "尼崎市AIアシスタント"

_Q_HEAD = re.compile(r"^(設問|質問|照会事項|照会内容|調査事項|調査項目|確認事項|項目|質問事項|設問内容)(内容)?$")
_A_HEAD = re.compile(r"^(回答|回答欄|回答内容|ご?回答|記入欄|回答（記入欄）|貴団体の回答|回答記入欄)$")
LABELS = {
    "団体名": "city", "自治体名": "city", "市区町村名": "city", "市町村名": "city", "団体": "city",
    "都道府県名": "prefecture", "都道府県": "prefecture",
    "所属": "department", "所属名": "department", "部署名": "department", "担当課": "department", "担当部署": "department",
    "担当課名": "department", "部署": "department",
    "担当者": "name", "担当者名": "name", "氏名": "name", "回答者": "name", "記入者": "name",
    "電話": "phone", "電話番号": "phone", "連絡先": "phone", "内線": "phone",
    "メール": "mail", "メールアドレス": "mail", "e-mail": "mail", "email": "mail",
    "回答日": "date", "記入日": "date", "回答年月日": "date",
}
_QUESTION_LIKE = re.compile(r"(か[。？?]?|[？?]|(記入|回答|ご回答|お答え|選択|記載)(して)?ください。?)$")
_NOT_QUESTION = re.compile(r"^[※＊*注]|提出|期限|送付|返送|問い?合わせ")


@dataclass
class Field:
    sheet: str
    question_cell: str
    answer_cell: str           # the top-left cell of the answer's range
    question: str
    kind: str                  # "question" | "label"
    label: str | None = None   # for labels: city, prefecture, department, name, phone, mail, date
    existing: str = ""         # what the answer cell already holds

    @property
    def ref(self) -> str:
        return f"{self.sheet}!{self.answer_cell}"


def _text(v) -> str:
    if v is None:
        return ""
    return unicodedata.normalize("NFKC", str(v)).strip()


class _Sheet:
    """A sheet with merged ranges resolved: `value(r, c)` reads through the range's top-left cell."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.top_left: dict[tuple[int, int], tuple[int, int]] = {}
        self.span: dict[tuple[int, int], tuple[int, int, int, int]] = {}
        for rng in ws.merged_cells.ranges:
            for r in range(rng.min_row, min(rng.max_row, MAX_ROWS) + 1):
                for c in range(rng.min_col, min(rng.max_col, MAX_COLS) + 1):
                    self.top_left[(r, c)] = (rng.min_row, rng.min_col)
            self.span[(rng.min_row, rng.min_col)] = (rng.min_row, rng.min_col, rng.max_row, rng.max_col)
        self.rows = min(ws.max_row or 0, MAX_ROWS)
        self.cols = min(ws.max_column or 0, MAX_COLS)

    def anchor(self, r: int, c: int) -> tuple[int, int]:
        return self.top_left.get((r, c), (r, c))

    def value(self, r: int, c: int) -> str:
        ar, ac = self.anchor(r, c)
        return _text(self.ws.cell(row=ar, column=ac).value)

    def extent(self, r: int, c: int) -> tuple[int, int, int, int]:
        ar, ac = self.anchor(r, c)
        return self.span.get((ar, ac), (ar, ac, ar, ac))

    def coord(self, r: int, c: int) -> str:
        ar, ac = self.anchor(r, c)
        return self.ws.cell(row=ar, column=ac).coordinate


def _label_key(text: str) -> str | None:
    key = re.sub(r"[\s：:（）()※*]+$", "", text).strip().lower()
    key = re.sub(r"^[※*・]", "", key)
    return LABELS.get(key)


def _table(sh: _Sheet, taken: set[tuple[int, int]]) -> list[Field]:
    out: list[Field] = []
    for hr in range(1, min(sh.rows, 40) + 1):
        qcol = acol = None
        for c in range(1, sh.cols + 1):
            if sh.anchor(hr, c) != (hr, c) and sh.anchor(hr, c)[0] != hr:
                continue
            v = sh.value(hr, c)
            if qcol is None and _Q_HEAD.match(v):
                qcol = c
            elif acol is None and _A_HEAD.match(v):
                acol = sh.anchor(hr, c)[1]
        if qcol is None or acol is None or qcol == acol:
            continue
        header_bottom = sh.extent(hr, acol)[2]
        empty_run = 0
        r = header_bottom + 1
        while r <= sh.rows and empty_run < 5:
            q_anchor = sh.anchor(r, qcol)
            question = sh.value(r, qcol)
            bottom = max(sh.extent(r, qcol)[2], sh.extent(r, acol)[2])
            if not question or q_anchor[0] != r:
                empty_run += 0 if q_anchor[0] != r and question else 1
                r = bottom + 1 if bottom >= r else r + 1
                continue
            empty_run = 0
            a_anchor = sh.anchor(r, acol)
            taken.update({q_anchor, a_anchor})
            out.append(Field(sh.ws.title, sh.coord(r, qcol), sh.coord(r, acol), question, "question",
                             existing=sh.value(r, acol)))
            r = bottom + 1
        if out:
            return out
    return out


def _labelled(sh: _Sheet, taken: set[tuple[int, int]]) -> list[Field]:
    out: list[Field] = []
    for r in range(1, sh.rows + 1):
        for c in range(1, sh.cols + 1):
            if sh.anchor(r, c) != (r, c) or (r, c) in taken:
                continue
            text = sh.value(r, c)
            if not text:
                continue
            label = _label_key(text)
            question = (label is None and len(text) >= 8 and bool(_QUESTION_LIKE.search(text))
                        and not _NOT_QUESTION.search(text))
            if label is None and not question:
                continue
            _, _, bottom, right = sh.extent(r, c)
            spot = None
            if right + 1 <= sh.cols and sh.anchor(r, right + 1) not in taken:
                ar, ac = sh.anchor(r, right + 1)
                if not sh.value(ar, ac) or label is not None and _label_key(sh.value(ar, ac)) is None:
                    spot = (ar, ac)
            if spot is None and question and bottom + 1 <= sh.rows:
                ar, ac = sh.anchor(bottom + 1, c)
                if not sh.value(ar, ac):
                    spot = (ar, ac)
            if spot is None or spot in taken:
                continue
            taken.update({(r, c), spot})
            out.append(Field(sh.ws.title, sh.coord(r, c), sh.coord(*spot), text, "label" if label else "question",
                             label=label, existing=sh.value(*spot)))
    return out


def find_fields(wb) -> list[Field]:
    """Every question and labelled cell of the workbook's first MAX_SHEETS sheets, in sheet and row order."""
    fields: list[Field] = []
    for ws in wb.worksheets[:MAX_SHEETS]:
        if ws.sheet_state != "visible":
            continue
        sh = _Sheet(ws)
        taken: set[tuple[int, int]] = set()
        table = _table(sh, taken)
        fields += table + _labelled(sh, taken)
    return fields


def open_workbook(data: bytes):
    return load_workbook(io.BytesIO(data), data_only=False, keep_links=False)


def title_text(wb, limit: int = 12) -> str:
    """The first text cells of the first sheet (the form's title block), to tell who sent it."""
    ws = wb.worksheets[0]
    out = []
    for row in ws.iter_rows(min_row=1, max_row=min(ws.max_row or 0, limit), max_col=min(ws.max_column or 0, 12)):
        for cell in row:
            t = _text(cell.value)
            if t:
                out.append(t)
    return "\n".join(out)


def write(wb, answers: dict[str, tuple[str, str]]) -> bytes:
    """Put each answer (ref "Sheet!B3" → (value, comment)) in its cell, fill it with the review colour and attach the
    comment; returns the workbook's bytes."""
    for ref, (value, note) in answers.items():
        sheet, _, coord = ref.rpartition("!")
        ws = wb[sheet]
        cell = ws[coord]
        cell.value = value
        cell.fill = REVIEW_FILL
        comment = Comment(note, AUTHOR)
        comment.width, comment.height = 320, 160
        cell.comment = comment
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
