"""Japanese PII detection and reversible masking.

`PiiDetector.detect(text)` finds personal data (個人番号, phones, e-mail, postal codes, street addresses, birth
dates, personal names, configurable patterns) and returns non-overlapping spans in text order. Names come from
SudachiPy's 人名 part-of-speech tags (SudachiDict-core) plus context: honorifics (様/さん/氏/君…), titles
(課長…) and labels (氏名：…). Public office data (the city hall's address and switchboard) is let through.

`MaskSession` replaces the values with stable placeholders such as ［氏名1］ for one AI request and restores
them in the answer. Detection works on a width-normalised copy of the text (full-width ASCII → ASCII, one
character for one character), so offsets always refer to the original text.
"""
from __future__ import annotations

import bisect
import json
import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from core.sudachi import dictionary

if TYPE_CHECKING:  # pragma: no cover
    from core.guard.policy import GuardSettings

log = logging.getLogger(__name__)

KINDS = ("mynumber", "phone", "email", "postal", "address", "birthdate", "name", "custom")

LABELS = {"mynumber": "個人番号", "phone": "電話", "email": "メール", "postal": "郵便番号", "address": "住所",
          "birthdate": "生年月日", "name": "氏名", "custom": "その他"}
"""Placeholder labels: ［電話1］. A custom pattern uses its own label instead of "その他"."""

SUMMARY_LABELS = {"mynumber": "個人番号", "phone": "電話番号", "email": "メールアドレス", "postal": "郵便番号",
                  "address": "住所", "birthdate": "生年月日", "name": "氏名", "custom": "その他"}
"""Wording in the user-facing summary line (「氏名2件・電話番号1件を伏せて送信しました」)."""

# Overlap resolution: a lower number wins when two candidate spans overlap.
_PRIORITY = {"custom": 0, "mynumber": 1, "email": 2, "phone": 3, "postal": 4, "address": 5, "birthdate": 6,
             "name": 7}


# --------------------------------------------------------------------------------------------------------------
# Width normalisation (1:1, offsets preserved)

def _build_width_table() -> dict[int, str]:
    table = {c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}  # full-width ASCII block
    table[0x3000] = " "  # ideographic space
    for dash in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff70\ufe63":
        table[ord(dash)] = "-"
    return table


_WIDTH = _build_width_table()
_KATAKANA_DASH_BETWEEN_DIGITS = re.compile(r"(?<=\d)[ー～〜](?=\d)")


def normalize_width(text: str) -> str:
    """Full-width ASCII → ASCII, ideographic space → space, dash look-alikes → "-". Same length as the input."""
    out = text.translate(_WIDTH)
    # 「06ー6375ー5639」: a long-vowel mark between digits is a hyphen.
    return _KATAKANA_DASH_BETWEEN_DIGITS.sub("-", out)


def _digits(s: str) -> str:
    return "".join(ch for ch in normalize_width(s) if ch.isascii() and ch.isdigit())


# --------------------------------------------------------------------------------------------------------------
# 個人番号 check digit (行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条)

