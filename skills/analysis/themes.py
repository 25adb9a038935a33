"""Free-text answers of a survey (自由記述) coded into themes by the LLM, counted here.

The model receives one column's distinct answers — most frequent first, at most ANALYSIS_THEME_MAX_ANSWERS, each
cut to ANSWER_CHARS characters, numbered — masked by the guard like every prompt (services.ai), and nothing else of
the file. It answers with themes (id, name, description) and, for each answer number, the ids of the themes the
answer belongs to. The first request proposes the themes and codes the first batch; later batches are coded
against those themes. Every number shown is counted here, from those codes and each answer's frequency in the
file; a count the model writes is never read. The quotes shown are the file's own answers, masked by the guard
before they are shown (free text often holds a name or a phone number), and so are the model's theme names."""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from skills import prompts
from skills.analysis import japanese as jp
from skills.analysis.engine import Engine
from skills.analysis.profile import total_row_filter
from skills.analysis.store import Dataset

SKILL = "analysis"
ANSWER_CHARS = 200          # characters of one answer given to the model
MAX_THEMES = 8
MAX_CODES = 3               # themes one answer may belong to
QUOTES = 2                  # representative answers shown per theme
QUOTE_CHARS = 100
MAX_CATEGORIES = 6          # columns of the cross table (the rest summed into その他)
NONE_ID = "T0"
NONE_NAME = "分類できなかった回答"


class ThemeError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class Answer:
    id: int                 # 1-based number the model refers to
    text: str               # the answer as in the file (trimmed)
    rows: int               # rows of the file with this answer


@dataclass
class Theme:
    id: str
    name: str
    description: str = ""


@dataclass
class Coding:
    themes: list[Theme]
    codes: dict[int, list[str]] = field(default_factory=dict)     # answer id -> theme ids (valid ones only)


@dataclass
class Collected:
    answers: list[Answer]        # the distinct answers coded (most frequent first)
    answered: int                # rows with an answer in the column
    distinct: int                # distinct answers in the column
    left_out_rows: int           # rows whose answer is beyond the cap (not coded)


def _source(ds: Dataset, column: str) -> tuple[str, str]:
    t = ds.table()
    a = f"trim({jp.ident(column)}::VARCHAR)"
    return a, f"FROM {jp.ident(t.name)} WHERE {a} IS NOT NULL AND {a} <> '' AND NOT {total_row_filter(t)}"


def collect(engine: Engine, ds: Dataset, column: str, max_answers: int, timeout: float) -> Collected:
    """The column's distinct answers with their frequencies (blocking; a worker thread)."""
    a, src = _source(ds, column)
    run = engine.run
    head = run(ds.id, ds.folder, ds.tables, f"SELECT count(*), count(DISTINCT {a}) {src}", max_rows=1,
               timeout=timeout)
    answered, distinct = int(head.rows[0][0] or 0), int(head.rows[0][1] or 0)
    res = run(ds.id, ds.folder, ds.tables, f"SELECT {a} AS a, count(*) AS n {src} GROUP BY 1 ORDER BY 2 DESC, 1 "
              f"LIMIT {int(max_answers)}", max_rows=max_answers, timeout=timeout)
    answers = [Answer(id=i + 1, text=str(r[0]), rows=int(r[1])) for i, r in enumerate(res.rows)]
    coded = sum(x.rows for x in answers)
    return Collected(answers=answers, answered=answered, distinct=distinct, left_out_rows=max(0, answered - coded))


def cross_rows(engine: Engine, ds: Dataset, column: str, by: str, timeout: float) -> list[tuple[str, str, int]]:
    """(answer, category, rows) for a cross table against a closed question (blocking; a worker thread)."""
    a, src = _source(ds, column)
    b = f"coalesce(trim({jp.ident(by)}::VARCHAR), '（空欄）')"
    res = engine.run(ds.id, ds.folder, ds.tables, f"SELECT {a}, {b}, count(*) {src} GROUP BY 1, 2 ORDER BY 1, 2",
                     max_rows=200_000, timeout=timeout)
    return [(str(r[0]), str(r[1]), int(r[2])) for r in res.rows]


