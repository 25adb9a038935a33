"""Cards of 通知・照会と公用文チェック: the /check result (paged suggestions, Word with tracked changes, the document
kind, AI suggestions kept apart), the 通知 reading and the 照会 answer.

Pure functions. Items are dicts the skill formats; every text from a document passes through `plain()`."""
from __future__ import annotations

from typing import Any, Sequence

from cards.common import AI_REMINDER, card, container, execute, facts, heading, note, open_url, text, title

CHECK_PAGE_VERB = "notices.check.page"      # data: check_id, page
CHECK_KIND_VERB = "notices.check.kind"      # data: check_id, kind
CHECK_DOCX_VERB = "notices.check.docx"      # data: check_id, with_ai
CHECK_AI_VERB = "notices.check.ai"          # data: check_id
NOTICE_REMIND_VERB = "notices.notice.remind"  # data: reading_id, due (ISO date)

EXTRACT_LABEL = "【抜粋】要旨と対応事項は本文から抜き出したものです（AIは使用していません）。"
NOTICE_AI_LABEL = "【AIによる要約】要旨と対応事項はAIが作成しました。期限は本文にあるものだけを示しています。"
INQUIRY_EXTRACT_LABEL = "【抜粋】回答案は資料の該当箇所をそのまま記入したものです（AIは使用していません）。"
INQUIRY_AI_LABEL = "【AIによる回答案】回答案はAIが資料から作成しました。出典のない回答は記入していません。"
AUTO_NOTE = "文書番号・関係する課・法令・添付資料は、本文から自動で読み取ったものです。必ず原文で確認してください。"
RULES_LABEL = "【自動チェック】規則に基づく確認です（AIは使用していません）。"
AI_LABEL = "【AIによる提案】規則による指摘とは別に、AIが分かりやすさ・やさしい日本語の観点で提案したものです。"
LEVEL_COLORS = {"fix": "Attention", "advise": "Warning", "review": "Accent"}
MAX_QUOTE = 120


def _quote(s: str | None) -> str:
    s = " ".join(str(s or "").split())
    return s if len(s) <= MAX_QUOTE else s[:MAX_QUOTE - 1] + "…"


def _suggestion(item: dict[str, Any]) -> dict:
    where = f"{item['line']}行目" if item.get("line") else ""
    head = f"{where}　［{item['level_label']}］{item['category']}：{item['title']}"
    change = (f"「{_quote(item['original'])}」→「{_quote(item['replacement'])}」" if item.get("replacement") is not None
              else f"「{_quote(item['original'])}」")
    return container([
        text(head, weight="Bolder", size="Small", color=LEVEL_COLORS.get(item.get("level", ""), None)),
        text(change, spacing="None"),
        text(f"出典：{item['source']}（{item['rule_id']}）", size="Small", subtle=True, spacing="None"),
    ], separator=True)