def mynumber_check_digit(first11: str) -> int:
    """Check digit for the first 11 digits: P_n is the n-th digit from the right, Q_n = n+1 (n≤6) or n-5 (n≥7), as in 総務省令第85号 第5条;
    r = Σ P_n·Q_n mod 11; the check digit is 0 when r ≤ 1, else 11 - r."""
    if len(first11) != 11 or not first11.isdigit():
        raise ValueError("11 digits expected")
    total = 0
    for n in range(1, 12):
        p = int(first11[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    r = total % 11
    return 0 if r <= 1 else 11 - r


def is_valid_mynumber(number: str) -> bool:
    """True when `number` (separators and full-width digits allowed) is 12 digits with a correct check digit."""
    d = _digits(number)
    return len(d) == 12 and mynumber_check_digit(d[:11]) == int(d[11])


# --------------------------------------------------------------------------------------------------------------
# Spans

@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int
    text: str
    label: str | None = None  # custom patterns: the pattern's own label (宛名番号 …)

    @property
    def placeholder_label(self) -> str:
        return self.label or LABELS[self.kind]


# --------------------------------------------------------------------------------------------------------------
# Patterns (applied to the width-normalised text)

_KANJI = r"一-龥々〆ヵヶ"
_KNUM = r"〇一二三四五六七八九十"

_MYNUMBER = re.compile(r"(?<![\d\-])(\d{4})[\- ]?(\d{4})[\- ]?(\d{4})(?!\d|-\d)")
_NOT_AFTER_NUMBER = re.compile(r"\s*(?:円|件|人|名|%|個|枚|番目|kg|km|m2)")

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}")

_PHONE = re.compile(
    r"(?<![\d\-])"
    r"(?:\+81[\- ]?(?:\(0\))?\d{1,4}|\(0\d{1,4}\)|0\d{1,4})"   # area code, maybe parenthesised; +81-90-…
    r"(?:[\- ]?\(?\d{1,4}\)?)"               # local exchange, maybe parenthesised: 06(6375)5639
    r"[\- ]?\d{3,4}(?!\d|-\d)")
_PHONE_PLUS81 = re.compile(r"^\+81[\- ]?\(?0?\)?")
_PHONE_11_PREFIXES = ("070", "080", "090", "050", "020", "0800")

_POSTAL_MARKED = re.compile(r"〒\s?(\d{3}-?\d{4})(?![\d])")
_POSTAL_BARE = re.compile(r"(?<![\d\-])\d{3}-\d{4}(?![\d]|-\d)")

_PREFS = ("北海道|青森県|岩手県|宮城県|秋田県|山形県|福島県|茨城県|栃木県|群馬県|埼玉県|千葉県|東京都|神奈川県|新潟県|"
          "富山県|石川県|福井県|山梨県|長野県|岐阜県|静岡県|愛知県|三重県|滋賀県|京都府|大阪府|兵庫県|奈良県|"
          "和歌山県|鳥取県|島根県|岡山県|広島県|山口県|徳島県|香川県|愛媛県|高知県|福岡県|佐賀県|長崎県|熊本県|"
          "大分県|宮崎県|鹿児島県|沖縄県")
_NUM = rf"(?:\d{{1,4}}|[{_KNUM}]{{1,3}})"
_BLOCK = (
    rf"(?:{_NUM}丁目(?:\s?{_NUM}(?:番地?の?|-)(?:\s?{_NUM}(?:号(?!室))?)?)?"        # 1丁目23番1号 / 1丁目23-1 / 1丁目23番地の4
    rf"|{_NUM}番地?(?:の{_NUM})?(?:\s?{_NUM}号(?!室)|-{_NUM})?"                 # 23番地の4 / 23番1号 / 123番地
    rf"|\d{{1,4}}-\d{{1,4}}(?:-\d{{1,4}})?)"                                    # 1-23-1
)
_BUILDING_SUFFIX = ("マンション|ハイツ|コーポ|アパート|荘|ビル|レジデンス|ハウス|団地|住宅|タワー|プラザ|メゾン|"
                    "パレス|コート|ヒルズ|寮|ハイム|シャトー|グランド|テラス")
_ROOM = r"(?:[A-Za-z]?\d{1,4}(?:号室|階|号))"
_BLDG_CHARS = rf"[ァ-ヶーA-Za-z{_KANJI}・]"
_TAIL = (  # building and room: サンハイツ塚口201号室 / 市営住宅3号棟402号 / -201
    rf"(?:-\d{{1,4}}(?:号室)?"
    rf"|\s?{_BLDG_CHARS}{{0,20}}?(?:\d{{1,3}}(?:号?棟|番館|号館))?\s?{_ROOM}"
    rf"|\s?{_BLDG_CHARS}{{0,16}}(?:{_BUILDING_SUFFIX})[ァ-ヶー{_KANJI}]{{0,8}}(?:\d{{1,3}}(?:号?棟|番館|号館))?)?"
)
_TOWN_CHARS = rf"[{_KANJI}ァ-ヶーがのノ]"
_CITY = rf"(?:[{_KANJI}]{{1,5}}郡)?[{_KANJI}ァ-ヶー]{{1,6}}?[市区町村](?:[{_KANJI}]{{1,4}}区)?(?!内)"
_ADDRESS_FULL = re.compile(rf"(?:(?:{_PREFS})\s?)?{_CITY}\s?{_TOWN_CHARS}{{0,10}}?\s?{_BLOCK}(?!\d){_TAIL}")
_ADDRESS_PREF = re.compile(rf"(?:{_PREFS})\s?{_TOWN_CHARS}{{1,16}}?\s?{_BLOCK}(?!\d){_TAIL}")
_ADDRESS_TOWN = re.compile(  # within the city, staff often omit it: 東七松町1丁目23番1号 / 武庫之荘3丁目5-8
    rf"[{_KANJI}ァ-ヶー]{{1,8}}(?:{_NUM}丁目(?:\s?{_NUM}(?:番地?の?|-)(?:\s?{_NUM}(?:号(?!室))?)?)?"
    rf"|(?<=町){_NUM}番地?(?:の{_NUM})?(?:\s?{_NUM}号(?!室)|-{_NUM})?"
    rf"|(?<=町)\d{{1,4}}-\d{{1,4}}-\d{{1,4}})(?!\d){_TAIL}")
_ADDRESS_LEAD = re.compile(r"(?:現住所|新住所|旧住所|住所地|住所|所在地|居所|自宅|本籍地?|転居先|転出先|転入先|送付先|"
                           r"連絡先|宛先|届出先|現在地|住民票)\s?[:：は]?\s?")

_PREF_RE = re.compile(_PREFS)
_ADDRESS_TRAIL = re.compile(r"(?:付近|周辺|近く|前|宅|方|内|横|裏|側|在住)$")

_ERA = r"(?:明治|大正|昭和|平成|令和|明|大|昭|平|令|[MTSHRmtshr])"
_YMD_NUM = rf"(?:\d{{1,2}}|[{_KNUM}]{{1,3}})"
_DATE = re.compile(
    rf"(?:{_ERA}\s?(?:元|{_YMD_NUM})\s?年\s?{_YMD_NUM}\s?月\s?{_YMD_NUM}\s?日"
    rf"|(?<![A-Za-z0-9]){_ERA}\s?(?:元|\d{{1,2}})[./\-]\d{{1,2}}[./\-]\d{{1,2}}(?!\d)"
    rf"|(?<!\d)(?:18|19|20)\d{{2}}\s?年\s?\d{{1,2}}\s?月\s?\d{{1,2}}\s?日"
    rf"|(?<!\d)(?:18|19|20)\d{{2}}[./\-]\d{{1,2}}[./\-]\d{{1,2}}(?!\d))")
_BIRTH_BEFORE = re.compile(r"(?:生年月日|誕生日|生年|出生日|出生年月日|生まれ|DOB|birth)\s?(?:は|が|:|：)?\s?[(（]?\s?$",
                           re.IGNORECASE)
_BIRTH_AFTER = re.compile(r"^\s?[)）]?\s?(?:に|の)?\s?(?:生まれ|生れ|生|出生|誕生)")

_HONORIFICS = ("様", "さま", "さん", "氏", "君", "くん", "殿", "ちゃん")
_TITLES = ("課長", "部長", "係長", "主査", "主任", "主事", "局長", "次長", "室長", "所長", "館長", "園長", "校長",
           "教頭", "先生", "議員", "委員", "委員長", "副市長", "市長", "理事", "参事", "技師", "保健師", "相談員",
           "課長補佐", "担当", "弁護士", "税理士", "医師")
_HONORIFIC_RE = "|".join(sorted(_HONORIFICS, key=len, reverse=True))
_HONORIFIC_AFTER = re.compile(rf"\s?(?:{_HONORIFIC_RE})(?!式|子|々|相|態|さん|ざま)")
_TITLE_AFTER = re.compile("|".join(sorted(_TITLES, key=len, reverse=True)))
_PLACE_TITLE_AFTER = re.compile(r"(?:市長|副市長|町長|村長|区長|知事|市|町|村|区)")
_NAME_CHARS = rf"[{_KANJI}ァ-ヶー]"
_NAME_LABEL = re.compile(
    r"(?:(?:お名前|氏名|名前|フリガナ|ふりがな|申請者(?:氏名|名)?|届出人(?:氏名)?|世帯主(?:氏名|名)?|相談者(?:氏名|名)?|"
    r"被保険者(?:氏名|名)|受給者(?:氏名|名)?|代理人(?:氏名)?|保護者(?:氏名|名)?|児童(?:氏名|名)|本人|"
    r"対象者(?:氏名|名)?|契約者(?:氏名|名)?|納税者(?:氏名|名)?|被相談者|依頼者|問い?合わせ者)(?:\s?[:：]\s?| )"
    r"|(?:長男|長女|次男|次女|三男|三女|配偶者|妻|夫|祖父|祖母|孫)\s?[:：]\s?)"
    rf"({_NAME_CHARS}{{1,8}}(?: {_NAME_CHARS}{{1,8}})?)")
_NAME_HONORIFIC = re.compile(rf"(?<![{_KANJI}ァ-ヶー])({_NAME_CHARS}{{1,6}}(?: {_NAME_CHARS}{{1,6}})?)(?={_HONORIFIC_RE})")
_NOT_NAME_PART = re.compile(r"(?:欄|記入|記載|変更|確認|入力|必須|任意|不明|未定|無し|等|電話|住所|生年月日|連絡先|メール|内容|年齢|性別|職業|続柄|携帯|番号|備考|相談|用件|"
                            r"所属|個人番号|マイナンバー|宛名|被保険者|受付|フリガナ|ふりがな|TEL|FAX|様|殿)")
_KATAKANA_NAME = re.compile(rf"(?<![ァ-ヶー・])([ァ-ヶー]{{1,10}}(?:[・=＝ ][ァ-ヶー]{{1,10}}){{1,3}})(?=\s?(?:{_HONORIFIC_RE}))")
_FURIGANA = re.compile(r"\s?[(（]([ァ-ヶー]{1,10}(?: [ァ-ヶー]{1,10})?)[)）]")
# Words that take an honorific but are not names (お客様, 皆さん, 担当者様 …), for the regex paths.
_NOT_NAMES_BEFORE_HONORIFIC = {
    "皆", "客", "お客", "利用者", "担当者", "申請者", "保護者", "家族", "ご家族", "相談者", "方", "奥", "母", "父",
    "兄", "姉", "弟", "妹", "先方", "市民", "住民", "業者", "大家", "管理人", "各位", "事業者", "受給者", "被保険者",
    "世帯主", "本人", "ご本人", "代理人", "対象者", "納税者", "関係者", "来庁者", "参加者", "応募者", "出席者",
    "職員", "委員", "議員", "先生", "患者", "児童", "生徒", "神", "仏", "王", "殿", "貴", "同", "御中", "ご主人",
    "主人", "娘", "息子", "お子", "子", "孫", "祖母", "祖父", "叔母", "叔父", "伯母", "伯父", "担当", "作業者",
    "一般", "会員", "組合員", "所有者", "居住者", "入居者", "契約者", "依頼者", "請求者", "同居人", "隣人", "町内",
}
_SUFFIX_NOT_NAME = re.compile(r"(?:課|係|部|室|局|所|署|会|校|園|館|市|区|町|村|県|都|府|社|店|院|団|協会|センター)$")
_NAME_STOP_DEFAULT = ("尼崎", "立花", "園田", "武庫", "大庄", "杭瀬", "潮江", "塚口", "小田", "長洲", "神崎", "浜田",
                      "難波", "常光寺", "西宮", "伊丹", "宝塚", "芦屋", "神戸", "大阪", "阪神")


# --------------------------------------------------------------------------------------------------------------
# Sudachi (lazy; the dictionary once per process, one tokenizer per thread)

_local = threading.local()


def sudachi_tokenizer():
    """The calling thread's Sudachi tokenizer (SudachiDict-core), or None when SudachiPy is unavailable."""
    tok = getattr(_local, "tokenizer", None)
    if tok is None:
        try:
            tok = dictionary().create()
        except Exception as e:  # noqa: BLE001 - degrade to regex-only names, loudly
            log.warning("SudachiPy unavailable, names found by context only: %s", e)
            tok = False
        _local.tokenizer = tok
    return tok or None


@dataclass
class _Tok:
    surface: str
    begin: int
    end: int
    pos: tuple[str, ...]
    oov: bool

    @property
    def person(self) -> bool:
        return self.pos[2] == "人名" if len(self.pos) > 2 else False

    @property
    def noun(self) -> bool:
        return self.pos[0] in ("名詞", "接尾辞", "接頭辞")

    @property
    def space(self) -> bool:
        return self.pos[0] == "空白"


# --------------------------------------------------------------------------------------------------------------
# Settings parsing helpers (shared with policy.py)

def parse_list(value: str | None) -> list[str]:
    """A JSON list, or values separated by commas / semicolons / new lines (spaces are kept: addresses)."""
    if not value or not value.strip():
        return []
    v = value.strip()
    if v.startswith("["):
        data = json.loads(v)
        if not isinstance(data, list):
            raise ValueError("a JSON list is expected")
        return [str(x).strip() for x in data if str(x).strip()]
    return [p.strip() for p in re.split(r"[,;\n、]", v) if p.strip()]


@dataclass(frozen=True)
class CustomPattern:
    label: str
    regex: re.Pattern


def parse_custom_patterns(value: str | None) -> list[CustomPattern]:
    """`[{"label": "宛名番号", "regex": "宛名番号[:：]?\\s*(\\d{6,10})"}]` — with a group, only group 1 is masked."""
    if not value or not value.strip():
        return []
    try:
        data = json.loads(value)
    except json.JSONDecodeError as e:
        raise ValueError(f"GUARD_CUSTOM_PATTERNS is not valid JSON: {e}") from e
    if not isinstance(data, list):
        raise ValueError("GUARD_CUSTOM_PATTERNS must be a JSON list of {label, regex}")
    out = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not item.get("label") or not item.get("regex"):
            raise ValueError(f"GUARD_CUSTOM_PATTERNS[{i}] needs a non-empty label and regex")
        try:
            rx = re.compile(normalize_width(str(item["regex"])))
        except re.error as e:
            raise ValueError(f"GUARD_CUSTOM_PATTERNS[{i}] ({item['label']}): invalid regex: {e}") from e
        out.append(CustomPattern(str(item["label"]), rx))
    return out


def _address_key(s: str) -> str:
    """Comparable form of an address: width-normalised, no spaces, no prefecture, 丁目/番地/番/号 → '-'."""
    s = normalize_width(s)
    s = re.sub(r"〒?\s?\d{3}-?\d{4}", "", s)
    s = re.sub(r"\s", "", s)
    s = re.sub(rf"^(?:{_PREFS})", "", s)
    s = re.sub(r"(丁目|番地の|番地|番|号|の)", "-", s)
    s = re.sub(r"-+", "-", s).strip("-")
    return s


# --------------------------------------------------------------------------------------------------------------
# Detector

class PiiDetector:
    """Finds personal data in Japanese text. `use_analyser=False` gives the regex-only baseline (no Sudachi)."""

    def __init__(self, settings: "GuardSettings | None" = None, *, use_analyser: bool = True) -> None:
        if settings is None:
            from core.guard.policy import GuardSettings

            settings = GuardSettings()
        self.settings = settings
        self.use_analyser = use_analyser
        self.custom = parse_custom_patterns(settings.GUARD_CUSTOM_PATTERNS)
        addresses = parse_list(settings.GUARD_PUBLIC_ADDRESSES)
        self.public_address_keys = {k for k in (_address_key(a) for a in addresses) if k}
        self.public_postal = {_digits(m.group(1)) for a in addresses
                              for m in re.finditer(r"〒\s?(\d{3}-?\d{4})", normalize_width(a))}
        self.public_phones = {_phone_digits(p) for p in parse_list(settings.GUARD_PUBLIC_PHONES)}
        self.name_stopwords = set(_NAME_STOP_DEFAULT) | set(parse_list(getattr(settings, "GUARD_NOT_NAMES", "")))

    # -- public ------------------------------------------------------------------------------------------------

    def detect(self, text: str) -> list[Span]:
        if not text:
            return []
        norm = normalize_width(text)
        cands: list[tuple[str, int, int, str | None]] = []
        cands += self._custom(norm)
        cands += self._mynumber(norm)
        cands += [("email", m.start(), m.end(), None) for m in _EMAIL.finditer(norm)]
        cands += self._phone(norm)
        cands += self._postal(norm)
        cands += self._address(norm)
        cands += self._birthdate(norm)
        cands += self._names(norm)
        chosen: list[tuple[str, int, int, str | None]] = []
        starts: list[int] = []  # taken intervals, kept sorted and disjoint
        ends: list[int] = []
        for c in sorted(cands, key=lambda c: (_PRIORITY[c[0]], -(c[2] - c[1]), c[1])):
            k = bisect.bisect_right(starts, c[1])
            if c[2] <= c[1] or (k > 0 and ends[k - 1] > c[1]) or (k < len(starts) and starts[k] < c[2]):
                continue
            chosen.append(c)
            starts.insert(k, c[1])
            ends.insert(k, c[2])
        spans = [Span(k, s, e, text[s:e], lab) for k, s, e, lab in chosen if not self._public(k, norm[s:e])]
        return sorted(spans, key=lambda sp: sp.start)

    # -- kinds ---------------------------------------------------------------------------------------------------

    def _custom(self, norm: str):
        out = []
        for cp in self.custom:
            for m in cp.regex.finditer(norm):
                g = 1 if cp.regex.groups >= 1 and m.group(1) is not None else 0
                out.append(("custom", m.start(g), m.end(g), cp.label))
        return out

    def _mynumber(self, norm: str):
        out = []
        for m in _MYNUMBER.finditer(norm):
            if _NOT_AFTER_NUMBER.match(norm, m.end()) or (m.start() > 0 and norm[m.start() - 1] in "¥￥$"):
                continue
            if is_valid_mynumber(m.group(0)):
                out.append(("mynumber", m.start(), m.end(), None))
        return out

    def _phone(self, norm: str):
        out = []
        for m in _PHONE.finditer(norm):
            s = m.group(0)
            if s.count("(") != s.count(")"):
                continue
            d = _phone_digits(s)
            if not d.startswith("0") or d.startswith("00"):
                continue
            if len(d) == 10 or (len(d) == 11 and d.startswith(_PHONE_11_PREFIXES)):
                out.append(("phone", m.start(), m.end(), None))
        return out

    def _postal(self, norm: str):
        out = [("postal", m.start(1), m.end(1), None) for m in _POSTAL_MARKED.finditer(norm)]
        out += [("postal", m.start(), m.end(), None) for m in _POSTAL_BARE.finditer(norm)]
        return out

    def _address(self, norm: str):
        out = []
        for rx in (_ADDRESS_FULL, _ADDRESS_PREF, _ADDRESS_TOWN):
            for m in rx.finditer(norm):
                s, e = m.start(), m.end()
                lead = _ADDRESS_LEAD.match(norm, s, e)
                if lead:
                    s = lead.end()
                pref = _PREF_RE.search(norm, s, min(e, s + 6))
                if pref:
                    s = pref.start()
                trail = _ADDRESS_TRAIL.search(norm, s, e)
                if trail:
                    e = trail.start()
                while e > s and norm[e - 1] == " ":
                    e -= 1
                if e - s >= 4:
                    out.append(("address", s, e, None))
        return out

    def _birthdate(self, norm: str):
        out = []
        for m in _DATE.finditer(norm):
            before = norm[max(0, m.start() - 12):m.start()]
            before = before.split("\n")[-1]
            if _BIRTH_BEFORE.search(before) or _BIRTH_AFTER.match(norm[m.end():m.end() + 8]):
                out.append(("birthdate", m.start(), m.end(), None))
        return out

    def _names(self, norm: str):
        out = []
        # Label context: 氏名：山田 太郎
        for m in _NAME_LABEL.finditer(norm):
            s, e = m.start(1), m.end(1)
            val = norm[s:e]
            if " " in val and _NOT_NAME_PART.match(val.split(" ", 1)[1]):
                val = val.split(" ", 1)[0]
                e = s + len(val)
            trimmed = re.sub(rf"(?:{_HONORIFIC_RE}|宛|殿)$", "", val)
            e -= len(val) - len(trimmed)
            if e > s and trimmed.replace(" ", "") not in _NOT_NAMES_BEFORE_HONORIFIC \
                    and not _NOT_NAME_PART.match(trimmed):
                out.append(("name", s, e, None))
        # Foreign names in katakana with a separator, before an honorific: グエン・ヴァン・アン様
        out += [("name", m.start(1), m.end(1), None) for m in _KATAKANA_NAME.finditer(norm)]
        if self.use_analyser and (tok := sudachi_tokenizer()) is not None:
            out += self._names_sudachi(norm, tok)
        else:
            out += self._names_regex(norm)
        # Furigana right after a name: 山田太郎（ヤマダ タロウ）
        extra = []
        for _, _s, e, _ in out:
            f = _FURIGANA.match(norm, e)
            if f:
                extra.append(("name", f.start(1), f.end(1), None))
        return out + extra

    def _names_regex(self, norm: str):
        out = []
        for m in _NAME_HONORIFIC.finditer(norm):
            val = m.group(1)
            if val.replace(" ", "") in _NOT_NAMES_BEFORE_HONORIFIC or _SUFFIX_NOT_NAME.search(val) \
                    or len(val) < 2 or not _HONORIFIC_AFTER.match(norm, m.end(1)):
                continue
            out.append(("name", m.start(1), m.end(1), None))
        return out

    def _names_sudachi(self, norm: str, tokenizer) -> list:
        from sudachipy import SplitMode

        out = []
        for line_start, line in _lines(norm):
            if not line.strip():
                continue
            toks = [_Tok(m.surface(), line_start + m.begin(), line_start + m.end(), tuple(m.part_of_speech()),
                         m.is_oov()) for m in tokenizer.tokenize(line, SplitMode.C)]
            n = len(toks)
            i = 0
            while i < n:
                t = toks[i]
                prev = toks[i - 1] if i > 0 else None
                if not t.person:
                    # A word the dictionary does not file as a person (unknown names, 地名-like surnames such as
                    # 岡本 or 小野) counts when an honorific or a staff title follows it directly.
                    candidate = t.oov or t.pos[:2] == ("名詞", "固有名詞")
                    if candidate and _is_name_like(t.surface) and _starts_compound(prev) is False \
                            and t.surface not in _NOT_NAMES_BEFORE_HONORIFIC and t.surface not in self.name_stopwords \
                            and not _SUFFIX_NOT_NAME.search(t.surface) \
                            and (_HONORIFIC_AFTER.match(norm, t.end)
                                 or ((t.oov or t.pos[2] == "地名") and _TITLE_AFTER.match(norm, t.end))) \
                            and not (t.pos[2] == "地名" and _PLACE_TITLE_AFTER.match(norm, t.end)):
                        out.append(("name", t.begin, t.end, None))
                    i += 1
                    continue
                # A run of 人名 tokens (a single space may separate 姓 and 名).
                j = i
                parts = [t]
                while j + 1 < n:
                    nxt = toks[j + 1]
                    if nxt.person:
                        j += 1
                        parts.append(nxt)
                    elif nxt.space and j + 2 < n and toks[j + 2].person and len(nxt.surface) == 1:
                        j += 2
                        parts.append(toks[j])
                    else:
                        break
                # A given name split into 名 + a one-kanji suffix before an honorific: 悠 + 人 + くん
                if j + 1 < n and toks[j + 1].pos[0] == "接尾辞" and re.fullmatch(rf"[{_KANJI}]", toks[j + 1].surface) \
                        and toks[j + 1].surface not in _HONORIFICS and _HONORIFIC_AFTER.match(norm, toks[j + 1].end):
                    j += 1
                    parts.append(toks[j])
                # 姓 + a given name the dictionary files as a common noun or does not know: 高橋蒼空くん, 伊藤 蒼様,
                # 青木蒼、 — accepted before an honorific, or before punctuation / the end of the line.
                if parts[-1].pos[3] == "姓" and j + 1 < n:
                    k = j + 1
                    if toks[k].space and len(toks[k].surface) == 1 and k + 1 < n:
                        k += 1
                    g = toks[k]
                    if g.pos[0] == "名詞" and g.pos[1] in ("普通名詞", "固有名詞") and g.pos[2] == "一般" \
                            and re.fullmatch(rf"[{_KANJI}ァ-ヶー]{{1,3}}", g.surface) \
                            and not _NOT_NAME_PART.match(g.surface):
                        after = toks[k + 1] if k + 1 < n else None
                        if _HONORIFIC_AFTER.match(norm, g.end) or (
                                k == j + 1 and (len(g.surface) == 1 or g.oov)
                                and (after is None or after.pos[0] in ("補助記号", "空白"))):
                            j = k
                            parts.append(g)
                # 名 preceded by a surname the dictionary files as a place (中野 誠様, 岡本美咲): take it in.
                merged_back = False
                if parts[0].pos[3] == "名" and i > 0:
                    b = i - 1
                    if toks[b].space and len(toks[b].surface) == 1 and b > 0:
                        b -= 1
                    back = toks[b]
                    if back.pos[:2] == ("名詞", "固有名詞") and back.pos[2] in ("地名", "一般") \
                            and re.fullmatch(rf"[{_KANJI}]{{1,4}}", back.surface) \
                            and back.surface not in self.name_stopwords:
                        parts.insert(0, back)
                        i, merged_back = b, True
                start, end = parts[0].begin, parts[-1].end
                following = toks[j + 1] if j + 1 < n else None
                kinds = {p.pos[3] for p in parts if len(p.pos) > 3}
                surface = norm[start:end]
                full = merged_back or ("姓" in kinds and ("名" in kinds or len(parts) > 1))
                prev = toks[i - 1] if i > 0 else None
                honor = bool(_HONORIFIC_AFTER.match(norm, end) or _TITLE_AFTER.match(norm, end))
                # A lone 人名 word counts when it stands as a noun phrase on its own (followed by a particle,
                # punctuation or the end), not as part of a compound (立花駅, 藤原京, 園田地区).
                alone = (following is None or not following.noun or following.space) \
                    and _starts_compound(prev) is False and surface not in self.name_stopwords and len(surface) >= 2
                if full or honor or alone:
                    out.append(("name", start, end, None))
                i = j + 1
        return out

    # -- public data -----------------------------------------------------------------------------------------------

    def _public(self, kind: str, value: str) -> bool:
        if kind == "phone":
            return _phone_digits(value) in self.public_phones
        if kind == "postal":
            return _digits(value) in self.public_postal
        if kind == "address":
            key = _address_key(value)
            for pub in self.public_address_keys:
                if key == pub or pub.endswith(key) or key.startswith(pub):
                    if re.search(r"[^\d\-]", key):  # the town part must be there, not digits alone
                        return True
        return False


def _phone_digits(s: str) -> str:
    n = normalize_width(s).strip()
    n = _PHONE_PLUS81.sub("0", n) if n.startswith("+81") else n
    return _digits(n)


_MAX_CHUNK = 4000  # characters; SudachiPy refuses inputs over 49,149 bytes (a kanji is 3 bytes in UTF-8)


def _lines(text: str) -> Iterable[tuple[int, str]]:
    """(offset, line) pieces for the analyser: lines, long ones cut after 。/. or at a space near the limit."""
    pos = 0
    for line in text.split("\n"):
        start = 0
        while len(line) - start > _MAX_CHUNK:
            window = line[start:start + _MAX_CHUNK]
            cut = max(window.rfind("。"), window.rfind("．"), window.rfind(". "), window.rfind(" "))
            cut = cut + 1 if cut > _MAX_CHUNK // 2 else _MAX_CHUNK
            yield pos + start, line[start:start + cut]
            start += cut
        yield pos + start, line[start:]
        pos += len(line) + 1


def _starts_compound(prev: "_Tok | None") -> bool:
    """True when the previous token glues onto the candidate as part of one compound noun (市民課山田 …)."""
    if prev is None or prev.space or not prev.noun:
        return False
    return not (prev.pos[1] == "数詞" or prev.surface in ("新", "旧", "故", "元", "前"))


def _is_name_like(s: str) -> bool:
    return bool(re.fullmatch(rf"{_NAME_CHARS}{{1,10}}", s))


# --------------------------------------------------------------------------------------------------------------
# Masking

_PLACEHOLDER = re.compile(r"[［\[]\s*([^\s\[\]［］0-9０-９]{1,12}?)\s*([0-9０-９]{1,4})\s*[］\]]")


class MaskSession:
    """Placeholders for one AI request: the same value always maps to the same placeholder across all its
    messages, and `restore` puts the values back into the model's answer."""

    def __init__(self, detector: PiiDetector) -> None:
        self.detector = detector
        self._by_key: dict[tuple[str, str, str], str] = {}
        self._values: dict[str, str] = {}
        self._next: Counter[str] = Counter()
        self._kind_of: dict[str, str] = {}
        self._label_counts: Counter[tuple[str, str]] = Counter()
        self._seen: dict[str, list[Span]] = {}  # text → spans: decide() and mask() detect each text once

    def _detect(self, text: str) -> list[Span]:
        spans = self._seen.get(text)
        if spans is None:
            spans = self.detector.detect(text)
            if len(self._seen) < 256:
                self._seen[text] = spans
        return spans

    # -- registering ---------------------------------------------------------------------------------------------

    def _placeholder(self, span: Span) -> str:
        label = span.placeholder_label
        key = (span.kind, label, _value_key(span))
        ph = self._by_key.get(key)
        if ph is None:
            self._next[label] += 1
            ph = f"［{label}{self._next[label]}］"
            self._by_key[key] = ph
            self._values[ph] = span.text
            self._kind_of[ph] = span.kind
            self._label_counts[(span.kind, label)] += 1
        return ph

    def observe(self, text: str) -> list[Span]:
        """Detect and number the values in `text` without changing it (counts fill in)."""
        spans = self._detect(text or "")
        for sp in spans:
            self._placeholder(sp)
        return spans

    def mask(self, text: str) -> str:
        if not text:
            return text
        spans = self._detect(text)
        out, pos = [], 0
        for sp in spans:
            out.append(text[pos:sp.start])
            out.append(self._placeholder(sp))
            pos = sp.end
        out.append(text[pos:])
        return "".join(out)

    def restore(self, text: str) -> str:
        """Put the original values back; accepts ［氏名1］, [氏名1] and full-width digits as echoed by models."""
        if not text or not self._values:
            return text

        def repl(m: re.Match) -> str:
            num = normalize_width(m.group(2))
            ph = f"［{m.group(1)}{int(num)}］"
            return self._values.get(ph, m.group(0))

        return _PLACEHOLDER.sub(repl, text)

    # -- reporting -----------------------------------------------------------------------------------------------

    @property
    def counts(self) -> dict[str, int]:
        """Distinct values per kind (kinds with none are left out)."""
        c: Counter[str] = Counter()
        for (kind, _), n in self._label_counts.items():
            c[kind] += n
        return {k: c[k] for k in KINDS if c[k]}

    @property
    def placeholders(self) -> dict[str, str]:
        """placeholder → original value (never log this)."""
        return dict(self._values)

    def has(self, kind: str) -> bool:
        return any(k == kind for (k, _) in self._label_counts)

    def summary_ja(self) -> str:
        parts = []
        for kind in KINDS:
            items = sorted(((lab, n) for (k, lab), n in self._label_counts.items() if k == kind))
            for lab, n in items:
                name = lab if kind == "custom" else SUMMARY_LABELS[kind]
                parts.append(f"{name}{n}件")
        return "・".join(parts) + "を伏せて送信しました" if parts else ""


def _value_key(span: Span) -> str:
    if span.kind in ("phone",):
        return _phone_digits(span.text)
    if span.kind in ("mynumber", "postal"):
        return _digits(span.text)
    if span.kind == "email":
        return normalize_width(span.text).lower()
    if span.kind == "address":
        return _address_key(span.text)
    return re.sub(r"\s", "", normalize_width(span.text))


def mask_content(content: Any, session: MaskSession) -> Any:
    """Mask a chat message's content: a string, or a list of parts with {"type": "text", "text": …}."""
    if isinstance(content, str):
        return session.mask(content)
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                part = {**part, "text": session.mask(part["text"])}
            parts.append(part)
        return parts
    return content
