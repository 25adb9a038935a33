"""Cards of 文書作成支援: the type choice, the type's form (missing essentials highlighted) and the result."""
from __future__ import annotations

from typing import Any, Sequence

from cards.common import (
    AI_REMINDER,
    OFFLINE_TEMPLATE,
    card,
    container,
    execute,
    facts,
    input_choice,
    input_text,
    note,
    text,
    title,
    toggle,
)

# Card verbs (the drafting skill's verb table maps each to its handler).
FORM_VERB = "draft.form"          # data: doc_type, points
CREATE_VERB = "draft.create"      # data: doc_type, the type's fields, easy
REVISE_VERB = "draft.revise"      # data: draft_id, instruction
SHORTER_VERB = "draft.shorter"    # data: draft_id
POLITE_VERB = "draft.polite"      # data: draft_id
EASY_VERB = "draft.easy"          # data: draft_id
DOCX_VERB = "draft.docx"          # data: draft_id

# Kept here (cards import no skill code): the UI words of the drafting cards.
CHOOSE_TYPE = "作成する文書の種類を選んでください。"
TYPE_LABEL = "文書の種類"
POINTS_LABEL = "要点（任意。後の画面でも入力できます）"
NEXT = "次へ"
FORM_HINT = "分かる範囲で入力してください。空欄の箇所は【要記入】として作成します。"
MISSING = "次の項目を入力してください：{items}"
MISSING_SUFFIX = "（必須・未入力）"
REQUIRED_SUFFIX = "（必須）"
CREATE = "素案を作成"
EASY_TOGGLE = "やさしい日本語で作成する"
COMMITMENT_HINT = "答弁の約束の強さは、必ずご自身で選んでください（強い順に並んでいます）。"
ISSUES_HEADING = "形式の確認で見つかった点（確認・修正してください）"
WARN_HEADING = "表記・読みやすさの確認（公用文チェック）"
REVISE_LABEL = "修正指示（例：第2段落をもっと簡潔に、日時を5月10日に変更）"
REVISE = "修正する"
SHORTER = "もっと短く"
POLITE = "より丁寧に"
EASY = "やさしい日本語に"
WORD = "Word (.docx)"
REFERENCES_HEADING = "参考にした資料"
EASY_BADGE = "やさしい日本語"


def type_choice_card(types: Sequence[tuple[str, str]], *, points: str = "") -> dict:
    """Step 1 of /draft: which kind of document (types = [(key, label)])."""
    body = [title("文書作成"), text(CHOOSE_TYPE),
            input_choice("doc_type", TYPE_LABEL, list((label, key) for key, label in types), value=types[0][0],
                         expanded=True, required=True),
            input_text("points", POINTS_LABEL, value=points, multiline=True, max_length=4000)]
    return card(body, [execute(NEXT, FORM_VERB)], fallback_text=CHOOSE_TYPE)


def form_card(type_key: str, type_label: str, fields: list[dict[str, Any]], *, missing_labels: Sequence[str] = (),
              easy_variant: bool = False, easy: bool = False, commitments: Sequence[str] = (),
              tones: Sequence[str] = ()) -> dict:
    """Step 2: the type's fields. `fields` = [{"id", "label", "value", "multiline", "essential", "missing"}]."""
    body: list[dict] = [title(f"{type_label}の素案を作成"), text(FORM_HINT, subtle=True)]
    if missing_labels:
        body.append(text(MISSING.format(items="、".join(missing_labels)), color="Attention", weight="Bolder"))
    for f in fields:
        label = f["label"] + (MISSING_SUFFIX if f.get("missing") else REQUIRED_SUFFIX if f.get("essential") else "")
        if f["id"] == "commitment":
            body.append(text(COMMITMENT_HINT, size="Small", color="Attention" if f.get("missing") else None))
            body.append(input_choice("commitment", label, [(c, c) for c in commitments],
                                     value=f.get("value") or None, expanded=True, required=True))
        elif f["id"] == "tone":
            body.append(input_choice("tone", label, [(t, t) for t in tones], value=f.get("value") or tones[0]))
        else:
            body.append(input_text(f["id"], label, value=f.get("value") or "", multiline=bool(f.get("multiline")),
                                   required=bool(f.get("essential")), max_length=4000))
    if easy_variant:
        body.append(toggle("easy", EASY_TOGGLE, easy))
    return card(body, [execute(CREATE, CREATE_VERB, {"doc_type": type_key}, style="positive")],
                fallback_text=f"{type_label}の素案を作成")


def _draft_lines(draft: str) -> list[dict]:
    out: list[dict] = []
    gap = False
    for line in draft.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            gap = True
            continue
        out.append(text(line, spacing="Medium" if gap else "None"))
        gap = False
    return out or [text("（空の文書）", subtle=True)]


def result_card(*, draft_id: int, heading: str, draft: str, issues: Sequence[tuple[str, str]] = (),
                masked_note: str = "", offline: bool = False, easy_variant: bool = False, easy: bool = False,
                references: Sequence[tuple[int, str]] = (), notices: Sequence[str] = ()) -> dict:
    """The draft with its checks, what was masked, the AI reminder (or the template label) and the actions.

    `issues` = [(severity, message)]; `references` = [(position, title)]."""
    body: list[dict] = [title(heading)]
    if offline:
        body.append(text(OFFLINE_TEMPLATE, color="Warning", weight="Bolder"))
    if easy:
        body.append(text(EASY_BADGE, size="Small", color="Accent"))
    for n in notices:
        body.append(text(n, color="Warning", size="Small"))
    body.append(container(_draft_lines(draft), style="emphasis"))
    errs = [m for s, m in issues if s == "error"]
    warns = [m for s, m in issues if s != "error"]
    if errs:
        body.append(container([text(ISSUES_HEADING, weight="Bolder", color="Attention")] +
                              [text(f"・{m}", color="Attention", size="Small") for m in errs], style="attention"))
    if warns:
        body.append(container([text(WARN_HEADING, weight="Bolder", color="Warning")] +
                              [text(f"・{m}", size="Small") for m in warns], style="warning"))
    if references:
        body.append(text(REFERENCES_HEADING, weight="Bolder", spacing="Medium"))
        body.extend(text(f"[{pos}] {name}", size="Small", spacing="None") for pos, name in references)
    if masked_note:
        body.append(note(masked_note))
    if not offline:
        body.append(note(AI_REMINDER))
    data = {"draft_id": draft_id}
    actions = []
    if not offline:
        body.append(input_text("instruction", REVISE_LABEL, multiline=True, max_length=4000))
        actions.append(execute(REVISE, REVISE_VERB, data, style="positive"))
        actions.append(execute(SHORTER, SHORTER_VERB, data))
        actions.append(execute(POLITE, POLITE_VERB, data))
        if easy_variant and not easy:
            actions.append(execute(EASY, EASY_VERB, data))
    actions.append(execute(WORD, DOCX_VERB, data))
    return card(body, actions, fallback_text=heading)


def submitted_card(type_label: str, pairs: Sequence[tuple[str, str]], message: str) -> dict:
    """What replaces the form once it was submitted (so it is not sent twice)."""
    return card([title(f"{type_label}の素案を作成"), facts(pairs), text(message, subtle=True)])
