"""drafting: the references of a draft in their own column

Revision ID: 0012_drafting_references
Revises: 0005_drafting

A draft's references (the passages given to the model and cited as [n]) were kept inside its `fields` JSON as
positional lists under "_refs": [[position, title, url, excerpt], …]. They move to `references`, a list of
{"position", "title", "text", "url", "kind"} (skills/drafting/compose.py `Reference.to_json`), and leave `fields`.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_drafting_references'
down_revision = '0005_drafting'
branch_labels = None
depends_on = None

_drafts = sa.table('drafts', sa.column('id', sa.Integer()), sa.column('fields', sa.JSON()),
                   sa.column('references', sa.JSON()))


def _reference(old) -> dict | None:
    """[position, title, url, excerpt] -> the stored form of a Reference (None for anything unreadable)."""
    if not isinstance(old, (list, tuple)) or len(old) < 2:
        return None
    position, title, url, excerpt = (list(old) + [None, None])[:4]
    try:
        position = int(position)
    except (TypeError, ValueError):
        return None
    return {"position": position, "title": str(title or ""), "text": str(excerpt or ""), "url": url or None,
            "kind": "reference"}


def upgrade() -> None:
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('references', sa.JSON(), nullable=True))

    conn = op.get_bind()
    for draft_id, fields in conn.execute(sa.select(_drafts.c.id, _drafts.c.fields)).all():
        fields = dict(fields) if isinstance(fields, dict) else {}
        refs = [r for r in (_reference(old) for old in fields.pop('_refs', None) or []) if r is not None]
        conn.execute(_drafts.update().where(_drafts.c.id == draft_id).values(fields=fields, references=refs))

    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.alter_column('references', existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    conn = op.get_bind()
    for draft_id, fields, refs in conn.execute(sa.select(_drafts.c.id, _drafts.c.fields, _drafts.c.references)).all():
        fields = dict(fields) if isinstance(fields, dict) else {}
        if refs:
            fields['_refs'] = [[r.get('position'), r.get('title'), r.get('url'), (r.get('text') or '')[:160]]
                               for r in refs if isinstance(r, dict)]
        conn.execute(_drafts.update().where(_drafts.c.id == draft_id).values(fields=fields))

    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.drop_column('references')
