"""Builds tests/core/guard/pii_corpus.jsonl: hand-written sentences of the kind city staff paste (citizen
inquiries, 窓口 notes, 通知文 drafts), filled with invented personal data from the pools below.

Deterministic (seeded). Run `.venv/bin/python tests/core/guard/make_corpus.py` after editing a template; the
JSONL is what the tests read. Each line: {"text": …, "pii": [{"kind": …, "text": …}], "group": …}.
Every value here is invented; 個人番号 values are computed to pass (or, for decoys, to fail) the check digit."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

OUT = Path(__file__).with_name("pii_corpus.jsonl")


def check_digit(first11: str) -> int:
    total = sum(int(first11[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    r = total % 11
    return 0 if r <= 1 else 11 - r


FW = str.maketrans("0123456789-()@.abcdefghijklmnopqrstuvwxyz", "０１２３４５６７８９－（）＠．ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ")

SEI = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田", "山本", "松本", "井上",
       "木村", "林", "清水", "山崎", "森", "池田", "橋本", "阿部", "石川", "前田", "藤田", "小川", "岡田", "後藤",
       "長谷川", "村上", "近藤", "坂本", "遠藤", "青木", "藤井", "西村", "福田", "太田", "三浦", "岡本", "松田",
       "中川", "中野", "原田", "小野", "竹内", "金子", "和田", "中山", "石田", "上田", "森田", "柴田", "酒井",
       "工藤", "横山", "宮崎", "宮本", "内田", "高木", "安藤", "谷口", "大野", "丸山", "今井", "河野", "藤原",
       "佐々木", "東海林", "五十嵐", "西園寺"]
MEI = ["太郎", "花子", "一郎", "由美子", "健太", "美咲", "翔太", "陽菜", "大輔", "真由美", "浩二", "恵子", "拓也",
       "さくら", "直樹", "明美", "誠", "愛", "悠真", "結衣", "和子", "正男", "幸子", "隆", "千尋", "蓮", "陽葵",
       "蒼", "結翔", "湊", "凛", "颯太", "美穂", "達也", "智子", "修", "裕子", "俊介", "絵里", "秀樹"]
KANA = [("ヤマダ", "タロウ"), ("サトウ", "ハナコ"), ("スズキ", "イチロウ"), ("タナカ", "ユミコ"), ("ナカムラ", "ケンタ"),
        ("コバヤシ", "ミサキ"), ("イノウエ", "ショウタ"), ("キムラ", "ヒナ")]
NAME_KANA = [("山田", "太郎", "ヤマダ", "タロウ"), ("佐藤", "花子", "サトウ", "ハナコ"), ("鈴木", "一郎", "スズキ", "イチロウ"),
             ("田中", "由美子", "タナカ", "ユミコ"), ("中村", "健太", "ナカムラ", "ケンタ"), ("小林", "美咲", "コバヤシ", "ミサキ"),
             ("井上", "翔太", "イノウエ", "ショウタ"), ("木村", "陽菜", "キムラ", "ヒナ"), ("長谷川", "湊", "ハセガワ", "ミナト"),
             ("東海林", "結翔", "ショウジ", "ユイト"), ("五十嵐", "凛", "イガラシ", "リン"), ("藤原", "千尋", "フジワラ", "チヒロ")]
FOREIGN = ["グエン・ヴァン・アン", "マリア・サントス", "ジョン・スミス", "キム・ミンジュ", "ワン・リー"]

TOWNS = ["東七松町", "南塚口町", "武庫之荘", "南武庫之荘", "潮江", "塚口本町", "立花町", "水堂町", "大庄北", "浜田町",
         "常光寺", "杭瀬本町", "長洲本通", "昭和通", "神田中通", "西難波町", "東園田町", "若王寺", "上坂部",
         "富松町", "猪名寺", "田能"]
OTHER_CITIES = ["西宮市甲子園町", "伊丹市中央", "大阪市淀川区西中島", "神戸市中央区加納町", "宝塚市栄町",
                "豊中市岡町", "芦屋市大原町"]
BUILDINGS = ["サンハイツ塚口", "コーポ武庫", "グランドメゾン尼崎", "市営住宅", "ハイツ潮江", "パークマンション立花",
             "レジデンス園田"]
SURNAMES_FOR_STAFF = ["岡本", "西村", "堀", "大西", "竹中", "植田"]


class Filler:
    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    # --- personal data --------------------------------------------------------------------------------------
    def name(self) -> str:
        sei, mei = self.r.choice(SEI), self.r.choice(MEI)
        return self.r.choice([f"{sei}{mei}", f"{sei}{mei}", f"{sei} {mei}", f"{sei}　{mei}"])

    def sei(self) -> str:
        return self.r.choice(SEI)

    def kana(self) -> str:
        a, b = self.r.choice(KANA)
        return self.r.choice([f"{a} {b}", f"{a}{b}", f"{a}　{b}"])

    def foreign(self) -> str:
        return self.r.choice(FOREIGN)

    def phone(self) -> str:
        r = self.r
        a, b = r.randint(4000, 6999), r.randint(1000, 9999)
        m1, m2 = r.randint(1000, 9999), r.randint(1000, 9999)
        pre = r.choice(["090", "080", "070"])
        forms = [f"06-{a}-{b}", f"06({a}){b}", f"(06){a}-{b}", f"06{a}{b}", f"{pre}-{m1}-{m2}", f"{pre}{m1}{m2}",
                 f"{pre} {m1} {m2}", f"0798-{r.randint(20, 79)}-{b}", f"072-{r.randint(700, 799)}-{b}",
                 f"0120-{r.randint(100, 999)}-{r.randint(100, 999)}", f"0570-{r.randint(10, 99)}-{b}",
                 f"078（{r.randint(300, 399)}）{b}", f"{pre}-{m1}-{m2}".translate(FW), f"06-{a}-{b}".translate(FW),
                 f"050-{m1}-{m2}", f"+81-90-{m1}-{m2}"]
        return r.choice(forms)

    def mobile(self) -> str:
        r = self.r
        s = f"{r.choice(['090', '080', '070'])}-{r.randint(1000, 9999)}-{r.randint(1000, 9999)}"
        return s.translate(FW) if r.random() < 0.2 else s

    def email(self) -> str:
        r = self.r
        user = r.choice(["yamada.taro", "hanako_s", "k-tanaka", "suzuki1975", "m.kobayashi", "info.kato",
                         "nakamura+city", "w.ito"])
        dom = r.choice(["example.jp", "example.ne.jp", "mail.example.com", "example.co.jp", "docomo.example.ne.jp"])
        s = f"{user}{r.randint(1, 99)}@{dom}"
        return s.translate(FW) if r.random() < 0.15 else s

    def postal(self) -> str:
        r = self.r
        s = f"{r.choice(['660', '661'])}-{r.randint(1, 999):04d}"
        return s.translate(FW) if r.random() < 0.15 else s

    def block(self) -> str:
        r = self.r
        c, b, g = r.randint(1, 9), r.randint(1, 40), r.randint(1, 30)
        return r.choice([f"{c}丁目{b}番{g}号", f"{c}丁目{b}-{g}", f"{c}-{b}-{g}", f"{b}番地", f"{c}丁目{b}番地の{g}",
                         f"{c}-{b}-{g}".translate(FW)])

    def address(self) -> str:
        r = self.r
        town = r.choice(TOWNS)
        blk = self.block()
        if not re.match(r"\d+丁目", blk) and not town.endswith("町") and not blk[0].isdigit():
            blk = f"{r.randint(1, 9)}丁目" + blk
        head = r.choice(["兵庫県尼崎市", "尼崎市", "尼崎市", "兵庫県尼崎市", ""])
        if not head and not (town.endswith("町") or "丁目" in blk):
            head = "尼崎市"
        if r.random() < 0.15:
            head, town = "", r.choice(OTHER_CITIES)
            head = "兵庫県" if not town.startswith(("大阪", "豊中")) else "大阪府"
        addr = f"{head}{town}{blk}"
        x = r.random()
        if x < 0.25:
            addr += f" {r.choice(BUILDINGS)}{r.randint(1, 5)}0{r.randint(1, 9)}号室"
        elif x < 0.35:
            addr += f"{r.choice(BUILDINGS)}"
        return addr

    def birth(self) -> str:
        r = self.r
        y, m, d = r.randint(1, 63), r.randint(1, 12), r.randint(1, 28)
        kan = "〇一二三四五六七八九"

        def kn(n: int) -> str:
            if n < 10:
                return kan[n]
            t, o = divmod(n, 10)
            return ("" if t == 1 else kan[t]) + "十" + (kan[o] if o else "")
        return r.choice([f"昭和{y}年{m}月{d}日", f"平成{r.randint(1, 30)}年{m}月{d}日", f"平成元年{m}月{d}日",
                         f"令和{r.randint(1, 6)}年{m}月{d}日", f"S{y}.{m}.{d}", f"H{r.randint(1, 30)}.{m}.{d}",
                         f"R{r.randint(1, 6)}.{m}.{d}", f"{1930 + y}年{m}月{d}日", f"{1930 + y}/{m:02d}/{d:02d}",
                         f"昭和{kn(y)}年{kn(m)}月{kn(d)}日", f"{1950 + y}-{m:02d}-{d:02d}"])

    def mynumber(self, valid: bool = True) -> str:
        r = self.r
        while True:
            body = "".join(str(r.randint(0, 9)) for _ in range(11))
            cd = check_digit(body)
            last = cd if valid else (cd + r.randint(1, 9)) % 10
            if not valid and last == cd:
                continue
            n = body + str(last)
            break
        return r.choice([n, f"{n[:4]} {n[4:8]} {n[8:]}", f"{n[:4]}-{n[4:8]}-{n[8:]}", n.translate(FW),
                         f"{n[:4]}－{n[4:8]}－{n[8:]}".translate(FW)])

    def digits(self, k: int) -> str:
        return "".join(str(self.r.randint(0, 9)) for _ in range(k))

    # --- decoys ----------------------------------------------------------------------------------------------
    def date(self) -> str:
        r = self.r
        return r.choice([f"令和{r.randint(6, 9)}年{r.randint(1, 12)}月{r.randint(1, 28)}日", f"2026年{r.randint(1, 12)}月1日",
                         f"R{r.randint(6, 8)}.{r.randint(1, 12)}.{r.randint(1, 28)}", f"2025/{r.randint(1, 12):02d}/15"])

    def receipt(self) -> str:
        return self.r.choice([f"R7-{self.digits(6)}", f"{self.r.randint(1, 9)}{self.digits(9)}", f"2026-{self.digits(4)}",
                              f"第{self.r.randint(100, 9999)}号"])

    def amount(self) -> str:
        return self.r.choice([f"{self.r.randint(1, 999)},{self.digits(3)}円", f"{self.r.randint(1, 99)}万円",
                              f"{self.r.randint(100, 9999)}千円"])


# Slot → (kind or None for decoys, filler method). Gold items come from slots whose kind is not None.
SLOTS = {"NAME": ("name", "name"), "NAMEKANA": ("name", None), "SEI": ("name", "sei"), "KANA": ("name", "kana"), "FOREIGN": ("name", "foreign"),
         "STAFF": ("name", None), "PHONE": ("phone", "phone"), "MOBILE": ("phone", "mobile"),
         "EMAIL": ("email", "email"), "POSTAL": ("postal", "postal"), "ADDR": ("address", "address"),
         "BIRTH": ("birthdate", "birth"), "MYNUM": ("mynumber", "mynumber"), "ATENA": ("custom", None),
         "HIHO": ("custom", None), "BADNUM": (None, None), "CORP": (None, None), "DATE": (None, "date"), "RECEIPT": (None, "receipt"),
         "AMOUNT": (None, "amount")}

# (group, template, instances)
TEMPLATES: list[tuple[str, str, int]] = [
    # --- citizen inquiries (電話・メール) ---
    ("inquiry", "{NAME}様から児童手当の申請状況について問い合わせがありました。折り返し先は{PHONE}です。", 3),
    ("inquiry", "{SEI}さんより、住民票の写しを郵送で請求したいとの相談。送付先は〒{POSTAL} {ADDR}です。", 3),
    ("inquiry", "固定資産税の納付書が届かないとの連絡。納税者：{NAME}、連絡先{MOBILE}。", 3),
    ("inquiry", "{NAME}さん（{BIRTH}生）から、国民健康保険の保険証についてメール（{EMAIL}）で問い合わせがありました。", 3),
    ("inquiry", "ごみの収集日について{SEI}様から電話。自宅は{ADDR}で、収集所の場所が分からないとのことです。", 3),
    ("inquiry", "市民の方から、粗大ごみの申込方法が分からないとのお電話がありました。お名前は{NAME}さん、電話番号は{PHONE}です。", 3),
    ("inquiry", "{EMAIL}から、保育所の入所申込に必要な書類について問い合わせが届いています。", 2),
    ("inquiry", "返信先メールアドレス：{EMAIL}（{NAME}様）", 2),
    ("inquiry", "{NAME}様より、介護保険料の減免について相談したいので{PHONE}まで連絡がほしいとのことです。", 3),
    ("inquiry", "お問い合わせ者：{NAME}　電話：{PHONE}　内容：放置自転車の撤去依頼", 3),
    ("inquiry", "{SEI}さんのお宅（{ADDR}）の前の道路に穴があいているとの通報がありました。", 2),
    ("inquiry", "昨日お電話いただいた{NAME}様への回答案を作成してください。連絡先は{MOBILE}です。", 2),
    ("inquiry", "{FOREIGN}さんから、在留カードの住所変更の手続きについて英語で問い合わせがありました。電話{PHONE}。", 2),
    ("inquiry", "マイナンバーカードの暗証番号を忘れたと{NAME}さんから電話。個人番号は{MYNUM}とのこと。", 3),
    ("inquiry", "{NAME}様の個人番号{MYNUM}について、通知カードの記載内容の確認依頼がありました。", 2),
    ("inquiry", "ご相談者の{SEI}様は、{ADDR}にお住まいで、生年月日は{BIRTH}です。", 3),
    ("inquiry", "{NAME}さんから犬の登録について。住所{ADDR}、電話{PHONE}。", 2),
    # --- 窓口 notes ---
    ("counter", "【窓口記録】{NAMEKANA}様、{BIRTH}生まれ。転入届を受理。新住所：{ADDR}", 3),
    ("counter", "本日来庁された{NAME}さんは、生年月日{BIRTH}、住所{ADDR}です。所得証明書を交付しました。", 3),
    ("counter", "氏名：{NAME}\n住所：{ADDR}\n電話：{PHONE}\n相談内容：生活保護の申請について", 3),
    ("counter", "申請者：{NAME}　生年月日：{BIRTH}　個人番号：{MYNUM}", 3),
    ("counter", "{NAME}様（{BIRTH}生）の国民年金の免除申請を受け付けました。宛名番号：{ATENA}", 3),
    ("counter", "被保険者番号{HIHO}の{NAME}さんについて、介護認定の更新申請がありました。", 3),
    ("counter", "窓口で{SEI}さんが、母親の{NAME}さんの代理で印鑑登録証明書を請求されました。", 2),
    ("counter", "相談者：{NAMEKANA}\n連絡先：{MOBILE}\nメール：{EMAIL}", 3),
    ("counter", "{NAME}氏より、{ADDR}の空き家の管理について相談がありました。", 2),
    ("counter", "世帯主 {NAME}、長女 {NAME}（{BIRTH}生）の2人世帯。", 2),
    ("counter", "受付番号{RECEIPT}、申請者{NAME}様、宛名番号{ATENA}、手数料{AMOUNT}を収納済み。", 3),
    ("counter", "転出先：〒{POSTAL} {ADDR}　転出予定日：{DATE}", 3),
    ("counter", "{NAME}くん（{BIRTH}生まれ）の就学援助の申請書を受け付けました。保護者は{NAME}さんです。", 2),
    ("counter", "{SEI}課長への引継ぎ：{NAME}様の件は{DATE}までに回答予定です。", 2),
    ("counter", "担当：福祉課 {SEI}（内線1234）", 2),
    ("counter", "電話があったことを{SEI}さんにお伝えください。{NAME}様の携帯は{MOBILE}です。", 2),
    ("counter", "生年月日が{BIRTH}の方で、氏名が{NAME}の方の記録を確認しています。", 2),
    ("counter", "個人番号カード交付：{NAME}様　個人番号 {MYNUM}　交付日 {DATE}", 3),
    ("counter", "{NAME}様は{ADDR}から{ADDR}へ市内転居されました。", 2),
    ("counter", "メモ：{PHONE}（{SEI}様・日中連絡可）", 3),
    # --- 通知文・文書案 ---
    ("notice", "{NAME}　様\n\n令和7年度 市民税・県民税の申告について（通知）", 3),
    ("notice", "〒{POSTAL}\n{ADDR}\n{NAME}　様", 3),
    ("notice", "{NAME}様あての通知文を作成してください。送付先は{ADDR}、期限は{DATE}です。", 3),
    ("notice", "下記の方について、住所の確認をお願いします。\n記\n1 氏名 {NAME}\n2 生年月日 {BIRTH}\n3 住所 {ADDR}", 3),
    ("notice", "拝啓　{NAME}様におかれましては、ますますご清祥のこととお喜び申し上げます。", 2),
    ("notice", "督促状の送付先：{ADDR}　{NAME}様（宛名番号：{ATENA}）", 2),
    ("notice", "{NAME}様（{EMAIL}）に、面談日程の案内をメールで送る文面を作ってください。", 3),
    ("notice", "以下の文章を丁寧な表現に直してください。「{NAME}さんへ。書類が足りません。{DATE}までに持ってきてください。電話{PHONE}」", 3),
    ("notice", "この内容を要約してください：{NAME}様（{BIRTH}生まれ、{ADDR}在住）から、隣家の騒音について苦情がありました。", 3),
    ("notice", "高齢者見守り訪問の記録。訪問先：{ADDR}、対象者：{NAME}様（{BIRTH}生）、緊急連絡先：長男{NAME}様 {PHONE}", 3),
    ("notice", "被保険者番号：{HIHO}\n氏名：{NAME}\n生年月日：{BIRTH}", 2),
    ("notice", "{KANA}様へのお知らせ文を、やさしい日本語で書いてください。", 2),
    ("notice", "問合せ先　市民課　{SEI}　電話 06-6375-5639（代表）", 2),
    ("notice", "児童の{NAME}ちゃん（{BIRTH}生）について、保育所から連絡がありました。", 2),
    ("notice", "{ADDR}にお住まいの{NAME}様から、{DATE}付けで情報公開請求がありました。", 2),
    # --- second batch (written after the detector was first tuned; kept to keep the scores honest) ---
    ("inquiry", "先ほど{NAME}と名乗る方から電話があり、{DATE}の説明会に参加したいとのことでした。携帯{MOBILE}。", 2),
    ("inquiry", "{SEI}です。昨日の件で折り返しお電話ください。{PHONE}", 2),
    ("inquiry", "自治会長の{NAME}さんから、{ADDR}付近の街灯が切れているとの連絡がありました。", 2),
    ("inquiry", "子どもの予防接種について、母親の{NAME}さん（連絡先：{MOBILE}）から質問がありました。", 2),
    ("inquiry", "税証明の郵送請求。請求者{NAME}、返送先〒{POSTAL}{ADDR}、電話{PHONE}。", 3),
    ("inquiry", "{EMAIL} 宛てに、申請書の様式を送付してください。", 3),
    ("inquiry", "メールアドレスを{EMAIL}に変更したいとの申出がありました。", 3),
    ("inquiry", "転送をお願いします。差出人：{NAME} <{EMAIL}>", 3),
    ("inquiry", "マイナンバー：{MYNUM}、氏名：{NAME}の方の所得照会をお願いします。", 3),
    ("inquiry", "個人番号（{MYNUM}）を記載した申請書が届きました。", 3),
    ("inquiry", "{MYNUM}は{NAME}さんのマイナンバーです。", 3),
    ("inquiry", "番号確認のため、{NAME}様の通知カード（番号{MYNUM}）の写しを受領しました。", 3),
    ("inquiry", "郵便番号{POSTAL}、住所{ADDR}で登録されています。", 3),
    ("inquiry", "〒{POSTAL}の地域で郵便の配達が遅れているとの苦情がありました。", 3),
    ("inquiry", "転居後の郵便番号は〒{POSTAL}とのことです。", 3),
    ("counter", "{NAME}様の生年月日（{BIRTH}）を住基システムで確認しました。", 2),
    ("counter", "{BIRTH}生、{SEI}様、女性、要介護2。", 2),
    ("counter", "誕生日：{BIRTH}", 2),
    ("counter", "被保険者：{NAME}（{BIRTH}生）　被保険者番号：{HIHO}", 2),
    ("counter", "保育料の算定で、{NAME}ちゃん（{BIRTH}生まれ）の兄弟数を確認しています。", 2),
    ("counter", "{ADDR}の{NAME}様宅を訪問しましたが、不在でした。", 2),
    ("counter", "空き家の所有者は{NAME}氏（住所：{ADDR}）と判明しました。", 2),
    ("counter", "{NAME}議員から、{DATE}の委員会で質問する予定との連絡がありました。", 1),
    ("counter", "文書の宛先を「{NAME}様」から「{NAME}様」に修正してください。", 2),
    ("counter", "{KANA}さん、お電話ありがとうございました。", 2),
    ("counter", "{FOREIGN}様から外国人住民票の写しの請求がありました。", 2),
    ("counter", "学童保育の申込：児童名 {NAME}、保護者 {NAME}、電話 {PHONE}", 2),
    ("counter", "道路占用許可の申請者は{NAME}（{ADDR}）です。", 2),
    ("counter", "{SEI}主査が{DATE}に現地調査を行います。", 1),
    ("counter", "ご本人（{NAME}様、{BIRTH}生）の同意を得ています。", 2),
    ("notice", "連絡先：{PHONE}（内線なし）/ {EMAIL}", 3),
    ("notice", "FAX {PHONE} へ送付済み。", 2),
    ("notice", "緊急時は{MOBILE}（{NAME}）へ連絡してください。", 2),
    ("notice", "電話番号：{PHONE}\nメールアドレス：{EMAIL}\n郵便番号：{POSTAL}", 3),
    ("notice", "送付先一覧\n・{NAME}様　〒{POSTAL}　{ADDR}\n・{NAME}様　〒{POSTAL}　{ADDR}", 2),
]

# Sentences without personal data (expected unchanged), and decoys that look like it but are not.
CLEAN = [
    "燃えるごみは月曜日と木曜日の朝8時30分までに出してください。",
    "令和8年度の予算要求の締切は10月31日です。",
    "2026年4月1日から、証明書のコンビニ交付の手数料が変わります。",
    "この通知文を、中学生にも分かるやさしい表現に直してください。",
    "会議は令和7年11月5日（水）午後2時から、北館2階会議室で開催します。",
    "市民の皆様のご協力をお願いいたします。",
    "お客様各位　システムメンテナンスのお知らせ",
    "担当者様のご都合のよい日時をお知らせください。",
    "お母さんと一緒に来庁された場合も手続きできます。",
    "大家さんの同意書が必要かどうか教えてください。",
    "塚口さんさんタウンで出張窓口を開設します。",
    "立花駅の北側に臨時駐輪場を設けます。",
    "園田競馬場の周辺道路で交通規制があります。",
    "尼崎の魅力を発信するSNS投稿の案を考えてください。",
    "阪神尼崎駅から市役所までは徒歩約15分です。",
    "地方自治法第2条第3号の規定により処理します。",
    "地方税法第20条の2第1項に基づき、延滞金を計算します。",
    "事業費は1,234,567円で、前年度比3.5%の増です。",
    "受付件数は前年同月比で120件増えました。",
    "マイナンバーカードの申請方法について、案内文を作ってください。",
    "個人番号を記載する欄がある様式の一覧を作ってください。",
    "生年月日の記載が必要な申請書はどれですか。",
    "電話番号の欄は任意記入としてください。",
    "メールアドレスの入力チェックの仕様を教えてください。",
    "郵便番号から住所を自動入力する機能はありますか。",
    "第3期尼崎市総合計画の進捗状況をまとめてください。",
    "議会答弁の案を、です・ます調で作成してください。",
    "子育て支援の新しい施策を3つ提案してください。",
    "この条例の第5条と第6条の違いを説明してください。",
    "令和6年度決算では、歳入総額が2,345億円となりました。",
    "窓口の混雑状況を毎日午前9時に更新します。",
    "台風接近に伴い、明日の説明会は中止とします。",
    "申請期限は令和7年6月30日までです。",
    "昭和の時代に建てられた公共施設の更新計画を説明してください。",
    "平成30年の大雨の被害状況を振り返る資料を作ってください。",
    "2025年度の実績と2026年度の目標を表にしてください。",
    "電話対応マニュアルの改訂案をレビューしてください。",
    "本件の担当は市民協働局です。",
    "4月1日以降に転入された方が対象です。",
    "小学校の給食費は月額4,500円です。",
    "児童手当の支給日は6月、10月、2月の各10日です。",
    "新庁舎の工事は令和9年3月に完了する予定です。",
    "市長の定例記者会見の要旨をまとめてください。",
    "各課の皆さん、今週中に回答をお願いします。",
    "市役所の所在地は兵庫県尼崎市東七松町1丁目23番1号です。",
    "市役所代表電話：06-6375-5639（平日8時45分～17時30分）",
    "〒660-8501 兵庫県尼崎市東七松町1丁目23番1号 尼崎市役所",
    "ご不明な点は、尼崎市役所（06-6375-5639）までお問い合わせください。",
    "東七松町1丁目23番1号の本庁舎北館で受け付けます。",
    "受付番号は{BADNUM}です。",
    "照会番号{BADNUM}の件について回答します。",
    "振込依頼番号 {BADNUM} をご確認ください。",
    "受付番号{RECEIPT}の申請は審査中です。",
    "交付予定日は{DATE}です。",
    "{DATE}から新しい様式を使用します。",
    "{DATE}付けで異動となりました。",
    "補助金額は{AMOUNT}です。",
    "見積額{AMOUNT}で契約しました。",
    "健康診断は毎年1回受診してください。",
    "図書館の開館時間は午前9時30分から午後7時までです。",
    "市内の小中学校は全部で60校あります。",
    "尼崎市内で3か所の避難所を開設しました。",
    "説明会の参加者は約80人でした。",
    "文書番号：尼市第1234号",
    "課長決裁を経て、部長決裁に回してください。",
    "職員研修の日程調整をお願いします。",
    "子ども家庭センターの相談件数をグラフにしてください。",
    "新年度の組織改正に伴い、内線番号が変わります。",
    "申請書は3部提出してください。",
    "固定資産税の納期限は4月30日です。",
    "この資料の誤字脱字をチェックしてください。",
    "ふるさと納税の返礼品の候補を考えてください。",
    "市営住宅の入居者募集は年4回行っています。",
    "防災行政無線の放送内容を考えてください。",
    "令和7年10月1日現在の人口は約45万人です。",
    # second batch
    "電話番号は06-XXXX-XXXXの形式で入力してください。",
    "受付時間：平日9時～17時（12時～13時を除く）",
    "令和7年度第2回尼崎市地域福祉推進協議会の議事録を要約してください。",
    "昭和50年代に整備された下水道管の更新が必要です。",
    "1990年代から人口は減少傾向にあります。",
    "2025年10月1日時点の待機児童数は0人です。",
    "第2期計画（令和3年度～令和7年度）の振り返りを書いてください。",
    "国勢調査の結果、世帯数は220,000世帯を超えました。",
    "法人番号{CORP}の事業者から入札参加資格の申請がありました。",
    "請求書番号 INV-2026-000123 の支払処理をお願いします。",
    "3-2-1の順に並べてください。",
    "お問い合わせは市民課（内線2345）までお願いします。",
    "健康増進課の皆さん、お疲れさまです。",
    "皆さんのご意見を募集します。",
    "お子さんの予防接種のスケジュールを説明してください。",
    "ご家族様の同意書を添付してください。",
    "西宮市長と尼崎市長が共同で記者会見を行いました。",
    "伊丹市、宝塚市、川西市の3市で協議しました。",
    "阪神間の7市1町で連携して取り組みます。",
    "住所変更の手続きに必要なものを教えてください。",
    "転入届は引っ越してから14日以内に出してください。",
    "氏名の欄は楷書で記入してください。",
    "生年月日欄は和暦で記入してください。",
    "令和8年1月1日時点で尼崎市に住所がある方が対象です。",
    "杭瀬本町の商店街で夏祭りを行います。",
    "武庫之荘駅前の放置自転車を撤去しました。",
    "さくら保育園の園庭開放のお知らせを作ってください。",
    "平和公園で式典を行います。",
    "森林環境譲与税の使途を説明してください。",
    "今年度の出生数は前年度より5%減りました。",
    "生まれ育ったまちへの愛着を高める施策を考えてください。",
    "受付番号{BADNUM}（再発行）",
    "支払番号：{BADNUM}",
    "整理番号{BADNUM}の書類を返送します。",
    "振替日は{DATE}です。",
    "契約期間は{DATE}から1年間です。",
    "郵便料金は84円です。",
    "市内に郵便局は60か所あります。",
    "3丁目から5丁目までの区域で断水があります。",
    "1番から10番までの設問に回答してください。",
]


# Free-form sentences written in one go after tuning, annotated by hand (no template, no pool): a check that the
# detector is not only fitted to the templates above.
FREEFORM: list[tuple[str, list[tuple[str, str]]]] = [
    ("先週の金曜日に、森本さんという70代の女性から、夫の年金の手続きについて問い合わせがありました。", [("name", "森本")]),
    ("折り返しは自宅の06-6421-7788へ、午後なら在宅とのことです。", [("phone", "06-6421-7788")]),
    ("相談記録：相談者は西田和夫さん（昭和28年5月2日生）、妻の西田節子さんと二人暮らし。", [
        ("name", "西田和夫"), ("birthdate", "昭和28年5月2日"), ("name", "西田節子")]),
    ("上記の者の住所は尼崎市大庄西町3丁目8番12号であることを証明します。", [("address", "尼崎市大庄西町3丁目8番12号")]),
    ("メールで回答希望（tomoko.fujii@example.ne.jp）。", [("email", "tomoko.fujii@example.ne.jp")]),
    ("市税の還付金について、口座名義人の確認が取れていないため、大塚様に連絡してください。", [("name", "大塚")]),
    ("個人番号カードの交付通知書を紛失したとのことで、番号 4617 2290 8531 を控えていました。", []),
    ("要配慮者名簿：桑原ミツ子（91歳）、独居、尼崎市東難波町4丁目2番5号", [
        ("name", "桑原ミツ子"), ("address", "尼崎市東難波町4丁目2番5号")]),
    ("上司への報告：本日、野村さん親子が来庁し、転校手続きを済ませました。", [("name", "野村")]),
    ("先方の担当は株式会社アマガサキ設備の吉川さん（090-8812-3345）です。", [("name", "吉川"), ("phone", "090-8812-3345")]),
    ("〒661-0976 尼崎市潮江1丁目4番1号 アミング潮江ウエスト1番館302号室 宛に再送してください。", [
        ("postal", "661-0976"), ("address", "尼崎市潮江1丁目4番1号 アミング潮江ウエスト1番館302号室")]),
    ("本日の来庁者数は午前が124人、午後が98人でした。", []),
    ("7月20日（日）に小田地区会館で防災訓練を行います。", []),
    ("生年月日は平成12年8月30日、性別は男です。", [("birthdate", "平成12年8月30日")]),
    ("保護者連絡先：090-3321-0098（母・浅野）", [("phone", "090-3321-0098"), ("name", "浅野")]),
    ("被保険者番号 0012345678 の資格喪失処理をお願いします。", [("custom", "0012345678")]),
    ("議事録の作成者は総務課の平井です。", [("name", "平井")]),
    ("尼崎市役所　〒660-8501　尼崎市東七松町1丁目23番1号　電話 06-6375-5639", []),
    ("申立人　竹本 奈々子　　相手方　竹本 健一", [("name", "竹本 奈々子"), ("name", "竹本 健一")]),
    ("子ども医療費助成の受給者証を、小西 悠人くん宛てに再発行しました。", [("name", "小西 悠人")]),
    ("令和7年4月1日付けで、福祉局長に就任しました。", []),
    ("問い合わせ：ＴＥＬ ０６－６４８９－６３２１（生活衛生課）", [("phone", "０６－６４８９－６３２１")]),
    ("E-mail：ama-seikatsu@example.lg.jp", [("email", "ama-seikatsu@example.lg.jp")]),
    ("1986年3月3日生まれの方を対象に、節目健診の案内を送付します。", [("birthdate", "1986年3月3日")]),
    ("外国人住民のチャン・ティ・フオンさんから、国民健康保険の加入について相談がありました。", [("name", "チャン・ティ・フオン")]),
]


def build() -> list[dict]:
    rng = random.Random(20260401)
    f = Filler(rng)
    rows: list[dict] = []
    slot_re = re.compile(r"\{([A-Z]+)\}")

    def fill(template: str, group: str) -> dict:
        pii = []

        def repl(m: re.Match) -> str:
            slot = m.group(1)
            kind, method = SLOTS[slot]
            if slot == "NAMEKANA":  # 山田太郎（ヤマダ タロウ）: two gold items
                sei, mei, ksei, kmei = rng.choice(NAME_KANA)
                sep = rng.choice(["", " ", "　"])
                kanji, kana = f"{sei}{sep}{mei}", f"{ksei}{rng.choice([' ', '　', ''])}{kmei}"
                pii.extend([{"kind": "name", "text": kanji}, {"kind": "name", "text": kana}])
                return f"{kanji}（{kana}）"
            if slot == "BADNUM":
                value = f.mynumber(valid=False)
            elif slot == "STAFF":
                value = rng.choice(SURNAMES_FOR_STAFF)
            elif slot == "CORP":
                value = str(rng.randint(1, 9)) + f.digits(12)
            elif slot in ("ATENA", "HIHO"):
                value = f.digits(8 if slot == "ATENA" else 10)
            else:
                value = getattr(f, method)()
            if kind:
                pii.append({"kind": kind, "text": value})
            return value

        text = slot_re.sub(repl, template)
        return {"text": text, "pii": pii, "group": group}

    for group, template, k in TEMPLATES:
        for _ in range(k):
            rows.append(fill(template, group))
    for template in CLEAN:
        for _ in range(2 if "{" in template else 1):
            rows.append(fill(template, "clean"))
    for text, items in FREEFORM:
        rows.append({"text": text, "pii": [{"kind": k, "text": v} for k, v in items], "group": "freeform"})
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    kinds: dict[str, int] = {}
    for row in rows:
        for p in row["pii"]:
            kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
    print(f"{len(rows)} sentences -> {OUT}; items per kind: {kinds}")


if __name__ == "__main__":
    main()
