"""search: chunk vectors stored as packed float32 instead of JSON text

Revision ID: 0013_search_vectors_binary
Revises: 0010_search_embed_space

`search_chunks.embedding` (a JSON list of floats, ~7.5 kB for 384-d) becomes `search_chunks.vector`, the same
values as little-endian float32 back to back (1,536 bytes for 384-d), which the index reads with np.frombuffer.
`search_documents.embed_dim` records the dimension of a document's vectors so a blob of the wrong length is
recognised. Existing vectors are converted in batches; the JSON column is dropped (downgrade converts back).
A document whose stored vectors cannot be converted whole (missing, not numbers, dimensions that disagree) loses
its `embed_space`, so `python -m bot reembed` embeds it again; until then it is searched by BM25, as before.
"""
from __future__ import annotations

import math

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = '0013_search_vectors_binary'
down_revision = '0010_search_embed_space'
branch_labels = None
depends_on = None

_BATCH = 1000
# The storage format at this revision (core.search.vectors): written out here so this migration keeps meaning
# the same thing if the application's format changes later.
_DTYPE = np.dtype("<f4")

_chunks = sa.table("search_chunks", sa.column("id", sa.Integer), sa.column("document_id", sa.Integer),
                   sa.column("embedding", sa.JSON), sa.column("vector", sa.LargeBinary))


def _pack(value) -> bytes | None:
    """JSON list of numbers → packed float32; None for anything that is not a finite, non-empty vector."""
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value):
        return None
    return np.asarray(value, dtype=_DTYPE).tobytes()


def upgrade() -> None:
    with op.batch_alter_table('search_chunks') as batch:
        batch.add_column(sa.Column('vector', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('search_documents') as batch:
        batch.add_column(sa.Column('embed_dim', sa.Integer(), nullable=True))

    bind = op.get_bind()
    update = (sa.update(_chunks).where(_chunks.c.id == sa.bindparam("cid"))
              .values(vector=sa.bindparam("blob", type_=sa.LargeBinary)))
    last = 0
    while True:
        rows = bind.execute(sa.select(_chunks.c.id, _chunks.c.embedding)
                            .where(_chunks.c.id > last, _chunks.c.embedding.isnot(None))
                            .order_by(_chunks.c.id).limit(_BATCH)).fetchall()
        if not rows:
            break
        params = [{"cid": r.id, "blob": blob} for r in rows if (blob := _pack(r.embedding)) is not None]
        if params:
            bind.execute(update, params)
        last = rows[-1].id

    # A document's dimension is its vectors' length; one whose chunks do not all have a vector of that length
    # has no complete set of vectors any more.
    bind.execute(sa.text(
        "UPDATE search_documents SET embed_dim = (SELECT MIN(length(c.vector)) / 4 FROM search_chunks c "
        "WHERE c.document_id = search_documents.id AND c.vector IS NOT NULL) WHERE embed_space IS NOT NULL"))
    bind.execute(sa.text(
        "UPDATE search_documents SET embed_space = NULL, embed_dim = NULL WHERE embed_space IS NOT NULL AND "
        "EXISTS (SELECT 1 FROM search_chunks c WHERE c.document_id = search_documents.id AND "
        "(c.vector IS NULL OR search_documents.embed_dim IS NULL "
        "OR length(c.vector) <> search_documents.embed_dim * 4))"))

    with op.batch_alter_table('search_chunks') as batch:
        batch.drop_column('embedding')


def downgrade() -> None:
    with op.batch_alter_table('search_chunks') as batch:
        batch.add_column(sa.Column('embedding', sa.JSON(), nullable=True))

    bind = op.get_bind()
    update = (sa.update(_chunks).where(_chunks.c.id == sa.bindparam("cid"))
              .values(embedding=sa.bindparam("vec", type_=sa.JSON)))
    last = 0
    while True:
        rows = bind.execute(sa.select(_chunks.c.id, _chunks.c.vector)
                            .where(_chunks.c.id > last, _chunks.c.vector.isnot(None))
                            .order_by(_chunks.c.id).limit(_BATCH)).fetchall()
        if not rows:
            break
        params = [{"cid": r.id, "vec": np.frombuffer(r.vector, dtype=_DTYPE).tolist()}
                  for r in rows if len(r.vector) % _DTYPE.itemsize == 0]
        if params:
            bind.execute(update, params)
        last = rows[-1].id

    with op.batch_alter_table('search_chunks') as batch:
        batch.drop_column('vector')
    with op.batch_alter_table('search_documents') as batch:
        batch.drop_column('embed_dim')
