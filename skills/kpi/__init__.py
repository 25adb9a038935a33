"""効果測定と利用促進: the city's KPI card, skill check, examples library, help desk."""
from core.skills import Command, Skill
from skills.kpi.handler import handle

SKILL = Skill(
    name="kpi", title="効果測定・利用促進",
    description="AIの利用状況と削減時間の集計、AIスキルチェック、活用例の紹介、ヘルプデスクへの問い合わせができます。",
    commands=[
        Command("kpi", "利用状況", "AIの利用回数・削減時間などの集計を表示します（管理者向け）。", usage="/kpi [export]",
                aliases=("効果測定",), admin_only=True),
        Command("skillcheck", "AIスキルチェック", "安全な使い方と上手な頼み方の確認テストを受けられます。",
                aliases=("スキルチェック",)),
        Command("examples", "活用例", "すぐに使える依頼文の例を業務別に紹介します。", aliases=("活用例",)),
        Command("helpdesk", "ヘルプデスク", "使い方の質問をDX推進の担当に問い合わせます。", usage="/helpdesk <質問>",
                aliases=("ヘルプデスク",)),
    ],
    keywords=("利用状況", "活用例", "使い方を相談"),
    handler=handle,
    ready=True,
)
