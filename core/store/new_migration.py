"""Developer tool: autogenerate a migration branching from the foundation revision.

    .venv/bin/python -m bot new-migration 0011_minutes "minutes tables"

(bot/ runs it, after importing every skill's models: core/ never imports skills/.)

It upgrades a scratch SQLite database to every current head, then diffs it against the models. Read the
generated file: it must contain only your own tables."""
import tempfile

from alembic import command

from core.store.db import Database, _alembic_config


async def main(rev: str, message: str) -> None:
    path = tempfile.mktemp(suffix=".db")
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.engine.begin() as conn:
        def go(c):
            cfg = _alembic_config(c)
            command.upgrade(cfg, "heads")
            command.revision(cfg, autogenerate=True, rev_id=rev, message=message, head="0001", splice=True)
        await conn.run_sync(go)
    await db.dispose()

