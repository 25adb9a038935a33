"""Building blocks for Adaptive Cards (version 1.5, what Teams renders). Pure functions: data in, JSON out.

Text that came from users, feeds or models is passed through `plain()` so that it can neither break the card
JSON nor smuggle markdown links or mentions into it."""
from __future__ import annotations

import re
from typing import Any, Iterable

VERSION = "1.5"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_TEXT = 4000

_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MD = re.compile(r"([\\`*_\[\]<>#|])")


def plain(text: Any, limit: int = MAX_TEXT) -> str:
    """Untrusted text made safe for a TextBlock: control characters removed, markdown neutralised, length capped."""
    s = _CTRL.sub("", str(text if text is not None else ""))
    s = _MD.sub(r"\\\1", s)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


def card(body: list[dict], actions: list[dict] | None = None, *, refresh: dict | None = None,
         fallback_text: str | None = None) -> dict:
    c: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}
    if actions:
        c["actions"] = actions
    if refresh:
        c["refresh"] = refresh
    if fallback_text:
        c["fallbackText"] = fallback_text
    c["msteams"] = {"width": "Full"}
    return c


def text(value: str, *, size: str | None = None, weight: str | None = None, color: str | None = None,
         subtle: bool = False, wrap: bool = True, spacing: str | None = None, trusted: bool = False,
         max_lines: int | None = None) -> dict:
    b: dict[str, Any] = {"type": "TextBlock", "text": value if trusted else plain(value), "wrap": wrap}
    if size:
        b["size"] = size
    if weight:
        b["weight"] = weight
    if color:
        b["color"] = color
    if subtle:
        b["isSubtle"] = True
    if spacing:
        b["spacing"] = spacing
    if max_lines:
        b["maxLines"] = max_lines
    return b


def title(value: str) -> dict:
    return text(value, size="Large", weight="Bolder")


def heading(value: str) -> dict:
    return text(value, size="Medium", weight="Bolder", spacing="Medium")


def facts(pairs: Iterable[tuple[str, str]]) -> dict:
    return {"type": "FactSet", "facts": [{"title": plain(k, 120), "value": plain(v, 500)} for k, v in pairs]}


def execute(title_: str, verb: str, data: dict | None = None, *, style: str | None = None) -> dict:
    """Action.Execute (Universal Actions): arrives as invoke adaptiveCard/action with this verb and data."""
    a: dict[str, Any] = {"type": "Action.Execute", "title": title_, "verb": verb, "data": {"verb": verb, **(data or {})}}
    if style:
        a["style"] = style
    return a


def submit(title_: str, verb: str, data: dict | None = None) -> dict:
    """Action.Submit: arrives as a message whose value carries the verb (for clients without Universal Actions)."""
    return {"type": "Action.Submit", "title": title_, "data": {"verb": verb, **(data or {})}}


def open_url(title_: str, url: str) -> dict:
    return {"type": "Action.OpenUrl", "title": title_, "url": url}


def input_text(id_: str, label: str, *, value: str = "", placeholder: str = "", multiline: bool = False,
               required: bool = False, max_length: int | None = None) -> dict:
    b: dict[str, Any] = {"type": "Input.Text", "id": id_, "label": label, "isMultiline": multiline}
    if value:
        b["value"] = str(value)[: max_length or 5000]
    if placeholder:
        b["placeholder"] = placeholder
    if required:
        b["isRequired"] = True
        b["errorMessage"] = f"{label}を入力してください。"
    if max_length:
        b["maxLength"] = max_length
    return b


def input_choice(id_: str, label: str, choices: list[tuple[str, str]], *, value: str | None = None,
                 multi: bool = False, expanded: bool = False, required: bool = False) -> dict:
    b: dict[str, Any] = {"type": "Input.ChoiceSet", "id": id_, "label": label, "isMultiSelect": multi,
                         "style": "expanded" if expanded else "compact",
                         "choices": [{"title": plain(t, 200), "value": v} for t, v in choices]}
    if value is not None:
        b["value"] = value
    if required:
        b["isRequired"] = True
        b["errorMessage"] = f"{label}を選択してください。"
    return b


def toggle(id_: str, label: str, value: bool) -> dict:
    return {"type": "Input.Toggle", "id": id_, "title": label, "value": "true" if value else "false",
            "valueOn": "true", "valueOff": "false"}


def container(items: list[dict], *, style: str | None = None, separator: bool = False) -> dict:
    c: dict[str, Any] = {"type": "Container", "items": items}
    if style:
        c["style"] = style
    if separator:
        c["separator"] = True
    return c


def note(value: str) -> dict:
    """A small, subtle line (e.g. the AI review reminder or what was masked)."""
    return text(value, size="Small", subtle=True, spacing="Small")


AI_REMINDER = "AIの出力です。内容を確認のうえご利用ください。"
OFFLINE_TEMPLATE = "【テンプレート】AIは使用していません（オフラインモード）。"
OFFLINE_SEARCH = "【検索結果】AIは使用していません（オフラインモード）。該当箇所をそのまま示しています。"
# the same when an LLM is configured but this answer could not use it (refused, unavailable)
SEARCH_ONLY = "【検索結果】AIは使用していません。該当箇所をそのまま示しています。"
# put in the label's heading when the passages were found by keyword (BM25) alone, without the meaning-based search
KEYWORD_ONLY = "キーワード検索のみ"


def search_label(*, offline: bool, keyword_only: bool = False) -> str:
    """OFFLINE_SEARCH or SEARCH_ONLY, saying キーワード検索のみ when no meaning-based (vector) search was used."""
    label = OFFLINE_SEARCH if offline else SEARCH_ONLY
    return label.replace("【検索結果】", f"【検索結果・{KEYWORD_ONLY}】", 1) if keyword_only else label
