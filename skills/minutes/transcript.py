"""Transcripts: Teams WebVTT (cue ids, `<v Speaker>` voice tags, multi-line and long cues) and plain-text
transcripts parsed into cues; cleaned (fillers removed, consecutive turns of one speaker merged); speaking time per
speaker; sections of a bounded size for the section-by-section summary. Pure functions, no I/O."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

UNKNOWN_SPEAKER = "発言者不明"


@dataclass
class Cue:
    start: float               # seconds from the start of the meeting
    end: float
    speaker: str               # "" when the transcript does not say
    text: str


@dataclass
class Turn:
    """Consecutive cues of one speaker, merged."""

    start: float
    end: float
    speaker: str
    text: str
    cues: int = 1


@dataclass
class Transcript:
    cues: list[Cue] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)      # cleaned and merged
    source: str = ""                                     # "vtt" | "text" | "audio" | "graph"

    @property
    def duration(self) -> float:
        return max((c.end for c in self.cues), default=0.0)

    @property
    def speakers(self) -> list[str]:
        seen: dict[str, None] = {}
        for t in self.turns:
            seen.setdefault(t.speaker or UNKNOWN_SPEAKER, None)
        return list(seen)

    @property
    def chars(self) -> int:
        return sum(len(t.text) for t in self.turns)


class TranscriptError(Exception):
    """The file is no transcript this module can read; `reason` is a short code for the Japanese message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- time --------------------------------------------------------------------------------------------------------

_TS = r"(?:(\d{1,3}):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?"
_CUE_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}")


def _seconds(h: str | None, m: str, s: str, frac: str | None) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + (int(frac.ljust(3, "0")[:3]) / 1000 if frac else 0.0)


def clock(seconds: float) -> str:
    """01:02:03 (hours always shown: a 3-hour meeting's lines line up)."""
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def parse_clock(value: str) -> float | None:
    """Seconds of "1:02:03", "01:02:03.500" or "02:03"; None when it is no time."""
    m = re.fullmatch(_TS, (value or "").strip())
    return _seconds(*m.groups()) if m else None


# -- WebVTT ------------------------------------------------------------------------------------------------------

