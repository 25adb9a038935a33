"""The 議事録 / 相談記録 as a Word file (core.docx's OfficialDocument): the city's layout, headings in order, every
summary line with its ［時刻］, the action items as a numbered list with 担当 and 期限. The automatic version adds
the cleaned transcript in full."""
from __future__ import annotations

from core.docx import OfficialDocument
from skills.minutes.extract import Extract
from skills.minutes.record import CONSULTATION, Point, Record
from skills.minutes.transcript import UNKNOWN_SPEAKER, SpeakingTime, Transcript, clock, duration_ja

AI_NOTE = "本書は、AIが文字起こしから作成した案です。各行の［時刻］は元になった発言の位置です。内容を確認してください。"
AUTO_NOTE = "本書は、文字起こしを機械的に整え、発言をそのまま抜き出したものです（AIは使用していません）。"


def _points(doc: OfficialDocument, points: list[Point], *, speaker: bool = True, empty: str = "なし") -> None:
    if not points:
        doc.left(f"　{empty}")
        return
    doc.bullets([f"［{p.t}］" + (f"{p.speaker}：" if speaker and p.speaker else "") + p.text for p in points])


def record_docx(record: Record, speaking: list[SpeakingTime]) -> bytes:
    consultation = record.kind == CONSULTATION
    doc = OfficialDocument()
    doc.title("相談記録" if consultation else "議事録")
    if consultation:
        doc.heading("１　相談日時").left(f"　{record.date or '（記載なし）'}")
        doc.heading("２　相談者").left(f"　{record.client or '（記載なし）'}")
        doc.heading("３　主訴").paragraph(record.complaint or "（記載なし）")
        doc.heading("４　経過")
        _points(doc, record.proceedings)
        doc.heading("５　対応")
        _points(doc, record.responses, speaker=False)
        doc.heading("６　今後の方針")
        _points(doc, record.policy, speaker=False)
        n = 7
    else:
        doc.heading("１　会議名").left(f"　{record.title or '（記載なし）'}")
        doc.heading("２　日時").left(f"　{record.date or '（記載なし）'}")
        doc.heading("３　場所").left(f"　{record.place or '（記載なし）'}")
        doc.heading("４　出席者").left(f"　{'、'.join(record.attendees) or '（記載なし）'}")
        doc.heading("５　議題")
        if record.agenda:
            doc.numbered(record.agenda, numbers=True)
        else:
            doc.left("　（記載なし）")
        doc.heading("６　議事の経過（発言要旨）")
        _points(doc, record.proceedings)
        doc.heading("７　決定事項")
        _points(doc, record.decisions, speaker=False)
        n = 8
    doc.heading(f"{_zen(n)}　今後の対応（担当・期限）")
    if record.actions:
        doc.numbered([f"{a.task}（担当：{a.owner or '未定'}、期限：{a.due or '未定'}）［{a.t}］" for a in record.actions])
    else:
        doc.left("　なし")
    if speaking:
        doc.heading(f"{_zen(n + 1)}　発言時間")
        doc.bullets([f"{s.speaker}　{duration_ja(s.seconds)}（{round(100 * s.share)}%）" for s in speaking])
    doc.blank().left(AI_NOTE).closing()
    doc.core_properties(title=record.title or ("相談記録" if consultation else "議事録"), comments=AI_NOTE)
    return doc.to_bytes()


def auto_docx(name: str, tr: Transcript, speaking: list[SpeakingTime], ex: Extract) -> bytes:
    doc = OfficialDocument()
    doc.title("会議録（自動抽出）")
    doc.left(AUTO_NOTE).blank()
    doc.heading("１　会議").left(f"　{name}", f"　記録時間：{duration_ja(tr.duration)}")
    doc.heading("２　発言時間")
    doc.bullets([f"{s.speaker}　{duration_ja(s.seconds)}（{round(100 * s.share)}%、{s.turns}回）" for s in speaking])
    doc.heading("３　要約（自動抽出）")
    doc.bullets([f"［{ln.at}］{ln.speaker}：{ln.text}" for ln in ex.summary] or ["なし"])
    doc.heading("４　決定と思われる発言（自動抽出）")
    doc.bullets([f"［{ln.at}］{ln.speaker}：{ln.text}" for ln in ex.decisions] or ["なし"])
    doc.heading("５　今後の対応と思われる発言（自動抽出）")
    doc.bullets([f"［{a.at}］{a.owner}：{a.text}" + (f"（期限：{a.due}）" if a.due else "") for a in ex.actions]
                or ["なし"])
    doc.heading("６　文字起こし（言いよどみを除き、発言者ごとにまとめたもの）")
    for t in tr.turns:
        doc.left(f"［{clock(t.start)}］{t.speaker or UNKNOWN_SPEAKER}")
        doc.paragraph(t.text)
    doc.closing()
    doc.core_properties(title=f"会議録（自動抽出）{name}", comments=AUTO_NOTE)
    return doc.to_bytes()


def _zen(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
