"""Real-shaped documents for the notices tests, made with libraries: a two-page 通知 PDF (reportlab, its built-in
Japanese CID font, so no font file is needed) with a deadline and two attachments."""
from __future__ import annotations

import io

NOTICE_PAGES = [
    [
        "総行政第１２３号",
        "令和7年4月1日",
        "",
        "各都道府県知事　殿",
        "（市区町村担当課扱い）",
        "",
        "総務省自治行政局長",
        "（公印省略）",
        "",
        "地方公共団体における行政手続のオンライン化の推進について（通知）",
        "",
        "標記について、情報通信技術を活用した行政の推進等に関する法律（平成14年法律第151号）",
        "第3条の規定により、地方公共団体は行政手続のオンライン化に努めることとされています。",
        "つきましては、別添1のガイドラインを踏まえ、各団体における取組状況を別添2の調査票により",
        "令和7年5月9日（金）までに回答してください。",
        "また、貴都道府県内の市区町村に対しても、本通知について周知いただくようお願いします。",
        "なお、本通知は地方自治法（昭和22年法律第67号）第245条の4第1項に基づく技術的助言であることを",
        "申し添えます。",
    ],
    [
        "記",
        "",
        "1　調査票の提出",
        "　別添2の調査票に記入の上、提出期限：５月９日（金）までに電子メールで提出すること。",
        "2　説明会",
        "　オンライン説明会を5月14日（水）に開催しますので、参加希望の場合は4月25日（金）までに",
        "申し込んでください。",
        "3　個人情報の取扱い",
        "　個人情報の保護に関する法律第69条に留意すること。",
        "",
        "（別添1）行政手続オンライン化ガイドライン",
        "（別添2）取組状況調査票",
        "",
        "【担当】総務省自治行政局行政経営支援室　電話 03-5253-5111",
    ],
]


def notice_pdf(pages: list[list[str]] = NOTICE_PAGES) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiMin-W3"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle("行政手続のオンライン化の推進について（通知）")
    for lines in pages:
        c.setFont("HeiseiMin-W3", 10.5)
        y = A4[1] - 72
        for line in lines:
            if line:
                c.drawString(60, y, line)
            y -= 18
        c.showPage()
    c.save()
    return buf.getvalue()


INQUIRY_QUESTIONS = [
    "貴団体では、行政手続のオンライン化に関する計画を策定していますか。",
    "オンライン申請の受付に使用しているシステムの名称を記入してください。",
    "年次休暇の繰越しの上限日数は何日ですか。",
    "庁舎内の喫煙所の設置状況を記入してください。",
]


def inquiry_xlsx(answered: dict[int, str] | None = None) -> bytes:
    """A 照会 form as ministries send them: a title block, labelled cells for the respondent (merged answer cells),
    and a table of 設問 / 回答 with merged cells (one question spanning two rows). `answered` pre-fills answers
    (question index -> text)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    wb = Workbook()
    ws = wb.active
    ws.title = "調査票"
    ws["A1"] = "行政手続のオンライン化等に関する調査について（照会）"
    ws.merge_cells("A1:F1")
    ws["A2"] = "総務省自治行政局行政経営支援室"
    ws.merge_cells("A2:F2")
    for row, label in ((3, "団体名"), (4, "担当課"), (5, "担当者名"), (6, "電話番号")):
        ws.cell(row=row, column=1, value=label)
        ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=4)
    ws["A8"], ws["B8"], ws["D8"] = "No.", "設問", "回答"
    ws.merge_cells("B8:C8")
    ws.merge_cells("D8:F8")
    row = 9
    for i, q in enumerate(INQUIRY_QUESTIONS):
        rows = 2 if i == 2 else 1
        ws.cell(row=row, column=1, value=i + 1)
        ws.cell(row=row, column=2, value=q).alignment = Alignment(wrap_text=True)
        ws.merge_cells(start_row=row, start_column=2, end_row=row + rows - 1, end_column=3)
        ws.merge_cells(start_row=row, start_column=4, end_row=row + rows - 1, end_column=6)
        if answered and i in answered:
            ws.cell(row=row, column=4, value=answered[i])
        row += rows
    ws.cell(row=row + 1, column=1, value="※回答は令和7年5月9日（金）までに提出してください。")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
