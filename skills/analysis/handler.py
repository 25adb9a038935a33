"""/analyze: files sent in chat, questions about the current file, and the card verbs (analysis.*).

A file arrives (personal chat) — or a SharePoint/OneDrive link, read through Microsoft Graph: it is fetched under the
size cap from the hosts Teams serves files from, read into DuckDB and profiled (自動集計) in a child process under a
memory and time ceiling (skills.analysis.isolated), checked for personal-data columns, saved as the conversation's
current dataset, and answered with the profile card. Questions then go to the LLM as SQL
(skills.analysis.ask) or, offline and on request, to the fixed local analyses (集計・推移・推計・相関)."""
from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Annotated, Any

from pydantic import Field

from cards import analysis as cards
from core import tiers
from core.ai import AIFailed, AIRefused
from core.carddata import CardData, Token
from core.chatfiles import DownloadError, attachment_to_file
from core.graph import GraphError, sharing_link
from core.guard.policy import TIER_LABELS_JA
from core.services import Services
from core.skills import ReplyPort, SkillRequest, Verb
from skills.analysis import ask, charts, isolated, privacy, stats, store, themes
from skills.analysis import japanese as jp
from skills.analysis import strings as S
from skills.analysis.engine import Engine, QueryFailed, QueryRefused, QueryResult
from skills.analysis.loader import EXTENSIONS, LoadError, LoadLimits, kind_of
from skills.analysis.profile import total_row_filter
from skills.analysis.report import XLSX_CONTENT_TYPE, build_report
from skills.analysis.settings import AnalysisSettings, settings_of

log = logging.getLogger(__name__)

SKILL = "analysis"
ENGINE_KEY = "analysis.engine"
LOADS_KEY = "analysis.loads"


