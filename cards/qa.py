"""Cards of the 庁内Q&A skill (/ask): answers' companion card, search results, escalation, staff answers, sets.

Pure functions. Passages are `core.search.passages.Passage`; everything taken from documents, questions or answers
goes through `plain()` (via `text()`)."""
from __future__ import annotations

from typing import Any, Iterable

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
    open_url,
    search_label,
    text,
    title,
)
from core.search.passages import Passage, passage_label

ESCALATE_VERB = "qa.escalate"
STAFF_ANSWER_VERB = "qa.staff_answer"
UPLOAD_VERB = "qa.upload"

ESCALATE_BUTTON = "担当課に問い合わせる"
STAFF_WRITTEN = "職員が回答した内容です"


def _escalate_action(question_id: int) -> dict:
    return execute(ESCALATE_BUTTON, ESCALATE_VERB, {"q": question_id})


def _passage_blocks(passages: Iterable[Passage], *, excerpt_chars: int = 400) -> list[dict]:
    out: list[dict] = []
    for p in passages:
        items = [text(f"[{p.n}] {passage_label(p)}", weight="Bolder", spacing="Medium")]
        if p.staff_written:
            items.append(text(STAFF_WRITTEN, size="Small", color="Accent", spacing="None"))
        excerpt = " ".join(p.text.split())
        items.append(text(excerpt[:excerpt_chars] + ("…" if len(excerpt) > excerpt_chars else ""), spacing="Small"))
        if p.web_url:
            items.append({"type": "ActionSet", "actions": [open_url("文書を開く", p.web_url)]})
        out.append(container(items, separator=True))
    return out


def answer_card(question_id: int, *, staff_written: bool = False, masked_note: str = "",
                can_escalate: bool = True) -> dict:
    """The small card under an AI answer (whose text and citations are in the message itself)."""
    body: list[dict] = []
    if staff_written:
        body.append(text(f"※ 出典に{STAFF_WRITTEN}が含まれます。", size="Small", color="Accent"))
    body.append(note(AI_REMINDER))
    if masked_note:
        body.append(note(masked_note))
    if can_escalate:
        body.append(note("回答が不十分な場合は、担当課に問い合わせることができます。"))
    return card(body, [_escalate_action(question_id)] if can_escalate else None,
                fallback_text=AI_REMINDER)


def search_results_card(passages: list[Passage], question_id: int, *, lead: str = "",
                        can_escalate: bool = True, offline: bool = True, keyword_only: bool = False) -> dict:
    """Offline mode (or AI unavailable): the best passages quoted, clearly labelled as search results (and as found
    by keyword search alone when no vectors were used)."""
    label = search_label(offline=offline, keyword_only=keyword_only)
    body: list[dict] = [text(label, weight="Bolder", color="Warning")]
    if lead:
        body.append(text(lead))
    body += _passage_blocks(passages)
    if can_escalate:
        body.append(note("該当する内容がない場合は、担当課に問い合わせることができます。"))
    return card(body, [_escalate_action(question_id)] if can_escalate else None, fallback_text=label)


def declined_card(message: str, question_id: int | None, *, offer: str = "", can_escalate: bool = True,
                  show_message: bool = True) -> dict:
    """No grounded answer: say so plainly and offer the hand-off to staff. `show_message=False` when the message
    already is the text of the activity carrying the card (so it is not shown twice)."""
    body = [text(message, weight="Bolder")] if show_message else []
    if offer:
        body.append(text(offer))
    actions = [_escalate_action(question_id)] if can_escalate and question_id is not None else None
    return card(body, actions, fallback_text=message)


def notice_card(message: str, *, detail: str = "") -> dict:
    """A one-line result (replaces a card after an action)."""
    body = [text(message, weight="Bolder")]
    if detail:
        body.append(text(detail, size="Small", subtle=True))
    return card(body, fallback_text=message)


def staff_question_card(question_id: int, question: str, asker: str, asked_at: str, set_name: str,
                        passages: list[Passage]) -> dict:
    """Posted to the section's Teams channel (fallback when kintone is not configured): staff answer in the card."""
    body: list[dict] = [title("職員への問い合わせ"),
                        facts([("質問者", asker or "（不明）"), ("日時", asked_at), ("ナレッジセット", set_name or "（なし）")]),
                        heading("質問"), text(question)]
    if passages:
        body.append(heading("参考になりそうな登録文書"))
        body += _passage_blocks(passages, excerpt_chars=200)
    body.append(input_text("answer", "回答", multiline=True, required=True, max_length=4000,
                           placeholder="質問者にお届けし、ナレッジセットに職員の回答として登録します。"))
    return card(body, [execute("回答を送信する", STAFF_ANSWER_VERB, {"q": question_id})],
                fallback_text=f"職員への問い合わせ: {question[:100]}")


def staff_answered_card(question: str, answer: str, answered_by: str, result: str) -> dict:
    """What the staff channel's card becomes once answered."""
    return card([title("職員への問い合わせ（回答済み）"), heading("質問"), text(question), heading("回答"), text(answer),
                 facts([("回答者", answered_by or "（不明）")]), note(result)], fallback_text=result)


def delivered_answer_card(question: str, answer: str, *, set_name: str = "") -> dict:
    """Sent proactively to the asker when staff have answered."""
    body = [title("お問い合わせへの回答が届きました"), text("担当課の職員から回答がありました。"), heading("ご質問"), text(question),
            heading("回答"), text(answer), text(STAFF_WRITTEN, size="Small", color="Accent")]
    if set_name:
        body.append(note(f"この回答はナレッジセット「{set_name}」に登録され、次からは /ask で検索できます。"))
    return card(body, fallback_text="お問い合わせへの回答が届きました")


def choose_set_card(file_names: list[str], sets: list[tuple[str, str]], token: str, *, default: str | None = None) -> dict:
    """Several writable sets: choose where the file(s) go. `sets` are (name, title)."""
    body = [text("登録先のナレッジセットを選んでください。", weight="Bolder"),
            facts([("ファイル", "、".join(file_names))]),
            input_choice("set", "登録先", [(f"{t}（{n}）" if t and t != n else n, n) for n, t in sets],
                         value=default or sets[0][0], required=True)]
    return card(body, [execute("登録する", UPLOAD_VERB, {"token": token})], fallback_text="登録先を選んでください。")


def sets_card(rows: list[dict[str, Any]]) -> dict:
    """`/ask sets`: rows {"name", "title", "documents", "access", "writable", "default"}."""
    body: list[dict] = [title("検索できるナレッジセット")]
    if not rows:
        body.append(text("検索できるナレッジセットはまだありません。"))
    for r in rows:
        tags = [r["access"], f"{r['documents']}件の文書"]
        if r.get("writable"):
            tags.append("登録できます")
        if r.get("default"):
            tags.append("このチャネルの既定")
        head = r["name"] if not r.get("title") or r["title"] == r["name"] else f"{r['title']}（{r['name']}）"
        body.append(container([text(head, weight="Bolder"), text(" / ".join(tags), size="Small", subtle=True,
                                                                 spacing="None")], separator=True))
    body.append(note("質問は /ask <質問>、文書の登録は /ask 登録 <セット名> のあと個人チャットでファイルを送信します。"))
    return card(body, fallback_text="検索できるナレッジセット")
