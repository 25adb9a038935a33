"""rate counters

Revision ID: 0021_rate_counters
Revises: 0001

Fixed-window request counters shared by every replica (core/ratelimit.py): hashed keys only.
"""
import sqlalchemy as sa
from alembic import op

revision = '0021_rate_counters'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_counters',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('bucket', sa.BigInteger(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('expires', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'bucket')
    )
    with op.batch_alter_table('rate_counters', schema=None) as batch_op:
        batch_op.create_index('ix_rate_counters_expires', ['expires'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rate_counters', schema=None) as batch_op:
        batch_op.drop_index('ix_rate_counters_expires')
    op.drop_table('rate_counters')
