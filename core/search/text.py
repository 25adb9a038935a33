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
Hiragana written for a word the documents spell in kanji or katakana (せんぷうき for 扇風機, あいろん for アイロン)
is mostly cut by the dictionary into fragments (せん・風・き). `kana_words` reads such a run as the words the
index knows: each stretch of three or more hiragana that is the reading of an indexed kanji noun (its `~@` term) or
an indexed katakana word (its term: katakana is folded to hiragana) becomes a query word of its own, and the
fragments inside it are dropped; where the dictionary already found that very word, its analysis stands.
Loanwords spelt another way (サーキュレイター for サーキュレーター) meet through `spelling_key`: a kana query word
the index does not have looks for the index's words with the same key.
`BigramAnalyzer` is the plain character-bigram baseline the benchmark compares against."""
from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Callable, NamedTuple, Protocol

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
    """One query word: its term, the synonym-group terms that may stand in for it, the term that finds other
    spellings of it by their reading ("" if none; a weaker match, see `Index._bm25`), and whether it is a whole
    common or proper noun (not a sub-token, pronoun or numeral): only those are stood in for by their nearest words
    in word vectors (`Index._stand_ins`) — a verb's or an adverb's neighbours are other verbs and adverbs."""

    term: str
    synonyms: tuple[str, ...] = ()
    reading: str = ""
    noun: bool = False


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
                noun = pos[0] == "名詞" and pos[1] != "数詞"   # Sudachi files pronouns under 代名詞, not 名詞
                out.append((QueryTerm(term, groups, _query_reading(term, surface, reading), noun),
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

    def spans(self, text: str) -> tuple[list[tuple[str, int, int]], dict[int, str]]:
        """(term, begin, end) of every word `analyse` gives, in `normalize(text)`'s characters (a sub-token
        carries the span of its whole word), and the offsets where any word (particles included) begins or ends,
        as {offset: part of speech of the word beginning there, or "" where only one ends}."""
        from sudachipy import SplitMode

        text = normalize(text)
        out: list[tuple[str, int, int]] = []
        bounds: dict[int, str] = {}
        tok = self._tokenizer()
        offset = 0
        for piece in _pieces(text):
            for m in tok.tokenize(piece):
                pos = m.part_of_speech()[0]
                bounds[offset + m.begin()] = pos
                bounds.setdefault(offset + m.end(), "")
                if pos in _DROP_POS:
                    continue
                term = _term(m.normalized_form())
                if term is None:
                    continue
                begin, end = offset + m.begin(), offset + m.end()
                out.append((term, begin, end))
                if self.sub_tokens:
                    subs = m.split(SplitMode.A)
                    if len(subs) > 1:
                        for sub in subs:
                            if sub.part_of_speech()[0] in _DROP_POS:
                                continue
                            st = _term(self._word_form(sub.surface(), sub.normalized_form()))
                            if st is not None and st != term:
                                out.append((st, begin, end))
            offset += len(piece)
        return out, bounds

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


_E_ROW = set("えけげせぜてでねへべぺめれ")
_O_ROW = set("おこごそぞとどのほぼぽもよろょ")
_SMALL = str.maketrans("ぁぃぅぇぉゔ", "あいうえおぶ")
_VU = str.maketrans({"ゔ": "ぶ"})


def spelling_key(term: str) -> str:
    """What loanword spellings that differ only in how they write a long vowel or a foreign sound share
    (サーキュレーター/サーキュレイター, ウィッグ/ウイッグ, ボウル/ボール, ヴァイオリン/バイオリン): for a term of kana
    (katakana already folded to hiragana), the long-vowel mark removed, an い after an e-row kana and an う after
    an o-row kana dropped, small vowels written large and ゔ as ぶ; "" when the term is not kana or the key is
    shorter than three characters."""
    if not _KANA.fullmatch(term):
        return ""
    term = term.translate(_KANA_FOLD).replace("ゔぁ", "ば").replace("ゔぃ", "び").replace("ゔぇ", "べ") \
        .replace("ゔぉ", "ぼ").translate(_VU)
    out: list[str] = []
    for c in term:
        if c == "ー":
            continue
        if out and ((c == "い" and out[-1] in _E_ROW) or (c == "う" and out[-1] in _O_ROW)):
            continue
        out.append(c)
    key = "".join(out).translate(_SMALL)
    return key if len(key) >= 3 else ""


KANA_MIN = 3       # shortest hiragana stretch read as a word (two kana are too often part of another word)
KANA_MAX = 16
_NOT_A_WORD_START = {"", "動詞", "助動詞", "形容詞"}
_HIRAGANA_RUN = re.compile(r"[\u3041-\u3096ー]{%d,}" % KANA_MIN)


@lru_cache(maxsize=4096)
def _kana_analysis(text: str) -> tuple[str, tuple[tuple[str, int, int], ...], dict[int, str]]:
    spans, bounds = sudachi().spans(text)
    return normalize(text), tuple(spans), bounds


def kana_words(text: str, known: Callable[[str], bool]) -> tuple[list[QueryTerm], set[str]]:
    """Query words read from the hiragana of `text` as the index knows them, and the analysed terms they replace.

    Each run of hiragana is read left to right, taking at each point where the dictionary's analysis has a word
    boundary the longest stretch (KANA_MIN to KANA_MAX characters, ending at a boundary too) that `known` says the index has as a kanji noun's reading (`~@` + the stretch) or as a word (the
    stretch itself: a katakana word's term). A stretch that is exactly one word of the dictionary's analysis which
    the index knows adds nothing (ほうちょう → 包丁 was read right); otherwise it becomes a query word — the kanji
    reading, with the kana word as its weaker `reading` when the index has both — and the analysed terms lying
    inside it (the fragments せん, 風 of せんぷうき) are returned to be dropped, unless they also occur elsewhere in
    the question. The boundaries keep a stretch from straddling words the dictionary read right (the しょうか of
    でしょうか), and a stretch does not begin with a verb, auxiliary or adjective: hiragana that begins with an
    inflecting word is the question's own grammar (the し・て・い of お供えしていた)."""
    norm, spans, bounds = _kana_analysis(text)
    words: list[QueryTerm] = []
    inside: set[str] = set()
    covered: list[tuple[int, int]] = []
    for run in _HIRAGANA_RUN.finditer(norm):
        i, end = run.start(), run.end()
        while i <= end - KANA_MIN:
            if bounds.get(i, "") in _NOT_A_WORD_START or i not in bounds:
                i += 1
                continue
            for length in range(min(KANA_MAX, end - i), KANA_MIN - 1, -1):
                if i + length not in bounds:
                    continue
                stretch = norm[i:i + length]
                forms = [f for f in (READING_PREFIX + stretch, stretch)
                         if f not in QUESTION_WORDS and f not in _STOP and known(f)]
                if forms:
                    break
            else:
                i += 1
                continue
            j = i + length
            within = [(t, b, e) for t, b, e in spans if b >= i and e <= j]
            exact = [t for t, b, e in within if (b, e) == (i, j) and known(t)]
            if not exact:
                words.append(QueryTerm(forms[0], (), forms[1] if len(forms) > 1 else ""))
                inside.update(t for t, _, _ in within)
                covered.append((i, j))
            i = j
    outside = {t for t, b, e in spans if not any(b >= i and e <= j for i, j in covered)}
    return words, inside - outside


@lru_cache(maxsize=4096)
def query_terms(text: str) -> tuple[QueryTerm, ...]:
    """Analysed words of a query with their synonym groups, cached (users repeat questions)."""
    return tuple(sudachi().query(text))
