"""Japanese numbers and dates as municipal files write them, read by DuckDB expressions (vectorised, no Python per
cell), and the header of a table found under its title rows.

Numbers: full-width digits (１２３), thousands separators (1,234), △ / ▲ for negatives (△1,234 = -1234), a unit
after the number (円, 人, 件, 世帯, %, 歳). Statistics tables write "-" for none, "…" / "x" / "*" for not available
or confidential: these are 記号 (counted, taken as empty), not unreadable values.
Dates: 2025-04-01, 2025/4/1, 2025年4月1日, 令和7年4月1日, R7.4.1, 令和元年5月1日, H31.4.30; year-months (2025年4月,
令和7年4月) are the first of the month. Fiscal years (令和6年度, R6年度, 2024年度) become the year they start in (2024).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date as _date

FULL = "０１２３４５６７８９．，－＋　（）／：ー−―‐"
HALF = "0123456789.,-+ ()/:----"
MARKERS = ("-", "…", "...", "・・・", "x", "X", "*", "**", "***", "—", "‥", "－")
UNITS = "円|千円|万円|人|件|世帯|戸|台|回|%|％|歳|か所|箇所|ヶ所"
ERAS = {"明治": 1867, "大正": 1911, "昭和": 1925, "平成": 1988, "令和": 2018,
        "M": 1867, "T": 1911, "S": 1925, "H": 1988, "R": 2018}
_ERA_RE = "明治|大正|昭和|平成|令和|[MTSHRmtshr]"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """A quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def let(value: str, body, name: str) -> str:
    """SQL that computes `value` once and uses it in `body(name)` (a one-element list and a lambda)."""
    return f"list_transform([{value}], lambda {name}: {body(name)})[1]"


def normalized(col: str) -> str:
    """The cell with full-width digits and signs made ASCII, trimmed. `translate` is costly (about 2 s per million
    cells), so pure-ASCII cells skip it."""
    return f"trim(CASE WHEN strlen({col}) = length({col}) THEN {col} ELSE translate({col}, {lit(FULL)}, {lit(HALF)}) END)"


def is_empty(col: str) -> str:
    return f"({col} IS NULL OR trim({col}) = '')"


def is_marker(col: str) -> str:
    """A statistical 記号 (-, …, x, *): ASCII cells are compared as they are, others after normalising."""
    return f"({normalized(col)} IN ({', '.join(lit(m) for m in MARKERS)}))"


_NUMBER = r"^([△▲+\-]?)\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*(?:" + UNITS + r")?$"
_YMD = rf"^({_ERA_RE})?\s*(\d{{1,4}}|元)\s*[年/.\-]\s*(\d{{1,2}})\s*[月/.\-]\s*(\d{{1,2}})\s*日?(?:[ T].*)?$"
_YM = rf"^({_ERA_RE})?\s*(\d{{1,4}}|元)\s*[年/.\-]\s*(\d{{1,2}})\s*月?$"
_FY = rf"^({_ERA_RE})?\s*(\d{{1,4}}|元)\s*年度$"
_YEAR = rf"^({_ERA_RE})?\s*(\d{{1,4}}|元)\s*年$"


def _era_year(era: str, year: str) -> str:
    """SQL: the Western year from an era (possibly empty) and a year (digits or 元); both are cheap references."""
    y = f"(CASE WHEN {year} = '元' THEN 1 ELSE TRY_CAST({year} AS INTEGER) END)"
    cases = " ".join(f"WHEN {lit(k)} THEN {v} + {y}" for k, v in ERAS.items())
    return (f"(CASE upper({era}) WHEN '' THEN (CASE WHEN length({year}) = 4 THEN TRY_CAST({year} AS INTEGER) END) "
            f"{cases} END)")


def number(col: str) -> str:
    """DOUBLE or NULL. A plain number takes the fast cast; the rest is normalised once and matched."""
    fast = f"TRY_CAST({col} AS DOUBLE)"

    def slow(n: str) -> str:
        return (f"CASE WHEN regexp_matches({n}, {lit(_NUMBER)}) THEN (CASE WHEN left({n}, 1) IN ('△', '▲', '-') "
                f"THEN -1.0 ELSE 1.0 END) * TRY_CAST(regexp_replace({n}, '[^0-9.]', '', 'g') AS DOUBLE) END")
    return f"(CASE WHEN isfinite({fast}) THEN {fast} ELSE {let(normalized(col), slow, 'nv')} END)"


