"""Cards of 企画サポート (/plan): the clarification form, progress/failure, the outline with its actions, the job list.
Pure functions; the UI words of these cards live here (cards import no skill code)."""
from __future__ import annotations

import re
from typing import Sequence

from cards.common import (
    AI_REMINDER,
    card,
    container,
    execute,
    facts,
    heading,
    input_choice,
    input_text,
    note,
    text,
    title,
)
from core.search.passages import Source

BUDGETS = ("未定", "100万円未満", "100万〜1,000万円", "1,000万〜1億円", "1億円以上")
START_VERB = "plan.start"        # data: the form's inputs (theme, purpose, target, period, budget, profile)
RETRY_VERB = "plan.retry"        # data: job_id
SHOW_VERB = "plan.show"          # data: job_id
REVISE_VERB = "plan.revise"      # data: job_id, section, instruction
REPORT_VERB = "plan.report"      # data: job_id
SLIDES_VERB = "plan.slides"      # data: job_id
FORMAT_LABELS = {"report": ("報告書（Word）を作成", REPORT_VERB), "slides": ("スライド（PowerPoint）を作成", SLIDES_VERB)}
STATUS_LABELS = {"running": "処理中", "interrupted": "中断", "failed": "失敗", "done": "完了"}
STAGE_LABELS = {"research": "調査", "outline": "構成案の作成", "done": "完了"}
KIND_LABELS = {"knowledge": "庁内資料", "case": "他都市事例", "law": "法令"}
INPUT_LABELS = (("purpose", "目的"), ("target", "対象"), ("period", "期間"), ("budget", "予算規模"))


_CITE = re.compile(r"\[(\d{1,3})\]")


def _marks(value: str) -> str:
    """Citation marks [n] as ［n］: plain() would escape ASCII brackets, and Teams may show the backslashes."""
    return _CITE.sub(r"［\1］", str(value))


def _show_card(title_: str, body: list[dict], actions: list[dict]) -> dict:
    return {"type": "Action.ShowCard", "title": title_,
            "card": {"type": "AdaptiveCard", "body": body, "actions": actions}}


def clarify_card(theme: str, profiles: Sequence[tuple[str, str, str]], selected: str, *,
                 values: dict | None = None) -> dict:
    """`profiles`: (id, name, method text). The person confirms the theme and the premises, and picks the 課."""
    v = values or {}
    method = {pid: m for pid, _n, m in profiles}
    body = [title("企画サポート"),
            text("次の内容で調査と構成案の作成を始めます。分かる範囲で入力してください（空欄は「未定」として扱います）。",
                 subtle=True),
            input_text("theme", "テーマ", value=theme, required=True, max_length=200),
            input_text("purpose", "目的（何を実現したいか）", value=v.get("purpose", ""), multiline=True,
                       max_length=1000, placeholder="例：子育て世帯の手続の負担を減らす"),
            input_text("target", "対象（誰のための企画か）", value=v.get("target", ""), max_length=300,
                       placeholder="例：市内の未就学児の保護者"),
            input_text("period", "期間", value=v.get("period", ""), max_length=200, placeholder="例：令和8年度〜令和10年度"),
            input_choice("budget", "予算規模", [(b, b) for b in BUDGETS], value=v.get("budget") or BUDGETS[0]),
            input_choice("profile", "課のプロファイル（調査手法と参照する資料）", [(n, pid) for pid, n, _m in profiles],
                         value=selected),
            note(f"調査手法：{method.get(selected, '')}")]
    return card(body, [execute("調査を開始", START_VERB, style="positive")], fallback_text="企画サポート")


def accepted_card(theme: str, profile_name: str) -> dict:
    return card([title("企画サポート"), text(f"「{theme}」の企画を受け付けました（{profile_name}）。"),
                 text("調査と構成案の作成の進み具合は、このチャットでお知らせします。", subtle=True)],
                fallback_text="企画を受け付けました")