_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]*)>(.*?)(?:</v>|(?=<v[\s.])|$)", re.S)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<\d{1,2}:\d{2}[^>]*>")


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    for enc in ("utf-8-sig", "utf-16", "cp932"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "utf-16" and not data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            continue
        return text
    raise TranscriptError("encoding")


def _cue_text(lines: list[str]) -> list[tuple[str, str]]:
    """(speaker, text) pieces of one cue's payload: a cue may hold several voice spans, or none."""
    raw = "\n".join(lines)
    pieces: list[tuple[str, str]] = []
    if "<v" in raw:
        for m in _VOICE.finditer(raw):
            speaker = html.unescape(m.group(1)).strip()
            body = html.unescape(_TAG.sub("", m.group(2)))
            pieces.append((speaker, _join_lines(body.split("\n"))))
        head = raw[:raw.find("<v")].strip()
        if head:
            pieces.insert(0, ("", _join_lines(html.unescape(_TAG.sub("", head)).split("\n"))))
    else:
        pieces.append(("", _join_lines(html.unescape(_TAG.sub("", raw)).split("\n"))))
    return [(s, t) for s, t in pieces if t]


def _join_lines(lines: list[str]) -> str:
    """Lines of one cue joined: no space between Japanese characters, one between Latin words."""
    out = ""
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        if out and _latin(out[-1]) and _latin(line[0]):
            out += " "
        out += line
    return out


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def parse_vtt(data: bytes | str) -> list[Cue]:
    text = _decode(data).replace("\r\n", "\n").replace("\r", "\n")
    if not text.lstrip("\ufeff").startswith("WEBVTT"):
        raise TranscriptError("not_vtt")
    cues: list[Cue] = []
    for block in re.split(r"\n[ \t]*\n", text):
        lines = block.split("\n")
        at = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if at is None:
            continue                      # header, NOTE, STYLE, REGION, a cue id without timing
        m = _CUE_TIMING.match(lines[at])
        if not m:
            continue
        g = m.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        for speaker, body in _cue_text(lines[at + 1:]):
            cues.append(Cue(start, max(end, start), speaker, body))
    if not cues:
        raise TranscriptError("empty")
    return cues


# -- plain text --------------------------------------------------------------------------------------------------

_STAMPED = re.compile(rf"^\s*[\[(（]?\s*{_TS}\s*[\])）]?\s*(.*)$")
_SAID = re.compile(r"^([^:：「」\s][^:：「」]{0,30}?)\s*[:：]\s*(.+)$")
_TEAMS_HEAD = re.compile(rf"^(.{{1,40}}?)\s{{2,}}{_TS}\s*$")        # 「山田 太郎   0:03」 (Teams .docx/.txt export)


def parse_text(data: bytes | str) -> list[Cue]:
    """Plain transcripts: 「山田：…」 lines, optionally after a time 「[00:01:02] 山田：…」; the Teams export's
    「山田 太郎   0:03」 heading followed by what was said; or prose without speakers (one cue per paragraph)."""
    text = _decode(data).replace("\r\n", "\n").replace("\r", "\n")
    raw: list[tuple[float | None, str, str]] = []
    pending: tuple[float | None, str] | None = None
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        head = _TEAMS_HEAD.match(line)
        if head:
            pending = (_seconds(*head.groups()[1:]), head.group(1).strip())
            continue
        when: float | None = None
        m = _STAMPED.match(line)
        if m and m.group(5):
            when, line = _seconds(*m.groups()[:4]), m.group(5).strip()
        said = _SAID.match(line)
        if pending is not None:
            raw.append((pending[0] if when is None else when, pending[1], line))
            pending = None
        elif said:
            raw.append((when, said.group(1).strip(), said.group(2).strip()))
        else:
            raw.append((when, "", line))
    if not raw:
        raise TranscriptError("empty")
    # times: given ones kept; missing ones estimated from the characters read (about 6 per second)
    cues: list[Cue] = []
    t = 0.0
    for i, (when, speaker, body) in enumerate(raw):
        start = when if when is not None else t
        nxt = next((w for w, _, _ in raw[i + 1:] if w is not None), None)
        end = start + max(1.0, len(body) / 6.0)
        if nxt is not None and nxt > start:
            end = min(end, nxt)
        cues.append(Cue(start, end, speaker, body))
        t = end
    return cues


def parse(data: bytes | str, name: str = "") -> tuple[list[Cue], str]:
    """Cues of a transcript file and its kind ("vtt" | "text")."""
    head = _decode(data)[:16].lstrip("\ufeff")
    if head.startswith("WEBVTT") or name.lower().endswith(".vtt"):
        return parse_vtt(data), "vtt"
    return parse_text(data), "text"


# -- cleaning ----------------------------------------------------------------------------------------------------

# Fillers that are never content words; and short ones that are only fillers when a pause (、 or a space) follows.
_ALWAYS = r"えー+っ?と?|ええっ?と|えっと|あのー+|あのぉ|そのー+|まあー*|まぁ|うーん|う〜ん|んー+|ん〜|あー+|えー+"
_PAUSED = r"あの|その|なんか|ええ|うん|ま"
_FILLER = re.compile(rf"(?:(?<=^)|(?<=[、。，．！？!?\s「]))(?:(?:{_ALWAYS})[、，,\s…]*|(?:{_PAUSED})(?:[、，,…]|\s)+)")


def clean_text(text: str) -> str:
    """Fillers removed (えー、あのー、まあ…), spaces and stray commas tidied. Repeated passes: 「えー、あのー、」."""
    t = text.replace("\u3000", " ")
    prev = None
    while prev != t:
        prev = t
        t = _FILLER.sub("", t)
    t = re.sub(r"[ \t　]+", " ", t).strip()
    t = re.sub(r"^[、,，…\s]+", "", t)
    t = re.sub(r"、{2,}", "、", t)
    t = re.sub(r"、(?=[。！？])", "", t)
    return t


def merge_turns(cues: list[Cue]) -> list[Turn]:
    """Cleaned cues; consecutive cues of one speaker merged into one turn; cues left empty by cleaning dropped."""
    turns: list[Turn] = []
    for c in cues:
        body = clean_text(c.text)
        if not body or re.fullmatch(r"[、。,.…\s]+", body):
            continue
        speaker = c.speaker.strip()
        if turns and turns[-1].speaker == speaker:
            last = turns[-1]
            sep = " " if (_latin(last.text[-1]) and _latin(body[0])) else ""
            last.text += sep + body
            last.end = max(last.end, c.end)
            last.cues += 1
        else:
            turns.append(Turn(c.start, c.end, speaker, body))
    return turns


def load(data: bytes | str, name: str = "", source: str | None = None) -> Transcript:
    cues, kind = parse(data, name)
    return from_cues(cues, source or kind)


def from_cues(cues: list[Cue], source: str) -> Transcript:
    cues = sorted(cues, key=lambda c: c.start)
    turns = merge_turns(cues)
    if not turns:
        raise TranscriptError("empty")
    return Transcript(cues=cues, turns=turns, source=source)


# -- speaking time -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpeakingTime:
    speaker: str
    seconds: float
    share: float               # of all speaking time, 0-1
    turns: int


def speaking_time(tr: Transcript) -> list[SpeakingTime]:
    """Seconds each speaker spoke (the sum of their cues' durations; overlapping cues of one speaker counted
    once), most first."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for c in tr.cues:
        if clean_text(c.text):
            spans.setdefault(c.speaker.strip() or UNKNOWN_SPEAKER, []).append((c.start, c.end))
    turns: dict[str, int] = {}
    for t in tr.turns:
        key = t.speaker or UNKNOWN_SPEAKER
        turns[key] = turns.get(key, 0) + 1
    secs = {s: _union(v) for s, v in spans.items()}
    total = sum(secs.values()) or 1.0
    out = [SpeakingTime(s, v, v / total, turns.get(s, 0)) for s, v in secs.items()]
    return sorted(out, key=lambda x: (-x.seconds, x.speaker))


def _union(spans: list[tuple[float, float]]) -> float:
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(spans):
        if cur_e is None or s > cur_e:
            if cur_e is not None and cur_s is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None and cur_s is not None:
        total += cur_e - cur_s
    return total


def duration_ja(seconds: float) -> str:
    s = int(round(seconds))
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    if h:
        return f"{h}時間{m}分"
    if m:
        return f"{m}分{sec}秒" if sec else f"{m}分"
    return f"{sec}秒"


# -- sections ----------------------------------------------------------------------------------------------------

def estimate_tokens(text: str) -> int:
    """A conservative token count for budgeting: one per non-ASCII character (Japanese runs about 0.7-1.0 per
    character in current tokenizers), one per four ASCII characters."""
    ascii_n = sum(1 for ch in text if ch.isascii())
    return (len(text) - ascii_n) + (ascii_n + 3) // 4


def turn_line(t: Turn) -> str:
    return f"[{clock(t.start)}] {t.speaker or UNKNOWN_SPEAKER}: {t.text}"


def sections(turns: list[Turn], max_tokens: int) -> list[list[Turn]]:
    """Consecutive turns grouped so that each group's lines stay within `max_tokens`; a single turn longer than
    that is cut into pieces (each keeps its start time, later pieces estimated by position)."""
    out: list[list[Turn]] = []
    cur: list[Turn] = []
    used = 0
    for t in _split_long(turns, max_tokens):
        n = estimate_tokens(turn_line(t)) + 1
        if cur and used + n > max_tokens:
            out.append(cur)
            cur, used = [], 0
        cur.append(t)
        used += n
    if cur:
        out.append(cur)
    return out


def _split_long(turns: list[Turn], max_tokens: int) -> list[Turn]:
    budget = max(50, max_tokens - 40)
    out: list[Turn] = []
    for t in turns:
        if estimate_tokens(turn_line(t)) <= budget:
            out.append(t)
            continue
        pieces = _chunks(t.text, budget)
        span = (t.end - t.start) / max(1, len(pieces))
        for i, p in enumerate(pieces):
            out.append(Turn(t.start + i * span, t.start + (i + 1) * span, t.speaker, p, 1))
    return out


def _chunks(text: str, budget: int) -> list[str]:
    sentences = re.findall(r"[^。！？!?]+[。！？!?]?", text) or [text]
    out: list[str] = []
    cur = ""
    for s in sentences:
        while estimate_tokens(s) > budget:        # a sentence longer than the budget: cut it by characters
            cut = budget
            if cur:
                out.append(cur)
                cur = ""
            out.append(s[:cut])
            s = s[cut:]
        if cur and estimate_tokens(cur + s) > budget:
            out.append(cur)
            cur = ""
        cur += s
    if cur:
        out.append(cur)
    return out
