"""庁内チャットボット: cited answers from registered documents, escalation to kintone."""
from core.search.ingest import SUPPORTED_EXTENSIONS
from core.skills import Accepts, Command, Job, ReplyPort, Route, Skill, SkillRequest
from skills.qa.escalation import make_poller, run_poller
from skills.qa.handler import VERBS, handle
from skills.qa.http import kintone_webhook


async def on_feedback(req: SkillRequest, reply: ReplyPort, services) -> None:
    """A 👎 on one of this user's /ask answers offers to hand the question to the responsible section."""
    from skills.qa.feedback import escalation_offer

    card = await escalation_offer(services, req.data.get("reply_to_id"), req.user_id, req.data.get("reaction", ""))
    if card:
        await reply.send_card(card)


SKILL = Skill(
    name="qa", title="庁内Q&A",
    description="登録された庁内文書（規程・マニュアル・FAQ）から、出典付きで回答します。",
    commands=[Command("ask", "庁内Q&A", "登録された庁内文書から出典付きで回答します。", usage="/ask <質問> | sets | 登録 <セット名> | 作成 <セット名> | 承認済み [セット名]",
                      aliases=("質問", "問い合わせ"))],
    keywords=("規程", "マニュアル", "手続き", "申請", "どうすれば", "教えて", "とは"),
    examples=("年次休暇の申請方法を教えて", "出張旅費の精算の期限は？"),
    handler=handle,
    verbs=VERBS,
    routes=[Route("POST", "/api/kintone/webhook", kintone_webhook)],
    jobs=[Job("qa-poller", run_poller, enabled=lambda services: make_poller(services) is not None)],
    accepts=Accepts(SUPPORTED_EXTENSIONS + (".csv",),
                    "ナレッジセットに文書を登録し、/ask で検索できるようにします（CSVは承認済みの回答として取り込みます）。",
                    keywords=("登録", "ナレッジ", "検索できるように", "/ask", "承認済み")),
    on_feedback=on_feedback,
    ready=True,
)
