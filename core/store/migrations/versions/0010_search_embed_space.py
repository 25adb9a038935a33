"""search: which embeddings a document's vectors came from

Revision ID: 0010_search_embed_space
Revises: 0009_search_reanalyse

`search_documents.embed_space` names the embeddings model (and document prefix) of the document's stored vectors.
Search uses a vector only when it matches the configured embeddings, so changing EMBEDDINGS_MODEL never mixes two
vector spaces; `python -m bot reembed` brings stored documents to the new one. Documents from before this revision
have none: with embeddings configured they count as not embedded until re-embedded.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_search_embed_space'
down_revision = '0009_search_reanalyse'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('search_documents') as batch:
        batch.add_column(sa.Column('embed_space', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('search_documents') as batch:
        batch.drop_column('embed_space')
