"""Alembic environment: migrations run on the connection the application hands over (see Database.migrate)."""
from alembic import context

import core.store.all_models  # noqa: F401  (registers every table on Base.metadata)
from core.store.models import Base

target_metadata = Base.metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through Database.migrate
    raise RuntimeError("run migrations through core.store.Database.migrate()")


def _render_item(type_, obj, autogen_context):
    """UTCDateTime columns are plain DateTime(timezone=True) in the database: generated migrations say so."""
    from core.store.types import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                  render_item=_render_item)
with context.begin_transaction():
    context.run_migrations()
