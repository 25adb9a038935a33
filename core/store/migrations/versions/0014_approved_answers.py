"""approved answers

Revision ID: 0014_approved_answers
Revises: 0001

Staff-approved question/answer pairs (core/knowledge/models.py): answered directly when a new question is close.
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_approved_answers'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('approved_answers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('set_name', sa.String(length=100), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('owner_name', sa.String(length=200), nullable=False),
    sa.Column('owner_id', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_ref', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('embedding', sa.JSON(), nullable=True),
    sa.Column('embed_space', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('approved_answers', schema=None) as batch_op:
        batch_op.create_index('ix_approved_answers_set', ['set_name', 'revoked_at'], unique=False)
        batch_op.create_index('ix_approved_answers_source', ['source', 'source_ref'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('approved_answers', schema=None) as batch_op:
        batch_op.drop_index('ix_approved_answers_source')
        batch_op.drop_index('ix_approved_answers_set')
    op.drop_table('approved_answers')
