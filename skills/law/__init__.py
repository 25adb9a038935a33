"""法令検索: Japanese law through the e-Gov 法令API v2."""
from core.skills import Command, Skill
from skills.law.handler import VERBS, handle

SKILL = Skill(
    name="law", title="法令検索",
    description="e-Govの法令データから、キーワードで条文を検索します。",
    commands=[Command("law", "法令検索", "キーワードで法令の条文を検索します。", usage="/law <キーワード>",
                      aliases=("法令",), menu=False)],
    keywords=("法令", "条文", "法律", "条例", "第何条"),
    handler=handle,
    verbs=VERBS,
    ready=True,
)
