"""The /tier card: which network tier the user's AI requests use, and which tiers may see personal data."""
from __future__ import annotations

from cards.common import card, container, execute, facts, note, text, title
from core.guard.policy import TIER_LABELS_JA as LABELS

SET_VERB = "tier.set"      # data: tier ("" = back to the default)


def tier_card(current: str | None, default: str, available: list[tuple[str, str, bool]], *,
              message: str | None = None) -> dict:
    """`available`: (tier, endpoint name, personal data allowed) for every configured endpoint."""
    body = [title("AIを利用するネットワーク区分")]
    if message:
        body.append(text(message, color="Good"))
    body.append(facts([("現在の区分", LABELS.get(current or default, current or default)
                        + ("" if current else "（標準）"))]))
    rows = []
    for tier, endpoint, personal in available:
        rows.append(container([
            text(LABELS.get(tier, tier), weight="Bolder"),
            text(f"接続先: {endpoint}　個人情報: " + ("伏せずに送信できます" if personal else "自動で伏せて送信します"),
                 subtle=True, spacing="None")], separator=True))
    if not available:
        rows.append(text("AIの接続先が設定されていません（オフラインモード）。"))
    body.extend(rows)
    body.append(note("個人番号を含む依頼は、選択にかかわらずマイナンバー利用事務系として扱います。"
                     "区分ごとに利用を認められた接続先だけを使います。"))
    actions = [execute(f"{LABELS.get(t, t)}にする", SET_VERB, {"tier": t}) for t, _, _ in available
               if t != (current or default)]
    if current:
        actions.append(execute("標準に戻す", SET_VERB, {"tier": ""}))
    return card(body, actions[:5], fallback_text="AIを利用するネットワーク区分")