def check_result_card(*, check_id: int, items: Sequence[dict[str, Any]], total: int, counts: dict[str, int],
                      page: int, pages: int, kind: str, kinds: dict[str, str], name: str = "",
                      ai_available: bool = False, ai_done: bool = False, message: str = "") -> dict:
    """One page of the rule-based suggestions of a /check. `items` = [{line, level, level_label, category, title,
    original, replacement, source, rule_id}]; `counts` = level label -> number; `kinds` = kind -> label."""
    body: list[dict] = [title("公用文チェックの結果"), text(RULES_LABEL, color="Good", size="Small", weight="Bolder")]
    if message:
        body.append(text(message, color="Accent", weight="Bolder"))
    pairs = [("文書", name or "入力された文章"), ("文書の種類", kinds.get(kind, kind))]
    if total:
        pairs.append(("指摘", f"{total}件（" + "・".join(f"{k}{v}件" for k, v in counts.items() if v) + "）"))
    body.append(facts(pairs))
    if not total:
        body.append(text("規則に照らして、直すべき点は見つかりませんでした。", weight="Bolder", color="Good"))
    for item in items:
        body.append(_suggestion(item))
    if pages > 1:
        body.append(text(f"{page + 1}/{pages}ページ", size="Small", subtle=True, spacing="Medium"))
    body.append(note("指摘は機械的な確認の結果です。文脈によっては直さなくてよいものもあります（［要確認］は特に）。"
                     "Wordの変更履歴から一つずつ承諾・元に戻すことができます。"))
    actions: list[dict] = []
    if page > 0:
        actions.append(execute("前へ", CHECK_PAGE_VERB, {"check_id": check_id, "page": page - 1}))
    if page + 1 < pages:
        actions.append(execute("次へ", CHECK_PAGE_VERB, {"check_id": check_id, "page": page + 1}))
    if total:
        actions.append(execute("Word（変更履歴付き）", CHECK_DOCX_VERB, {"check_id": check_id}, style="positive"))
    for other, label in kinds.items():
        if other != kind:
            actions.append(execute(f"{label}として確認", CHECK_KIND_VERB, {"check_id": check_id, "kind": other}))
    if ai_available and not ai_done:
        actions.append(execute("AIによる提案も見る", CHECK_AI_VERB, {"check_id": check_id}))
    return card(body, actions, fallback_text=f"公用文チェックの結果（{total}件）")


def check_ai_card(*, check_id: int, items: Sequence[dict[str, Any]], masked_note: str = "") -> dict:
    """The AI's suggestions on a checked document, apart from the rules' and labelled as AI output. `items` =
    [{original, replacement, reason, aspect}] (aspect: 分かりやすさ / やさしい日本語)."""
    body: list[dict] = [title("AIによる提案（参考）"), text(AI_LABEL, color="Warning", size="Small", weight="Bolder")]
    for item in items:
        body.append(container([
            text(f"［{item['aspect']}］{item['reason']}", weight="Bolder", size="Small"),
            text(f"「{_quote(item['original'])}」→「{_quote(item['replacement'])}」", spacing="None"),
        ], separator=True))
    if masked_note:
        body.append(note(masked_note))
    body.append(note(AI_REMINDER))
    actions = [execute("Word（変更履歴付き・AIの提案を含む）", CHECK_DOCX_VERB, {"check_id": check_id, "with_ai": True})]
    return card(body, actions, fallback_text="AIによる提案")



def notice_card(*, reading_id: int, name: str, title: str, issuer: str, number: str, issued: str,
                summary: Sequence[str], actions: Sequence[dict[str, Any]], sections: Sequence[tuple[str, str]],
                laws: Sequence[tuple[str, str | None]], attachments: Sequence[tuple[str, str]],
                deadlines: Sequence[tuple[str, str, bool]], warnings: Sequence[str] = (), ai: bool = False,
                masked_note: str = "", can_remind: bool = False) -> dict:
    """A 通知 read: the head, 要旨 (3 lines), 対応事項 with 期限, the sections concerned, the laws (linked to e-Gov when
    found), the attachments, and a button per deadline for an Outlook reminder. `actions` = [{text, due, overdue}];
    `sections` = [(name, matched words)]; `laws` = [(name, url or None)]; `deadlines` = [(iso, label, done)]."""
    body: list[dict] = [title_block(title),
                        text(NOTICE_AI_LABEL if ai else EXTRACT_LABEL, color="Warning" if ai else "Good", size="Small",
                             weight="Bolder")]
    pairs = [(k, v) for k, v in (("発信者", issuer), ("文書番号", number), ("日付", issued), ("ファイル", name)) if v]
    if pairs:
        body.append(facts(pairs))
    for w in warnings:
        body.append(text(w, color="Attention", size="Small"))
    body.append(heading("要旨"))
    body.extend(text(line, spacing="Small") for line in summary or ["（要旨を読み取れませんでした）"])
    body.append(heading("対応事項"))
    if not actions:
        body.append(text("本文から対応事項を読み取れませんでした。原文をご確認ください。", subtle=True))
    for a in actions:
        items = [text(f"・{a['text']}", spacing="Small")]
        if a.get("due"):
            items.append(text(f"期限：{a['due']}" + ("（期限を過ぎています）" if a.get("overdue") else ""),
                              size="Small", weight="Bolder", color="Attention" if a.get("overdue") else "Accent",
                              spacing="None"))
        body.append(container(items))
    body.append(heading("関係すると思われる課"))
    if sections:
        body.extend(text(f"{n}（{words}）", size="Small", spacing="Small") for n, words in sections)
    else:
        body.append(text("課のプロファイルの語句が本文に見つからず、判定できませんでした。", size="Small", subtle=True))
    links: list[dict] = []
    if laws:
        body.append(heading("引用されている法令"))
        for law, url in laws:
            body.append(text(law + ("" if url else "（e-Govで確認できませんでした）"), size="Small", spacing="Small"))
            if url and len(links) < 4:
                links.append(open_url(f"e-Gov：{law[:30]}", url))
        if links:
            body.append({"type": "ActionSet", "actions": links})
    if attachments:
        body.append(heading("添付資料"))
        body.extend(text(f"{label}　{t}".strip(), size="Small", spacing="Small") for label, t in attachments)
    body.append(note(AUTO_NOTE))
    if masked_note:
        body.append(note(masked_note))
    if ai:
        body.append(note(AI_REMINDER))
    actions_out = [execute(f"{label}の期限を予定表に登録" + ("（登録済み）" if done else ""), NOTICE_REMIND_VERB,
                           {"reading_id": reading_id, "due": iso})
                   for iso, label, done in deadlines] if can_remind else []
    return card(body, actions_out or None, fallback_text=f"通知の読み取り：{title}")


