"""企画サポートAI: research, outline, report and slides per section."""
from core.skills import Command, Skill
from skills.planning.handler import VERBS, handle

SKILL = Skill(
    name="planning", title="企画サポート", verb_prefix="plan",
    description="テーマに沿って調査し、企画書の構成案・報告書・スライドの素案を作成します。",
    commands=[Command("plan", "企画サポート", "企画の調査と構成案・資料の素案を作成します。", usage="/plan <テーマ>",
                      aliases=("企画",))],
    keywords=("企画", "構成案", "プレゼン", "スライド", "報告書"),
    handler=handle,
    verbs=VERBS,
    ready=True,
)
