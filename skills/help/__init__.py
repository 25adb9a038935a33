"""/help: the command list generated from the registry (also the answer to unknown commands)."""
from cards.help import help_card
from core.skills import Command, ReplyPort, Skill, SkillRequest


async def handle(req: SkillRequest, reply: ReplyPort, services) -> None:
    card = help_card(services.registry, scope=req.conversation_type, unknown=req.data.get("unknown"),
                     nearest=req.data.get("nearest"), free_text=bool(req.data.get("free_text")),
                     offline=services.ai.offline)
    await reply.send_card(card)


SKILL = Skill(
    name="help", title="ヘルプ", description="使い方とコマンドの一覧を表示します。",
    commands=[Command("help", "ヘルプ", "使い方とコマンドの一覧を表示します。", aliases=("ヘルプ", "使い方"))],
    handler=handle, free_text=False, role="help", keywords=("使い方", "ヘルプ", "何ができる"),
)
