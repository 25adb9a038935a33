"""A realistic 通知 with at least one instance of every bundled 公用文 rule, and what each finding must be."""

EVERY_RULE = """尼総第123号
令和7年4月1日
各課長 各位様
総務局長

文書事務研修の開催について（通知）

このことについて，下記の通り研修会を開催致しますので、所属職員の参加について御配慮下さい。
研修の内容は、文書事務の取り扱いおよび情報セキュリティとします．
参加できない時は、事前に連絡して頂くようお願いします。
会場の都合上、定員は三十人迄とし、先着順で受け付けます。
昨年度は１２人の方が参加出来ませんでした。
尚、当日は資料を配布する事としております。
研修に参加する為の手続きは、この様に定めます。
報告書は、研修後に提出する物とします。
前回の研修を調査した所、文書の誤りが多い事が分かりました。
説明会は、資料を確認する時間が無い職員にも配慮して行ないます。
研修では、公用文と言う観点から、文書の書き方を学びます。
予め質問を提出してください。
当日は、市長がご出席になられます。
開会に当たり、所長から挨拶させていただきます。
運営を担当した職員には、ご苦労様でしたと声を掛けてください。
障害を持つ職員には、個別に配慮します。
参加者の父兄への案内は不要です。
研修は、本庁舎または北館の会議室で行います。
研修の詳細は後日通知する。
研修では、文書の作成から決裁、施行、保存に至るまでの一連の事務について、具体的な事例を交えながら、担当講師が分かりやすく説明します。

記

1　日時　令和7年5月14日（水）午後2時から午後4時まで
2　場所　本庁舎北館2階 会議室2-1

以上

担当：総務局総務課
電話：06-6489-6186"""

# (rule id, original, replacement) that the check must find in EVERY_RULE; None = pointed at, no replacement
EXPECTED = [
    ("keigo.nijuu", "各位様", "各位"),
    ("kutoten.comma", "，", "、"),
    ("hyoki.toori", "通り", "とおり"),
    ("hyoki.itasu", "致し", "いたし"),
    ("hyoki.kudasai", "下さい", "ください"),
    ("okurigana.fukugo", "取り扱い", "取扱い"),
    ("hyoki.setsuzoku_kanji", "および", "及び"),
    ("kutoten.period", "．", "。"),
    ("hyoki.toki", "時", "とき"),
    ("hyoki.itadaku", "頂く", "いただく"),
    ("suuji.kansuji", "三十", "30"),
    ("hyoki.hyougai", "迄", "まで"),
    ("suuji.width_mix", "１２", "12"),
    ("hyoki.dekiru", "出来", "でき"),
    ("hyoki.setsuzoku_kana", "尚", "なお"),
    ("hyoki.koto", "事", "こと"),
    ("hyoki.tame", "為", "ため"),
    ("okurigana.fukugo", "手続き", "手続"),
    ("hyoki.you", "様", "よう"),
    ("hyoki.mono", "物", "もの"),
    ("hyoki.tokoro", "所", "ところ"),
    ("hyoki.koto", "事", "こと"),
    ("hyoki.aru_nai", "無い", "ない"),
    ("okurigana.honsoku", "行ない", "行い"),
    ("hyoki.iu", "言う", "いう"),
    ("hyoki.hyougai", "予め", "あらかじめ"),
    ("keigo.nijuu", "ご出席になられます", "ご出席になります"),
    ("hyoki.go_mix", "ご", "御"),
    ("keigo.sasete", "させていただきます", "いたします"),
    ("keigo.gokurou", "ご苦労様", "お疲れ様"),
    ("hairyo.phrases", "障害を持つ", "障害のある"),
    ("hairyo.words", "父兄", "保護者"),
    ("hyoki.setsuzoku_kanji", "または", "又は"),
    ("buntai.mix", "研修の詳細は後日通知する。", None),
    ("bun.long", "研修では、文書の作成から決裁、施行、保存に至るまでの一連の事務について、具体的な事例を交えながら、"
                 "担当講師が分かりやすく説明します。", None),
]
