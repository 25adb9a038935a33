"""Adaptive Cards of the news digest: the digest itself, the settings form, and the sources' health."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Iterable, Sequence

from cards.common import (
    AI_REMINDER,
    card,
    container,
    execute,
    heading,
    input_choice,
    input_text,
    note,
    open_url,
    plain,
    text,
    title,
    toggle,
)
from core.timeutil import JST

LIKE_VERB = "news.like"                  # data: item, items (the ids on the card), day
DISLIKE_VERB = "news.dislike"            # data: item, items, day
SAVE_SETTINGS_VERB = "news.settings.save"   # data: the settings form's inputs
_WEEKDAYS = "月火水木金土日"

# Card wording (skills/news/strings.py re-exports these; cards never import skills).
DIGEST_TITLE = "本日のニュース（{date}）"
DIGEST_EMPTY = "現在、お届けできる新しいニュースはありません。"
DIGEST_INTRO = "{name}さんの担当業務に合わせて選んだニュースです。"
EXTRACT_LABEL = "フィード本文の抜粋（AI要約ではありません）"
AI_SUMMARY_NOTE = "要約はAIが作成しました。正確な内容は必ずリンク先の原文でご確認ください。"
OPEN = "記事を開く"
LIKE = "👍 役に立った"
DISLIKE = "👎 関係ない"
LIKED = "👍 今後、似た記事を優先します。"
DISLIKED = "👎 今後、似た記事を控えめにします。"
ALREADY_PAUSED_NOTE = "（定期配信は一時停止中です。「/news 再開」で再開できます。）"
SETTINGS_TITLE = "ニュース配信の設定"
SOURCES_TITLE = "ニュースの情報源"
STATUS_OK = "正常"
STATUS_NG = "取得できていません"
STATUS_NEW = "未取得"


def day_label(d: date) -> str:
    return f"{d.month}月{d.day}日（{_WEEKDAYS[d.weekday()]}）"


def _when(dt: datetime | None) -> str:
    if dt is None:
        return ""
    j = dt.astimezone(JST) if dt.tzinfo else dt
    if j.hour == 0 and j.minute == 0:
        return f"{j.month}月{j.day}日"
    return f"{j.month}月{j.day}日 {j.hour}:{j.minute:02d}"


def digest_card(digest, *, user_name: str | None = None, reactions: dict[int, str] | None = None,
                paused: bool = False) -> dict:
    """`digest`: skills.news.digest.Digest. `reactions`: item id -> "like" | "dislike" already given."""
    reactions = reactions or {}
    body: list[dict] = [title(DIGEST_TITLE.format(date=day_label(digest.day)))]
    if user_name:
        body.append(text(DIGEST_INTRO.format(name=user_name), subtle=True, spacing="None"))
    if not digest.items:
        body.append(text(DIGEST_EMPTY))
    ids = digest.ids
    for group, ranked in digest.groups():
        body.append(heading(group))
        for r in ranked:
            it = r.item
            items: list[dict] = [
                text(it.title, weight="Bolder"),
                text(" ・ ".join(filter(None, [it.source_title, _when(it.published)])), size="Small", subtle=True,
                     spacing="None"),
                text(it.summary, spacing="Small"),
            ]
            if not it.ai_summary:
                items.append(note(EXTRACT_LABEL))
            actions = []
            if it.url and it.url.startswith(("http://", "https://")):
                actions.append(open_url(OPEN, it.url))
            given = reactions.get(it.id)
            if given == "like":
                items.append(note(LIKED))
            elif given == "dislike":
                items.append(note(DISLIKED))
            else:
                data = {"item": it.id, "items": ids, "day": digest.day.isoformat()}
                actions.append(execute(LIKE, LIKE_VERB, data))
                actions.append(execute(DISLIKE, DISLIKE_VERB, data))
            items.append({"type": "ActionSet", "actions": actions})
            body.append(container(items, separator=True))
    if digest.ai_used:
        body.append(note(AI_SUMMARY_NOTE))
        body.append(note(AI_REMINDER))
    if paused:
        body.append(note(ALREADY_PAUSED_NOTE))
    return card(body, fallback_text=DIGEST_TITLE.format(date=day_label(digest.day)))


def settings_card(profile: Any, *, known_tags: Sequence[str], mail_available: bool, message: str | None = None,
                  error: str | None = None) -> dict:
    """The /news 設定 form. Submits with Action.Execute verb news.settings.save."""
    tags = list(dict.fromkeys([*known_tags, *(profile.tags or [])]))
    body: list[dict] = [title(SETTINGS_TITLE)]
    if message:
        body.append(text(message, color="Good"))
    if error:
        body.append(text(error, color="Attention"))
    body += [
        input_text("keywords", "関心のあるキーワード（読点または改行で区切ります）",
                   value="、".join(profile.keywords or []), placeholder="例: 子育て支援、マイナンバー、防災",
                   multiline=True, max_length=500),
        input_choice("tags", "分野", [(t, t) for t in tags], value=",".join(profile.tags or []), multi=True,
                     expanded=False),
        {"type": "Input.Time", "id": "delivery_time", "label": "配信時刻（平日のみ）",
         "value": profile.delivery_time or "08:30"},
        input_text("department", "所属", value=profile.department or "", max_length=200),
        input_text("job_title", "職名", value=profile.job_title or "", max_length=200),
    ]
    if mail_available:
        body.append(toggle("mail", "メールでも受け取る", bool(profile.mail)))
        body.append(input_text("mail_address", "送信先メールアドレス", value=profile.mail_address or "",
                               placeholder="例: taro@city.amagasaki.hyogo.jp", max_length=300))
    body.append(toggle("paused", "定期配信を一時停止する", bool(profile.paused)))
    if profile.sources:
        body.append(heading("個人で登録した情報源"))
        body.append(text("\n".join(f"- {plain(u, 300)}" for u in profile.sources), trusted=True, size="Small"))
    return card(body, [execute("保存", SAVE_SETTINGS_VERB, {}, style="positive")])


def sources_card(rows: Iterable[Any], *, reason_ja=lambda code, detail: code or "",
                 config_error: str | None = None) -> dict:
    """Health of each source: name, state, last success, last error and consecutive failures.
    `reason_ja(code, detail)` turns the stored error code into Japanese (the skill passes its wording)."""
    body: list[dict] = [title(SOURCES_TITLE)]
    if config_error:
        body.append(text("情報源の設定ファイルに誤りがあるため、前回の設定で動作しています。", color="Attention"))
    for r in rows:
        if r.last_fetched_at is None:
            state, color = STATUS_NEW, None
        elif r.consecutive_failures:
            state, color = STATUS_NG, "Attention"
        else:
            state, color = STATUS_OK, "Good"
        kind = "個人登録" if r.origin == "user" else "共通"
        items = [text(f"{r.title or r.url}（{kind}）", weight="Bolder"),
                 text(state, color=color, spacing="None")]
        facts = [("URL", r.url), ("分野", "、".join(r.tags or []) or "-"),
                 ("最終取得成功", _when(r.last_ok_at) or "-")]
        if r.consecutive_failures:
            code, _, detail = (r.last_error or "").partition("|")
            facts += [("エラー", reason_ja(code, detail) or "-"), ("連続失敗回数", f"{r.consecutive_failures}回"),
                      ("最終エラー", _when(r.last_error_at) or "-")]
        items.append({"type": "FactSet", "facts": [{"title": plain(k, 60), "value": plain(v, 300)} for k, v in facts]})
        body.append(container(items, separator=True))
    return card(body)