# -- the prompts -------------------------------------------------------------------------------------------------

def _answers_block(answers: list[Answer]) -> str:
    return "\n".join(f"[{x.id}] " + " ".join(x.text.split())[:ANSWER_CHARS] for x in answers)


def first_messages(column: str, answers: list[Answer], total: int) -> list[dict]:
    """Propose the themes and code the first batch."""
    user = (f"設問（列名）: {column}\n回答の数: {total}種類（ここに示すのは、そのうち{len(answers)}件）\n\n"
            f"回答（[番号] 本文）:\n{_answers_block(answers)}\n\n"
            f"これらの回答から、テーマを3〜{MAX_THEMES}個作り、各回答を当てはまるテーマに分類してください。")
    return [{"role": "system", "content": prompts.load(SKILL, "themes")}, {"role": "user", "content": user}]


def code_messages(column: str, themes: list[Theme], answers: list[Answer]) -> list[dict]:
    """Code a further batch against the themes already found."""
    listing = "\n".join(f"{t.id} {t.name}: {t.description}" for t in themes)
    user = (f"設問（列名）: {column}\n\nテーマ（決まっています。新しいテーマは作らないでください）:\n{listing}\n\n"
            f"回答（[番号] 本文）:\n{_answers_block(answers)}\n\n"
            "各回答を当てはまるテーマに分類してください。themes には上のテーマをそのまま返してください。")
    return [{"role": "system", "content": prompts.load(SKILL, "themes")}, {"role": "user", "content": user}]


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.I)


def _json(text: str) -> dict:
    t = _FENCE.sub("", (text or "").strip()).strip()
    start, end = t.find("{"), t.rfind("}")
    if start == -1 or end <= start:
        raise ThemeError("返答が JSON ではありませんでした")
    try:
        data = json.loads(t[start:end + 1])
    except ValueError:
        raise ThemeError("返答が JSON ではありませんでした") from None
    if not isinstance(data, dict):
        raise ThemeError("返答が JSON のオブジェクトではありませんでした")
    return data


def parse_themes(data: dict) -> list[Theme]:
    out: list[Theme] = []
    seen: set[str] = set()
    for item in data.get("themes") or []:
        if not isinstance(item, dict):
            continue
        tid = str(item.get("id") or "").strip().upper()
        name = " ".join(str(item.get("name") or "").split())[:40]
        if not re.fullmatch(r"T[1-9]\d?", tid) or not name or tid in seen:
            continue
        seen.add(tid)
        out.append(Theme(id=tid, name=name, description=" ".join(str(item.get("description") or "").split())[:120]))
        if len(out) >= MAX_THEMES:
            break
    if not out:
        raise ThemeError("テーマが返されませんでした")
    return out


def parse_codes(data: dict, answer_ids: set[int], theme_ids: set[str]) -> dict[int, list[str]]:
    """answer id -> theme ids, keeping only the numbers of this batch and the themes that exist."""
    raw = data.get("codes")
    out: dict[int, list[str]] = {}
    if not isinstance(raw, dict):
        return out
    for k, v in raw.items():
        try:
            aid = int(str(k).strip().strip("[]"))
        except ValueError:
            continue
        if aid not in answer_ids:
            continue
        ids = v if isinstance(v, list) else [v]
        tids: list[str] = []
        for x in ids:
            t = str(x or "").strip().upper()
            if t in theme_ids and t not in tids:
                tids.append(t)
        out[aid] = tids[:MAX_CODES]
    return out


def parse_first(text: str, answers: list[Answer]) -> Coding:
    data = _json(text)
    themes = parse_themes(data)
    return Coding(themes=themes, codes=parse_codes(data, {a.id for a in answers}, {t.id for t in themes}))


