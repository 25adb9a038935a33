"""Japanese strings of the 法令検索 skill (the card words live in cards/law.py)."""

USAGE = ("法令を検索するキーワードを入力してください。\n"
         "例：/law 個人情報 利用目的　／　/law 地方自治法 第2条（法令名と条番号で条文を直接表示します）")
NO_HITS = "「{query}」に該当する条文は見つかりませんでした。キーワードを変えてお試しください。"
BAD_ACTION = "この操作に必要な情報が不足しています。もう一度検索からお試しください。"
