"""効果測定と利用促進: the city's KPI card, skill check, examples library, help desk."""
from core.skills import Command, Job, Route, Skill
from skills.kpi.handler import VERBS, handle
from skills.kpi.helpdesk import poll_kintone_answers
from skills.kpi.http import audit_csv
from skills.kpi.nudges import nudge_tick
from skills.kpi.settings import settings_of


def _helpdesk_polls(services) -> bool:
    return services.kintone.configured and settings_of(services).HELPDESK_BACKEND == "kintone" \
        and services.kintone.settings.KINTONE_POLL_SECONDS > 0


async def _nudges(services) -> None:
    await nudge_tick(services, services.clock.now())


async def _helpdesk(services) -> None:
    await poll_kintone_answers(services)

SKILL = Skill(
    name="kpi", title="効果測定・利用促進",
    description="AIの利用状況と削減時間の集計、AIスキルチェック、活用例の紹介、ヘルプデスクへの問い合わせができます。",
    commands=[
        Command("kpi", "利用状況", "AIの利用回数・削減時間などの集計を表示します（管理者向け）。", usage="/kpi [export]",
                aliases=("効果測定",), admin_only=True),
        Command("skillcheck", "AIスキルチェック", "安全な使い方と上手な頼み方の確認テストを受けられます。",
                aliases=("スキルチェック",), menu=False),
        Command("examples", "活用例", "すぐに使える依頼文の例を業務別に紹介します。", aliases=("活用例",), menu=False),
        Command("helpdesk", "ヘルプデスク", "使い方の質問をDX推進の担当に問い合わせます。", usage="/helpdesk <質問>",
                aliases=("ヘルプデスク",), menu=False),
    ],
    keywords=("利用状況", "活用例", "使い方を相談"),
    handler=handle,
    verbs=VERBS,
    routes=[Route("GET", "/admin/audit.csv", audit_csv)],
    jobs=[Job("kpi-nudges", _nudges, every=60),
          Job("kpi-helpdesk-kintone", _helpdesk, enabled=_helpdesk_polls,
              every=lambda services: services.kintone.settings.KINTONE_POLL_SECONDS)],
    ready=True,
)
