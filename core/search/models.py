"""Knowledge sets, their documents and chunks, and the change log other replicas follow to refresh their index."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.store.models import Base, utcnow
from core.store.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class KnowledgeSet(Base):
    """A named collection of documents (per 課 or theme). `members`: AAD user/group object ids; empty = all staff.
    `public`: residents may search it too (citizen mode); `contact_*`: the 窓口 named when it cannot answer."""

    __tablename__ = "search_sets"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    owner: Mapped[str | None] = mapped_column(String(200))
    members: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # public: residents may search it (the citizen chatbot); never a set with members
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    contact_section: Mapped[str | None] = mapped_column(String(200))   # 窓口 residents are told to contact
    contact_phone: Mapped[str | None] = mapped_column(String(50))


class Document(Base):
    """One source document of a set. `source_key` is unique within the set (drive item id, relative path, …)."""

    __tablename__ = "search_documents"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    set_id: Mapped[int] = mapped_column(_ID, ForeignKey("search_sets.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(20))               # chat | sharepoint | folder | staff
    source_key: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(500), default="")
    url: Mapped[str | None] = mapped_column(String(2000))
    etag: Mapped[str | None] = mapped_column(String(200))         # the source's version tag (Graph eTag/cTag)
    content_hash: Mapped[str] = mapped_column(String(64))         # sha256 of title + markdown
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    staff_written: Mapped[bool] = mapped_column(Boolean, default=False)
    # the embeddings (model and document prefix) that gave every chunk a vector; NULL: no complete set of vectors
    embed_space: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # the dimension of those vectors (every chunk's `vector` is embed_dim float32 values); NULL with embed_space
    embed_dim: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the 窓口 for this document when it is not the set's (from the file's front matter)
    contact_section: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(50))

    __table_args__ = (UniqueConstraint("set_id", "source_key", name="uq_search_documents_set_key"),)


class Chunk(Base):
    """A passage of a document; `tokens` holds the analysed terms joined by spaces (what BM25 counts)."""

    __tablename__ = "search_chunks"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(_ID, ForeignKey("search_documents.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500), default="")
    section: Mapped[str] = mapped_column(String(1000), default="")
    page: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[str] = mapped_column(Text)
    # the passage's embedding, packed by core.search.vectors (little-endian float32); NULL: none
    vector: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class IndexChange(Base):
    """Append-only log of document changes; each process replays entries it has not seen to stay current."""

    __tablename__ = "search_changes"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    set_id: Mapped[int] = mapped_column(_ID)
    document_id: Mapped[int] = mapped_column(_ID)
    op: Mapped[str] = mapped_column(String(10))                   # upsert | delete
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_search_changes_doc", "document_id"),)
