"""Dates as Japanese documents write them: 令和7年5月9日, 令和元年, 平成31年, R7.5.9, 2025年5月9日, 2025/5/9, and the
year-less 「5月9日（金）までに」 read against the document's own date. Offsets point into the text as given (full-width
digits are read in place), a weekday in brackets is checked against the date, and a date followed by 「まで」「までに」
「必着」 or preceded by 「期限」「締切」 is marked as a deadline.

    for d in dates_in("回答は5月9日（金）までにお願いします。", today=date(2025, 4, 1)):
        d.value, d.deadline, d.weekday_ok     # date(2025, 5, 9), True, True"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

ERAS = {"令和": 2018, "R": 2018, "Ｒ": 2018, "平成": 1988, "H": 1988, "Ｈ": 1988}
WEEKDAYS = "月火水木金土日"
_WIDE = str.maketrans("０１２３４５６７８９／．－：", "0123456789/.-:")
_N = r"\d{1,2}"
_SP = r"[ \u3000]*"
_WD = rf"(?:{_SP}[（(]\s*(?P<wd>[月火水木金土日])(?:曜日?)?\s*[）)])?"
_PATTERNS = [
    ("era", re.compile(rf"(?P<era>令和|平成){_SP}(?P<y>元|{_N}){_SP}年{_SP}(?P<m>{_N}){_SP}月{_SP}(?P<d>{_N}){_SP}日{_WD}")),
    ("era", re.compile(rf"(?<![A-Za-z])(?P<era>[RHＲＨ])(?P<y>{_N})\.(?P<m>{_N})\.(?P<d>{_N})(?![\d.]){_WD}")),
    ("west", re.compile(rf"(?<!\d)(?P<y>\d{{4}}){_SP}年{_SP}(?P<m>{_N}){_SP}月{_SP}(?P<d>{_N}){_SP}日{_WD}")),
    ("west", re.compile(rf"(?<![\d/])(?P<y>\d{{4}})[/-](?P<m>{_N})[/-](?P<d>{_N})(?![\d/]){_WD}")),
    ("md", re.compile(rf"(?<![\d年])(?P<m>{_N}){_SP}月{_SP}(?P<d>{_N}){_SP}日{_WD}")),
]
_AFTER_DEADLINE = re.compile(r"^[ \u3000]*(?:[（(][^）)]{0,12}[）)])?[ \u3000]*(?:午前|午後|正午)?[0-9０-９時:：分半]*"
                             r"[ \u3000]*(?:まで|迄|必着|締切|締め切り|を期限|を提出期限)")
_BEFORE_DEADLINE = re.compile(r"(?:期限|締切|締め切り|提出期日|回答期日)[はを]?[：:\s\u3000]*(?:[はを]?[ \u3000]*)$")


@dataclass(frozen=True)
class DateMention:
    value: date
    start: int
    end: int
    text: str
    deadline: bool = False          # 「…まで」「…までに」「必着」 after it, or 「期限：」 before it
    weekday: str | None = None      # the weekday written in brackets, if any
    weekday_ok: bool | None = None  # None when no weekday was written
    year_inferred: bool = False     # 「5月9日」: the year was taken from the reference date

    def iso(self) -> str:
        return self.value.isoformat()


def wareki(d: date) -> str:
    """2025-05-09 -> 令和7年5月9日 (dates before 令和 -> 平成)."""
    if d >= date(2019, 5, 1):
        y = d.year - 2018
        return f"令和{'元' if y == 1 else y}年{d.month}月{d.day}日"
    return f"平成{d.year - 1988}年{d.month}月{d.day}日"


def with_weekday(d: date) -> str:
    return f"{wareki(d)}（{WEEKDAYS[d.weekday()]}）"


def _year_for(month: int, day: int, today: date) -> int:
    """The year of a year-less date in a document dated `today`: this year, or next year when the day has passed by
    more than two months (a 通知 of 令和7年12月 asking for 「1月15日まで」 means next January)."""
    for year in (today.year, today.year + 1):
        try:
            d = date(year, month, day)
        except ValueError:
            continue
        if (today - d).days <= 62:
            return year
    return today.year


def dates_in(text: str, *, today: date | None = None) -> list[DateMention]:
    """Every date in `text`, in order. Year-less dates need `today` (the document's date); without it they are left
    out. Impossible dates (2月30日) are left out."""
    flat = (text or "").translate(_WIDE)        # one character for one: offsets stay valid
    taken: list[tuple[int, int]] = []
    out: list[DateMention] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(flat):
            if any(m.start() < b and a < m.end() for a, b in taken):
                continue
            month, day = int(m.group("m")), int(m.group("d"))
            if kind == "era":
                y = m.group("y")
                year = ERAS[m.group("era")] + (1 if y == "元" else int(y))
            elif kind == "west":
                year = int(m.group("y"))
            else:
                if today is None:
                    continue
                year = _year_for(month, day, today)
            try:
                value = date(year, month, day)
            except ValueError:
                continue
            wd = m.group("wd")
            after = flat[m.end():m.end() + 24]
            before = flat[max(0, m.start() - 12):m.start()]
            deadline = bool(_AFTER_DEADLINE.match(after) or _BEFORE_DEADLINE.search(before))
            taken.append((m.start(), m.end()))
            out.append(DateMention(value=value, start=m.start(), end=m.end(), text=text[m.start():m.end()],
                                   deadline=deadline, weekday=wd,
                                   weekday_ok=None if wd is None else WEEKDAYS[value.weekday()] == wd,
                                   year_inferred=kind == "md"))
    return sorted(out, key=lambda d: d.start)
