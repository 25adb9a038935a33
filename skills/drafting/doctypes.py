"""The document types: their fields, which fields are essential, and how users name them."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Commitment phrases for 議会答弁, strongest first (REFERENCE.md "Writing conventions").
COMMITMENTS = ("実施いたします", "取り組んでまいります", "実現に努めてまいります", "検討してまいります",
               "研究してまいります", "動向を注視してまいります", "考えておりません")

FIELD_LABELS = {
    "doc_number": "文書番号", "date": "日付", "addressee": "宛先", "sender": "発信者", "subject": "件名",
    "points": "要点", "when_where": "日時・場所", "basis": "根拠法令", "contact": "担当・連絡先", "tone": "文体・トーン",
    "background": "補足", "commitment": "答弁の方針（約束の強さ）",
}
MULTILINE = {"points", "background", "contact", "when_where"}
TONES = ("標準", "丁寧", "簡潔", "親しみやすく", "格式高く")


@dataclass(frozen=True)
class DocType:
    key: str
    label: str
    fields: tuple[str, ...]
    essentials: tuple[str, ...]
    aliases: tuple[str, ...]
    labels: tuple[tuple[str, str], ...] = ()      # per-type label overrides
    register_check: bool = False                  # one register (敬体) and sentence length are checked
    easy_variant: bool = False                    # offers やさしい日本語

    def label_of(self, field: str) -> str:
        return dict(self.labels).get(field, FIELD_LABELS[field])


DOC_TYPES: dict[str, DocType] = {t.key: t for t in (
    DocType("notice_internal", "通知文（庁内）",
            ("subject", "addressee", "sender", "doc_number", "date", "points", "when_where", "basis", "contact"),
            ("addressee", "points"), ("通知文", "通知", "庁内通知", "通知文(庁内)", "通知文（庁内）"),
            (("addressee", "宛先（例：各課長 様）"),)),
    DocType("notice_external", "通知文（庁外）",
            ("subject", "addressee", "sender", "doc_number", "date", "points", "when_where", "basis", "contact"),
            ("addressee", "points"), ("庁外通知", "通知文(庁外)", "通知文（庁外）", "庁外"),
            (("addressee", "宛先（例：市内各事業所 代表者 様）"),)),
    DocType("jimu", "事務連絡",
            ("subject", "addressee", "sender", "date", "points", "when_where", "contact"),
            ("addressee", "points"), ("事務連絡", "連絡")),
    DocType("oshirase", "お知らせ（市民向け）",
            ("subject", "points", "when_where", "contact", "tone"),
            ("points",), ("お知らせ", "市民向け", "広報", "お知らせ(市民向け)", "お知らせ（市民向け）"),
            (("points", "お知らせしたい内容（要点）"),), register_check=True, easy_variant=True),
    DocType("citizen", "市民対応（メール・文書回答）",
            ("subject", "addressee", "points", "background", "sender", "contact", "tone"),
            ("points", "background"), ("市民対応", "回答", "回答文", "メール回答", "文書回答"),
            (("addressee", "宛名（例：〇〇様）"), ("points", "お問い合わせ・ご意見の内容"),
             ("background", "回答の要点（市の対応・方針）"), ("sender", "回答する課")),
            register_check=True, easy_variant=True),
    DocType("gikai", "議会答弁",
            ("subject", "points", "background", "sender", "commitment"),
            ("points", "commitment"), ("議会答弁", "答弁"),
            (("subject", "質問項目"), ("points", "質問の要旨"), ("background", "現状・経過・課題（分かる範囲で）"),
             ("sender", "答弁者（例：市長、〇〇局長）"))),
    DocType("aisatsu", "あいさつ文",
            ("subject", "when_where", "sender", "points", "tone"),
            ("subject",), ("あいさつ文", "あいさつ", "挨拶", "挨拶文", "祝辞"),
            (("subject", "行事・場面（例：〇〇大会 開会式）"), ("sender", "あいさつする人（例：市長）"),
             ("points", "盛り込みたい内容")), register_check=True),
)}


def _norm(s: str) -> str:
    return unicodedata.normalize("NFKC", s or "").strip().lower()


_ALIAS: dict[str, str] = {}
for _t in DOC_TYPES.values():
    for _a in (_t.key, _t.label, *_t.aliases):
        _ALIAS[_norm(_a)] = _t.key


def type_from_word(word: str) -> DocType | None:
    """「通知文」「答弁」「notice_internal」… -> the type, else None."""
    key = _ALIAS.get(_norm(word))
    return DOC_TYPES.get(key) if key else None


_GUESS = (("gikai", ("答弁", "議会", "一般質問")), ("jimu", ("事務連絡",)), ("aisatsu", ("あいさつ", "挨拶", "祝辞")),
          ("citizen", ("回答", "問い合わせ", "苦情", "ご意見", "返信")),
          ("oshirase", ("お知らせ", "市民向け", "広報", "ホームページ")), ("notice_internal", ("通知",)))


def guess_type(text: str) -> DocType | None:
    """A type named somewhere in free text (「議会答弁の下書きを…」), else None."""
    t = _norm(text)
    for key, words in _GUESS:
        if any(w in t for w in words):
            return for_audience(DOC_TYPES[key], text)
    return None


# Whom a notice is for: 「市民に」「住民の皆さまへ」「市民向け」 name the public; 「庁内」「職員」「各課」 the staff.
_CITIZENS = re.compile(r"(市民|住民|区民|町民)(の皆|の方|向け|むけ|に|へ|あて|宛|全体)")
_STAFF_WORDS = ("庁内", "職員", "各課", "各局", "各部", "所属長")
_GENERIC_NOTICE = {_norm(w) for w in ("通知文", "通知")}


def for_citizens(text: str) -> bool:
    t = _norm(text)
    return bool(_CITIZENS.search(t)) and not any(w in t for w in _STAFF_WORDS)


def for_audience(doc_type: DocType | None, text: str) -> DocType | None:
    """A plain 「通知文」 / 「通知」 (not 「通知文（庁内）」 or 「庁内通知」) for citizens is an お知らせ（市民向け）:
    「/draft 通知文 …市民に知らせたい」. Any other type is kept."""
    if doc_type is None or doc_type.key != "notice_internal":
        return doc_type
    words = _norm(text).split(maxsplit=1)
    named = words[0] if words else ""
    if named in _ALIAS and named not in _GENERIC_NOTICE:
        return doc_type                     # 「通知文（庁内）」 named outright
    return DOC_TYPES["oshirase"] if for_citizens(text) else doc_type


_KEY_LINE = re.compile(r"^\s*([^:：\n]{1,20})\s*[:：]\s*(.*)$")
_LABEL_TO_FIELD = {**{_norm(v): k for k, v in FIELD_LABELS.items()},
                   **{_norm(w): k for k, ws in {
                       "subject": ("件名", "標題", "タイトル", "質問項目", "行事"), "addressee": ("宛先", "宛名", "あて先"),
                       "sender": ("発信者", "差出人", "答弁者"), "date": ("日付", "発信日"),
                       "doc_number": ("文書番号", "番号"), "when_where": ("日時", "場所", "日時・場所"),
                       "basis": ("根拠", "根拠法令"), "contact": ("担当", "連絡先", "担当・連絡先", "問い合わせ先"),
                       "tone": ("トーン", "文体"), "background": ("補足", "現状", "回答の要点", "経過"),
                       "commitment": ("方針", "答弁方針", "約束"), "points": ("要点", "内容", "質問", "質問の要旨")}.items()
                      for w in ws}}


def parse_fields(text: str) -> dict[str, str]:
    """Lines like 「宛先：各課長 様」 become fields; the remaining lines are the 要点."""
    fields: dict[str, str] = {}
    rest: list[str] = []
    for line in (text or "").splitlines():
        m = _KEY_LINE.match(line)
        field = _LABEL_TO_FIELD.get(_norm(m.group(1))) if m else None
        if field and m.group(2).strip():
            prev = fields.get(field)
            fields[field] = f"{prev}\n{m.group(2).strip()}" if prev else m.group(2).strip()
        else:
            rest.append(line)
    points = "\n".join(rest).strip()
    if points:
        fields["points"] = f"{fields['points']}\n{points}" if fields.get("points") else points
    if "commitment" in fields:
        fields["commitment"] = normalize_commitment(fields["commitment"]) or fields["commitment"]
    return fields


_COMMIT_WORDS = (("実施", 0), ("取り組", 1), ("実現", 2), ("検討", 3), ("研究", 4), ("注視", 5), ("考えておりません", 6),
                 ("行わない", 6), ("しない", 6))


def normalize_commitment(value: str | None) -> str | None:
    """「検討」「検討してまいります」 -> 「検討してまいります」; unknown -> None."""
    v = _norm(value or "")
    if not v:
        return None
    for phrase in COMMITMENTS:
        if _norm(phrase) == v:
            return phrase
    for word, idx in _COMMIT_WORDS:
        if word in v:
            return COMMITMENTS[idx]
    return None


def missing(doc_type: DocType, fields: dict[str, str]) -> list[str]:
    """Essential fields that are empty (or, for the commitment, not one of the known phrases)."""
    out = []
    for f in doc_type.essentials:
        v = (fields.get(f) or "").strip()
        if not v or (f == "commitment" and v not in COMMITMENTS):
            out.append(f)
    return out
