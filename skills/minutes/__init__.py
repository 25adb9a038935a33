"""会議録・相談記録: Teams meeting transcripts (through Graph), transcripts and recordings sent in chat turned into
the city's 議事録 and 相談記録 (/minutes) — with the model only where the tier allows personal data, else the
automatic (extractive) minutes, labelled."""
from core.skills import Accepts, Command, Skill
from skills.minutes.handler import AUDIO_EXTS, TRANSCRIPT_EXTS, VERBS, handle

SKILL = Skill(
    name="minutes", title="会議録・相談記録",
    description="会議の文字起こしや録音から、市の様式による議事録（会議名・日時・出席者・議事の経過・決定事項・今後の対応）"
                "や相談記録を作成します。Teams会議の文字起こしも取得できます。",
    commands=[
        Command("minutes", "会議録", "会議の文字起こし・録音から議事録（相談の場合は相談記録）を作成します。",
                usage="/minutes [相談] [会議の参加リンク]（会議のチャットでは /minutes のみ。ファイルは個人チャットで送信）",
                aliases=("議事録", "会議録", "相談記録")),
    ],
    handler=handle, verbs=VERBS,
    accepts=Accepts(TRANSCRIPT_EXTS + AUDIO_EXTS,
                    "会議の文字起こし（.vtt・.txt）や録音・録画から、議事録・相談記録を作成します。",
                    keywords=("議事録", "会議録", "文字起こし", "相談記録", "相談", "会議", "録音")),
    keywords=("議事録", "会議録", "文字起こし", "相談記録"),
    examples=("/minutes", "（会議の文字起こし .vtt に「議事録」と添えて送信）"),
)