def failed_card(job_id: int, theme: str, stage_label: str, message: str, *, interrupted: bool = False) -> dict:
    """A stage that failed, or (`interrupted`) that stopped because its process is gone; both with the retry."""
    what = "の途中で中断しました" if interrupted else "で失敗しました"
    body = [title("企画サポート"), text(f"「{theme}」：{stage_label}{what}。", weight="Bolder", color="Attention"),
            text(message), note(f"完了した段階はやり直さずに、{'中断' if interrupted else '失敗'}した段階から再開します。")]
    return card(body, [execute("この段階から再実行", RETRY_VERB, {"job_id": job_id})],
                fallback_text=f"{stage_label}{what}。")


def outline_card(job_id: int, theme: str, profile_name: str, inputs: dict, outline: dict, sources: list[Source], *,
                 formats: Sequence[str] = ("report", "slides"), label: str = "", masked_note: str = "",
                 revised: str = "") -> dict:
    offline = outline.get("mode") == "offline"
    body: list[dict] = [title(outline.get("title") or theme),
                        facts([("課", profile_name), *((lbl, str(inputs.get(k) or "未定")) for k, lbl in INPUT_LABELS)])]
    body.append(text(label or AI_REMINDER, size="Small", weight="Bolder" if offline else None,
                     color="Warning" if offline else None))
    if masked_note:
        body.append(note(masked_note))
    if revised:
        body.append(note(revised))
    if outline.get("method"):
        body.append(heading("調査手法"))
        body.append(text("\n".join(f"{i}. {s}" for i, s in enumerate(outline["method"], 1)), size="Small"))
    for sec in outline.get("sections", []):
        body.append(container([heading(sec["name"]),
                               text("\n".join(f"・{_marks(p)}" for p in sec["points"]), spacing="Small")]))
    if sources:
        lines = [f"［{m.n}］ {KIND_LABELS.get(m.kind, '資料')}：{m.title}" + (f"／{m.section}" if m.section else "")
                 for m in sources]
        body.append(container([heading("出典"), text("\n".join(lines), size="Small")], separator=True))
    actions = [execute(FORMAT_LABELS[f][0], FORMAT_LABELS[f][1], {"job_id": job_id}) for f in formats
               if f in FORMAT_LABELS]
    if not offline:
        sections = [(s["name"], s["name"]) for s in outline.get("sections", [])]
        actions.append(_show_card("項目を修正", [
            input_choice("section", "修正する項目", sections, value=sections[0][1] if sections else None,
                         required=True),
            input_text("instruction", "修正の指示", multiline=True, required=True, max_length=1000,
                       placeholder="例：他都市の事例をもう少し具体的に")],
            [execute("この項目を修正", REVISE_VERB, {"job_id": job_id})]))
    return card(body, actions, fallback_text=outline.get("title") or theme)


def jobs_card(jobs: Sequence[dict]) -> dict:
    """`jobs`: {"id", "theme", "status", "stage", "updated", "resumable"} — the person's recent plans."""
    body: list[dict] = [title("最近の企画")]
    for j in jobs:
        status = STATUS_LABELS.get(j["status"], j["status"])
        stage = STAGE_LABELS.get(j["stage"], j["stage"])
        line = f"{status}（{stage}）・{j['updated']}" if j["status"] != "done" else f"{status}・{j['updated']}"
        actions = []
        if j["status"] == "done":
            actions.append(execute("構成案を表示", SHOW_VERB, {"job_id": j["id"]}))
        if j.get("resumable"):
            actions.append(execute("この段階から再実行", RETRY_VERB, {"job_id": j["id"]}))
        items = [text(j["theme"], weight="Bolder"), text(line, size="Small", subtle=True, spacing="None")]
        if actions:
            items.append({"type": "ActionSet", "actions": actions})
        body.append(container(items, separator=True))
    body.append(note("新しい企画は「/plan テーマ」で始められます。"))
    return card(body, fallback_text="最近の企画")
