"""Japanese text analysis for retrieval.

`SudachiAnalyzer` is the production analyser: NFKC, SudachiPy (SudachiDict-core) split mode C for whole compounds
plus mode A sub-tokens for recall ("粗大ごみ" also yields "粗大" and "ごみ"), each reduced to its normalized form
(ゴミ/ごみ/塵 → 塵, ＰＥＴボトル → ペットボトル), with particles, auxiliaries, symbols, prefixes (the お of お風呂
matched the お of お菓子), conjunctions, interjections and a few function words dropped, as the usual Japanese stop
tags do.
Question words (いつ, どこ, 誰 …) are kept: in FAQ-style documents they tell "いつから接種できますか" from
"どこで接種できますか".

For indexing, each whole word also yields its SudachiDict synonym groups as `~<group id>` terms (インターネット and
ネット share a group; so do 年休 and 年次休暇). Search uses them only to stand in for a query word the searched sets
never use, so they widen recall without changing the ranking of words that do occur.

Readings join the katakana and kanji spellings of a noun that the dictionary does not normalise (ビン/瓶, カン/缶,
カサ/傘): a noun written in kanji is indexed with its reading as an index-only `~@<reading in hiragana>` term, one
written in katakana that the dictionary left in kana as `~#<reading>`. A katakana query word looks for the first,
a kanji one for the second; the reading is a weaker match than the word itself (`Index._bm25`). Kanji never meet
kanji by reading (紙/髪), nor hiragana words, which are mostly formal nouns (せい, とき), and a word the dictionary
already wrote in kanji (くつ, メガネ → 靴, 眼鏡) is matched by its term. Verbs and adjectives have no reading
term: their readings are of the inflected surface (打った → うっ).
`BigramAnalyzer` is the plain character-bigram baseline the benchmark compares against."""
from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import NamedTuple, Protocol

from core.sudachi import dictionary

# Part-of-speech heads that carry no topical meaning.
_DROP_POS = {"助詞", "助動詞", "補助記号", "記号", "空白", "接頭辞", "接続詞", "感動詞"}
# Function words (normalized forms) that only add noise to BM25.
_STOP = {
    "為る", "有る", "居る", "成る", "出来る", "下さる", "遣る", "思う", "言う", "致す", "頂く", "頂ける", "れる", "られる",
    "せる", "させる", "ます", "です", "こと", "もの", "物", "事", "よう", "様", "ため", "為", "所", "ところ", "方",
    "これ", "それ", "あれ", "此れ", "其れ", "彼れ", "どれ", "何れ", "この", "その", "あの", "どの", "此の", "其の", "彼の",
    "ない", "無い", "良い", "いい", "可い", "欲しい", "教える", "知る", "分かる", "分る",
}
# Question words (normalized and folded forms): kept as terms, but a question word the documents never use does not
# count as a missing part of the question (see `Index.search`'s coverage).
QUESTION_WORDS = frozenset({
    "何", "なに", "なん", "どこ", "何処", "いつ", "何時", "どう", "如何", "どんな", "どうして", "どうやって", "どなた",
    "誰", "だれ", "いくら", "幾ら", "何故", "なぜ",
})
SYNONYM_PREFIX = "~"  # index-only terms: "~<SudachiDict synonym group id>"
READING_PREFIX = SYNONYM_PREFIX + "@"  # index-only: "~@<reading in hiragana>" of a noun written in kanji
KATAKANA_PREFIX = SYNONYM_PREFIX + "#"  # index-only: "~#<reading in hiragana>" of a noun written in katakana


class QueryTerm(NamedTuple):
    """One query word: its term, the synonym-group terms that may stand in for it, and the term that finds other
    spellings of it by their reading ("" if none; a weaker match, see `Index._bm25`)."""

    term: str
    synonyms: tuple[str, ...] = ()
    reading: str = ""


_MAX_SUDACHI_BYTES = 40_000  # Sudachi refuses inputs above ~49 KB; analyse longer text piecewise.
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, unify whitespace. Case is folded by the analysers (Sudachi needs the original case for proper nouns)."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text or "")).strip()


