"""citizen transcripts

Revision ID: 0017_citizen_transcripts
Revises: 0001

The residents' questions (skills/citizen/models.py): masked text only, deleted after CITIZEN_RETENTION_DAYS; a
question handed to staff keeps its kintone record id until the staff answer becomes an approved answer.
"""
import sqlalchemy as sa
from alembic import op

revision = '0017_citizen_transcripts'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('citizen_transcripts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('conversation', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('masked', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('sets', sa.JSON(), nullable=False),
    sa.Column('target_set', sa.String(length=100), nullable=True),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('handoff', sa.String(length=20), nullable=True),
    sa.Column('kintone_record_id', sa.String(length=50), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('citizen_transcripts', schema=None) as batch_op:
        batch_op.create_index('ix_citizen_transcripts_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_citizen_transcripts_handoff', ['handoff', 'kintone_record_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('citizen_transcripts', schema=None) as batch_op:
        batch_op.drop_index('ix_citizen_transcripts_handoff')
        batch_op.drop_index('ix_citizen_transcripts_created_at')
    op.drop_table('citizen_transcripts')
