"""Japanese strings of 通知・照会と公用文チェック that the skill sends (the cards' own words are in cards/notices.py)."""

CHECK_USAGE = ("公用文チェックの使い方：/check に続けて文章を貼り付けるか、Word（.docx）ファイルに「チェック」と添えて"
               "送ってください。広報・市民向けの文書は「/check 広報 （文章）」のように種類を付けて送れます。")
CHECK_TOO_LONG = "文章が長すぎます（{n}字まで）。分けて確認してください。"
CHECK_DOCX_ONLY = "公用文チェックで確認できるファイルはWord（.docx）です。「{name}」の文章を貼り付けてお試しください。"
CHECK_DOCX_BROKEN = "「{name}」を読み取れませんでした。Wordで開けることを確認のうえ、もう一度お送りください。"
CHECK_DOCX_EMPTY = "「{name}」に確認できる文章がありませんでした。"
CHECK_DOCX_UNSAFE = ("「{name}」は安全に開けない構造のため（展開後の大きさや圧縮率が通常のWordファイルと異なります）、"
                     "読み取っていません。Wordで保存し直してから、もう一度お送りください。")
CHECK_DOCX_TOO_LARGE = ("「{name}」は公用文チェックで扱える大きさを超えているため、読み取っていません（本文は{n}字までです）。"
                        "文書を分けてお送りください。")
CHECK_DOCX_MACRO = ("「{name}」はマクロを含むWord文書のため、読み取っていません。マクロを含まないWord文書（.docx）として"
                    "保存し直してから、もう一度お送りください。")
CHECK_NOT_FOUND = "この確認結果は見つかりませんでした（保存期間が過ぎた可能性があります）。もう一度 /check でお試しください。"
CHECK_DOCX_FAILED = "Wordファイルを作成できませんでした。時間をおいて、もう一度お試しください。"
CHECK_FILE_DESCRIPTION = ("「{name}」に公用文チェックの指摘を変更履歴（{revisions}件）とコメント（{comments}件）で"
                          "書き込みました。Wordの［校閲］で一つずつ承諾・元に戻すことができます。")
CHECK_NOT_TRACKED = "{n}件は、リンクや書式の都合で変更履歴にできなかったため、コメントだけを付けています。"
CHECK_AI_OFFLINE = "オフラインモードのため、AIによる提案は利用できません（規則による確認の結果はそのままご利用いただけます）。"
CHECK_AI_WORKING = "AIが文章の分かりやすさを確認しています…"
CHECK_AI_NONE = "AIからは、規則による指摘のほかに提案はありませんでした。"
CHECK_AI_BAD = "AIの回答を読み取れませんでした。時間をおいて、もう一度お試しください。"
CHECK_AI_CUT = "文書が長いため、AIは最初の{n}字だけを確認しました。"

FILE_UNKNOWN_USE = ("「{name}」をどのように扱うか分かりませんでした。公用文チェックは「チェック」、通知の読み取りは「通知」、"
                    "照会への回答は「照会」と添えて、もう一度お送りください。")
FILE_PERSONAL_ONLY = "ファイルは個人チャットでお送りください。"
DOWNLOAD_TOO_LARGE = "「{name}」は大きすぎるため受け取れません（上限は{mb}MBです）。"
DOWNLOAD_REFUSED = "「{name}」は、許可された場所（Teams・SharePoint）から取得できないため受け取れませんでした。"
DOWNLOAD_FAILED = "「{name}」を取得できませんでした。時間をおいて、もう一度お送りください。"

NOTICE_USAGE = ("通知の読み取りの使い方：通知のPDFまたはWordファイルに「通知」と添えて送るか、/notice に続けて通知の本文を"
                "貼り付けてください。")
NOTICE_TYPES = "通知の読み取りで扱えるのはPDF・Word（.docx）・テキストのファイルです（「{name}」は扱えません）。"
NOTICE_READING = "通知を読み取っています…"
NOTICE_MODEL_FAILED = "AIによる要旨の作成はできなかったため、本文から抜き出して示しています（{reason}）"
NOTICE_NOT_FOUND = "この通知の読み取り結果は見つかりませんでした（保存期間が過ぎた可能性があります）。もう一度お送りください。"
REMIND_ALREADY = "{day}の期限は、すでに予定表に登録しています。"
REMIND_NO_GRAPH = "予定表への登録は、Microsoft Graphの設定がないため利用できません。期限はカードでご確認ください。"
REMIND_NO_USER = "予定表に登録する利用者を確認できませんでした。Teamsの個人チャットからお試しください。"
REMIND_FAILED = "予定表に登録できませんでした。時間をおいて、もう一度お試しください。"
REMIND_DONE = "Outlookの予定表に{day}の期限を登録しました（リマインダー：{alert}）。"

INQUIRY_XLSX_ONLY = "照会への回答で扱えるのはExcel（.xlsx）の様式です（「{name}」は扱えません）。"
INQUIRY_BROKEN = "「{name}」を読み取れませんでした。Excelで開けることを確認のうえ、もう一度お送りください。"
INQUIRY_UNSAFE = ("「{name}」は安全に開けない構造のため（展開後の大きさや圧縮率が通常のExcelファイルと異なります）、"
                  "読み取っていません。Excelで保存し直してから、もう一度お送りください。")
INQUIRY_TOO_LARGE = ("「{name}」は照会の様式としては大きすぎるため、読み取っていません（シートの内容が展開後{mb}MBを"
                     "超えています）。設問と回答欄のあるシートだけを残して、もう一度お送りください。")
INQUIRY_NO_FIELDS = ("「{name}」から設問と回答欄を見つけられませんでした。「設問」「回答」の見出しがある表か、"
                     "質問の右または下に空欄がある様式でお送りください。")
INQUIRY_WORKING = "照会の設問を確認し、回答案を作成しています…"
INQUIRY_FILE = "回答案を{n}か所に記入しました（黄色のセル。コメントに出典があります）。記入できなかった設問は{m}件です。"
INQUIRY_NO_ISSUER = "「{name}」の照会元（省庁・県など）を読み取れなかったため、回答を記録できませんでした。"
INQUIRY_REMEMBERED = ("{issuer}への回答{n}件を記録しました。次に{issuer}から届く照会では、この回答を回答案に使います"
                      "（記録は一定期間で削除されます）。")
INQUIRY_USAGE = "照会への回答の使い方：照会のExcel（.xlsx）ファイルに「照会」と添えて送ってください。"