class Analyzer(Protocol):
    name: str

    def terms(self, text: str) -> list[str]: ...


class SudachiAnalyzer:
    """SudachiPy mode C tokens plus mode A sub-tokens, normalized forms, content words only."""

    name = "sudachi"

    def __init__(self, *, sub_tokens: bool = True) -> None:
        self.sub_tokens = sub_tokens
        self._local = threading.local()  # Sudachi tokenizers are not thread-safe: one per thread.
        self._forms: dict[str, str] = {}

    def _tokenizer(self):
        tok = getattr(self._local, "tok", None)
        if tok is None:
            from sudachipy import SplitMode

            tok = dictionary().tokenizer(mode=SplitMode.C)
            self._local.tok = tok
        return tok

    def _word_form(self, surface: str, fallback: str) -> str:
        """Normalized form of a sub-token analysed as a word on its own: the dictionary's mode A entries keep
        the surface (粗大ゴミ → ゴミ), while the standalone word normalizes (ゴミ → 塵) like the mode C tokens do."""
        cache = self._forms
        form = cache.get(surface)
        if form is None:
            ms = self._tokenizer().tokenize(surface)
            form = ms[0].normalized_form() if len(ms) == 1 else fallback
            if len(cache) < 200_000:
                cache[surface] = form
        return form

    def _words(self, text: str) -> list[tuple[QueryTerm, str]]:
        """Every word in order, with the index-only reading term it is stored with ("" if none)."""
        from sudachipy import SplitMode

        text = normalize(text)
        if not text:
            return []
        out: list[tuple[QueryTerm, str]] = []
        tok = self._tokenizer()
        for piece in _pieces(text):
            for m in tok.tokenize(piece):
                pos = m.part_of_speech()
                if pos[0] in _DROP_POS:
                    continue
                term = _term(m.normalized_form())
                if term is None:
                    continue
                groups = tuple(f"{SYNONYM_PREFIX}{g}" for g in m.synonym_group_ids())
                surface = m.surface()
                reading = _reading(m.reading_form()) if pos[0] == "名詞" and pos[1] != "数詞" and not m.is_oov() else ""
                out.append((QueryTerm(term, groups, _query_reading(term, surface, reading)),
                            _index_reading(term, surface, reading)))
                if self.sub_tokens:
                    subs = m.split(SplitMode.A)
                    if len(subs) > 1:
                        for s in subs:
                            sub_pos = s.part_of_speech()
                            if sub_pos[0] in _DROP_POS:
                                continue
                            st = _term(self._word_form(s.surface(), s.normalized_form()))
                            if st is not None and st != term:
                                sr = _reading(s.reading_form()) if sub_pos[0] == "名詞" and sub_pos[1] != "数詞" else ""
                                ss = s.surface()
                                out.append((QueryTerm(st, (), _query_reading(st, ss, sr)), _index_reading(st, ss, sr)))
        return out

    def analyse(self, text: str) -> list[QueryTerm]:
        """Every term in order: whole words carry their synonym-group terms, sub-tokens carry none; both carry
        their reading's query term."""
        return [w for w, _ in self._words(text)]

    def terms(self, text: str) -> list[str]:
        return [t.term for t in self.analyse(text)]

    def index_terms(self, text: str) -> list[str]:
        """`terms` plus each whole word's synonym-group terms and each word's reading term (stored with the chunk,
        not counted in its length)."""
        out: list[str] = []
        for t, reading in self._words(text):
            out.append(t.term)
            out.extend(t.synonyms)
            if reading:
                out.append(reading)
        return out

    def query(self, text: str) -> list[QueryTerm]:
        """The distinct words of a query with their synonym groups."""
        seen: dict[str, QueryTerm] = {}
        for t in self.analyse(text):
            if t.term not in seen or (t.synonyms and not seen[t.term].synonyms):
                seen[t.term] = t
        return list(seen.values())


