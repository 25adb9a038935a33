"""Storage: SQLAlchemy 2 (async). SQLite (aiosqlite, WAL) by default, PostgreSQL (asyncpg) for scale-out."""
from core.store.db import Database, StoreSettings  # noqa: F401
from core.store.models import Base  # noqa: F401
