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