# Katakana → hiragana, so that standalone ゴミ and ごみ (which the dictionary keeps apart) meet; "塵" is the normalized
# form Sudachi gives ごみ inside compounds (粗大ごみ → 粗大塵), written back the way people write it.
_KANA_FOLD = {c: c - 0x60 for c in range(0x30A1, 0x30F7)}


def fold(term: str) -> str:
    return term.translate(_KANA_FOLD).replace("塵", "ごみ")


def _term(form: str) -> str | None:
    form = fold(form.strip().lower())
    if not form or form in _STOP:
        return None
    if len(form) == 1 and ("\u3040" <= form <= "\u309f"):  # a lone hiragana is noise
        return None
    return form


_KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30faー]+")
_KATAKANA = re.compile(r"[\u30a1-\u30faー]+")
_HAS_KANJI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff々]")


def _reading(katakana: str) -> str:
    """A word's reading in hiragana, or "" when it cannot join spellings: not all kana, or one mora-ish character
    (木/気/黄 all read き)."""
    r = katakana.translate(_KANA_FOLD)
    return r if len(r) >= 2 and _KANA.fullmatch(r) else ""


def _spelling(term: str, surface: str, reading: str) -> str | None:
    """"kanji" for a noun written in kanji, "katakana" for one written in katakana that the dictionary left in
    kana (ビン; not メガネ, which it writes 眼鏡), None otherwise (no reading term)."""
    if not reading:
        return None
    if _HAS_KANJI.search(term):
        return "kanji"
    if _KATAKANA.fullmatch(surface) and _KANA.fullmatch(term):
        return "katakana"
    return None


_OWN = {"kanji": READING_PREFIX, "katakana": KATAKANA_PREFIX}
_OTHER = {"kanji": KATAKANA_PREFIX, "katakana": READING_PREFIX}


def _index_reading(term: str, surface: str, reading: str) -> str:
    """The index-only reading term a noun is stored with: `~@` for one written in kanji, `~#` for one in katakana."""
    kind = _spelling(term, surface, reading)
    return _OWN[kind] + reading if kind else ""


def _query_reading(term: str, surface: str, reading: str) -> str:
    """The reading term a query word finds the other spelling by: a katakana word, the same reading in kanji (ビン →
    瓶); a kanji word, the same reading in katakana (傘 → カサ)."""
    kind = None if term in QUESTION_WORDS else _spelling(term, surface, reading)
    return _OTHER[kind] + reading if kind else ""


def _pieces(text: str) -> list[str]:
    if len(text.encode("utf-8")) <= _MAX_SUDACHI_BYTES:
        return [text]
    out: list[str] = []
    buf: list[str] = []
    size = 0
    for sent in re.split(r"(?<=[。！？!?\n])", text):
        n = len(sent.encode("utf-8"))
        if size + n > _MAX_SUDACHI_BYTES and buf:
            out.append("".join(buf))
            buf, size = [], 0
        while n > _MAX_SUDACHI_BYTES:  # one huge "sentence": cut by characters
            out.append(sent[:10_000])
            sent = sent[10_000:]
            n = len(sent.encode("utf-8"))
        buf.append(sent)
        size += n
    if buf:
        out.append("".join(buf))
    return out


_WORDCHARS = re.compile(r"[^\W_]+")


class BigramAnalyzer:
    """Baseline: overlapping character bigrams of each run of letters/digits (a lone character stays a unigram)."""

    name = "bigram"

    def terms(self, text: str) -> list[str]:
        out: list[str] = []
        for run in _WORDCHARS.findall(normalize(text).lower()):
            if len(run) == 1:
                out.append(run)
            else:
                out.extend(run[i:i + 2] for i in range(len(run) - 1))
        return out


@lru_cache(maxsize=1)
def sudachi() -> SudachiAnalyzer:
    """The process-wide Sudachi analyser (the dictionary loads once, ~1 s)."""
    return SudachiAnalyzer()


@lru_cache(maxsize=4096)
def query_terms(text: str) -> tuple[QueryTerm, ...]:
    """Analysed words of a query with their synonym groups, cached (users repeat questions)."""
    return tuple(sudachi().query(text))
