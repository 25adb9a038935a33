"""文書作成支援: drafts of 通知文, お知らせ, 市民対応 replies and 議会答弁 in the city's style."""
from core.skills import Command, Skill
from skills.drafting.handler import VERBS, handle

SKILL = Skill(
    name="drafting", title="文書作成", verb_prefix="draft",
    description="通知文・事務連絡・お知らせ・市民対応の回答・議会答弁・あいさつ文の素案を作成します。",
    commands=[
        Command("draft", "文書作成", "通知文やお知らせなどの素案を作成します。", usage="/draft [文書の種類] [要点]",
                aliases=("文書作成", "下書き")),
        Command("answer", "議会答弁", "議会答弁の素案を作成します。", usage="/answer <質問の要旨>", aliases=("答弁",),
                menu=False),
    ],
    keywords=("通知文", "お知らせ", "下書き", "文案", "答弁", "あいさつ", "事務連絡", "回答文"),
    handler=handle, verbs=VERBS, ready=True,
)
