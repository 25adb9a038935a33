"""notices tables

Revision ID: 0018_notices
Revises: 0001

通知・照会と公用文チェック (skills/notices/models.py): documents checked by /check and 通知 read by /notice, kept for
the cards' buttons and deleted after NOTICES_KEEP_DAYS; the city's reviewed answers to earlier 照会.
"""
import sqlalchemy as sa
from alembic import op

revision = '0018_notices'
down_revision = '0001'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('kobun_checks',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('docx', sa.LargeBinary(), nullable=True),
    sa.Column('suggestions', sa.JSON(), nullable=False),
    sa.Column('ai_suggestions', sa.JSON(), nullable=True),
    sa.Column('ai_note', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('kobun_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kobun_checks_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kobun_checks_expires_at'), ['expires_at'], unique=False)
    op.create_table('notice_readings',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('issuer', sa.String(length=200), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('mode', sa.String(length=20), nullable=False),
    sa.Column('reminder_id', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notice_readings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_readings_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notice_readings_expires_at'), ['expires_at'], unique=False)
    op.create_table('inquiry_answers',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('issuer', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inquiry_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inquiry_answers_issuer'), ['issuer'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inquiry_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inquiry_answers_issuer'))
    op.drop_table('inquiry_answers')
    with op.batch_alter_table('notice_readings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_readings_expires_at'))
        batch_op.drop_index(batch_op.f('ix_notice_readings_user_id'))
    op.drop_table('notice_readings')
    with op.batch_alter_table('kobun_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kobun_checks_expires_at'))
        batch_op.drop_index(batch_op.f('ix_kobun_checks_user_id'))
    op.drop_table('kobun_checks')
