"""search: public knowledge sets and their 窓口 (the residents' chatbot)

Revision ID: 0016_search_public
Revises: 0015_search_reanalyse_readings

`search_sets.public` marks the sets residents may search on the city's website (citizen mode); `contact_section` /
`contact_phone` on a set (and, overriding it, on a document) name the 窓口 residents are told to contact when the
documents cannot answer. Existing sets stay private.
"""
import sqlalchemy as sa
from alembic import op

revision = '0016_search_public'
down_revision = '0015_search_reanalyse_readings'
branch_labels = None
depends_on = None


# Plain ADD / DROP COLUMN, never batch mode: on SQLite, batch mode copies and drops the table, and dropping
# search_documents (or search_sets) would cascade to their chunks with foreign keys on (SQLite 3.35+ drops a column
# in place).


def upgrade() -> None:
    op.add_column('search_sets', sa.Column('public', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('search_sets', sa.Column('contact_section', sa.String(length=200), nullable=True))
    op.add_column('search_sets', sa.Column('contact_phone', sa.String(length=50), nullable=True))
    op.add_column('search_documents', sa.Column('contact_section', sa.String(length=200), nullable=True))
    op.add_column('search_documents', sa.Column('contact_phone', sa.String(length=50), nullable=True))


def downgrade() -> None:
    op.drop_column('search_documents', 'contact_phone')
    op.drop_column('search_documents', 'contact_section')
    op.drop_column('search_sets', 'contact_phone')
    op.drop_column('search_sets', 'contact_section')
    op.drop_column('search_sets', 'public')
