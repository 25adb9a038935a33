"""Which language a resident wrote in: the languages the bot answers in, told apart by script (good enough for a
question of a few words; anything else is answered in Japanese)."""
from __future__ import annotations

import re
import unicodedata

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
# letters only Vietnamese uses among these languages (đ, ơ, ư and the vowels with a tone mark)
_VIETNAMESE = re.compile(r"[đĐơƠưƯăĂ]|[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.I)
# characters of written Chinese that Japanese does not use (simplified forms, particles): a question of Han characters
# alone is Chinese only with one of these (「住民票 手数料」 is Japanese)
# Traditional forms count too (Taiwan, Hong Kong): 這們麼嗎… are not used in modern Japanese; characters Japanese
# shares (会, 誰, 領, 該, 棄, 請, 費 …) are left out, so 「会議 日程」 stays Japanese.
_CHINESE = re.compile(r"[这们请问该么吗呢时过为个样说对给还没办证费补领贴发电码话哪怎谁扔垃圾吧啊儿岁钱银买卖开关门车书"
                      r"你您這們麼嗎會說對沒辦證發碼兒歲錢賣關號區醫藥學廢丟點處應]")
# forms only Traditional Chinese writes (their simplified forms are above): a Chinese question with more of these than
# of the simplified forms is answered in Traditional Chinese
_TRADITIONAL = re.compile(r"[這們麼嗎會說對沒辦證發碼兒歲錢賣關號區醫藥學廢丟點處應請問該時過為個樣給還費補領貼電話誰開門車書買"
                          r"銀]")
_SIMPLIFIED = re.compile(r"[这们么吗会说对没办证发码儿岁钱卖关号区医药学废丢点处应请问该时过为个样给还费补领贴电话谁开门车书买"
                         r"银]")
_EASY = ("やさしい日本語", "やさしいにほんご", "易しい日本語", "優しい日本語", "簡単な日本語", "かんたんな日本語",
         "easy japanese", "plain japanese")


def detect(text: str) -> str:
    """"ja", "easy_ja" (やさしい日本語 asked for), "ko", "zh" (Simplified), "zh_hant" (Traditional), "vi" or "en": the
    script most of the question is
    written in (a CJK character counts as two letters: "How do I throw away 粗大ごみ?" is English, 「PDFの申請書は？」
    Japanese); Han characters without kana are Chinese when they use Chinese-only characters, else Japanese."""
    t = unicodedata.normalize("NFKC", text or "")
    low = t.lower()
    if any(w in low for w in _EASY):
        return "easy_ja"
    kana, han, hangul = len(_KANA.findall(t)), len(_HAN.findall(t)), len(_HANGUL.findall(t))
    latin = len(_LATIN.findall(t)) + len(_VIETNAMESE.findall(t))
    cjk = 2 * (kana + han)
    if hangul and 2 * hangul >= max(cjk, latin):
        return "ko"
    if latin > cjk:
        return "vi" if _VIETNAMESE.search(t) else "en"
    if kana:
        return "ja"
    if han and _CHINESE.search(t):
        return "zh_hant" if len(_TRADITIONAL.findall(t)) > len(_SIMPLIFIED.findall(t)) else "zh"
    return "ja"


_HANT_REGIONS = {"tw", "hk", "mo"}


def of_locale(locale: object) -> str:
    """The answer language for a browser's locale ("en-US", "zh-Hant-TW", "ko", "vi-VN"); Japanese otherwise.
    Chinese is Traditional for the Hant script or a Taiwan, Hong Kong or Macau region without a script, else
    Simplified."""
    parts = str(locale or "").strip().lower().replace("_", "-").split("-")
    primary = parts[0]
    if primary == "zh":
        script = next((p for p in parts[1:] if len(p) == 4), "")
        if script == "hant" or (not script and _HANT_REGIONS & set(parts[1:])):
            return "zh_hant"
        return "zh"
    return primary if primary in ("en", "ko", "vi") else "ja"


def frame(language: str) -> str:
    """The language of the texts around an answer (やさしい日本語 uses the Japanese ones)."""
    return "ja" if language == "easy_ja" else language
