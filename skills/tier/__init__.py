"""/tier: the network tier (internet / LGWAN / マイナンバー利用事務系) used for this user's AI requests."""
from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import Field

from cards.tier import LABELS, SET_VERB, tier_card
from core import tiers
from core.carddata import CardData
from core.guard.policy import GuardSettings
from core.llm import TIERS
from core.skills import Command, ReplyPort, Skill, SkillRequest, Verb

_WORDS = {"internet": "internet", "インターネット": "internet", "lgwan": "lgwan", "mynumber": "mynumber",
          "マイナンバー": "mynumber", "標準": "", "default": "", "reset": ""}


async def handle(req: SkillRequest, reply: ReplyPort, services) -> None:
    wanted: str | None = None
    if req.verb == SET_VERB:
        wanted = str(req.data.get("tier") or "")
    elif req.text.strip():
        word = unicodedata.normalize("NFKC", req.text.strip()).lower()
        if word not in _WORDS:
            await reply.send_text("区分は internet・lgwan・mynumber・標準 のいずれかで指定してください。例: /tier lgwan")
            return
        wanted = _WORDS[word]
    available = [(ep.tier, ep.name, ep.personal_data) for ep in services.llm.endpoints]
    message = None
    if wanted is not None:
        if wanted and wanted not in {t for t, _, _ in available}:
            configured = "、".join(LABELS[t] for t in TIERS if t in {a for a, _, _ in available}) or "なし"
            await reply.send_text(f"「{LABELS.get(wanted, wanted)}」で利用できるAIの接続先は設定されていません"
                                  f"（設定済みの区分: {configured}）。")
            return
        await tiers.set_user_tier(services, req.user_id, wanted or None)
        message = f"{LABELS[wanted]}に切り替えました。" if wanted else "標準の区分に戻しました。"
    current = await tiers.user_tier(services, req.user_id)
    card = tier_card(current, services.settings.get(GuardSettings).GUARD_DEFAULT_TIER, available, message=message)
    if req.is_invoke:
        await reply.refresh_card(card)
    else:
        await reply.send_card(card)


class TierData(CardData):
    tier: Annotated[str, Field(max_length=20)] = ""


SKILL = Skill(
    name="tier", title="ネットワーク区分", free_text=False,
    description="AIを利用するネットワーク区分（インターネット接続系・LGWAN接続系・マイナンバー利用事務系）を選びます。",
    commands=[Command("tier", "ネットワーク区分", "AIを利用するネットワーク区分を確認・変更します。",
                      usage="/tier [internet|lgwan|mynumber|標準]", aliases=("区分",), scopes=("personal",),
                      menu=False)],
    handler=handle,
    verbs={SET_VERB: Verb(handle, TierData)},
)
