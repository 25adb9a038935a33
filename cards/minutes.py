"""Cards of 会議録・相談記録: the 議事録 / 相談記録 written by the AI, and the automatic (extractive, no AI) minutes.

Pure functions over plain dicts the skill prepares (`Record.to_json()`, speaking times, extract lines). Every text
from a transcript passes through `plain()` (in text() and facts()). Action items are listed apart, each with its owner and due date."""
from __future__ import annotations

from typing import Any, Sequence

from cards.common import AI_REMINDER, card, container, execute, facts, heading, note, text, title

TODO_VERB = "minutes.todo"          # data: task, due, at, title — one action item to the user's Microsoft To Do

AI_LABEL = ("【AIによる作成】AIが文字起こしから作成した案です。各行の［時刻］は、元になった文字起こしの位置です。"
            "必ず内容を確認してください。")
AUTO_LABEL = ("【自動抽出】AIは使用していません。文字起こしを機械的に整え（言いよどみの削除、同じ発言者の連続する発言の"
              "結合）、重要と思われる発言をそのまま抜き出したものです。")
MAX_LINES = 40
MAX_LINE = 240


def _clip(s: Any, n: int = MAX_LINE) -> str:
    s = " ".join(str(s or "").split())
    return s if len(s) <= n else s[:n - 1] + "…"


def _lines(items: Sequence[dict], *, speaker: bool = True) -> list[dict]:
    out = []
    for p in items[:MAX_LINES]:
        who = f"{p.get('speaker')}：" if speaker and p.get("speaker") else ""
        out.append(text(f"［{p.get('t', '')}］{_clip(who)}{_clip(p.get('text'))}", spacing="Small"))
    if len(items) > MAX_LINES:
        out.append(note(f"ほか{len(items) - MAX_LINES}件はWordファイルをご覧ください。"))
    return out


def _actions(actions: Sequence[dict], *, todo: bool, meeting: str) -> list[dict]:
    """今後の対応, apart: one line per item with 担当 and 期限, and (with Graph) a button to Microsoft To Do."""
    if not actions:
        return [text("（今後の対応として示された事項はありませんでした）", subtle=True)]
    out: list[dict] = []
    for i, a in enumerate(actions[:20], 1):
        rows = [text(f"{i}．{_clip(a.get('task'))}", weight="Bolder", spacing="Small"),
                text(f"担当：{_clip(a.get('owner'), 60) or '未定'}　期限：{_clip(a.get('due'), 40) or '未定'}"
                     f"　［{a.get('t', '')}］", size="Small", subtle=True, spacing="None")]
        if todo:
            rows.append({"type": "ActionSet", "actions": [execute("To Doに登録", TODO_VERB, {
                "task": str(a.get("task") or "")[:250], "due": str(a.get("due") or "")[:40],
                "at": str(a.get("t") or "")[:12], "title": meeting[:120]})]})
        out.append(container(rows, separator=i > 1))
    return out


def record_card(record: dict, *, speaking: Sequence[dict] = (), todo: bool = False, masked_note: str = "",
                sections: int = 1) -> dict:
    """The 議事録 / 相談記録 the AI wrote. `record` = Record.to_json(); `speaking` = [{speaker, time, share}]."""
    consultation = record.get("kind") == "consultation"
    name = record.get("title") or ("相談記録" if consultation else "会議")
    body: list[dict] = [title(("相談記録（案）" if consultation else "議事録（案）") + f"：{_clip(name, 80)}"),
                        note(AI_LABEL)]
    if sections > 1:
        body.append(note(f"長い会議のため、{sections}区間に分けて要約したうえでまとめています。"))
    if masked_note:
        body.append(note(masked_note))
    if consultation:
        body.append(facts([("相談日時", _clip(record.get("date"), 80) or "（記載なし）"),
                           ("相談者", _clip(record.get("client"), 40) or "（記載なし）")]))
        body += [heading("主訴"), text(_clip(record.get("complaint"), 1000) or "（記載なし）")]
        body += [heading("経過"), *_lines(record.get("proceedings") or [])]
        body += [heading("対応"), *_lines(record.get("responses") or [], speaker=False)]
        body += [heading("今後の方針"), *_lines(record.get("policy") or [], speaker=False)]
    else:
        body.append(facts([("会議名", _clip(record.get("title"), 120) or "（記載なし）"),
                           ("日時", _clip(record.get("date"), 80) or "（記載なし）"),
                           ("場所", _clip(record.get("place"), 80) or "（記載なし）"),
                           ("出席者", _clip("、".join(record.get("attendees") or []), 600) or "（記載なし）")]))
        agenda = record.get("agenda") or []
        body += [heading("議題"), *[text(f"{i}．{_clip(a)}", spacing="Small") for i, a in enumerate(agenda, 1)]] \
            if agenda else []
        body += [heading("議事の経過（発言要旨）"), *_lines(record.get("proceedings") or [])]
        decisions = record.get("decisions") or []
        body += [heading("決定事項"), *(_lines(decisions, speaker=False) if decisions
                                       else [text("（決定事項はありませんでした）", subtle=True)])]
    body += [heading("今後の対応（担当・期限）"), *_actions(record.get("actions") or [], todo=todo,
                                                         meeting=str(name))]
    if speaking:
        body += _speaking(speaking)
    body.append(note(AI_REMINDER))
    return card(body)


def auto_card(*, name: str, meta: Sequence[tuple[str, str]], speaking: Sequence[dict], summary: Sequence[dict],
              decisions: Sequence[dict], actions: Sequence[dict], message: str = "", turns: int = 0) -> dict:
    """The automatic minutes (no AI): speaking time, the extractive summary, the sentences that sound like
    decisions and tasks — all verbatim with their time and speaker."""
    body: list[dict] = [title(f"会議録（自動抽出）：{_clip(name, 80)}"), note(AUTO_LABEL)]
    if message:
        body.append(text(message, color="Attention", weight="Bolder"))
    body.append(facts([(k, _clip(v, 300)) for k, v in meta if v]))
    body += _speaking(speaking)
    body += [heading("要約（自動抽出）"), *_lines(summary)]
    if decisions:
        body += [heading("決定と思われる発言（自動抽出）"), *_lines(decisions)]
    if actions:
        body += [heading("今後の対応と思われる発言（自動抽出）"),
                 *[text(f"［{a.get('t', '')}］{_clip(a.get('speaker'), 40)}：{_clip(a.get('text'))}"
                        + (f"（期限：{_clip(a.get('due'), 40)}）" if a.get("due") else ""), spacing="Small")
                   for a in actions[:20]]]
    body.append(note(f"整えた文字起こし（{turns}発言）の全文は、Wordファイルにあります。"))
    return card(body)


def _speaking(speaking: Sequence[dict]) -> list[dict]:
    rows = [(_clip(s.get("speaker"), 40), f"{s.get('time')}（{round(100 * float(s.get('share') or 0))}%）")
            for s in speaking[:15]]
    return [heading("発言時間"), facts(rows)] if rows else []


def todo_done_card(task: str, due: str, list_name: str) -> dict:
    return card([title("Microsoft To Doに登録しました"),
                 facts([("タスク", _clip(task, 200)), ("期限", _clip(due, 40) or "未定"), ("リスト", list_name)])])
