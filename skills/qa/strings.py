"""Japanese strings of the 庁内Q&A skill (card texts live in cards/qa.py, which cannot import skills)."""

DECLINE = "登録文書からは回答できません"   # the phrase the model must use; also shown to the user

USAGE = ("使い方: /ask <質問> で、登録された庁内文書から出典付きで回答します。\n"
         "・/ask sets … 検索できるナレッジセットの一覧\n"
         "・/ask 登録 <セット名> … 文書の登録先を指定（その後、個人チャットでファイルを送信）\n"
         "・/ask 作成 <セット名> … 自分が管理するナレッジセットを作成\n"
         "・/ask 承認済み [セット名] … 職員が承認した回答の一覧・編集・失効・削除（セットの管理者）")
NO_SETS = ("検索できるナレッジセットがまだありません。管理者が文書を登録するまでお待ちいただくか、"
           "担当課に直接お問い合わせください。")
NOT_FOUND = "登録文書からは、このご質問に回答できる内容が見つかりませんでした。"
UNGROUNDED = "登録文書の内容から根拠を確認できる回答を作成できませんでした。誤った案内を避けるため、回答を控えます。"
ESCALATE_OFFER = "担当課の職員に問い合わせることができます。"
ESCALATE_NONE = "問い合わせ先（kintone または担当課のチャネル）が設定されていません。担当課に直接お問い合わせください。"
ESCALATED_KINTONE = "担当課に問い合わせました（受付番号: {record_id}）。回答が届きましたら、このチャットでお知らせします。"
ESCALATED_TEAMS = "担当課のチャネルに問い合わせました。回答が届きましたら、このチャットでお知らせします。"
ESCALATION_RESUMED = ("先ほどのご質問「{question}」を担当課に問い合わせました（受付番号: {record_id}）。"
                      "処理の途中でシステムが再起動したため、お知らせが遅くなりました。回答が届きましたら、このチャットでお知らせします。")
ALREADY_ESCALATED = "このご質問は既に担当課に問い合わせ済みです。回答をお待ちください。"
ALREADY_ANSWERED = "このご質問には既に職員が回答しています。"
QUESTION_GONE = "対象のご質問が見つかりませんでした。もう一度 /ask で質問してください。"
NOT_YOURS = "ほかの方のご質問は問い合わせできません。"
ESCALATE_FAILED = "担当課のチャネルへの送信に失敗しました。時間をおいて、もう一度お試しください。"
STAFF_WRITTEN = "職員が回答した内容です"
STAFF_CARD_DONE = "回答を送信しました。質問者にお届けし、ナレッジセット「{set}」に登録しました。"
STAFF_CARD_DONE_NO_SET = "回答を送信しました。質問者にお届けしました。"
STAFF_ANSWER_EMPTY = "回答を入力してから送信してください。"
STAFF_WRONG_CHANNEL = "この問い合わせには、問い合わせを受けたチャネルから回答してください。"
AI_BUSY_FALLBACK = "代わりに、登録文書の該当しそうな箇所を示します。"

# documents in chat
UPLOAD_PERSONAL_ONLY = "文書の登録は、ボットとの個人チャットでファイルを送信して行ってください。"
UPLOAD_NO_WRITABLE = ("文書を登録できるナレッジセットがありません。ナレッジセットの管理者にメンバー追加を依頼するか、"
                      "/ask 作成 <セット名> で自分のナレッジセットを作成してください。")
UPLOAD_CHOOSE = "登録先のナレッジセットを選んでください。"
UPLOAD_EXPIRED = "ファイルの受付期限が過ぎました。お手数ですが、もう一度ファイルを送信してください。"
UPLOAD_DOWNLOAD_FAILED = "「{name}」を受け取れませんでした。時間をおいて、もう一度送信してください。"
UPLOAD_URL_REFUSED = "「{name}」の取得先がTeamsのファイル保存先ではないため、取得しませんでした。"
UPLOAD_TOO_LARGE = "「{name}」は大きすぎるため登録できません（上限は{mb}MBです）。"
UPLOAD_DONE = {"added": "「{name}」をナレッジセット「{set}」に登録しました（{chunks}件の区画）。",
               "updated": "「{name}」をナレッジセット「{set}」で更新しました（{chunks}件の区画）。",
               "unchanged": "「{name}」はナレッジセット「{set}」に登録済みで、内容に変更はありません。"}
