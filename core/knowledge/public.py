"""Public knowledge sets: the sets residents may search (the citizen chatbot on the city's website), and the 窓口
(section and phone) residents are told to contact when the pages cannot answer.

Stored beside the index's own columns (migration 0016: `search_sets.public`, `contact_section`, `contact_phone`, and
the same contact on `search_documents`, which overrides the set's), and read here rather than by the index: search
itself never looks at them, the caller passes the public sets' names to `Index.search` like any other sets. A set
with members (staff only by definition) is never public."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select

from core.search.index import SearchError, UnknownSet
from core.search.models import Document, KnowledgeSet

SECTION_CHARS = 200
PHONE_CHARS = 50
MEMBERS_REFUSED = ("メンバー限定のナレッジセットは公開（市民向け）にできません。公開する文書は、メンバーを指定しない"
                   "ナレッジセットに登録してください。")


@dataclass(frozen=True)
class Contact:
    """A 窓口: the section residents are told to contact, and its phone number."""

    section: str | None = None
    phone: str | None = None

    def __bool__(self) -> bool:
        return bool(self.section or self.phone)


@dataclass(frozen=True)
class PublicSet:
    name: str
    title: str
    public: bool
    contact: Contact
    members: bool                 # the set has members (then it is never public)


def _short(value: str | None, limit: int) -> str | None:
    value = " ".join((value or "").split())
    return value[:limit] or None


def _of(ks: KnowledgeSet) -> PublicSet:
    return PublicSet(ks.name, ks.title or ks.name, bool(ks.public) and not ks.members,
                     Contact(ks.contact_section, ks.contact_phone), bool(ks.members))


async def get(db, name: str) -> PublicSet | None:
    async with db.session() as s:
        ks = await s.scalar(select(KnowledgeSet).where(KnowledgeSet.name == name))
        return _of(ks) if ks is not None else None


async def public_sets(db) -> list[PublicSet]:
    """The sets residents may search: marked public and without members, by name."""
    async with db.session() as s:
        rows = await s.scalars(select(KnowledgeSet).where(KnowledgeSet.public.is_(True)).order_by(KnowledgeSet.name))
        return [p for p in (_of(k) for k in rows) if p.public]


async def configure(db, name: str, *, public: bool | None = None, contact: Contact | None = None) -> PublicSet:
    """Mark a set public (or private) and/or set its 窓口 (a given `contact` replaces the fields it has; None fields
    of it are left as they were). Raises UnknownSet, or SearchError for a set with members made public."""
    async with db.session() as s:
        ks = await s.scalar(select(KnowledgeSet).where(KnowledgeSet.name == name))
        if ks is None:
            raise UnknownSet(f"ナレッジセット「{name}」は登録されていません。")
        if public and ks.members:
            raise SearchError(MEMBERS_REFUSED)
        if public is not None:
            ks.public = public
        if contact is not None:
            if contact.section is not None:
                ks.contact_section = _short(contact.section, SECTION_CHARS)
            if contact.phone is not None:
                ks.contact_phone = _short(contact.phone, PHONE_CHARS)
        return _of(ks)


async def set_document_contact(db, set_name: str, source_key: str, contact: Contact | None) -> bool:
    """A document's own 窓口 (from its front matter); None or an empty contact clears it (the set's applies)."""
    async with db.session() as s:
        doc = await s.scalar(select(Document).join(KnowledgeSet, KnowledgeSet.id == Document.set_id)
                             .where(KnowledgeSet.name == set_name, Document.source_key == source_key))
        if doc is None:
            return False
        doc.contact_section = _short(contact.section if contact else None, SECTION_CHARS)
        doc.contact_phone = _short(contact.phone if contact else None, PHONE_CHARS)
        return True


async def document_contacts(db, document_ids: Iterable[int]) -> dict[int, Contact]:
    """The 窓口 each document names itself; documents naming none are left out."""
    ids = sorted({int(i) for i in document_ids})
    if not ids:
        return {}
    async with db.session() as s:
        rows = (await s.execute(select(Document.id, Document.contact_section, Document.contact_phone)
                                .where(Document.id.in_(ids)))).all()
    return {r.id: Contact(r.contact_section, r.contact_phone) for r in rows if r.contact_section or r.contact_phone}
