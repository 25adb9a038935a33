"""Reading a 通知 without a model (extractive): its head (文書番号, 日付, 宛先, 発信者, 標題), the 要旨 in three lines
taken from the text, the 対応事項 with their 期限, the laws it cites, its attachments, and the sections it concerns
(the section profiles' words found in it). Pure functions over the text the extractor produced."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from core.jdate import DateMention, dates_in, with_weekday
from core.kobun.sentences import sentences

MAX_ACTIONS = 8
MAX_LAWS = 6
MAX_ATTACHMENTS = 12

_NUMBER = re.compile(r"^\S{0,20}第[0-9０-９〇一二三四五六七八九十百千\-－]+号$")
_ADDRESSEE = re.compile(r"(殿|様|御中)$")
_TITLE_END = re.compile(r"について[（(](通知|依頼|照会|お願い|事務連絡|周知|回答|送付|情報提供)[）)]$|について$")
_ISSUER = re.compile(r"(長|大臣|知事|長官|官|局長|部長|課長|室長|次長|審議官|市長|町長|村長|委員会|センター|事務局|課|室|係)$")
_STAMP = re.compile(r"^[（(](公印省略|公印略|印省略|押印省略)[）)]$")
_ACTION = re.compile(r"(ください|下さい|願います|お願いします|お願いいたします|求めます|されたい|すること|されるよう|"
                     r"いただくよう|いただきますよう|御留意|ご留意|御対応|ご対応|周知|提出|回答|報告)")
_ASKING_END = re.compile(r"(こと|ください|願います|お願いします|されたい)$")
_ITEM = re.compile(r"^[ \u3000]*(?:[0-9０-９]+[ \u3000.．、)）]|[（(][0-9０-９]+[）)]|[①-⑳]|[ア-ン][ \u3000]|・)")
_ATTACH = re.compile(r"^[ \u3000]*[（(【\[]?(?P<label>(?:別添|別紙|添付資料|添付|参考資料|参考|様式)[ \u3000]*"
                     r"[0-9０-９一二三四五六七八九十\-－]*(?:号)?)[）)】\]]?[ \u3000：:]*(?P<title>.*)$")
_LAW_NUMBER = re.compile(r"[（(](?:明治|大正|昭和|平成|令和)[^）)]{0,24}(?:法律|政令|省令|規則|条例|告示)[^）)]{0,12}[）)]")
_LAW_BOUNDARY = re.compile(r".*(?:[、。「」『』（）()\s]|(?<=[^をにの])(?:は|が|では|には|も|より))")
_LAW = re.compile(r"(?P<name>[一-龥ァ-ヶー]+(?:(?:の|に関する|及び|並びに|等の|等に関する|における|による|を活用した)"
                  r"[一-龥ァ-ヶー]*)*(?:法律|法|政令|省令|規則|条例))"
                  r"(?P<article>第[0-9０-９一二三四五六七八九十百]+条(?:の[0-9０-９一二三四五六七八九十]+)?)?")
_NOT_LAWS = {"方法", "手法", "用法", "文法", "寸法", "作法", "技法", "製法", "療法", "工法", "話法", "論法", "司法", "違法",
             "合法", "不法", "適法", "立法", "同法", "本法", "法", "規則", "条例", "政令", "省令", "本規則", "同規則",
             "本条例", "同条例", "法律", "同令", "関係法令", "関係規則"}
_LAW_PREFIX = re.compile(r"^(?:改正|新|旧|現行|同|本|当該|上記|下記|前記|関係|各)")


@dataclass
class Action:
    text: str
    due: str | None = None          # ISO date
    due_text: str = ""              # 「令和7年5月9日（金）まで」


@dataclass
class Law:
    name: str
    article: str = ""
    url: str | None = None


@dataclass
class Section:
    id: str
    name: str
    words: list[str] = field(default_factory=list)


@dataclass
class Reading:
    title: str = ""
    number: str = ""
    issued: str | None = None        # ISO date of the 通知
    addressee: str = ""
    issuer: str = ""
    summary: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    deadline: str | None = None      # ISO date: the earliest 期限 in the text
    laws: list[Law] = field(default_factory=list)
    attachments: list[tuple[str, str]] = field(default_factory=list)     # (label, title)
    sections: list[Section] = field(default_factory=list)
    weekday_warnings: list[str] = field(default_factory=list)
    mode: str = "extractive"         # extractive | ai

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Reading:
        r = cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__
                   and k not in ("actions", "laws", "sections", "attachments")})
        r.actions = [Action(**a) for a in d.get("actions") or []]
        r.laws = [Law(**x) for x in d.get("laws") or []]
        r.sections = [Section(**x) for x in d.get("sections") or []]
        r.attachments = [tuple(x) for x in d.get("attachments") or []]   # type: ignore[misc]
        return r


# -- text ------------------------------------------------------------------------------------------------------

def _ends(line: str) -> bool:
    """Whether a line ends its paragraph: a full stop, a colon, a closing quote, a title, or a short line (an item's
    heading, a date, an addressee). A PDF's long line ending in 「）」 (a law's number) runs on."""
    return bool(re.search(r"[。：:」】』]$", line) or _TITLE_END.search(line) or len(line) < 30)


def reflow(markdown: str) -> list[str]:
    """The document's lines: page markers and Markdown marks dropped, lines a PDF wrapped joined again (a line that
    does not end its paragraph runs on into the next one, across the blank lines PDF extraction puts between lines,
    unless the next one starts an item, an attachment, a number or a date line)."""
    out: list[str] = []
    last = -1                          # index in `out` of the last non-blank line
    for raw in re.sub(r"<!--.*?-->", "\n", markdown or "", flags=re.S).split("\n"):
        line = unicodedata.normalize("NFC", raw).strip()
        line = re.sub(r"^#+\s*|^>\s*|^\*\*|\*\*$", "", line).strip().strip("|").strip()
        if not line:
            out.append("")
            continue
        prev = out[last] if last >= 0 else ""
        if (prev and not _ends(prev) and not _ITEM.match(line) and not _ATTACH.match(line)
                and not _NUMBER.match(line) and not dates_in(line[:14]) or prev and line and _continues(prev, line)):
            out[last] = prev + line
            del out[last + 1:]
        else:
            out.append(line)
            last = len(out) - 1
    return out


def _continues(prev: str, line: str) -> bool:
    """A wrapped line that starts with the rest of a date (「令和7年5月9日（金）までに…」 after 「…調査票により」)."""
    return not _ends(prev) and bool(re.match(r"(令和|平成)?[0-9０-９]+年", line)) and not line.endswith("日")


def _head(lines: list[str]) -> tuple[dict[str, str], int]:
    """文書番号, 日付, 宛先, 発信者, 標題 from the first lines; returns them and the index of the title line."""
    head: dict[str, str] = {}
    title_at = -1
    for i, line in enumerate(lines[:25]):
        if not line:
            continue
        if not head.get("number") and _NUMBER.match(line.replace(" ", "").replace("\u3000", "")):
            head["number"] = line
        elif _TITLE_END.search(line) and len(line) <= 80:
            head["title"] = line
            title_at = i
            break
        elif not head.get("addressee") and _ADDRESSEE.search(line):
            head["addressee"] = line
        elif head.get("addressee") and not _STAMP.match(line) and _ISSUER.search(line) and len(line) <= 40:
            head["issuer"] = line
    return head, title_at


def _issued(lines: list[str], title_at: int) -> DateMention | None:
    top = "\n".join(lines[:max(title_at, 0) or 8])
    found = [d for d in dates_in(top) if not d.year_inferred]
    return found[0] if found else None


def laws_in(text: str) -> list[Law]:
    """Laws the text cites: a name followed by its number (「…法律（平成14年法律第151号）」, read back to the start of the
    phrase), or a law-like name (…法, …に関する法律, …条例) with or without an article (第3条)."""
    out: list[Law] = []

    def add(name: str, article: str) -> None:
        name = _LAW_PREFIX.sub("", name.strip())
        if name in _NOT_LAWS or len(name) < 3 or name.endswith(("方法", "手法", "療法")) or not re.match(r"[一-龥ァ-ヶ]", name):
            return
        known = next((x for x in out if x.name == name), None)
        if known is None and len(out) < MAX_LAWS:
            out.append(Law(name=name, article=article))
        elif known is not None and article and not known.article:
            known.article = article

    for m in _LAW_NUMBER.finditer(text):
        before = text[max(0, m.start() - 60):m.start()]
        name = _LAW_BOUNDARY.sub("", before) if _LAW_BOUNDARY.match(before) else before
        after = re.match(r"第[0-9０-９一二三四五六七八九十百]+条(?:の[0-9０-９一二三四五六七八九十]+)?", text[m.end():])
        if re.search(r"(法律|法|政令|省令|規則|条例)$", name):
            add(name, unicodedata.normalize("NFKC", after.group(0)) if after else "")
    plain = _LAW_NUMBER.sub(lambda m: "　" * len(m.group(0)), text)     # numbers are not names (「年法律」)
    for m in _LAW.finditer(plain):
        add(m.group("name"), unicodedata.normalize("NFKC", m.group("article") or ""))
    return out


def attachments_in(lines: list[str]) -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for line in lines:
        m = _ATTACH.match(line)
        if not m or len(line) > 80:
            continue
        label = re.sub(r"[ \u3000]+", "", m.group("label"))
        title = m.group("title").strip()
        if re.match(r"^(のとおり|の|により|を|に|参照)", title):
            continue
        if label not in found or (title and not found[label]):
            found[label] = title
        if len(found) >= MAX_ATTACHMENTS:
            break
    return list(found.items())


def _due_label(d: DateMention) -> str:
    return f"{with_weekday(d.value)}まで"


def actions_in(body: list[str], reference: date) -> tuple[list[Action], list[DateMention]]:
    """対応事項: sentences and 記 items asking something of the reader, each with the deadline written in it (or the
    document's deadline when it speaks of 期限 without a date)."""
    text = "\n".join(body)
    mentions = dates_in(text, today=reference)
    deadlines = [d for d in mentions if d.deadline]
    units: list[tuple[int, int, str]] = []
    for s in sentences(text):
        units.append((s.start, s.end, s.text))
    pos = 0
    for line in body:                 # 記 items without a full stop are requests too (「…を提出すること」)
        if line and _ITEM.match(line) and not line.rstrip().endswith("。") and _ASKING_END.search(line):
            units.append((pos, pos + len(line), line))
        pos += len(line) + 1
    units.sort()
    out: list[Action] = []
    for start, end, unit in units:
        if not _ACTION.search(unit) or len(unit) < 8:
            continue
        own = [d for d in deadlines if start <= d.start < end]
        due = own[0] if own else (deadlines[0] if deadlines and "期限" in unit else None)
        shown = re.sub(r"^[ \u3000]+", "", unit)
        if any(a.text == shown for a in out):
            continue
        out.append(Action(text=shown, due=due.iso() if due else None, due_text=_due_label(due) if due else ""))
        if len(out) >= MAX_ACTIONS:
            break
    return out, mentions


def summary_of(title: str, body: list[str], actions: list[Action]) -> list[str]:
    """要旨 in three lines, taken from the text: what it is about, why (its first sentence), what is asked."""
    text = "\n".join(body)
    first = next((s.text for s in sentences(text) if len(s.text) >= 15), "")
    lines = [title] if title else []
    if first and first not in lines:
        lines.append(first)
    ask = next((a for a in actions if a.due), actions[0] if actions else None)
    if ask and ask.text not in lines:
        lines.append(ask.text)
    return [ln if len(ln) <= 120 else ln[:119] + "…" for ln in lines[:3]]


def sections_for(text: str, profiles) -> list[Section]:
    """The sections whose profile words (their name, the departments they match, their law keywords) occur in the
    text, most words first; the default profile is never named."""
    flat = unicodedata.normalize("NFKC", text)
    scored = []
    for p in profiles.items:
        if p.id == profiles.default:
            continue
        words: list[str] = []
        terms = [p.name.removesuffix("課"), *p.departments,
                 *(w for k in p.law_keywords for w in k.split() if len(w) >= 2)]
        for term in terms:
            key = unicodedata.normalize("NFKC", term).strip()
            if len(key) >= 2 and key in flat and key not in words:
                words.append(key)
        if words:
            scored.append((len(words), Section(p.id, p.name, words)))
    scored.sort(key=lambda x: -x[0])
    return [s for _, s in scored[:3]]


def read(markdown: str, *, today: date, profiles=None) -> Reading:
    lines = reflow(markdown)
    head, title_at = _head(lines)
    issued = _issued(lines, title_at)
    reference = issued.value if issued else today
    body = [ln for ln in lines[title_at + 1:]] if title_at >= 0 else lines
    actions, mentions = actions_in(body, reference)
    deadlines = sorted((d for d in mentions if d.deadline and d.value >= reference), key=lambda d: d.value)
    text = "\n".join(lines)
    r = Reading(title=head.get("title", ""), number=head.get("number", ""),
                issued=issued.iso() if issued else None, addressee=head.get("addressee", ""),
                issuer=head.get("issuer", ""), actions=actions,
                deadline=deadlines[0].iso() if deadlines else None, laws=laws_in(text),
                attachments=attachments_in(body))
    r.summary = summary_of(r.title, body, actions)
    r.weekday_warnings = [f"「{d.text}」の曜日は、実際には{with_weekday(d.value)[-2]}曜日です。"
                          for d in mentions if d.weekday_ok is False]
    if profiles is not None:
        r.sections = sections_for(text, profiles)
    return r
