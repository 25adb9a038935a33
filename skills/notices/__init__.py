"""通知・照会と公用文チェック: check what goes out (/check: 公用文 rules, Word revisions), read what arrives (/notice:
要旨, 対応事項 and 期限, who is concerned, laws, attachments), answer what is asked (/inquiry: 照会 forms)."""
from core.skills import Accepts, Command, Job, Skill
from skills.notices.check import purge
from skills.notices.handler import VERBS, handle
from skills.notices.inquiry import purge_answers

SKILL = Skill(
    name="notices", title="通知・照会と公用文チェック",
    description="文書を公用文のきまりに沿って確認し（変更履歴付きのWordで返します）、国・県からの通知を読み取り、照会への回答案を作ります。",
    commands=[
        Command("check", "公用文チェック", "文章やWordファイルを公用文のきまりに沿って確認します。",
                usage="/check [広報] <文章>（またはWordファイルに「チェック」と添えて送信）", aliases=("公用文チェック", "公用文")),
        Command("notice", "通知の読み取り", "国・県からの通知（PDF・Word）の要旨、対応事項と期限、関係課を示します。",
                usage="/notice（通知のファイルに「通知」と添えて送信）", aliases=("通知",)),
        Command("inquiry", "照会への回答", "照会の様式（Excel）に回答案を記入します。",
                usage="/inquiry（照会のExcelファイルに「照会」と添えて送信）", aliases=("照会",), menu=False),
    ],
    handler=handle, verbs=VERBS,
    jobs=[Job("notices-purge", purge, every=3600), Job("notices-answers-purge", purge_answers, every=86400)],
    accepts=Accepts((".docx", ".pdf", ".xlsx"),
                    "Wordファイルは公用文チェック、通知のPDF・Wordは要旨と対応事項の読み取り、照会のExcelは回答案の記入に使います。",
                    keywords=("チェック", "公用文", "校正", "通知", "要旨", "照会", "回答")),
    keywords=("公用文", "表記", "送り仮名", "校正", "通知", "照会"),
    examples=("/check このことについて，下記の通り通知します。", "（通知のPDFに「通知」と添えて送信）"),
)
