"""images tables

Revision ID: 0020_images
Revises: 0001

画像点検 (skills/images/models.py): checked batches of photos and their photos (EXIF facts, the model's judgement,
the small photo with boxes for the report and kintone), deleted after IMAGES_KEEP_DAYS.
"""
import sqlalchemy as sa
from alembic import op

revision = '0020_images'
down_revision = '0001'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('image_batches',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=False),
    sa.Column('mode', sa.String(length=20), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('image_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_batches_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_image_batches_expires_at'), ['expires_at'], unique=False)
    op.create_table('image_photos',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('batch_id', _ID, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('judgement', sa.JSON(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=False),
    sa.Column('picture', sa.LargeBinary(), nullable=True),
    sa.Column('kintone_record_id', sa.String(length=50), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['image_batches.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('image_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_photos_batch_id'), ['batch_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('image_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_image_photos_batch_id'))
    op.drop_table('image_photos')
    with op.batch_alter_table('image_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_image_batches_expires_at'))
        batch_op.drop_index(batch_op.f('ix_image_batches_user_id'))
    op.drop_table('image_batches')
