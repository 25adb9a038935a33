"""画像点検: road and water-pipe photos checked for damage by a vision model, located from EXIF GPS, reported (Excel,
Word) and registered as 補修要望 in kintone."""
from core.skills import Accepts, Command, Job, Skill, TextRule
from skills.images.handler import EXTENSIONS, VERBS, handle, purge

# A SharePoint/OneDrive sharing link to a folder (:f:), a picture (:i:) or an unclassified file (:u:), or a plain
# address of a photo there, sent with a word asking for a check: this skill's in both modes (not left to the model,
# which sees the link with its digits masked). Links to Word (:w:), Excel (:x:) or PDF (:b:) files are not claimed.
PHOTO_LINK = (r"https://[a-z0-9.-]+\.sharepoint(?:-mil)?\.(?:com|us)/"
              r"(?::[fiu]:/|[^\s<>\"']*\.(?:jpe?g|png|heic|heif)(?:[?#\s<>\"']|$))")
LINK_WORDS = ("点検", "チェック", "判定", "損傷", "診断")

SKILL = Skill(
    name="images", title="画像点検",
    description="道路や水道管の写真から損傷（ひび割れ・ポットホール・腐食・漏水の痕跡など）と判定区分をAIが推定し、"
                "撮影位置を地図で示します。点検報告書（Excel・Word）の作成とkintoneの補修要望への登録ができます。"
                "顔は送信前にぼかし、撮影情報（位置など）はAIに送りません。SharePoint・OneDriveの共有フォルダーのリンクからも"
                "写真を読み取ります。",
    commands=[Command("photo", "画像点検", "道路や水道管の写真（またはzip）の損傷を点検します。",
                      usage="/photo（写真またはzipファイルに「点検」と添えて送信）、/photo 共有フォルダーのリンク", aliases=("画像点検", "写真点検"))],
    handler=handle, verbs=VERBS,
    jobs=[Job("images-purge", purge, every=3600)],
    accepts=Accepts(EXTENSIONS, "道路や水道管の写真の損傷を点検します（JPEG・PNG・HEIC、写真のzip）。",
                    keywords=("点検", "損傷", "ひび割れ", "道路", "水道", "管路", "写真", "画像", "補修")),
    keywords=("点検", "写真を点検", "画像点検", "ひび割れ", "ポットホール", "漏水"),
    rules=(TextRule(PHOTO_LINK, LINK_WORDS),),
    examples=("（道路の写真に「点検」と添えて送信）",),
)
