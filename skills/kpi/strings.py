"""Japanese strings the KPI / adoption skill shows to staff."""

NOT_ADMIN = ("申し訳ありませんが、/kpi（利用状況の集計）は管理者の方のみご利用いただけます。"
             "集計の確認が必要な場合は、DX推進の担当までお問い合わせください。")
KPI_FAILED = "集計中に問題が発生しました。時間をおいて、もう一度お試しください。"
KPI_USAGE = "使い方：/kpi（集計を表示）、/kpi export（CSVを出力）、/kpi export 2025（2025年度のCSVを出力）"
EXPORT_DONE = "{label}のCSVを出力しました（監査記録・月別集計・月別の部署・機能別集計）。入力された文章は含みません。"
EXPORT_BAD_YEAR = "年度は西暦4桁（2000〜2098）で指定してください（例：/kpi export 2025）。"

QUIZ_UNKNOWN_ROLE = "「{word}」という役割は見つかりませんでした。次の中から選んでください：{roles}"
PERSONAL_ONLY = "{command} は、ほかの方に内容が見えないよう、個人チャットでご利用ください。"

EXAMPLES_UNKNOWN = "「{word}」の活用例は見つかりませんでした。分類：{cats}"
EXAMPLES_EMPTY_RUN = "実行する依頼文が見つかりませんでした。/examples からもう一度お試しください。"

HELPDESK_USAGE = ("使い方：/helpdesk に続けて、AIアシスタントの使い方についての質問を入力してください。"
                  "（例：/helpdesk 通知文の素案を課のひな形に合わせるにはどうすればよいですか）")
HELPDESK_TOO_LONG = "質問が長すぎます。2,000文字以内にまとめて、もう一度お送りください。"
HELPDESK_NOT_CONFIGURED = ("ヘルプデスクの送信先が設定されていないため、質問をお送りできませんでした。"
                           "お手数ですが、DX推進の担当へ直接お問い合わせください。")
HELPDESK_SEND_FAILED = ("ヘルプデスクへの送信に失敗しました。時間をおいて、もう一度お試しください。"
                        "（受付番号 {ticket}）")
HELPDESK_ACCEPTED = ("ヘルプデスクに質問をお送りしました（受付番号 {ticket}）。"
                     "担当者が回答すると、個人チャットにお届けします。")
HELPDESK_PERSONAL_HINT = "回答は個人チャットに届きます。まだアシスタントと個人チャットをしていない場合は、一度話しかけておいてください。"
HELPDESK_ANSWER_EMPTY = "回答が入力されていません。回答を入力してから「回答する」を押してください。"
HELPDESK_NO_TICKET = "この質問は見つかりませんでした。すでに削除された可能性があります。"
HELPDESK_WRONG_PLACE = "この回答ボタンは、ヘルプデスクのチャネルでのみ使えます。"
EXPORT_TOO_LARGE = ("{label}の監査記録は {rows:,}件あり、チャットで送れる量（{limit:,}件）を超えています。"
                    "月別集計のみお送りします。監査記録は管理者用の出力（/admin/audit.csv）からお取り出しください。")
