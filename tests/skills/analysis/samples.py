"""Files shaped like the ones city staff send (written here, fictional values):

* `population_xlsx`: 区別人口の推移 — a title row and a unit row above a two-row header whose upper cells (令和2年 …
  令和6年) are merged over 男・女・計, the 区 column merged down both header rows, a 総数 row, a note row under the
  table, and a second sheet (世帯数) with its own one-row header in 年度.
* `survey_csv`: a Shift_JIS (CP932) survey export without any declaration: 回答日 in 令和 dates, 年代, 区, 満足度 with
  全角 digits, and free-text answers (commas, line breaks and quotes inside the cells).
* `eltax_csv`: an eLTAX-like 法人市民税 申告 export in UTF-8 with BOM: 申告年月日 as R7.5.31, 税額 with thousands
  separators, △ for 還付 (negative), 課税年度 as 令和6年度, a 法人番号 column of 13-digit numbers.
* `personal_csv`: a 相談記録 list with 氏名, 住所, 電話番号 and 個人番号 columns (fictional; the My Numbers have valid
  check digits so the guard recognises them)."""
from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta

from core.guard.pii import mynumber_check_digit

WARDS = ("中央", "小田", "大庄", "立花", "武庫", "園田")


def population_xlsx() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "区別人口"
    ws["A1"] = "尼崎市 地区別人口の推移（各年9月末現在・住民基本台帳）"
    ws["A2"] = "単位：人"
    years = ["令和2年", "令和3年", "令和4年", "令和5年", "令和6年"]
    ws.cell(row=4, column=1, value="地区")
    ws.merge_cells(start_row=4, start_column=1, end_row=5, end_column=1)
    for k, y in enumerate(years):
        col = 2 + k * 3
        ws.cell(row=4, column=col, value=y)
        ws.merge_cells(start_row=4, start_column=col, end_row=4, end_column=col + 2)
        for j, label in enumerate(("男", "女", "計")):
            ws.cell(row=5, column=col + j, value=label)
    rng = random.Random(7)
    total = [0] * (len(years) * 3)
    for i, ward in enumerate(WARDS):
        row = 6 + i
        ws.cell(row=row, column=1, value=ward)
        base = 40000 + i * 5000
        for k in range(len(years)):
            men = base - k * 300 + rng.randint(-50, 50)
            women = base + 1500 - k * 250 + rng.randint(-50, 50)
            for j, v in enumerate((men, women, men + women)):
                ws.cell(row=row, column=2 + k * 3 + j, value=v)
                total[k * 3 + j] += v
    row = 6 + len(WARDS)
    ws.cell(row=row, column=1, value="総数")
    for j, v in enumerate(total):
        ws.cell(row=row, column=2 + j, value=v)
    ws.cell(row=row + 2, column=1, value="資料：住民基本台帳（市民課）")
    hh = wb.create_sheet("世帯数")
    hh.append(["年度", "世帯数", "前年度差"])
    for k, n in enumerate((228_500, 229_100, 229_800, 230_050, 230_400)):
        diff = "－" if k == 0 else ("△" + f"{abs(n - 228_500 - k * 300):,}" if k == 3 else f"{n - 228_500:,}")
        hh.append([f"令和{2 + k}年度", f"{n:,}", diff])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


SURVEY_FREE = (
    "窓口の待ち時間が長い。番号札の呼び出しを早くしてほしい。",
    "職員の説明が丁寧で、分かりやすかったです。",
    "駐車場が少なく、停められなかった。",
    "オンライン申請を増やしてほしい。\n土日も使えると助かります。",
    "案内表示が分かりにくい、\"どこに行けばいいか\"迷った。",
    "",
)


def survey_rows(n: int = 60) -> list[list[str]]:
    rng = random.Random(11)
    start = date(2025, 4, 1)
    rows = [["回答日", "年代", "区", "満足度", "ご意見・ご要望"]]
    for i in range(n):
        d = start + timedelta(days=rng.randint(0, 120))
        score = rng.choice("１２３４５")
        rows.append([f"令和{d.year - 2018}年{d.month}月{d.day}日", rng.choice(("20代", "30代", "40代", "50代", "60代以上")),
                     rng.choice(WARDS), score if i != 5 else "無回答", rng.choice(SURVEY_FREE)])
    return rows