def parse_batch(text: str, answers: list[Answer], themes: list[Theme]) -> dict[int, list[str]]:
    return parse_codes(_json(text), {a.id for a in answers}, {t.id for t in themes})


def retry_messages(previous: list[dict], reply: str, error: str) -> list[dict]:
    return previous + [{"role": "assistant", "content": reply[:4000]},
                       {"role": "user", "content": f"返答を読み取れませんでした（{error}）。指定の JSON だけを返してください。"}]


# -- counting (here, never the model's numbers) ------------------------------------------------------------------

@dataclass
class ThemeCount:
    theme: Theme
    rows: int
    answers: list[Answer]


def count(coding: Coding, answers: list[Answer]) -> list[ThemeCount]:
    """Rows per theme from the codes and the answers' frequencies; answers the model left uncoded (or coded with
    unknown themes) go to 「分類できなかった回答」. An answer with two themes counts in both. Most rows first."""
    by_id = {t.id: ThemeCount(t, 0, []) for t in coding.themes}
    none = ThemeCount(Theme(NONE_ID, NONE_NAME, "AIがどのテーマにも当てはめなかった回答"), 0, [])
    for a in answers:
        tids = [t for t in coding.codes.get(a.id, []) if t in by_id]
        for t in tids or [NONE_ID]:
            tc = by_id.get(t, none)
            tc.rows += a.rows
            tc.answers.append(a)
    out = sorted((tc for tc in by_id.values() if tc.rows), key=lambda tc: (-tc.rows, tc.theme.id))
    if none.rows:
        out.append(none)
    return out


def quotes(tc: ThemeCount, codes: dict[int, list[str]], n: int = QUOTES) -> list[Answer]:
    """Representative answers of a theme: those in this theme only first, then the most frequent, then those of a
    readable length."""
    def key(a: Answer) -> tuple:
        return (len(codes.get(a.id, [])) > 1, -a.rows, abs(len(a.text) - 40))
    return sorted(tc.answers, key=key)[:n]


def cross_table(counts: list[ThemeCount], codes: dict[int, list[str]], pairs: list[tuple[str, str, int]],
                answers: list[Answer]) -> tuple[list[str], list[list[Any]]]:
    """Themes down, the closed question's values across (the most frequent MAX_CATEGORIES, the rest as その他), with a
    total column: rows of the file, counted here."""
    theme_of: dict[str, list[str]] = {}
    for a in answers:
        theme_of[a.text] = [t for t in codes.get(a.id, [])] or [NONE_ID]
    known = {tc.theme.id for tc in counts}
    totals: dict[str, int] = {}
    for text_, cat, n in pairs:
        if text_ in theme_of:
            totals[cat] = totals.get(cat, 0) + n
    cats = [c for c, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]
    shown = _natural(cats[:MAX_CATEGORIES])
    other = len(cats) > MAX_CATEGORIES
    grid: dict[str, dict[str, int]] = {tc.theme.id: {} for tc in counts}
    for text_, cat, n in pairs:
        for t in theme_of.get(text_, []):
            if t not in known:
                t = NONE_ID
            if t not in grid:
                continue
            key = cat if cat in shown else "その他"
            grid[t][key] = grid[t].get(key, 0) + n
    heads = shown + (["その他"] if other else [])
    rows = [[tc.theme.name] + [grid[tc.theme.id].get(h, 0) for h in heads] + [tc.rows] for tc in counts]
    return heads, rows


def _natural(values: list[str]) -> list[str]:
    """Categories in their natural order when they read as numbers or ages (1…5, 20代…), else as given."""
    def num(v: str) -> float | None:
        m = re.match(r"^\s*(\d+(?:\.\d+)?)", unicodedata.normalize("NFKC", v))
        return float(m.group(1)) if m else None
    if values and all(num(v) is not None for v in values):
        return sorted(values, key=lambda v: (num(v), v))
    return values