UPLOAD_NOT_WRITABLE = "ナレッジセット「{set}」には文書を登録する権限がありません。"
UPLOAD_TOO_MANY = "一度に登録できるファイルは{n}件までです。最初の{n}件を処理します。"

# sets
SETS_TITLE = "検索できるナレッジセット"
SETS_NONE = "検索できるナレッジセットはまだありません。"
SETS_ALL_STAFF = "全職員"
SETS_MEMBERS = "メンバー限定"
REGISTER_HINT = ("登録先をナレッジセット「{set}」にしました。個人チャットでファイル（PDF、Word、Excel、PowerPoint、HTML、"
                 "テキスト、Markdown）を送信すると、このセットに登録します。")
REGISTER_WHICH = "登録先のナレッジセット名を指定してください（例: /ask 登録 {example}）。登録できるセット: {sets}"
REGISTER_UNKNOWN = "ナレッジセット「{set}」は登録されていません。/ask sets で一覧をご確認ください。"
CREATE_USAGE = "作成するナレッジセットの名前を指定してください（例: /ask 作成 総務課規程）。"
CREATE_DISABLED = "ナレッジセットの作成は管理者が行います。管理者にお問い合わせください。"
CREATED = ("ナレッジセット「{set}」を作成しました。全職員が検索できます。個人チャットでファイルを送信すると、"
           "このセットに登録します。")

OFFLINE_LEAD = "登録文書から、ご質問に関係しそうな箇所を示します。"
DISLIKE_OFFER = "ご評価ありがとうございます。回答が不十分でしたら、担当課の職員に確認できます。"

# approved answers (/ask 承認済み)
APPROVED_WORDS = {"承認済み", "承認済", "approved"}
APPROVED_NO_SETS = ("承認済みの回答を管理できるナレッジセットがありません。ナレッジセットの管理者（所有者・メンバー）"
                    "またはQ&Aの管理者が管理できます。")
APPROVED_NOT_ALLOWED = "ナレッジセット「{set}」の承認済みの回答を管理する権限がありません。"
APPROVED_GONE = "対象の承認済みの回答が見つかりませんでした。既に削除された可能性があります。"
APPROVED_SAVED = "承認済みの回答を保存しました（有効期限: {expires}）。"
APPROVED_EXPIRED = "承認済みの回答を失効させました。以後、この回答で自動的に回答することはありません。"
APPROVED_DELETED = "承認済みの回答を削除しました。"
APPROVED_EMPTY = "質問と回答の両方を入力してください。"
APPROVED_BAD_DATE = "有効期限を日付として読み取れません。カレンダーから選択してください。"
APPROVED_PAST_DATE = "有効期限には今日以降の日付を指定してください。"
APPROVED_CSV_WORDS = "CSVファイルを承認済みの回答として取り込むには、「承認済み <セット名>」と添えて送信してください。"
APPROVED_CSV_ONE = "承認済みの回答として取り込めるのは、一度にCSVファイル1件です。"
APPROVED_CSV_WHICH = ("取り込み先のナレッジセット名を添えて送信してください（例: 承認済み {example}）。"
                      "管理できるセット: {sets}")
APPROVED_CSV_FAILED = "CSVファイルに次の問題があるため、取り込みませんでした（1件も登録していません）。修正して再度送信してください。"
APPROVED_CSV_DONE = "ナレッジセット「{set}」に承認済みの回答を{n}件登録しました。/ask 承認済み {set} で確認できます。"
