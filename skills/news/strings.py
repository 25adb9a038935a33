"""Japanese text shown to users by the news skill (公用文, 敬体)."""

from cards.news import (  # noqa: F401
    AI_SUMMARY_NOTE,
    ALREADY_PAUSED_NOTE,
    DIGEST_EMPTY,
    DIGEST_INTRO,
    DIGEST_TITLE,
    DISLIKE,
    DISLIKED,
    EXTRACT_LABEL,
    LIKE,
    LIKED,
    OPEN,
    SETTINGS_TITLE,
    SOURCES_TITLE,
    STATUS_NEW,
    STATUS_NG,
    STATUS_OK,
)

OTHER_TAG = "その他"
FETCHING = "ニュースを取得しています。しばらくお待ちください。"
PAUSED = "ニュースの定期配信を一時停止しました。再開するときは「/news 再開」と入力してください。"
RESUMED = "ニュースの定期配信を再開しました。次の営業日の {time} にお届けします。"
USAGE = ("使い方: /news（本日のニュース）、/news 設定、/news 一時停止、/news 再開、/news sources（情報源の状態）、"
         "/news add <URL>（個人の情報源を追加）")
ADD_USAGE = "追加するフィードのURLを「/news add https://…」の形で入力してください。"
ADD_CHECKING = "フィードを確認しています…"
ADD_OK = "情報源「{title}」を追加しました（記事{n}件を確認しました）。次回の配信から反映されます。"
ADD_DUP = "この情報源はすでに登録されています。"
ADD_LIMIT = "個人の情報源は{n}件まで登録できます。不要なものを削除してから追加してください。"
ADD_FAILED = "このURLはフィードとして登録できませんでした。理由: {reason}"
REMOVE_OK = "情報源「{url}」を削除しました。"
REMOVE_NONE = "その情報源は登録されていません。"
SETTINGS_SAVED = "ニュースの設定を保存しました。"
SETTINGS_BAD_TIME = "配信時刻は「08:30」のように、5時から21時までの時刻で指定してください。"
SETTINGS_BAD_MAIL = "メールアドレスの形式が正しくありません。"
FEEDBACK_BAD = "この記事は見つかりませんでした。最新のニュースは /news でご覧ください。"
UNKNOWN = "「{text}」は認識できませんでした。" + USAGE
ALL_SOURCES_FAILED = ("ニュースの情報源{total}件のいずれからも、ニュースを取得できませんでした（ネットワークに接続できない"
                      "可能性があります）。しばらくしてから、もう一度お試しください。情報源ごとの状態と理由は"
                      "「/news sources」でご確認いただけます。")
SOME_SOURCES_FAILED = ("現在、お届けできる新しいニュースはありません。なお、情報源{total}件のうち{failed}件からは、"
                       "ニュースを取得できませんでした。情報源ごとの状態と理由は「/news sources」でご確認いただけます。")
NOT_PERSONAL = "ニュースの設定は個人チャットでご利用ください。"
MAIL_SUBJECT = "【ニュース】本日のニュース（{date}）"

# Why a feed is unhealthy (shown in /news sources and /news add).
REASONS = {
    "blocked": "内部ネットワークなど、接続が許可されていないアドレスです",
    "timeout": "応答が時間内にありませんでした",
    "too_large": "データが大きすぎるため、途中で打ち切りました",
    "http": "サーバーがエラーを返しました（HTTP {detail}）",
    "connect": "サーバーに接続できませんでした",
    "dns": "ホスト名を解決できませんでした",
    "redirects": "転送（リダイレクト）が多すぎます",
    "bad_url": "http または https のURLではありません",
    "parse": "フィードとして読み取れませんでした（{detail}）",
    "empty": "記事が1件も含まれていません",
}


def reason_ja(code: str | None, detail: str = "") -> str:
    if not code:
        return ""
    return REASONS.get(code, "取得に失敗しました").format(detail=detail or "-")