def date(col: str) -> str:
    """DATE or NULL: ISO first (fast), then era and Japanese forms, then year-months (first of the month)."""
    def full(d: str) -> str:
        return (f"try(make_date({_era_year(d + '.e', d + '.y')}, TRY_CAST({d}.m AS INTEGER), "
                f"TRY_CAST({d}.d AS INTEGER)))")

    def month(d: str) -> str:
        return f"try(make_date({_era_year(d + '.e', d + '.y')}, TRY_CAST({d}.m AS INTEGER), 1))"

    def japanese(n: str) -> str:
        ymd = let(f"regexp_extract({n}, {lit(_YMD)}, ['e', 'y', 'm', 'd'])", full, "dv")
        ym = let(f"regexp_extract({n}, {lit(_YM)}, ['e', 'y', 'm'])", month, "mv")
        return f"COALESCE({ymd}, {ym})"
    fast = f"TRY_CAST({col} AS DATE)"
    return f"(CASE WHEN {fast} IS NOT NULL THEN {fast} ELSE {let(normalized(col), japanese, 'nd')} END)"


def _era_pattern(pattern: str, var: str):
    def body(n: str) -> str:
        return let(f"regexp_extract({n}, {lit(pattern)}, ['e', 'y'])", lambda m: _era_year(f"{m}.e", f"{m}.y"), var)
    return body


def fiscal_year(col: str) -> str:
    """INTEGER (the Western year the 年度 starts in) or NULL: 令和6年度 -> 2024."""
    return let(normalized(col), _era_pattern(_FY, "fv"), "nf")


def year(col: str) -> str:
    """INTEGER or NULL: 令和6年 -> 2024, 2024年 -> 2024."""
    return let(normalized(col), _era_pattern(_YEAR, "yv"), "ny")


def convert(kind: str, col: str, *, trim: bool = True) -> str:
    """The typed value of a text column for a kind (integer | number | date | fiscal_year | year | text); text is
    trimmed only when asked (`trim`: the sample had padded cells)."""
    if kind == "integer":
        return f"CAST(round({number(col)}) AS BIGINT)"
    if kind == "number":
        return number(col)
    if kind == "date":
        return date(col)
    if kind == "fiscal_year":
        return fiscal_year(col)
    if kind == "year":
        return year(col)
    return f"nullif(trim({col}), '')" if trim else col


# -- the same rules in Python: header cells, and the sample a column's type is chosen on ---------------------------

_HALF = str.maketrans(FULL, HALF)
_NUMBER_RE = re.compile(_NUMBER)
_YMD_RE = re.compile(_YMD)
_YM_RE = re.compile(_YM)
_FY_RE = re.compile(_FY)
_YEAR_RE = re.compile(_YEAR)
_ISO_RE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T].*)?$")


def norm(value: str) -> str:
    v = value or ""
    return (v if v.isascii() else v.translate(_HALF)).strip()     # ASCII has nothing to translate: skip the copy


def is_marker_value(value: str) -> bool:
    return norm(value) in MARKERS


def py_number(value: str) -> float | None:
    v = norm(value)
    try:
        f = float(v)
        return f if f == f and f not in (float("inf"), float("-inf")) else None
    except ValueError:
        pass
    if not _NUMBER_RE.match(v):
        return None
    sign = -1.0 if v[:1] in ("△", "▲", "-") else 1.0
    return sign * float(re.sub(r"[^0-9.]", "", v))


def _py_era_year(era: str | None, y: str) -> int | None:
    n = 1 if y == "元" else int(y)
    if not era:
        return n if len(y) == 4 else None
    base = ERAS.get(era.upper()) or ERAS.get(era)
    return base + n if base else None


def py_date(value: str) -> _date | None:
    v = norm(value)
    for rx, has_day in ((_ISO_RE, True), (_YMD_RE, True), (_YM_RE, False)):
        m = rx.match(v)
        if not m:
            continue
        if rx is _ISO_RE:
            y: int | None = int(m.group(1))
            mo, d = int(m.group(2)), int(m.group(3))
        else:
            y = _py_era_year(m.group(1), m.group(2))
            mo, d = int(m.group(3)), int(m.group(4)) if has_day else 1
        if y is None:
            continue
        try:
            return _date(y, mo, d)
        except ValueError:
            continue
    return None


def py_fiscal_year(value: str) -> int | None:
    m = _FY_RE.match(norm(value))
    return _py_era_year(m.group(1), m.group(2)) if m else None


def py_year(value: str) -> int | None:
    m = _YEAR_RE.match(norm(value))
    return _py_era_year(m.group(1), m.group(2)) if m else None


def leading_zero(value: str) -> bool:
    return bool(re.match(r"^0[0-9]", norm(value)))


