"""The /help card, generated from the skill registry."""
from __future__ import annotations

from cards.common import card, container, execute, note, text, title
from cards.kpi import BROWSE_VERB
from core.skills import Registry


def help_card(registry: Registry, *, scope: str = "personal", unknown: str | None = None,
              nearest: list[str] | None = None, free_text: bool = False, offline: bool = False) -> dict:
    body: list[dict] = [title("尼崎市AIアシスタントの使い方")]
    if unknown:
        line = f"「/{unknown}」というコマンドは見つかりませんでした。"
        if nearest:
            line += "もしかして: " + "、".join(nearest)
        body.append(text(line, color="Attention"))
    elif free_text:
        body.append(text("ご依頼の内容に合う機能が見つかりませんでした。下のコマンドからお選びください。"))
    else:
        body.append(text("Teamsのチャットで、次のコマンドを入力してください。個人チャットでは、"
                         "やりたいことをそのまま書いていただいても構いません。"))
    rows: list[dict] = []
    for skill, cmd in registry.commands(scope if scope != "channel" else "team"):
        status = "" if skill.ready and skill.handler else "（準備中）"
        rows.append(container([
            text(f"/{cmd.name}　{cmd.title}{status}", weight="Bolder"),
            text(cmd.description, subtle=True, spacing="None"),
        ] + ([text("例: " + cmd.usage, size="Small", subtle=True, spacing="None")] if cmd.usage else []),
            separator=True))
    body.extend(rows)
    if offline:
        body.append(note("現在はAIに接続していない「オフラインモード」で動いています。文書のひな形や検索結果は"
                         "AIを使わずにお示しします。"))
    body.append(note("個人情報はAIに送る前に自動で伏せます。AIの出力は必ず内容を確認してからご利用ください。"))
    examples = registry.verb(BROWSE_VERB)
    actions = [execute("活用例を見る", BROWSE_VERB)] if examples and examples[0].serves else []
    return card(body, actions, fallback_text="尼崎市AIアシスタントの使い方: /help")
