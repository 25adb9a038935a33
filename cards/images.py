"""Cards of 画像点検: one card per photo (thumbnail with the damage boxes, grade, damage, location, what was blurred)
and the batch summary (counts by grade and kind, the worst photos, report and kintone buttons).

Pure functions; every text from a file name or a model answer passes through `plain()` (via text/facts)."""
from __future__ import annotations

from typing import Any, Sequence

from cards.common import AI_REMINDER, card, container, execute, facts, heading, note, open_url, text, title

KINTONE_VERB = "images.kintone"        # data: photo_id
REPORT_VERB = "images.report"          # data: batch_id, format ("xlsx" | "docx")
KINTONE_ALL_VERB = "images.kintone_all"  # data: batch_id
PAGE_VERB = "images.page"              # data: batch_id, start (position of the first photo of the page)

AI_LABEL = "【AIによる判定】損傷の種類・判定区分・位置はAIが写真から推定したものです。必ず現地で確認してください。"
OFFLINE_LABEL = "【判定なし】AIは使用していません。撮影日時・位置情報・縮小画像だけを示しています。"
GRADE_COLOURS = ("Good", "Warning", "Attention", "Attention")


def _grade_colour(rank: int) -> str | None:
    return GRADE_COLOURS[min(rank, len(GRADE_COLOURS) - 1)] if rank >= 0 else None


def photo_card(p: dict[str, Any], *, label: str, kintone: bool) -> dict:
    """`p`: position, total, name, thumb (data URL), taken (text), location (text), map_url, address (text or ""), grade (text),
    grade_rank, subject, reason, findings [{kind, extent, grade, confidence, action}], error, privacy (lines),
    photo_id."""
    body: list[dict] = [title(f"写真 {p['position']}/{p['total']}：{p['name']}"),
                        text(label, size="Small", weight="Bolder", color="Accent" if p.get("ai") else "Good")]
    if p.get("thumb"):
        body.append({"type": "Image", "url": p["thumb"], "altText": f"{p['name']}の縮小画像", "size": "Stretch"})
    if p.get("error"):
        body.append(text(p["error"], color="Attention", weight="Bolder"))
    if p.get("grade"):
        body.append(text(f"判定：{p['grade']}", size="Medium", weight="Bolder", color=_grade_colour(p.get("grade_rank", -1))))
    pairs = []
    if p.get("subject"):
        pairs.append(("対象", p["subject"]))
    if p.get("reason"):
        pairs.append(("根拠", p["reason"]))
    pairs += [("撮影日時", p["taken"]), ("位置", p["location"])]
    if p.get("address"):
        pairs.append(("住所", p["address"]))
    body.append(facts(pairs))
    for i, f in enumerate(p.get("findings") or [], start=1):
        body.append(container([
            text(f"{i}. {f['kind']}（{f['grade']}、確信度{round(f['confidence'] * 100)}%）", weight="Bolder"),
            facts([("程度", f["extent"] or "－"), ("推奨対応", f["action"] or "－")])], separator=True))
    for line in p.get("privacy") or []:
        body.append(note(line))
    if p.get("ai"):
        body.append(note(AI_REMINDER))
    actions = []
    if p.get("map_url"):
        actions.append(open_url("地理院地図で開く", p["map_url"]))
    if kintone and p.get("photo_id") and p.get("findings"):
        actions.append(execute("補修要望に登録（kintone）", KINTONE_VERB, {"photo_id": p["photo_id"]}))
    return card(body, actions, fallback_text=f"写真 {p['position']}/{p['total']}：{p['name']}")


def summary_card(*, batch_id: int, total: int, label: str, grades: Sequence[tuple[str, int]],
                 kinds: Sequence[tuple[str, int]], worst: Sequence[dict], not_judged: int, no_location: int,
                 messages: Sequence[str], privacy: Sequence[str], kintone_all: tuple[str, int] | None = None,
                 next_page: tuple[int, int] | None = None) -> dict:
    """`grades`: (grade text, count) mildest first; `kinds`: (kind, count); `worst`: [{position, name, grade,
    kinds, address}] most severe first; `kintone_all`: (the mildest grade registered, e.g. "判定区分Ⅱ", how many
    photos) for the bulk kintone button; `next_page`: (first, last) position of the photos whose cards the
    「次の…枚」 button shows."""
    body: list[dict] = [title(f"写真点検のまとめ（{total}枚）"), text(label, size="Small", weight="Bolder")]
    for m in messages:
        body.append(text(m, color="Attention"))
    pairs = [(g, f"{n}枚") for g, n in grades if n]
    if not_judged:
        pairs.append(("判定できない", f"{not_judged}枚"))
    pairs.append(("位置情報なし", f"{no_location}枚"))
    body.append(facts(pairs))
    if kinds:
        body.append(heading("損傷の種類"))
        body.append(facts([(k, f"{n}件") for k, n in kinds]))
    if worst:
        body.append(heading("判定区分の重い写真"))
        for w in worst:
            line = (f"{w['position']}. {w['name']}：{w['grade']}" + (f"（{w['kinds']}）" if w.get("kinds") else "")
                    + (f"　{w['address']}" if w.get("address") else ""))
            body.append(text(line, spacing="Small"))
    for line in privacy:
        body.append(note(line))
    actions = [execute("報告書（Excel）を作成", REPORT_VERB, {"batch_id": batch_id, "format": "xlsx"}),
               execute("報告書（Word）を作成", REPORT_VERB, {"batch_id": batch_id, "format": "docx"})]
    if kintone_all and kintone_all[1]:
        actions.append(execute(f"補修要望にまとめて登録（{kintone_all[0]}以上 {kintone_all[1]}枚）", KINTONE_ALL_VERB,
                               {"batch_id": batch_id}))
    if next_page:
        actions.append(_page_action(batch_id, *next_page))
    return card(body, actions, fallback_text=f"写真点検のまとめ（{total}枚）")


def _page_action(batch_id: int, first: int, last: int) -> dict:
    return execute(f"次の{last - first + 1}枚を表示（{first}〜{last}枚目）", PAGE_VERB, {"batch_id": batch_id, "start": first})


def page_card(*, batch_id: int, first: int, last: int, total: int, next_page: tuple[int, int] | None) -> dict:
    """After a page of photo cards: how far the batch has been shown, and the button for the page after."""
    body = [text(f"写真{first}〜{last}枚目（全{total}枚）のカードを表示しました。", weight="Bolder")]
    if next_page is None:
        body.append(note("すべての写真のカードを表示しました。"))
    actions = [_page_action(batch_id, *next_page)] if next_page else []
    return card(body, actions, fallback_text=f"写真{first}〜{last}枚目（全{total}枚）")
