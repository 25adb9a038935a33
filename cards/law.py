"""Cards of the 法令検索 skill: search results with a button per hit, and one article's text. Pure functions."""
from __future__ import annotations

from typing import Iterable

from cards.common import card, container, execute, heading, note, open_url, text, title

ARTICLE_VERB = "law.article"     # data: law_id, elm, q
SEARCH_VERB = "law.search"       # data: q

RESULTS_NOTE = "e-Gov法令検索（デジタル庁）の法令データです。最新の改正状況は、リンク先の原文でご確認ください。"


def _action_set(actions: list[dict]) -> dict:
    return {"type": "ActionSet", "actions": actions}


def results_card(query: str, hits: Iterable, *, total_note: str = "") -> dict:
    """`hits`: core.law.LawHit. Each hit shows law name, article, excerpt, a link to e-Gov and 「条文を表示」."""
    body: list[dict] = [title(f"法令検索の結果：{query}")]
    if total_note:
        body.append(note(total_note))
    for i, hit in enumerate(hits):
        items = [heading(hit.law_title or hit.law_num or hit.law_id),
                 text(hit.article or "（条以外の箇所）", weight="Bolder", spacing="None"),
                 text(hit.excerpt, max_lines=4, spacing="Small")]
        actions = []
        if hit.elm:
            actions.append(execute("条文を表示", ARTICLE_VERB, {"law_id": hit.law_id, "elm": hit.elm, "q": query}))
        if hit.url:
            actions.append(open_url("e-Govで開く", hit.url))
        if actions:
            items.append(_action_set(actions))
        body.append(container(items, separator=i > 0))
    body.append(note(RESULTS_NOTE))
    return card(body, fallback_text=f"法令検索の結果：{query}")


MAX_ARTICLE_CHARS = 12000   # keep the card well under Teams' ~28 KB message limit


def _article_lines(body: str) -> list[dict]:
    blocks, used = [], 0
    for line in (ln for ln in body.splitlines() if ln.strip()):
        if used + len(line) > MAX_ARTICLE_CHARS:
            blocks.append(note("（以下省略。全文はe-Govの原文でご確認ください。）"))
            break
        blocks.append(text(line, spacing="Small"))
        used += len(line)
    return blocks


def article_card(article, *, query: str = "") -> dict:
    """`article`: core.law.LawArticle. The article's text as e-Gov gives it; a link to the page and a way back."""
    head = " ".join(p for p in (article.article_title, article.caption) if p)
    body = [title(article.law_title or "条文"),
            text(head, weight="Bolder", spacing="Small") if head else None,
            container(_article_lines(article.text)),
            note("出典：e-Gov法令検索。最新の改正状況は、リンク先の原文でご確認ください。")]
    actions = []
    if article.url:
        actions.append(open_url("e-Govで開く", article.url))
    if query:
        actions.append(execute("検索結果に戻る", SEARCH_VERB, {"q": query}))
    return card([b for b in body if b], actions or None, fallback_text=f"{article.law_title} {head}".strip())
