"""search: re-analyse stored chunks (headings weigh double, SudachiDict synonym groups, question words kept,
prefixes dropped)

Revision ID: 0009_search_reanalyse
Revises: 0004_search

A data migration: `search_chunks.tokens` holds the analysed terms BM25 counts, so when the analysis changes every
stored chunk is analysed again from its own title, section and text. Nothing else changes; running it twice gives
the same tokens. It takes about as long as analysing the documents did (a few thousand chunks a second per core).
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_search_reanalyse'
down_revision = '0004_search'
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
    pass  # the previous analysis cannot be recomputed here; older code still reads these tokens