def classify(values: list[str], share: float = 0.8) -> str:
    """The kind of a column from a sample of its cells: number, date, fiscal_year, year or text (at least `share`
    of the filled, non-記号 cells must read as the kind; codes with leading zeros stay text)."""
    filled = [n for n in (norm(str(v)) for v in values if v is not None) if n and n not in MARKERS]
    if not filled:
        return "text"
    need = share * len(filled)
    distinct = list(dict.fromkeys(filled))          # each distinct value is parsed once
    weight = {v: 0 for v in distinct}
    for v in filled:
        weight[v] += 1

    def share_of(fn) -> int:
        return sum(weight[v] for v in distinct if fn(v) is not None)
    if share_of(py_number) >= need and not any(leading_zero(v) for v in distinct):
        return "number"
    for kind, fn in (("date", py_date), ("fiscal_year", py_fiscal_year), ("year", py_year)):
        if share_of(fn) >= need:
            return kind
    return "text"


def padded(values: list[str]) -> bool:
    """Cells with blanks around them (fixed-width exports): the column is trimmed when loaded."""
    return any(isinstance(v, str) and v != v.strip() for v in values)


# -- the same rules in Python, for header cells and single values --------------------------------------------------

def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


def looks_numeric(value: str) -> bool:
    v = _nfkc(value).replace("−", "-")
    return bool(re.fullmatch(_NUMBER.replace(r"^", "").replace("$", ""), v)) or v in MARKERS


_YEAR_LABEL = re.compile(rf"^({_ERA_RE})?\s*(\d{{1,4}}|元)\s*(年度|年)")


def label_year(label: str) -> tuple[int, str] | None:
    """A column label that starts with a year (令和3年, 2021年度, R3年・男): (Western year, "年" | "年度")."""
    m = _YEAR_LABEL.match(_nfkc(label))
    if not m:
        return None
    era, y = (m.group(1) or "").upper(), m.group(2)
    n = 1 if y == "元" else int(y)
    if era:
        base = ERAS.get(era) or ERAS.get({"明": "明治"}.get(era, era), 0)
        if not base:
            return None
        return base + n, m.group(3)
    return (n, m.group(3)) if len(y) == 4 else None


# -- header detection ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Header:
    start: int            # index of the first header row (rows above it are titles and notes)
    depth: int            # 1, or 2 for a two-row header (a merged group label above the column labels)
    names: list[str]      # one per column, unique and non-empty


def _filled(row: list[str]) -> int:
    return sum(1 for c in row if c.strip())


def find_header(rows: list[list[str]], *, merged: dict[int, set[int]] | None = None) -> Header:
    """The header of a table whose first rows may be a title, a unit line ("単位：人") or blank.

    The header is the first row with at least two filled cells and at least half as many as the widest of the next
    rows. It has two rows when the row under it holds no number and either the workbook merges cells across that
    first header row (`merged`: row index -> columns a horizontal merge covers, the merged values already copied
    into every cell) or that first row leaves gaps the second row fills (how a merged header looks in CSV; the
    group label is then carried to the right over the gap)."""
    if not rows:
        return Header(0, 1, [])
    width = max((_filled(r) for r in rows[:50]), default=0)
    start = 0
    for i, r in enumerate(rows[:50]):
        n = _filled(r)
        if (n >= 2 and n * 2 >= width) or (width <= 1 and n >= 1):
            start = i
            break
    top = rows[start]
    ncols = max((len(r) for r in rows[start:start + 50]), default=0)
    depth = 1
    if start + 2 < len(rows):
        below = rows[start + 1]
        below_numbers = any(looks_numeric(c) for c in below if c.strip())
        if merged is not None:
            grouped = bool(merged.get(start))
        else:
            grouped = any(not _cell(top, j) and _cell(below, j) for j in range(1, ncols)) \
                and any(_cell(top, j) for j in range(1, ncols))
        if grouped and not below_numbers and _filled(below) >= 2:
            depth = 2
    if depth == 1:
        raw = [_cell(top, j) for j in range(ncols)]
    else:
        below = rows[start + 1]
        upper, last = [], ""
        for j in range(ncols):
            cell = _cell(top, j)
            if cell:
                last = cell
            elif merged is None and j > 0 and _cell(below, j) and last:
                cell = last                                 # the merged group label spans this column
            upper.append(cell)
        raw = []
        for j in range(ncols):
            up, low = upper[j], _cell(below, j)
            raw.append(f"{up}・{low}" if up and low and up != low else (up or low))
    return Header(start, depth, unique_names(raw))


def _cell(row: list[str], j: int) -> str:
    return (row[j] if j < len(row) else "").strip()


def unique_names(raw: list[str]) -> list[str]:
    """Column names: white space folded, empty ones 列1…, repeated ones 名前_2."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for j, name in enumerate(raw):
        n = " ".join(str(name or "").split())[:100] or f"列{j + 1}"
        key = n.lower()
        if key in seen:
            seen[key] += 1
            n = f"{n}_{seen[key]}"
            key = n.lower()
        seen[key] = 1
        out.append(n)
    return out