class UserError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def limits_of(settings: AnalysisSettings) -> LoadLimits:
    """DuckDB's memory limit stays below the reading process's ceiling (half of it at most): the rest is Python's."""
    memory = min(max(64, settings.ANALYSIS_MEMORY_MB), max(64, settings.ANALYSIS_LOAD_MEMORY_MB // 2))
    return LoadLimits(max_rows=max(1, settings.ANALYSIS_MAX_ROWS), max_excel_rows=max(1, settings.ANALYSIS_MAX_EXCEL_ROWS),
                      max_columns=max(1, settings.ANALYSIS_MAX_COLUMNS), max_sheets=max(1, settings.ANALYSIS_MAX_SHEETS),
                      memory_mb=memory, threads=max(1, settings.ANALYSIS_THREADS))


def engine_of(services: Services) -> Engine:
    def make() -> Engine:
        settings = settings_of(services)
        return Engine(limits_of(settings), ready=lambda folder, tables: _ready(settings, folder, tables))
    return services.extra(ENGINE_KEY, make)


def _ready(settings: AnalysisSettings, folder: Path, tables: list) -> None:
    """Before a query loads a dataset: its Parquet copy, written by the reading child after the profile, is waited
    for; if that child died during the copy, the received file (kept until the copy is in place) is read again."""
    def reread() -> None:
        ds = store.open_dataset(folder.parent, folder.name)
        if ds is None:
            raise LoadError(S.FILE_GONE)
        isolated.load_in_child(None, ds.filename, folder, limits_of(settings), memory_mb=load_memory_mb(settings),
                               seconds=_load_seconds(settings), file_mb=_load_file_mb(settings), defer=False)
    isolated.ensure_tables(folder, tables, reread, wait=_load_seconds(settings) + 5)


def _load_seconds(settings: AnalysisSettings) -> float:
    return max(5.0, settings.ANALYSIS_LOAD_SECONDS)


def _load_file_mb(settings: AnalysisSettings) -> int:
    return max(256, 4 * settings.ANALYSIS_MAX_FILE_MB)


def _loads(services: Services) -> asyncio.Semaphore:
    return services.extra(LOADS_KEY, lambda: asyncio.Semaphore(1))


def guarded(work):
    async def run(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
        try:
            await work(req, reply, services)
        except (AIRefused, AIFailed) as e:
            await reply.send_text(e.message_ja)
        except (UserError, LoadError, QueryRefused, QueryFailed, stats.AnalysisError) as e:
            await reply.send_text(e.message)
        except Exception:  # noqa: BLE001 - never a stack trace to the user
            log.exception("analysis failed")
            await reply.send_text(S.FAILED)
    return run


# -- files ---------------------------------------------------------------------------------------------------------

async def file_to_disk(settings: AnalysisSettings, name: str, url: str | None, content: bytes | None,
                       path: Path) -> None:
    """A file sent in chat written to `path`, under the size cap, only from Teams' file hosts (core.chatfiles):
    streamed to disk, never held whole in the bot's memory."""
    try:
        await attachment_to_file(url, content, path, max_bytes=settings.ANALYSIS_MAX_FILE_MB * 1024 * 1024,
                                 timeout=settings.ANALYSIS_DOWNLOAD_TIMEOUT_SECONDS,
                                 hosts=settings.download_hosts, allowlist=settings.download_allowlist)
    except DownloadError as e:
        raise UserError(S.TOO_LARGE.format(name=name, mb=settings.ANALYSIS_MAX_FILE_MB) if e.message == "too_large"
                        else S.DOWNLOAD_REFUSED.format(name=name) if e.message == "refused"
                        else S.DOWNLOAD_FAILED.format(name=name)) from None


async def receive(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    if not req.personal:
        await reply.send_text(S.PERSONAL_ONLY)
        return
    data_files = [a for a in req.attachments if kind_of(a.name)]
    if not data_files:
        await reply.send_text(S.NOT_DATA.format(name="、".join(a.name for a in req.attachments)[:200]))
        return
    att = data_files[0]
    if len(req.attachments) > 1:
        await reply.send_text(S.ONLY_FIRST.format(name=att.name))
    settings = settings_of(services)
    ds_id, folder = _new_folder(settings)
    try:
        await file_to_disk(settings, att.name, att.download_url, att.content, folder / isolated.SOURCE)
    except BaseException:
        store.remove(folder)
        raise
    await _take(req, reply, services, att.name, ds_id, folder, req.text)


def _new_folder(settings: AnalysisSettings) -> tuple[str, Path]:
    """A new dataset's id and folder; the received file goes in first (a folder left by a crash is purged with the
    old datasets)."""
    ds_id = store.new_id()
    folder = store.folder_of(settings.ANALYSIS_DATA_DIR, ds_id)
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    return ds_id, folder


async def _take(req: SkillRequest, reply: ReplyPort, services: Services, name: str, ds_id: str, folder: Path,
                words: str) -> None:
    """A received file (in `folder`) in: loaded, profiled and made the conversation's current file; `words` sent
    with it that ask a question are answered after the profile."""
    settings = settings_of(services)
    sem = _loads(services)
    try:
        if sem.locked():
            await reply.inform(S.BUSY)
        await reply.inform(S.LOADING.format(name=name))
        async with sem:
            ds = await asyncio.to_thread(_build, services, settings, ds_id, folder, name, req.user_id)
    except BaseException:
        store.remove(folder)
        raise
    await store.set_current(services, req.conversation_id, req.user_id, ds.id, settings.ANALYSIS_KEEP_HOURS)
    await services.ai.record_offline(req, SKILL)
    await _send_profile(req, reply, services, ds)
    question = _question_with_file(words)
    if question and (not services.ai.offline or _THEME_QUESTION.search(unicodedata.normalize("NFKC", question))):
        await _answer(req, reply, services, ds, question)




async def receive_link(req: SkillRequest, reply: ReplyPort, services: Services, url: str, words: str) -> None:
    """A SharePoint/OneDrive link sent instead of a file: what it points at is read through Microsoft Graph
    (GET /shares/{encoded url}/driveItem), taken only when the link itself lets this user open the file (a link
    for the organisation or for anyone, or one granted to this user), under the same size cap, then
    downloaded (…/driveItem/content) and analysed like a file sent in chat."""
    if not req.personal:
        await reply.send_text(S.PERSONAL_ONLY)
        return
    graph = services.graph
    if graph is None:
        await reply.send_text(S.LINK_NO_GRAPH)
        return
    settings = settings_of(services)
    try:
        item = await graph.shared_item(url)
    except GraphError as e:
        log.info("analysis: shared item not read (status %s)", e.status)
        await reply.send_text(S.LINK_NOT_FOUND if e.status in (400, 401, 403, 404) else S.LINK_FAILED)
        return
    if not item.is_file or not kind_of(item.name):
        await reply.send_text(S.NOT_DATA.format(name=item.name[:200] or "リンク先"))
        return
    if not item.lets_open(req.aad_object_id):      # the bot reads with its own rights; the link must admit the user
        log.info("analysis: shared link not usable for this user (scope %s)", item.scope)
        await reply.send_text(S.LINK_NO_ACCESS.format(name=item.name[:200]))
        return
    cap = settings.ANALYSIS_MAX_FILE_MB * 1024 * 1024
    if item.size is not None and item.size > cap:
        await reply.send_text(S.TOO_LARGE.format(name=item.name, mb=settings.ANALYSIS_MAX_FILE_MB))
        return
    await reply.inform(S.LINK_FETCHING.format(name=item.name))
    try:
        data = await asyncio.wait_for(graph.shared_content(url), settings.ANALYSIS_DOWNLOAD_TIMEOUT_SECONDS)
    except (GraphError, asyncio.TimeoutError) as e:
        log.info("analysis: shared content not read: %s", type(e).__name__)
        await reply.send_text(S.DOWNLOAD_FAILED.format(name=item.name))
        return
    if len(data) > cap:
        await reply.send_text(S.TOO_LARGE.format(name=item.name, mb=settings.ANALYSIS_MAX_FILE_MB))
        return
    ds_id, folder = _new_folder(settings)
    await asyncio.to_thread((folder / isolated.SOURCE).write_bytes, data)
    del data
    await _take(req, reply, services, item.name, ds_id, folder, words)


_FILE_WORDS = re.compile(r"^(?:(?:この|その|添付の|送った)?(?:ファイル|データ|表|アンケート|CSV|csv|Excel|エクセル|これ|それ)"
                         r"(?:を|の))?(?:分析|集計|解析|自動集計)(?:して(?:ください|ほしい|下さい)?|を?お願いします)?"
                         r"[。.!！]?$")


def _question_with_file(text: str) -> str:
    """Words sent with the file that ask more than 「分析して」 are the first question (with an LLM; offline the
    profile is the answer)."""
    t = (text or "").strip()
    if not t or _FILE_WORDS.match(unicodedata.normalize("NFKC", t)) or len(t) < 4:
        return ""
    return t


def _build(services: Services, settings: AnalysisSettings, ds_id: str, folder: Path, name: str,
           user_id: str) -> store.Dataset:
    """Read, profile and check one file (blocking; in a worker thread). The reading runs in a child process under
    ANALYSIS_LOAD_MEMORY_MB and ANALYSIS_LOAD_SECONDS (skills.analysis.isolated), which answers with the profile
    and then saves the tables as Parquet files for the query engine (a query waits for them: `_ready`); the guard's
    detector checks the text columns' samples here, and the values of the personal columns it finds are taken out
    of the profile. The received file is already in `folder` (isolated.SOURCE)."""
    try:
        out = isolated.load_in_child(None, name, folder, limits_of(settings), memory_mb=load_memory_mb(settings),
                                     seconds=_load_seconds(settings), file_mb=_load_file_mb(settings))
        found = privacy.by_samples(out["samples"], services.ai.guard.detector)
        personal = privacy.merge(out["personal"], found)
        profiles = [isolated.hide(p, set(found.get(p["table"], {}))) for p in out["profiles"]]
        ds = store.Dataset(id=ds_id, folder=folder, filename=name, user_id=user_id, tables=isolated.tables_of(out),
                           profiles=profiles, personal=personal, notes=list(out["notes"]), current=0)
        store.save(ds)
    except BaseException:
        store.remove(folder)
        raise
    return ds


def load_memory_mb(settings: AnalysisSettings) -> int:
    return max(768, settings.ANALYSIS_LOAD_MEMORY_MB)


async def current_dataset(req: SkillRequest, services: Services) -> store.Dataset:
    settings = settings_of(services)
    ds_id = await store.get_current(services, req.conversation_id, req.user_id)
    if not ds_id:
        raise UserError(S.NO_FILE.format(hours=settings.ANALYSIS_KEEP_HOURS))
    ds = store.open_dataset(settings.ANALYSIS_DATA_DIR, ds_id)
    if ds is None or ds.user_id != req.user_id:
        raise UserError(S.FILE_GONE)
    return ds


async def _send_profile(req: SkillRequest, reply: ReplyPort, services: Services, ds: store.Dataset) -> None:
    settings = settings_of(services)
    p = ds.profile()
    token = await store.put_result(services, req.user_id, ds.id, {"kind": "profile", "table": ds.current,
                                                                  "title": f"{p.get('title')}の自動集計"},
                                   settings.ANALYSIS_KEEP_HOURS)
    await reply.send_card(await pictured(_profile_card(ds, services, token)),
                          text=f"「{ds.filename}」を自動集計しました。")


def _profile_card(ds: store.Dataset, services: Services, token: str = "") -> dict:
    p = ds.profile()
    notes = list(ds.notes) + list(ds.table().notes)
    return cards.profile_card(p, filename=ds.filename, notes=notes,
                              personal=privacy.summary_ja({k: v for k, v in ds.personal.items()
                                                           if k == ds.table().name}),
                              sheets=[t.title for t in ds.tables], current=ds.current, token=token,
                              can_forecast=bool(p.get("trend")), free_text=free_text_columns(ds),
                              ai=not services.ai.offline)


async def pictured(card: dict) -> dict:
    """The card with pictures of its charts as their fallback (drawn in a worker thread)."""
    return await asyncio.to_thread(cards.with_chart_images, card, charts.render, charts.SIZES)


def chart_images(card: dict) -> list[tuple[str, bytes]]:
    """(title, PNG) of each chart of a card, for the Excel report (blocking: call it from a worker thread)."""
    out = []
    for chart in cards.charts_of(card):
        png = charts.render({k: v for k, v in chart.items() if k != "fallback"}, charts.SIZES[0])
        if png is not None:
            out.append((str(chart.get("title") or "グラフ"), png))
    return out


# -- commands and questions ----------------------------------------------------------------------------------------

PROFILE_WORDS = {"概要", "自動集計", "プロフィール", "profile"}
SHEET_WORDS = {"シート", "sheet", "表"}
AGG_WORDS = {"集計", "クロス集計", "件数"}
TREND_WORDS = {"推移", "前年比", "前年度比", "trend"}
FORECAST_WORDS = {"推計", "予測", "将来推計", "forecast"}
RELATION_WORDS = {"相関", "回帰", "correlation"}
THEME_WORDS = {"分類", "テーマ分け", "テーマ", "自由記述", "コーディング", "themes"}
_THEME_QUESTION = re.compile(r"(自由記述|自由意見|自由回答|ご意見|意見|コメント|要望).{0,15}(分類|テーマ|仕分け)|テーマ(分け|別|ごと)")
HELP_WORDS = {"help", "使い方", "ヘルプ", "?", "？"}


async def _dispatch(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    if req.attachments:
        await receive(req, reply, services)
        return
    raw = (req.text or "").strip()
    link = sharing_link(raw)
    if link is not None:
        await receive_link(req, reply, services, *link)
        return
    text = unicodedata.normalize("NFKC", raw)
    words = text.split()
    head = words[0].lower() if words else ""
    if head in HELP_WORDS:
        await reply.send_text(S.USAGE)
        return
    ds = await current_dataset(req, services)
    if not text or head in PROFILE_WORDS:
        await _send_profile(req, reply, services, ds)
    elif head in SHEET_WORDS:
        await _switch_sheet(req, reply, services, ds, " ".join(words[1:]))
    elif head in AGG_WORDS:
        await _aggregate(req, reply, services, ds, words[1:])
    elif head in TREND_WORDS:
        await _trend(req, reply, services, ds, words[1:])
    elif head in FORECAST_WORDS:
        await _forecast(req, reply, services, ds, words[1:])
    elif head in RELATION_WORDS:
        await _relation(req, reply, services, ds, words[1:])
    elif head in THEME_WORDS:
        await _themes(req, reply, services, ds, words[1:])
    else:
        await _answer(req, reply, services, ds, raw)


handle = guarded(_dispatch)


async def _answer(req: SkillRequest, reply: ReplyPort, services: Services, ds: store.Dataset, question: str) -> None:
    if _THEME_QUESTION.search(unicodedata.normalize("NFKC", question)):
        await _themes(req, reply, services, ds, [])
        return
    if services.ai.offline:
        await reply.send_text(S.OFFLINE_QUESTION)
        return
    await _ask_llm(req, reply, services, ds, question)


def _match(word: str, names: list[str]) -> str | None:
    w = unicodedata.normalize("NFKC", word).strip().strip("「」『』\"'").casefold()
    if not w:
        return None
    folded = {n: unicodedata.normalize("NFKC", n).casefold() for n in names}
    for n, f in folded.items():
        if f == w:
            return n
    hits = [n for n, f in folded.items() if w in f]
    return hits[0] if len(hits) == 1 else None


def _column(ds: store.Dataset, word: str) -> Any:
    t = ds.table()
    name = _match(word, [c.name for c in t.columns])
    if name is None:
        raise UserError(S.NO_COLUMN.format(word=word, names="、".join(c.name for c in t.columns)[:600]))
    return next(c for c in t.columns if c.name == name)


async def _switch_sheet(req, reply, services, ds: store.Dataset, word: str) -> None:
    idx = None
    if word.isdigit() and 1 <= int(word) <= len(ds.tables):
        idx = int(word) - 1
    else:
        name = _match(word, [t.title for t in ds.tables])
        idx = next((i for i, t in enumerate(ds.tables) if t.title == name), None)
    if idx is None:
        raise UserError(S.NO_SHEET.format(word=word, names="、".join(t.title for t in ds.tables)))
    ds.current = idx
    store.save(ds)
    await _send_profile(req, reply, services, ds)


async def _run(services: Services, ds: store.Dataset, sql: str) -> QueryResult:
    settings = settings_of(services)
    return await asyncio.to_thread(engine_of(services).run, ds.id, ds.folder, ds.tables, sql,
                                   max_rows=settings.ANALYSIS_RESULT_ROWS, timeout=settings.ANALYSIS_QUERY_SECONDS)


@dataclass
class Shown:
    kind: str                       # table | forecast | relation
    title: str
    label: str
    question: str = ""
    sql: str = ""
    chart: dict | None = None
    explanation: str = ""
    masked_note: str = ""
    ai: bool = False


async def _show_table(req, reply, services, ds: store.Dataset, result: QueryResult, shown: Shown,
                      *, notes: list[str] | None = None) -> None:
    settings = settings_of(services)
    notes = list(notes or [])
    if result.more:
        total = f"{result.total:,}" + ("以上" if result.more >= 100_000 else "")
        notes.append(S.RESULT_MORE.format(kept=len(result.rows), total=total))
    payload = {"kind": "table", "table": ds.current, "title": shown.title, "question": shown.question,
               "result": result.to_json(), "label": shown.label, "notes": notes, "chart": shown.chart,
               "explanation": shown.explanation, "masked_note": shown.masked_note, "ai": shown.ai}
    token = await store.put_result(services, req.user_id, ds.id, payload, settings.ANALYSIS_KEEP_HOURS)
    await reply.send_card(await pictured(_result_card(payload, token, 0, settings.ANALYSIS_PAGE_ROWS)),
                          ai_generated=shown.ai, feedback=shown.ai)


def _result_card(payload: dict, token: str, page: int, per_page: int) -> dict:
    result = QueryResult.from_json(payload["result"])
    pages = max(1, -(-len(result.rows) // per_page))
    page = max(0, min(page, pages - 1))
    rows = result.rows[page * per_page:(page + 1) * per_page]
    total = S.RESULT_TOTAL.format(total=f"{result.total:,}", page=page + 1, pages=pages) if result.rows \
        else S.EMPTY_RESULT
    chart = _chart(payload.get("chart") or {}, result, payload.get("title") or "") if result.rows else None
    return cards.result_card(heading_text=payload.get("title") or "集計結果", question=payload.get("question") or "",
                             columns=result.columns, rows=rows, page=page, pages=pages, total_text=total, token=token,
                             chart=chart, sql=result.sql if payload.get("ai") else result.sql,
                             notes=payload.get("notes") or [], explanation=payload.get("explanation") or "",
                             label=cards.AI_LABEL if payload.get("ai") else cards.AUTO_LABEL,
                             masked_note=payload.get("masked_note") or "")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _chart(spec: dict, result: QueryResult, title: str) -> dict | None:
    """A chart for a result: the one the plan asked for when its columns exist and hold numbers, else a bar or line
    chart of the first label column against the first numeric column."""
    cols = result.columns
    rows = result.rows[:cards.MAX_CHART_POINTS]
    if not cols or len(rows) < 2:
        return None
    numeric = [j for j in range(len(cols)) if all(_is_number(r[j]) or r[j] is None for r in rows)
               and any(_is_number(r[j]) for r in rows)]
    kind = str(spec.get("type") or "")
    if kind == "none":
        return None
    x = cols.index(spec["x"]) if isinstance(spec.get("x"), str) and spec["x"] in cols else \
        next((j for j in range(len(cols)) if j not in numeric), 0)
    ys_spec = spec.get("y") if isinstance(spec.get("y"), list) else [spec.get("y")] if spec.get("y") else []
    ys = [cols.index(y) for y in ys_spec if isinstance(y, str) and y in cols and cols.index(y) in numeric]
    ys = ys or [j for j in numeric if j != x][:1]
    if not ys:
        return None
    labels = [r[x] for r in rows]
    if kind == "grouped" and len(ys) > 1:
        return cards.grouped_chart(title, [(cols[j], [(lab, r[j] or 0) for lab, r in zip(labels, rows)]) for j in ys],
                                   x_title=cols[x], y_title="値")
    timeish = kind == "line" or all(re.match(r"^\d{4}", str(v or "")) for v in labels)
    if timeish:
        return cards.line_chart(title, [(cols[j], [(lab, r[j] or 0) for lab, r in zip(labels, rows)]) for j in ys],
                                x_title=cols[x], y_title=cols[ys[0]])
    return cards.bar_chart(title, [(lab, r[ys[0]] or 0) for lab, r in zip(labels, rows)], x_title=cols[x],
                           y_title=cols[ys[0]])


# -- the local analyses (no LLM) -----------------------------------------------------------------------------------

def _split_measure(words: list[str]) -> tuple[list[str], str | None, str]:
    """「区 年代 合計 手数料」 -> (["区", "年代"], "手数料", "sum")."""
    dims, measure, how = [], None, "sum"
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("合計", "平均", "sum", "avg") and i + 1 < len(words):
            measure, how = words[i + 1], "avg" if w in ("平均", "avg") else "sum"
            i += 2
            continue
        dims.append(w)
        i += 1
    return dims, measure, how


async def _aggregate(req, reply, services, ds: store.Dataset, words: list[str]) -> None:
    t = ds.table()
    names = "、".join(c.name for c in t.columns)[:600]
    dims_w, measure_w, how = _split_measure(words)
    if not dims_w:
        raise UserError(S.NEED_COLUMNS.format(what="集計", example="/analyze 集計 区 合計 手数料", names=names))
    dims = [_column(ds, w) for w in dims_w[:2]]
    measure = _column(ds, measure_w) if measure_w else None
    if measure is not None and measure.kind not in ("integer", "number"):
        raise UserError(S.NOT_NUMERIC.format(name=measure.name))
    hidden = set(ds.personal.get(t.name, {}))
    if any(d.name in hidden for d in dims):
        raise UserError("個人情報の列で集計した結果は表示しません。ほかの列を指定してください。")
    tab = jp.ident(t.name)
    where = f"WHERE NOT {total_row_filter(t)}"
    m_expr = ""
    if measure is not None:
        fn = "avg" if how == "avg" else "sum"
        m_expr = f", round({fn}({jp.ident(measure.name)}), 2) AS {jp.ident(measure.name + ('の平均' if how == 'avg' else 'の合計'))}"
    if len(dims) == 1:
        d = jp.ident(dims[0].name)
        sql = (f"SELECT {d}, count(*) AS \"件数\", round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS \"割合(%)\""
               f"{m_expr} FROM {tab} {where} GROUP BY {d} ORDER BY \"件数\" DESC, {d}")
        chart = {"type": "bar", "x": dims[0].name, "y": ["件数"] if measure is None else [measure.name + "の合計"]}
    else:
        d1, d2 = jp.ident(dims[0].name), jp.ident(dims[1].name)
        value = f"{'avg' if how == 'avg' else 'sum'}({jp.ident(measure.name)})" if measure is not None else "count(*)"
        sql = (f"SELECT {d1}, {d2}, round({value}, 2) AS \"値\" FROM {tab} {where} GROUP BY {d1}, {d2} "
               f"ORDER BY {d1}, {d2}")
        chart = {"type": "grouped"}
    result = await _run(services, ds, sql)
    if len(dims) == 2:
        result, chart = _pivot(result, dims[0].name, dims[1].name)
    await services.ai.record_offline(req, SKILL)
    await _show_table(req, reply, services, ds, result, Shown(
        kind="table", title=S.AGG_TITLE.format(dims="・".join(d.name for d in dims)), label=S.LABEL_AUTO, sql=sql,
        chart=chart))


def _pivot(result: QueryResult, d1: str, d2: str, max_cols: int = 6) -> tuple[QueryResult, dict]:
    """A long (d1, d2, value) result as a cross table: d1 down, the most frequent d2 values across (others summed
    into その他), with a total column."""
    totals: dict[Any, float] = {}
    for _a, b, v in result.rows:
        totals[b] = totals.get(b, 0) + (v or 0)
    across = [b for b, _ in sorted(totals.items(), key=lambda kv: -kv[1])][:max_cols]
    other = len(totals) > max_cols
    table: dict[Any, dict[Any, float]] = {}
    for a, b, v in result.rows:
        key = b if b in across else "その他"
        table.setdefault(a, {})
        table[a][key] = table[a].get(key, 0) + (v or 0)
    heads = [str(b) for b in across] + (["その他"] if other else [])
    rows = [[a] + [round(row.get(b, 0), 2) for b in across + (["その他"] if other else [])]
            + [round(sum(row.values()), 2)] for a, row in table.items()]
    pivot = QueryResult(sql=result.sql, columns=[d1, *heads, "計"], types=[], rows=rows, more=result.more)
    return pivot, {"type": "grouped", "x": d1, "y": heads[:6]}


async def _series(services, ds: store.Dataset, measure_word: str | None) -> tuple[list[str], list[float], str, str,
                                                                                   str]:
    """(labels, values, measure name, by, SQL) of the table's time series: a numeric column summed per period of
    the first time column, or the profile's trend (rows per period, or column totals per year)."""
    t = ds.table()
    p = ds.profile()
    when = next((c for c in t.columns if c.kind in ("date", "fiscal_year", "year")), None)
    if measure_word:
        m = _column(ds, measure_word)
        if m.kind not in ("integer", "number"):
            raise UserError(S.NOT_NUMERIC.format(name=m.name))
        if when is None:
            raise UserError(S.NO_TREND)
        q, mq = jp.ident(when.name), jp.ident(m.name)
        if when.kind == "date":
            trend = p.get("trend") or {}
            unit = "year" if trend.get("period") == "年" else "month"
            fmt = "%Y年" if unit == "year" else "%Y年%m月"
            key = f"strftime(date_trunc('{unit}', {q}), '{fmt}')"
        else:
            key = f"{q}::VARCHAR || '{'年度' if when.kind == 'fiscal_year' else '年'}'"
        sql = (f"SELECT {key} AS \"期間\", sum({mq})::DOUBLE AS {jp.ident(m.name)} FROM {jp.ident(t.name)} "
               f"WHERE {q} IS NOT NULL AND NOT {total_row_filter(t)} GROUP BY 1 ORDER BY 1")
        res = await _run(services, ds, sql)
        return [str(r[0]) for r in res.rows], [float(r[1] or 0) for r in res.rows], m.name, when.name, res.sql
    trend = p.get("trend")
    if not trend:
        raise UserError(S.NO_TREND)
    if trend.get("sums") is not None:
        return trend["labels"], trend["sums"], trend.get("measure", "合計"), trend["by"], ""
    return trend["labels"], [float(x) for x in trend["counts"]], "件数", trend["by"], ""


async def _trend(req, reply, services, ds: store.Dataset, words: list[str]) -> None:
    labels, values, measure, by, sql = await _series(services, ds, words[0] if words else None)
    yoy = stats.year_over_year(values)
    rows = [[lab, v, None if ch is None else round(ch, 2), None if r is None else round(100 * r, 1)]
            for lab, v, (ch, r) in zip(labels, values, yoy)]
    result = QueryResult(sql=sql, columns=["期間", measure, "前期からの増減", "増減率(%)"], types=[], rows=rows)
    await services.ai.record_offline(req, SKILL)
    await _show_table(req, reply, services, ds, result, Shown(
        kind="table", title=S.TREND_TITLE.format(measure=measure, by=by), label=S.LABEL_AUTO,
        chart={"type": "line", "x": "期間", "y": [measure]}))


def _horizon(words: list[str], monthly: bool) -> tuple[int, list[str]]:
    rest, horizon = [], 12 if monthly else 5
    for w in words:
        m = re.fullmatch(r"(\d{1,2})(年|年度|期|か月|ヶ月|カ月)?(分|先|後)?", w)
        if m:
            horizon = int(m.group(1))
        else:
            rest.append(w)
    return max(1, min(20, horizon)), rest


async def _forecast(req, reply, services, ds: store.Dataset, words: list[str]) -> None:
    monthly = (ds.profile().get("trend") or {}).get("period") == "月"
    horizon, rest = _horizon(words, monthly)
    labels, values, measure, _by, _sql = await _series(services, ds, rest[0] if rest else None)
    f = await asyncio.to_thread(stats.forecast, labels, values, horizon, monthly=monthly)
    await services.ai.record_offline(req, SKILL)
    await _show_forecast(req, reply, services, ds, f, measure)


async def _show_forecast(req, reply, services, ds: store.Dataset, f: stats.Forecast, measure: str,
                         *, ai: bool = False, question: str = "", sql: str = "") -> None:
    settings = settings_of(services)
    title_ = S.FORECAST_TITLE.format(measure=measure)
    payload = {"kind": "forecast", "table": ds.current, "title": title_, "question": question,
               "forecast": f.to_json(), "measure": measure, "label": S.LABEL_ESTIMATE, "sql": sql, "ai": ai}
    token = await store.put_result(services, req.user_id, ds.id, payload, settings.ANALYSIS_KEEP_HOURS)
    await reply.send_card(await pictured(cards.forecast_card(f.to_json(), heading_text=title_, measure=measure,
                                                             token=token)),
                          ai_generated=ai, feedback=ai)


async def _relation(req, reply, services, ds: store.Dataset, words: list[str]) -> None:
    t = ds.table()
    if len(words) < 2:
        raise UserError(S.NEED_COLUMNS.format(what="相関", example="/analyze 相関 人口 世帯数",
                                              names="、".join(c.name for c in t.columns)[:600]))
    a, b = _column(ds, words[0]), _column(ds, words[1])
    for c in (a, b):
        if c.kind not in ("integer", "number"):
            raise UserError(S.NOT_NUMERIC.format(name=c.name))
    sql = (f"SELECT {jp.ident(a.name)}, {jp.ident(b.name)} FROM {jp.ident(t.name)} WHERE {jp.ident(a.name)} IS NOT "
           f"NULL AND {jp.ident(b.name)} IS NOT NULL AND NOT {total_row_filter(t)} LIMIT 100000")
    settings = settings_of(services)
    res = await asyncio.to_thread(engine_of(services).run, ds.id, ds.folder, ds.tables, sql, max_rows=100_000,
                                  timeout=settings.ANALYSIS_QUERY_SECONDS)
    await services.ai.record_offline(req, SKILL)
    await _show_relation(req, reply, services, ds, res, a.name, b.name)


async def _show_relation(req, reply, services, ds, res: QueryResult, x: str, y: str, *, ai: bool = False,
                         question: str = "") -> None:
    rel = await asyncio.to_thread(stats.relation, x, y, [r[0] for r in res.rows], [r[1] for r in res.rows])
    settings = settings_of(services)
    payload = {"kind": "relation", "table": ds.current, "title": f"「{x}」と「{y}」の関係", "question": question,
               "relation": rel.to_json(), "label": S.LABEL_AUTO if not ai else S.LABEL_AI, "sql": res.sql, "ai": ai}
    token = await store.put_result(services, req.user_id, ds.id, payload, settings.ANALYSIS_KEEP_HOURS)
    await reply.send_card(cards.relation_card(rel.to_json(), strength=rel.strength_ja(), token=token),
                          ai_generated=ai, feedback=ai)


# -- with the LLM --------------------------------------------------------------------------------------------------

def tier_refusal(services: Services, req: SkillRequest, ds: store.Dataset) -> str | None:
    """Why a file with personal data may not go to the LLM in this request's tier (None: it may)."""
    if not ds.has_personal:
        return None
    tier = req.tier or services.ai.guard.settings.GUARD_DEFAULT_TIER
    approved = tiers.personal_data_tiers(services)
    if tier in approved:
        return None
    msg = S.PERSONAL_REFUSED.format(columns=privacy.summary_ja(ds.personal)[:300],
                                    tier=TIER_LABELS_JA.get(tier, tier))
    if approved:
        msg += S.PERSONAL_REFUSED_CHOOSE.format(tiers="・".join(TIER_LABELS_JA.get(t, t) for t in approved))
    return msg + S.PERSONAL_REFUSED_OFFLINE


def _samples(engine: Engine, ds: store.Dataset, n: int, timeout: float) -> dict[str, list[list[Any]]]:
    out = {}
    for t in ds.tables[:5]:
        res = engine.run(ds.id, ds.folder, ds.tables, f"SELECT * FROM {jp.ident(t.name)} LIMIT {int(n)}",
                         max_rows=n, timeout=timeout)
        out[t.name] = res.rows
    return out


async def _ask_llm(req, reply, services, ds: store.Dataset, question: str) -> None:
    refusal = tier_refusal(services, req, ds)
    if refusal:
        log.info("analysis: LLM refused for a file with personal-data columns (tier %s)", req.tier)
        await reply.send_text(refusal)
        return
    settings = settings_of(services)
    tier = req.tier or (services.ai.guard.settings.GUARD_DEFAULT_TIER if ds.has_personal else None)
    samples = await asyncio.to_thread(_samples, engine_of(services), ds, settings.ANALYSIS_SAMPLE_ROWS,
                                      settings.ANALYSIS_QUERY_SECONDS)
    msgs = ask.messages(ds, samples, question)
    await reply.inform(S.WRITING_SQL)
    plan: ask.Plan | None = None
    result: QueryResult | None = None
    error = ""
    masked = ""
    for attempt in (0, 1):
        ans = await services.ai.chat(req, SKILL, msgs, tier=tier, temperature=0,
                                     timeout=settings.ANALYSIS_LLM_TIMEOUT_SECONDS,
                                     step="sql-retry" if attempt else None)
        masked = ans.masked_note or masked
        try:
            plan = ask.parse_plan(ans.text)
            result = await _run(services, ds, plan.sql)
            break
        except ask.PlanError as e:
            error = e.detail
        except QueryRefused as e:
            log.warning("analysis: model SQL refused: %s", e.detail[:200])
            error = f"{e.message} ({e.detail})"
        except QueryFailed as e:
            if e.timeout:
                raise
            error = e.detail
        if attempt == 0:
            msgs = ask.retry_messages(msgs, ans.text, error)
    if plan is None or result is None:
        await reply.send_text(S.SQL_GAVE_UP)
        return
    if plan.analysis == "forecast" and len(result.columns) >= 2 and len(result.rows) >= stats.MIN_POINTS:
        values = [float(r[1]) if _is_number(r[1]) else float("nan") for r in result.rows]
        monthly = bool(result.rows and re.match(r"^\d{4}年\d{1,2}月$", str(result.rows[-1][0])))
        f = await asyncio.to_thread(stats.forecast, [_period(r[0]) for r in result.rows], values, plan.horizon,
                                    monthly=monthly)
        await _show_forecast(req, reply, services, ds, f, result.columns[1], ai=True, question=question,
                             sql=result.sql)
        return
    if plan.analysis == "correlation" and len(result.columns) >= 2 and len(result.rows) >= 3:
        await _show_relation(req, reply, services, ds, result, result.columns[0], result.columns[1], ai=True,
                             question=question)
        return
    await _show_table(req, reply, services, ds, result, Shown(
        kind="table", title=plan.title or "集計結果", label=S.LABEL_AI, question=question, sql=result.sql,
        chart=plan.chart, explanation=plan.explanation, masked_note=masked, ai=True))


def _period(v: Any) -> str:
    s = str(v)
    return f"{s}年" if re.fullmatch(r"\d{4}", s) else s


# -- free-text answers: themes (with the LLM) ---------------------------------------------------------------------

_SENTENCE = re.compile(r"[。、！？!?]")


def _sentences(c: dict) -> bool:
    """Answers written as sentences: the profile's 自由記述, or frequent answers with sentence punctuation."""
    if c.get("free_text"):
        return True
    return (c.get("mean_length") or 0) >= 8 and any(_SENTENCE.search(str(v)) for v, _n in c.get("top") or [])


def free_text_columns(ds: store.Dataset) -> list[tuple[int, str]]:
    """(index, name) of the current table's columns that look like free-text answers — text, not personal, at least
    3 different answers, written as sentences (see `_sentences`) — the likeliest first."""
    t = ds.table()
    p = {c["name"]: c for c in ds.profile().get("columns", [])}
    hidden = set(ds.personal.get(t.name, {}))
    found = [(j, c.name) for j, c in enumerate(t.columns) if c.kind == "text" and c.name not in hidden
             and _sentences(p.get(c.name, {})) and (p.get(c.name, {}).get("distinct") or 0) >= 3]
    return sorted(found, key=lambda jc: (not p[jc[1]].get("free_text"), -(p[jc[1]].get("mean_length") or 0)))


def _theme_columns(ds: store.Dataset, words: list[str]) -> tuple[Any, Any | None]:
    """The free-text column (named, or the longest text answers) and the closed question to cross it with (named,
    or the first column with 2–12 values that is neither personal nor a date)."""
    t = ds.table()
    p = {c["name"]: c for c in ds.profile().get("columns", [])}
    hidden = set(ds.personal.get(t.name, {}))
    if words:
        col = _column(ds, words[0])
        if col.kind != "text":
            raise UserError(S.THEMES_NOT_TEXT.format(name=col.name))
    else:
        texts = free_text_columns(ds)
        if not texts:
            raise UserError(S.THEMES_NO_COLUMN.format(names="、".join(c.name for c in t.columns)[:600]))
        col = t.columns[texts[0][0]]
    if col.name in hidden:
        raise UserError(S.THEMES_PERSONAL.format(name=col.name))
    by = None
    if len(words) > 1:
        by = _column(ds, words[1])
        if by.name in hidden:
            raise UserError("個人情報の列で集計した結果は表示しません。ほかの列を指定してください。")
    else:
        by = next((c for c in t.columns if c.name not in hidden and c.name != col.name and c.kind in ("text", "integer")
                   and 2 <= (p.get(c.name, {}).get("distinct") or 0) <= 12 and not p.get(c.name, {}).get("free_text")),
                  None)
    return col, by


async def _theme_call(req, services: Services, tier: str | None, msgs: list[dict], parse, step: str | None,
                      masked: dict[str, int]):
    """One request for themes or codes, retried once when the reply cannot be read. Returns the parsed reply, or
    raises ThemeError after the second failure."""
    settings = settings_of(services)
    for attempt in (0, 1):
        ans = await services.ai.chat(req, SKILL, msgs, tier=tier, temperature=0,
                                     timeout=settings.ANALYSIS_LLM_TIMEOUT_SECONDS,
                                     step=("theme-retry" if attempt else step))
        for k, n in ans.masked.items():
            masked[k] = masked.get(k, 0) + n
        try:
            return parse(ans.text)
        except themes.ThemeError as e:
            if attempt:
                raise
            msgs = themes.retry_messages(msgs, ans.text, e.detail)
    raise themes.ThemeError("unreachable")


def _masked_note(masked: dict[str, int]) -> str:
    from core.guard.pii import KINDS, SUMMARY_LABELS

    parts = [f"{SUMMARY_LABELS[k]}{masked[k]}件" for k in KINDS if masked.get(k)]
    return ("AIに送る前に、回答の中の個人情報（" + "・".join(parts) + "）を伏せました。") if parts else ""


async def _themes(req, reply, services, ds: store.Dataset, words: list[str]) -> None:
    if services.ai.offline:
        await reply.send_text(S.THEMES_OFFLINE)
        return
    refusal = tier_refusal(services, req, ds)
    if refusal:
        await reply.send_text(refusal)
        return
    col, by = _theme_columns(ds, words)
    settings = settings_of(services)
    engine = engine_of(services)
    got = await asyncio.to_thread(themes.collect, engine, ds, col.name, max(1, settings.ANALYSIS_THEME_MAX_ANSWERS),
                                  settings.ANALYSIS_QUERY_SECONDS)
    if not got.answers:
        raise UserError(S.THEMES_EMPTY.format(name=col.name))
    await reply.inform(S.THEMES_WORKING.format(name=col.name, n=len(got.answers)))
    tier = req.tier or (services.ai.guard.settings.GUARD_DEFAULT_TIER if ds.has_personal else None)
    batch = max(1, settings.ANALYSIS_THEME_BATCH)
    masked: dict[str, int] = {}
    first = got.answers[:batch]
    try:
        coding = await _theme_call(req, services, tier, themes.first_messages(col.name, first, got.distinct),
                                   lambda text: themes.parse_first(text, first), None, masked)
    except themes.ThemeError as e:
        log.warning("analysis: themes not readable: %s", e.detail)
        await reply.send_text(S.THEMES_GAVE_UP)
        return
    notes: list[str] = []
    failed = 0
    for i in range(batch, len(got.answers), batch):
        part = got.answers[i:i + batch]
        try:
            coding.codes.update(await _theme_call(
                req, services, tier, themes.code_messages(col.name, coding.themes, part),
                lambda text, part=part: themes.parse_batch(text, part, coding.themes), "theme-coding", masked))
        except themes.ThemeError as e:
            log.warning("analysis: a batch of theme codes not readable: %s", e.detail)
            failed += len(part)
    if failed:
        notes.append(S.THEMES_BATCH_FAILED.format(n=failed))
    if got.left_out_rows:
        notes.append(S.THEMES_CAPPED.format(n=len(got.answers), left=got.left_out_rows))
    counts = themes.count(coding, got.answers)
    session = services.ai.guard.new_session()     # what is shown is masked too: names, phones in free text

    def shown() -> tuple[list[list[Any]], list[list[Any]]]:
        table, quoted = [], []
        for tc in counts:
            name = session.mask(tc.theme.name)
            table.append([name, tc.rows, round(100 * tc.rows / max(1, got.answered), 1),
                          session.mask(tc.theme.description)])
            for a in themes.quotes(tc, coding.codes):
                quoted.append([name, session.mask(" ".join(a.text.split()))[:themes.QUOTE_CHARS], a.rows])
        return table, quoted

    table, quoted = await asyncio.to_thread(shown)
    cross: dict[str, Any] | None = None
    if by is not None:
        pairs = await asyncio.to_thread(themes.cross_rows, engine, ds, col.name, by.name,
                                        settings.ANALYSIS_QUERY_SECONDS)
        heads, rows = themes.cross_table(counts, coding.codes, pairs, got.answers)
        for r, shown_row in zip(rows, table):
            r[0] = shown_row[0]
        cross = {"by": by.name, "columns": ["テーマ", *heads, "計"], "rows": rows}
    result = QueryResult(sql="", columns=["テーマ", "件数", "割合(%)", "説明"], types=[], rows=table)
    title_ = S.THEMES_TITLE.format(name=col.name)
    payload = {"kind": "themes", "table": ds.current, "title": title_, "column": col.name,
               "result": result.to_json(), "cross": cross, "quotes": quoted, "notes": notes,
               "answered": got.answered, "distinct": got.distinct, "label": S.LABEL_THEMES, "ai": True,
               "masked_note": _masked_note(masked)}
    token = await store.put_result(services, req.user_id, ds.id, payload, settings.ANALYSIS_KEEP_HOURS)
    await reply.send_card(await pictured(cards.themes_card(
        column=col.name, answered=got.answered, distinct=got.distinct, coded=len(got.answers), counted=table,
        quotes=quoted, cross=cross, notes=notes, masked_note=payload["masked_note"], token=token)),
        ai_generated=True, feedback=True)


# -- verbs ---------------------------------------------------------------------------------------------------------

Page = Annotated[int, Field(ge=0, le=100_000, strict=False)]
Index = Annotated[int, Field(ge=0, le=1000, strict=False)]


class ResultRef(CardData):
    token: Token
    page: Page = 0


class TableRef(CardData):
    table: Index = 0


class ColumnRef(CardData):
    table: Index = 0
    column: Index = 0


async def _on_page(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    settings = settings_of(services)
    token = str(req.data.get("token") or "")
    payload = await store.get_result(services, token, req.user_id)
    if payload is None or payload.get("kind") != "table":
        raise UserError(S.NO_RESULT)
    card = await pictured(_result_card(payload, token, int(req.data.get("page") or 0), settings.ANALYSIS_PAGE_ROWS))
    await (reply.refresh_card(card) if req.is_invoke else reply.send_card(card))


async def _on_xlsx(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    settings = settings_of(services)
    payload = await store.get_result(services, str(req.data.get("token") or ""), req.user_id)
    if payload is None:
        raise UserError(S.NO_RESULT)
    ds = store.open_dataset(settings.ANALYSIS_DATA_DIR, str(payload.get("dataset") or ""))
    profile = None
    if ds is not None:
        profile = ds.profile(int(payload.get("table") or 0))
    result = QueryResult.from_json(payload["result"]) if payload.get("result") else None
    label = {"profile": S.LABEL_AUTO, "forecast": S.LABEL_ESTIMATE}.get(payload.get("kind", ""),
                                                                        payload.get("label") or S.LABEL_AUTO)
    extra: list[tuple[str, list[str], list[list[Any]]]] = []
    if payload.get("kind") == "themes":
        cross = payload.get("cross")
        if cross:
            extra.append((f"テーマ×{cross['by']}"[:31], list(cross["columns"]), [list(r) for r in cross["rows"]]))
        extra.append(("代表的な回答", ["テーマ", "回答（個人情報は伏せ字）", "件数"],
                      [list(r) for r in payload.get("quotes") or []]))
    images: list[tuple[str, bytes]] = []
    if payload.get("kind") == "profile" and ds is not None:     # the profile sheet has no chart of its own
        ds.current = max(0, min(int(payload.get("table") or 0), len(ds.tables) - 1))
        images = await asyncio.to_thread(chart_images, _profile_card(ds, services))
    data = build_report(filename=ds.filename if ds else "", heading=payload.get("title") or "分析結果", label=label,
                        question=payload.get("question") or "", columns=result.columns if result else (),
                        rows=result.rows if result else (), sql=(result.sql if result else payload.get("sql") or ""),
                        notes=payload.get("notes") or [], profile=profile, forecast=payload.get("forecast"),
                        relation=payload.get("relation"),
                        chart="line" if (payload.get("chart") or {}).get("type") == "line" else "bar",
                        created=services.clock.now_jst().replace(tzinfo=None), extra=extra, images=images)
    stem = PurePath(ds.filename).stem if ds else "データ"
    name = S.XLSX_NAME.format(stem=re.sub(r"[\\/:*?\"<>|\s]+", "_", stem)[:40])
    await reply.send_file(name, data, XLSX_CONTENT_TYPE, description=S.XLSX_DESCRIPTION.format(name=name))


async def _on_sheet(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    ds = await current_dataset(req, services)
    idx = int(req.data.get("table") or 0)
    if not 0 <= idx < len(ds.tables):
        raise UserError(S.NO_SHEET.format(word=str(idx + 1), names="、".join(t.title for t in ds.tables)))
    ds.current = idx
    store.save(ds)
    await _send_profile(req, reply, services, ds)


async def _on_forecast(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    ds = await current_dataset(req, services)
    idx = int(req.data.get("table") or 0)
    if 0 <= idx < len(ds.tables):
        ds.current = idx
    await _forecast(req, reply, services, ds, [])


async def _on_themes(req: SkillRequest, reply: ReplyPort, services: Services) -> None:
    ds = await current_dataset(req, services)
    idx = int(req.data.get("table") or 0)
    if 0 <= idx < len(ds.tables):
        ds.current = idx
    j = int(req.data.get("column") or 0)
    columns = ds.table().columns
    if not 0 <= j < len(columns):
        raise UserError(S.THEMES_NO_COLUMN.format(names="、".join(c.name for c in columns)[:600]))
    await _themes(req, reply, services, ds, [columns[j].name])


VERBS = {
    cards.PAGE_VERB: Verb(guarded(_on_page), ResultRef),
    cards.XLSX_VERB: Verb(guarded(_on_xlsx), ResultRef),
    cards.SHEET_VERB: Verb(guarded(_on_sheet), TableRef),
    cards.FORECAST_VERB: Verb(guarded(_on_forecast), TableRef),
    cards.THEMES_VERB: Verb(guarded(_on_themes), ColumnRef),
}


async def purge(services: Services) -> None:
    settings = settings_of(services)
    gone = await asyncio.to_thread(store.purge, settings.ANALYSIS_DATA_DIR, settings.ANALYSIS_KEEP_HOURS)
    for ds_id in gone:
        engine_of(services).forget(ds_id)
    await store.purge_kv(services)


__all__ = ["EXTENSIONS", "VERBS", "handle", "purge"]
