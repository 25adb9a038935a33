"""search: re-analyse stored chunks (reading terms for spelling variants, FAQ questions weighed)

Revision ID: 0015_search_reanalyse_readings
Revises: 0013_search_vectors_binary

A data migration, as 0009: `search_chunks.tokens` holds the analysed terms BM25 counts, and the analysis now adds
each word's reading as an index-only `~@<reading>` term (ビン finds 瓶, カサ finds 傘) and counts the question of an
FAQ-shaped chunk once more (`core.search.index.chunk_terms`). Every stored chunk is analysed again from its own
title, section and text; running it twice gives the same tokens. Chunk boundaries are not changed here: an FAQ
document stored before this is split one question per chunk when it is next ingested (a change at its source).
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_search_reanalyse_readings'
down_revision = '0013_search_vectors_binary'
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    from core.search.index import chunk_terms
    from core.search.text import sudachi

    bind = op.get_bind()
    analyzer = sudachi()
    last = 0
    while True:
        rows = bind.execute(sa.text("SELECT id, title, section, text FROM search_chunks WHERE id > :last "
                                    "ORDER BY id LIMIT :n"), {"last": last, "n": _BATCH}).fetchall()
        if not rows:
            break
        bind.execute(sa.text("UPDATE search_chunks SET tokens = :tokens WHERE id = :id"),
                     [{"id": r.id, "tokens": " ".join(chunk_terms(analyzer, r.title, r.section or "", r.text))}
                      for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    pass  # the previous analysis cannot be recomputed here; older code reads these tokens (extra terms it ignores)
