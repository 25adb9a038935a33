"""planning: owner and heartbeat of a running plan job

Revision ID: 0011_planning_heartbeat
Revises: 0006_planning

A job left 'running' by a process that was killed is recognised by its stale heartbeat. Rows from before this
revision have no heartbeat; their last update stands in for it (skills/planning/jobs.py).
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_planning_heartbeat'
down_revision = '0006_planning'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('plan_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('plan_jobs', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('owner')
