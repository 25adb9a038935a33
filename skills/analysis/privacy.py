"""Personal data in a received file: which columns hold it (by their label and by what the guard's detector finds in
their values), and what may leave for an LLM.

A column is personal when its label names personal data (氏名, 住所, 電話, 個人番号 …) or when the guard's detector
(core/guard: names via SudachiPy with the column label as context, addresses, phones, e-mail, birth dates, My
Numbers with their check digit) finds personal data in at least a third of its sampled values. A file with such a
column is analysed with an LLM only in a tier whose endpoint is approved for personal data (core/tiers.py), and even
then the values of those columns never go into a prompt: the model sees their names and counts only."""
from __future__ import annotations

import re
from typing import Any

from core.guard.pii import is_valid_mynumber
from skills.analysis import japanese as jp
from skills.analysis.loader import TableInfo

SAMPLE = 25
SHARE = 1 / 3
LABELS = (
    ("mynumber", re.compile(r"個人番号|マイナンバー|my\s*number", re.I)),
    ("name", re.compile(r"氏名|名前|フリガナ|ふりがな|カナ氏名|お名前|申請者名|世帯主|相談者名|^(?:姓|名)$")),
    ("address", re.compile(r"住所|居所|現住所|本籍|送付先")),
    ("phone", re.compile(r"電話|携帯|TEL|Tel|ＴＥＬ|FAX|ファクス")),
    ("email", re.compile(r"メール|e-?mail|E-?mail|mail", re.I)),
    ("birthdate", re.compile(r"生年月日|誕生日")),
    ("custom", re.compile(r"宛名番号|被保険者番号|住民票コード")),
)
KIND_JA = {"mynumber": "個人番号", "name": "氏名", "address": "住所", "phone": "電話番号", "email": "メールアドレス",
           "birthdate": "生年月日", "custom": "個人を特定する番号", "postal": "郵便番号"}
PERSONAL_KINDS = {"mynumber", "name", "address", "phone", "email", "birthdate", "custom"}


def by_label(name: str) -> str | None:
    for kind, rx in LABELS:
        if rx.search(name or ""):
            return kind
    return None


def personal_columns(con, tables: list[TableInfo], detector: Any) -> dict[str, dict[str, str]]:
    """{table: {column: kind}} for the columns holding personal data. `detector` is the guard's PiiDetector."""
    return merge(without_detector(con, tables), by_samples(text_samples(con, tables), detector))


def without_detector(con, tables: list[TableInfo]) -> dict[str, dict[str, str]]:
    """The personal columns found without the guard's detector: by their label, and integer columns of My Numbers
    (check digit). Runs where the file is read (the isolated loader), before the profile."""
    out: dict[str, dict[str, str]] = {}
    for t in tables:
        found: dict[str, str] = {}
        for c in t.columns:
            kind = by_label(c.name)
            if kind is None and c.kind == "integer":
                values = _values(con, t.name, c.name)
                hits = sum(1 for v in values if len(v) == 12 and is_valid_mynumber(v))
                kind = "mynumber" if values and hits >= SHARE * len(values) else None
            if kind:
                found[c.name] = kind
        if found:
            out[t.name] = found
    return out


def text_samples(con, tables: list[TableInfo]) -> dict[str, dict[str, list[str]]]:
    """{table: {column: up to SAMPLE distinct values (300 characters each)}} of the text columns whose label names
    no personal data: what the guard's detector is asked about (`by_samples`)."""
    return {t.name: {c.name: [v[:300] for v in _values(con, t.name, c.name)] for c in t.columns
                     if c.kind == "text" and by_label(c.name) is None} for t in tables}


def by_samples(samples: dict[str, dict[str, list[str]]], detector: Any) -> dict[str, dict[str, str]]:
    """The text columns whose sampled values the guard's detector finds personal data in (a third of them)."""
    out: dict[str, dict[str, str]] = {}
    for table, columns in samples.items():
        found = {name: kind for name, values in columns.items() if (kind := _by_detector(name, values, detector))}
        if found:
            out[table] = found
    return out


def merge(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for part in parts:
        for table, cols in part.items():
            out.setdefault(table, {}).update(cols)
    return out


def _values(con, table: str, column: str) -> list[str]:
    q = jp.ident(column)
    return [str(v) for (v,) in con.execute(
        f"SELECT DISTINCT {q} FROM {jp.ident(table)} WHERE {q} IS NOT NULL LIMIT {SAMPLE}").fetchall()]


def _by_detector(column: str, values: list[str], detector: Any) -> str | None:
    if not values:
        return None
    counts: dict[str, int] = {}
    label = f"{column}："
    for v in values:
        kinds = {sp.kind for sp in detector.detect(label + v[:300]) if sp.start >= len(label)}
        for k in kinds & PERSONAL_KINDS:
            counts[k] = counts.get(k, 0) + 1
    if not counts:
        return None
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] >= SHARE * len(values) else None


def summary_ja(personal: dict[str, dict[str, str]]) -> str:
    """「氏名（氏名）・個人番号（個人番号）」 for the user."""
    parts = []
    for cols in personal.values():
        for name, kind in cols.items():
            parts.append(f"{name}（{KIND_JA.get(kind, kind)}）")
    return "・".join(parts)
