"""Japanese strings of 会議録・相談記録 that the skill sends (the cards' own words are in cards/minutes.py)."""

KIND_JA = {"minutes": "会議の文字起こし", "consultation": "相談の記録"}

USAGE = ("会議録・相談記録の使い方：会議の文字起こし（.vtt・.txt）や録音・録画（.m4a・.mp3・.wav・.mp4・.webm）を個人チャットで"
         "送るか、会議のチャットで /minutes と送ってください。個人チャットでは「/minutes （会議の参加リンク）」でも作成できます。"
         "相談記録にする場合は「相談」と添えてください。")
FILE_TYPES = ("会議録で扱えるのは、文字起こし（.vtt・.txt）と録音・録画（.m4a・.mp3・.wav・.mp4・.webm）のファイルです"
              "（「{name}」は扱えません）。")
DOWNLOAD_TOO_LARGE = "「{name}」は大きすぎるため受け取れません（上限は{mb}MBです）。"
DOWNLOAD_REFUSED = "「{name}」は、許可された場所（Teams・SharePoint）から取得できないため受け取れませんでした。"
DOWNLOAD_FAILED = "「{name}」を取得できませんでした。時間をおいて、もう一度お送りください。"
TRANSCRIPT_UNREADABLE = {
    "encoding": "「{name}」の文字コードを判別できませんでした。UTF-8で保存してお送りください。",
    "not_vtt": "「{name}」はWebVTT形式として読み取れませんでした。Teamsからダウンロードした .vtt ファイルをお送りください。",
    "empty": "「{name}」に発言が見つかりませんでした。",
}
READING = "文字起こしを整えています…"
WRITING = "AIが{what}を作成しています…"
SECTION_PROGRESS = "長い会議のため、区間ごとに要約しています（{i}/{n}区間、{at}から）…"
COMBINE_PROGRESS = "区間ごとの要約をまとめています…"
INPUT_TRANSCRIPT = "会議の文字起こし"
INPUT_SECTIONS = "長い会議を区間ごとに要約したもの"
RETRY_PROMPT = ("出力を読み取れませんでした（{error}）。指示したJSONオブジェクトだけを、もう一度出力してください。")
ANSWER_BAD = ("AIの回答を議事録の形に読み取れなかったため、AIによる作成はできませんでした。"
              "代わりに、文字起こしから自動で抜き出した要約をお示しします。時間をおいて、もう一度お試しください。")
AI_FAILED = "{reason}代わりに、文字起こしから自動で抜き出した要約をお示しします。"
PERSONAL_REFUSED = ("{what}には個人情報が含まれるため、個人情報の取扱いを認められたAIの接続先にだけ送ります。"
                    "この依頼の区分（{tier}）には、そのような接続先が設定されていないため、AIには送信していません。"
                    "文字起こしから自動で抜き出した要約をお示しします。")
PERSONAL_REFUSED_CHOOSE = "個人情報を扱える区分（{tiers}）は /tier で選べます。"
DOCX_DESCRIPTION = "「{title}」の{what}（Word）です。内容を確認のうえ、ご利用ください。"
DOCX_FAILED = "Wordファイルを作成できませんでした。カードの内容をご利用ください。"

NO_GRAPH = ("Teams会議の文字起こしの取得は、Microsoft Graphの設定がないため利用できません。"
            "会議の文字起こし（.vtt）をTeamsからダウンロードして、個人チャットでお送りください。")
NO_MEETING = ("会議を特定できませんでした。会議のチャットで /minutes と送るか、個人チャットで「/minutes （会議の参加リンク）」"
              "と送ってください。")
BAD_LINK = "会議の参加リンクを読み取れませんでした。Teamsの会議出席依頼にある「会議に参加」のリンクをそのまま貼り付けてください。"
MEETING_NOT_FOUND = "この会議は見つかりませんでした（会議の有効期限が過ぎたか、アプリに会議の参照が許可されていない可能性があります）。"
NOT_PARTICIPANT = "この会議の開催者・招待された出席者ではないため、文字起こしを取得できません。"
NO_TRANSCRIPT = ("この会議には、まだ文字起こしがありません。会議中に［文字起こしの開始］を行ったか確認してください"
                 "（文字起こしは会議の終了後に取得できます）。")
GRAPH_FAILED = "Teams会議の文字起こしを取得できませんでした。時間をおいて、もう一度お試しください。"
GRAPH_DENIED = ("Teams会議の文字起こしを取得する権限がありません。管理者に、アプリのアクセス許可とアプリケーション"
                "アクセスポリシーの設定（docs/deploy.md）を依頼してください。")
FETCHING = "Teams会議の文字起こしを取得しています…"

AUDIO_NO_ENDPOINT = ("録音の文字起こしには、この区分（{tier}）で個人情報の取扱いを認められた音声認識の接続先が必要ですが、"
                     "設定されていないため、録音は送信していません。Teamsの文字起こし（.vtt）をお送りいただくか、"
                     "管理者に接続先の設定を依頼してください。")
AUDIO_UNREADABLE = "「{name}」の音声を読み取れませんでした。録音・録画のファイルが壊れていないか確認してください。"
AUDIO_TOO_LONG = "「{name}」は長すぎるため文字起こしできません（{hours}時間までです）。"
AUDIO_SILENT = "「{name}」から発言を聞き取れませんでした。"
AUDIO_PROGRESS = "録音を文字起こししています（{i}/{n}、{at}まで）…"
AUDIO_FAILED = "録音の文字起こしに失敗しました。{reason}"

TODO_NO_GRAPH = "Microsoft To Doへの登録は、Microsoft Graphの設定がないため利用できません。"
TODO_NO_USER = "To Doに登録する利用者を確認できませんでした。Teamsからお試しください。"
TODO_EMPTY = "登録する対応事項がありません。"
TODO_BODY = "会議：{meeting}\n文字起こしの位置：{at}\n期限（発言）：{due}\n（会議録・相談記録から登録）"
TODO_DONE = "Microsoft To Doの「{list}」に「{task}」を登録しました{when}。"
TODO_DENIED = "To Doに登録する権限がありません。管理者にアプリのアクセス許可（Tasks.ReadWrite.All）の設定を依頼してください。"
TODO_FAILED = "To Doに登録できませんでした。時間をおいて、もう一度お試しください。"
