"""Japanese strings of 画像点検 that the skill sends (the cards' own words are in cards/images.py)."""

USAGE = ("画像点検の使い方：道路や水道管の写真（JPEG・PNG・HEIC）または写真をまとめたzipファイルに「点検」と添えて送って"
         "ください。SharePoint・OneDrive の共有フォルダーのリンクを「/photo リンク」と送るか、リンクに「点検」と添えて送ることもできます。写真ごとに損傷の種類・判定区分・位置を示し、報告書（Excel・Word）の作成とkintoneの補修要望への"
         "登録ができます。")
WORKING = "写真を確認しています（{done}/{total}枚）…"
DOWNLOAD_TOO_LARGE = "「{name}」は大きすぎるため受け取れません（上限は{mb}MBです）。"
DOWNLOAD_REFUSED = "「{name}」は、許可された場所（Teams・SharePoint）から取得できないため受け取れませんでした。"
DOWNLOAD_FAILED = "「{name}」を取得できませんでした。時間をおいて、もう一度お送りください。"
NOT_PHOTO = "「{name}」は写真（JPEG・PNG・HEIC）またはzipファイルではないため、点検していません。"
UNREADABLE = "「{name}」は写真として読み取れませんでした。"
TOO_MANY_PIXELS = "「{name}」は画素数が大きすぎるため読み取っていません（上限は{limit}万画素です）。"
ZIP_REFUSED = "「{name}」はzipファイルとして安全に開けないため、読み取っていません（{why}）。"
ZIP_WHY = {"zip_size": "展開後の合計が大きすぎます", "zip_ratio": "圧縮率が異常に高いファイルが含まれています",
           "zip_members": "ファイル数が多すぎます", "zip_nested": "zipの中にzipなどの圧縮ファイルが含まれています",
           "zip_method": "暗号化または対応していない圧縮方式です", "zip_name": "ファイル名が不正です",
           "zip_broken": "zipファイルが壊れています"}
ZIP_MEMBER_TOO_LARGE = "zip内の「{name}」は大きすぎるため読み取っていません（上限は{mb}MBです）。"
TOO_MANY = "写真が多いため、最初の{n}枚だけを点検しました。残りは分けて送ってください。"
NO_PHOTOS = "点検できる写真がありませんでした。"
MORE_IN_SUMMARY = ("{n}枚目以降の写真のカードは、このカードの「次の{k}枚を表示」で順に表示できます。"
                   "まとめと報告書には、すべての写真を載せています。")
PAGE_NONE = "この点検結果の写真はすべて表示済みです（全{total}枚）。"

NO_LOCATION = "位置情報がありません"
ADDRESS_NEAR = "{address}付近"
NO_TIME = "撮影日時の記録がありません"

OFFLINE = ("損傷の判定には、画像を扱えるAI（ビジョンモデル）が必要です。オフラインモードのため判定していません。"
           "撮影日時・位置情報・縮小画像を表示しています。")
REFUSED = "AIによる判定は行いませんでした（{why}）。撮影日時・位置情報・縮小画像を表示しています。"
BAD_ANSWER = "AIの回答を読み取れなかったため、この写真は判定できませんでした（{why}）。"
AI_FAILED = "この写真はAIによる判定ができませんでした（{why}）。"
BLURRED = "顔と思われる部分を{n}か所ぼかしてからAIに送信しました（位置情報などの撮影情報は送っていません）。"
NOT_BLURRED_APPROVED = "この区分のAIは個人情報を扱うことが認められているため、ぼかさずに送信しました（撮影情報は送っていません）。"
PRIVACY_LIMITS = ("顔の検出は自動のため、小さい顔・横や後ろを向いた顔は見逃すことがあります。車のナンバープレートは"
                  "検出していません。写り込みに注意して送ってください。")

LINK_NO_GRAPH = ("SharePoint・OneDrive のリンクから写真を取得するには Microsoft Graph の設定が必要ですが、"
                 "このシステムでは設定されていません。写真をチャットに直接添付して送ってください。")
LINK_NOT_FOUND = ("リンク先のフォルダーまたは写真が見つからないか、このシステムから参照できませんでした。リンクが正しいか"
                  "確かめるか、写真をチャットに直接添付して送ってください。")
LINK_FAILED = "リンク先の写真を取得できませんでした。時間をおいて、もう一度送信してください。"
LINK_NO_ACCESS = ("「{name}」は、あなたが開けることをリンクから確認できなかったため、取得しませんでした。"
                  "「リンクをコピー」で、組織内のユーザーまたはあなたを対象にした共有リンクを作って送るか、"
                  "写真をチャットに直接添付して送ってください。")
LINK_NOT_PHOTO = "リンク先の「{name}」は写真（JPEG・PNG・HEIC）またはフォルダーではないため、点検していません。"
FOLDER_READ = "共有フォルダー「{name}」の写真{n}枚を点検しました。"
FOLDER_SKIPPED = "写真が多いため、{skipped}枚は点検していません（1つのフォルダーから読み取る上限は{limit}枚です）。フォルダーを分けて送ってください。"
FOLDER_NOT_PHOTOS = "写真ではないファイル{n}件（{names}）は点検していません。"
FOLDER_SUBFOLDERS = "フォルダー内のフォルダー（{n}件）の中は読み取っていません。必要な場合はそのフォルダーのリンクを送ってください。"
FOLDER_UNFINISHED = "フォルダー内のファイルが多いため、一覧の途中までを読み取りました。"

NOT_FOUND = "この点検結果は見つかりませんでした（保存期間が過ぎた可能性があります）。もう一度写真をお送りください。"
REPORT_DONE = "点検報告書を作成しました（写真{n}枚）。"
REPORT_FAILED = "報告書を作成できませんでした。時間をおいて、もう一度お試しください。"
KINTONE_NOT_CONFIGURED = "補修要望のkintoneアプリが設定されていません。管理者にお問い合わせください。"
KINTONE_DONE = "「{name}」をkintoneの補修要望に登録しました（レコード番号：{record}）。"
KINTONE_ALREADY = "「{name}」はすでにkintoneの補修要望に登録しています（レコード番号：{record}）。"
KINTONE_NOTHING = "この写真には登録できる判定結果がありません。"
KINTONE_IN_PROGRESS = "「{name}」は、kintoneへの登録を処理中です。しばらくしてから、もう一度お確かめください。"
KINTONE_BULK_WORKING = "{n}件をkintoneの補修要望に登録しています…"
KINTONE_BULK_DONE = "{grade}以上の写真{n}枚のうち{added}件を、kintoneの補修要望に登録しました（レコード番号：{records}）。"
KINTONE_BULK_SKIPPED = "登録済みの{n}件は、重ねて登録していません。"
KINTONE_BULK_BUSY = "{n}件は別の操作で登録中のため、今回は登録していません。"
KINTONE_BULK_FAILED = "{n}件は登録できませんでした（{why}）。もう一度押すと、登録されていない写真だけを登録します。"
KINTONE_BULK_ALL_DONE = "{grade}以上の写真{n}枚は、すべて登録済みです（重ねて登録していません）。"
KINTONE_BULK_NOTHING = "{grade}以上の損傷が見つかった写真はありません。kintoneには登録していません。"
