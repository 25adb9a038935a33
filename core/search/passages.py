"""Retrieved text as it travels between a skill, its cards and its stored rows: `Passage` (a numbered search hit
given to the model and quoted on cards, /ask) and `Source` (a numbered research material, /plan).

Both are frozen dataclasses; `to_json()` gives the stored form (a dict of JSON values) and `from_json()` reads it
back, tolerating rows written by earlier code (missing keys take their defaults)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from core.search.index import Hit


def _web(url: str | None) -> str | None:
    return url if str(url or "").startswith(("https://", "http://")) else None


def _page(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class Passage:
    """One retrieved passage, numbered [n] as it is given to the model and cited."""

    n: int
    title: str
    section: str = ""
    page: str | None = None
    url: str | None = None
    text: str = ""
    staff_written: bool = False        # written by staff answering a question (not from a document)
    set_name: str = ""

    @classmethod
    def from_hit(cls, hit: Hit, n: int, *, chars: int | None = None) -> Passage:
        return cls(n=n, title=hit.title, section=hit.section or "", page=hit.page, url=hit.url,
                   text=hit.text if chars is None else hit.text[:chars], staff_written=bool(hit.staff_written),
                   set_name=hit.set_name or "")

    @property
    def web_url(self) -> str | None:
        """The URL when it can be opened from Teams (http/https), else None."""
        return _web(self.url)

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "title": self.title, "section": self.section, "page": self.page, "url": self.url,
                "text": self.text, "staff_written": self.staff_written, "set": self.set_name}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, n: int = 0) -> Passage:
        """`n` numbers a stored passage that has no number of its own."""
        return cls(n=int(data.get("n") or n), title=str(data.get("title") or ""),
                   section=str(data.get("section") or ""), page=_page(data.get("page")),
                   url=data.get("url") or None, text=str(data.get("text") or ""),
                   staff_written=bool(data.get("staff_written")), set_name=str(data.get("set") or ""))


@dataclass(frozen=True)
class Source:
    """One numbered research material of a plan, cited as [n] in the outline, report and slides.
    `kind`: knowledge (the section's documents) | case (other cities' cases) | law (e-Gov)."""

    kind: str
    title: str
    text: str = ""
    section: str = ""
    page: str | None = None
    url: str | None = None
    set_name: str = ""
    key: str = ""                      # what makes it the same material twice ("chunk:12", "law:…")
    n: int = 0                         # 0 until numbered

    @property
    def web_url(self) -> str | None:
        return _web(self.url)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "section": self.section, "page": self.page,
                "url": self.url, "text": self.text, "set": self.set_name, "key": self.key, "n": self.n}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Source:
        return cls(kind=str(data.get("kind") or "knowledge"), title=str(data.get("title") or ""),
                   text=str(data.get("text") or ""), section=str(data.get("section") or ""),
                   page=_page(data.get("page")), url=data.get("url") or None,
                   set_name=str(data.get("set") or ""), key=str(data.get("key") or ""), n=int(data.get("n") or 0))


def passage_label(p: Passage) -> str:
    """「文書名 — 節（3ページ）」: how a passage is named to the model, on cards and in citations."""
    label = p.title or "無題"
    if p.section and p.section != label:
        label += f" — {p.section}"
    if p.page:
        label += f"（{p.page}）"
    return label


def sources_from_json(rows: Any) -> list[Source]:
    """A stored list of sources (a job's `sources` column); anything that is not an object is skipped."""
    return [Source.from_json(r) for r in rows or [] if isinstance(r, Mapping)]


def passages_from_json(rows: Any) -> list[Passage]:
    """A stored list of passages (a question's `passages` column), numbered in order when they carry no number."""
    return [Passage.from_json(r, n=i) for i, r in enumerate((r for r in rows or [] if isinstance(r, Mapping)), 1)]
