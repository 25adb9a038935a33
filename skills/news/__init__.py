"""ニュース収集AI: a personalised news digest on business-day mornings, in Teams and by mail."""
from core.skills import Command, Job, Skill
from skills.news.handler import VERBS, handle
from skills.news.schedule import run_scheduler
from skills.news.settings import NewsSettings

SKILL = Skill(
    name="news", title="ニュース",
    description="国・県・近隣市などのニュースを、担当業務に合わせて要約してお届けします。",
    commands=[Command("news", "ニュース", "担当業務に合ったニュースの要約を表示します。",
                      usage="/news [設定|一時停止|再開|sources|add <URL>]", aliases=("ニュース",))],
    keywords=("ニュース", "新着", "報道発表", "通知の新着"),
    handler=handle,
    verbs=VERBS,
    jobs=[Job("news-scheduler", run_scheduler,
              enabled=lambda services: services.settings.get(NewsSettings).NEWS_SCHEDULER_ENABLED)],
    ready=True,
)
