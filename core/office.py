"""What python-docx documents and python-pptx decks share: core properties and saving to bytes."""
from __future__ import annotations

import io


def set_core_properties(cp, *, title: str = "", author: str = "", comments: str = "") -> None:
    """Fill the file's core properties (each capped at the 255 characters Office allows)."""
    for name, value in (("title", title), ("author", author), ("comments", comments)):
        if value:
            setattr(cp, name, value[:255])


def to_bytes(office_file) -> bytes:
    """A python-docx Document or python-pptx Presentation saved into memory."""
    buf = io.BytesIO()
    office_file.save(buf)
    return buf.getvalue()