def survey_csv(n: int = 60) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(survey_rows(n))
    return buf.getvalue().encode("cp932")


def eltax_csv() -> bytes:
    rows = [["申告年月日", "法人番号", "法人名", "申告区分", "課税年度", "法人税割額", "均等割額", "差引税額"]]
    rng = random.Random(3)
    for i in range(40):
        d = date(2025, 5, 1) + timedelta(days=rng.randint(0, 60))
        wari = rng.randint(0, 900) * 1000
        kin = rng.choice((50000, 130000, 160000))
        diff = wari + kin - (rng.randint(0, 2) * 200_000)
        tax = f"△{abs(diff):,}" if diff < 0 else f"{diff:,}"
        rows.append([f"R{d.year - 2018}.{d.month}.{d.day}", str(1_000_000_000_000 + i * 7919 + 1),
                     f"株式会社サンプル{i + 1:02d}", rng.choice(("確定", "中間", "修正")), "令和6年度", f"{wari:,}",
                     f"{kin:,}", tax])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def mynumber(seed: int) -> str:
    first = f"{seed:011d}"[-11:]
    return first + str(mynumber_check_digit(first))


def personal_csv() -> bytes:
    rows = [["受付日", "氏名", "住所", "電話番号", "個人番号", "相談区分"]]
    names = ("山田 太郎", "佐藤 花子", "鈴木 一郎", "高橋 美咲", "田中 健太", "伊藤 由美")
    for i, name in enumerate(names * 3):
        rows.append([f"2025/6/{i + 1}", name, f"尼崎市東七松町{i % 3 + 1}丁目{i + 2}番{i + 1}号",
                     f"06-6489-{1000 + i:04d}", mynumber(12345678900 + i * 13), ("福祉", "税", "子育て")[i % 3]])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def big_csv(rows: int, seed: int = 1) -> bytes:
    """A long, plain UTF-8 CSV (the shape of a 住民異動 or 申請 log): id, date, 区, 区分, 金額, 件数, 備考."""
    rng = random.Random(seed)
    kinds = ("転入", "転出", "転居", "出生", "死亡")
    out = io.StringIO()
    out.write("受付番号,受付日,区,異動区分,手数料,件数,備考\n")
    start = date(2020, 4, 1).toordinal()
    for i in range(rows):
        d = date.fromordinal(start + rng.randrange(1800))
        out.write(f"{i + 1},{d.isoformat()},{WARDS[i % 6]},{kinds[rng.randrange(5)]},{rng.randrange(0, 1500)},"
                  f"{rng.randrange(1, 5)},{'' if i % 7 else '窓口'}\n")
    return out.getvalue().encode("utf-8")


FREE_ANSWERS = (                         # (answer, rows): a survey's 自由記述, two with personal data in them
    ("窓口の待ち時間が長い。", 7),
    ("待ち時間をもっと短くしてほしい", 3),
    ("職員の説明が丁寧で分かりやすかった。", 5),
    ("受付の山田花子さんがとても親切でした。", 2),
    ("駐車場が狭くて停められなかった。", 4),
    ("オンライン申請を土日も使えるようにしてほしい。", 3),
    ("結果の連絡は 06-6489-1234 にお願いします。", 1),
    ("特になし", 2),
    ("", 3),
)
AGES = ("20代", "30代", "40代", "50代")


def survey_free_rows() -> list[list[str]]:
    """回答日, 年代, 満足度, ご意見: the answers of FREE_ANSWERS, each as often as its count, ages in turn."""
    rows = [["回答日", "年代", "満足度", "ご意見"]]
    k = 0
    for answer, n in FREE_ANSWERS:
        for _ in range(n):
            rows.append([f"2025/7/{k % 28 + 1}", AGES[k % len(AGES)], str(k % 5 + 1), answer])
            k += 1
    return rows


def survey_free_csv() -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(survey_free_rows())
    return buf.getvalue().encode("utf-8")
