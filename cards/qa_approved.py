"""Cards of approved answers (/ask): the answer a close question gets from an approved pair, and the management cards
(`/ask 承認済み`: the paged list with 編集 / 失効 / 削除, the edit form, the delete confirmation).

Pure functions. Items are dicts (the skill formats dates): {"id", "set", "question", "answer", "owner", "approved",
"expires", "state"} with state "active" | "expired" | "revoked"."""
from __future__ import annotations

from typing import Any

from cards.common import card, container, execute, facts, heading, input_text, note, plain, text, title
from cards.qa import ESCALATE_VERB

APPROVED_LIST_VERB = "qa.approved.list"
APPROVED_EDIT_VERB = "qa.approved.edit"
APPROVED_EXPIRE_VERB = "qa.approved.expire"
APPROVED_DELETE_VERB = "qa.approved.delete"

APPROVED_LABEL = "職員が承認した回答"
STATE_JA = {"active": "有効", "expired": "期限切れ", "revoked": "失効済み"}


def approved_answer_card(question: str, answer: str, *, owner: str, approved: str, set_label: str, expires: str,
                         question_id: int | None = None, can_escalate: bool = False) -> dict:
    """A question answered from an approved pair (no AI): the answer with who approved it, when, in which set, and
    until when. `question` is the approved pair's question (what the answer was written for)."""
    body: list[dict] = [text(f"【{APPROVED_LABEL}】AIは使用していません。", weight="Bolder", color="Good"),
                        text(answer, spacing="Medium"),
                        facts([("承認された質問", question), ("回答者", owner or "（不明）"), ("承認日", approved),
                               ("ナレッジセット", set_label), ("有効期限", expires or "なし")])]
    if can_escalate and question_id is not None:
        body.append(note("ご質問に合わない場合は、担当課に問い合わせることができます。"))
        actions = [execute("担当課に問い合わせる", ESCALATE_VERB, {"q": question_id})]
    else:
        actions = None
    return card(body, actions, fallback_text=f"{APPROVED_LABEL}: {plain(answer, 100)}")


def _ref(item: dict[str, Any], set_filter: str, page: int) -> dict[str, Any]:
    return {"id": item["id"], "set": set_filter, "page": page}


def approved_list_card(items: list[dict[str, Any]], *, set_filter: str, sets_label: str, page: int, pages: int,
                       total: int, message: str = "") -> dict:
    """`/ask 承認済み`: one page of a set's approved pairs, each with 編集 / 失効 / 削除."""
    body: list[dict] = [title("承認済みの回答")]
    if message:
        body.append(text(message, weight="Bolder", color="Accent"))
    body.append(text(f"ナレッジセット: {sets_label} / {total}件" + (f"（{page + 1}/{pages}ページ）" if pages > 1 else ""),
                     size="Small", subtle=True))
    if not items:
        body.append(text("承認済みの回答はありません。"))
    for it in items:
        actions = [execute("編集", APPROVED_EDIT_VERB, _ref(it, set_filter, page))]
        if it["state"] == "active":
            actions.append(execute("失効", APPROVED_EXPIRE_VERB, _ref(it, set_filter, page)))
        actions.append(execute("削除", APPROVED_DELETE_VERB, _ref(it, set_filter, page), style="destructive"))
        answer = " ".join(str(it["answer"]).split())
        body.append(container([
            text(it["question"], weight="Bolder"),
            text(answer[:200] + ("…" if len(answer) > 200 else ""), spacing="Small"),
            text(f"{STATE_JA.get(it['state'], it['state'])} / {it['set']} / 回答者: {it['owner'] or '（不明）'} / "
                 f"承認日: {it['approved']} / 有効期限: {it['expires'] or 'なし'}", size="Small", subtle=True,
                 spacing="None"),
            {"type": "ActionSet", "actions": actions}], separator=True))
    nav = []
    if page > 0:
        nav.append(execute("前へ", APPROVED_LIST_VERB, {"set": set_filter, "page": page - 1}))
    if page + 1 < pages:
        nav.append(execute("次へ", APPROVED_LIST_VERB, {"set": set_filter, "page": page + 1}))
    body.append(note("失効した回答は、編集して保存すると再び有効になります。CSVファイル（質問,回答[,有効期限]）を"
                     "「承認済み <セット名>」と添えて個人チャットで送信すると、まとめて登録できます。"))
    return card(body, nav or None, fallback_text="承認済みの回答")


def approved_edit_card(item: dict[str, Any], *, set_filter: str, page: int, expires_value: str,
                       error: str = "") -> dict:
    """The edit form of one pair; saving it approves it again (until the date given)."""
    body: list[dict] = [title("承認済みの回答の編集")]
    if error:
        body.append(text(error, weight="Bolder", color="Attention"))
    body += [facts([("ナレッジセット", item["set"]), ("状態", STATE_JA.get(item["state"], item["state"])),
                    ("回答者", item["owner"] or "（不明）")]),
             input_text("question", "質問", value=item["question"], required=True, max_length=1000),
             input_text("answer", "回答", value=item["answer"], multiline=True, required=True, max_length=4000),
             {"type": "Input.Date", "id": "expires", "label": "有効期限（空欄の場合は既定の期間）",
              "value": expires_value}]
    return card(body, [execute("保存する", APPROVED_EDIT_VERB, _ref(item, set_filter, page)),
                       execute("戻る", APPROVED_LIST_VERB, {"set": set_filter, "page": page})],
                fallback_text="承認済みの回答の編集")


def approved_delete_card(item: dict[str, Any], *, set_filter: str, page: int) -> dict:
    """Asks before deleting (a deleted pair cannot be restored; expiring keeps it)."""
    body = [title("承認済みの回答の削除"), heading("質問"), text(item["question"]), heading("回答"), text(item["answer"]),
            text("削除すると元に戻せません（職員の回答としてナレッジセットに登録された文書も削除します）。"
                 "一時的に使わない場合は「失効」をご利用ください。", color="Attention")]
    return card(body, [execute("削除する", APPROVED_DELETE_VERB, {**_ref(item, set_filter, page), "confirm": True},
                               style="destructive"),
                       execute("戻る", APPROVED_LIST_VERB, {"set": set_filter, "page": page})],
                fallback_text="承認済みの回答の削除")
