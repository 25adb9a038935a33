"""The HTML mail version of a digest (sent through Graph sendMail). Every feed-supplied string is escaped."""
from __future__ import annotations

from html import escape

from cards.news import day_label
from skills.news import strings as S


def digest_html(digest, *, user_name: str | None = None) -> str:
    parts = ['<html><body style="font-family:\'Yu Gothic\',\'Meiryo\',sans-serif;font-size:14px;color:#222">',
             f"<h2>{escape(S.DIGEST_TITLE.format(date=day_label(digest.day)))}</h2>"]
    if user_name:
        parts.append(f"<p>{escape(S.DIGEST_INTRO.format(name=user_name))}</p>")
    if not digest.items:
        parts.append(f"<p>{escape(S.DIGEST_EMPTY)}</p>")
    for group, ranked in digest.groups():
        parts.append(f'<h3 style="border-bottom:1px solid #ccc">{escape(group)}</h3>')
        for r in ranked:
            it = r.item
            head = escape(it.title)
            if it.url and it.url.startswith(("http://", "https://")):
                head = f'<a href="{escape(it.url, quote=True)}">{head}</a>'
            parts.append(f"<p><b>{head}</b><br><small>{escape(it.source_title)}</small><br>{escape(it.summary)}")
            if not it.ai_summary:
                parts.append(f'<br><small style="color:#666">{escape(S.EXTRACT_LABEL)}</small>')
            parts.append("</p>")
    if digest.ai_used:
        parts.append(f'<p style="color:#666;font-size:12px">{escape(S.AI_SUMMARY_NOTE)}</p>')
    parts.append('<p style="color:#666;font-size:12px">このメールは尼崎市AIアシスタントから自動送信しています。'
                 '配信の設定は Teams で「/news 設定」と入力して変更できます。</p></body></html>')
    return "".join(parts)