def title_block(value: str) -> dict:
    return text(value, size="Large", weight="Bolder")


def inquiry_card(*, name: str, issuer: str, drafted: Sequence[tuple[str, str, str, str]],
                 labels: Sequence[tuple[str, str, str]], unfilled: Sequence[tuple[str, str]], answered: int = 0,
                 ai: bool = False, masked_note: str = "") -> dict:
    """A 照会 form answered: the drafted cells (ref, question, answer, source), the cells filled from the profile
    (ref, label, value), and the questions left empty (ref, question). The workbook itself follows as a file."""
    body: list[dict] = [title_block("照会への回答案"),
                        text(INQUIRY_AI_LABEL if ai else INQUIRY_EXTRACT_LABEL, color="Warning" if ai else "Good",
                             size="Small", weight="Bolder"),
                        facts([(k, v) for k, v in (("ファイル", name), ("照会元", issuer or "（読み取れませんでした）"),
                                                   ("回答案を記入", f"{len(drafted) + len(labels)}か所"),
                                                   ("記入できなかった設問", f"{len(unfilled)}件"),
                                                   ("記入済みだった欄", f"{answered}か所")) if v])]
    if drafted:
        body.append(heading("回答案（黄色のセル）"))
    for ref, question, answer, source in drafted:
        body.append(container([text(f"{ref}　{_quote(question)}", size="Small", weight="Bolder"),
                               text(answer, spacing="None"),
                               text(f"出典：{source}", size="Small", subtle=True, spacing="None")], separator=True))
    if labels:
        body.append(heading("自動で記入した欄"))
        body.extend(text(f"{ref}　{label}：{value}", size="Small", spacing="Small") for ref, label, value in labels)
    if unfilled:
        body.append(heading("記入できなかった設問（資料が見つかりませんでした）"))
        body.extend(text(f"{ref}　{_quote(q)}", size="Small", spacing="Small", color="Attention")
                    for ref, q in unfilled)
    body.append(note("回答案は必ず内容を確認し、修正してから提出してください。確認後のファイルに「回答済み」と添えて"
                     "送ると、次に同じ照会元から届く照会の回答案に使います。"))
    if masked_note:
        body.append(note(masked_note))
    if ai:
        body.append(note(AI_REMINDER))
    return card(body, fallback_text=f"照会への回答案：{name}")
