"""core.store.db.unavailable: which errors mean "the database cannot be reached now" (the user is told to resend)
and which are bugs (the generic apology, with a traceback in the log)."""
from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import text

from core.store import Database
from core.store.db import unavailable


async def test_refused_connection_is_unavailable(tmp_path):
    import socket

    with socket.socket() as sock:             # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test")
    with pytest.raises(Exception) as err:
        async with db.session() as s:
            await s.execute(text("SELECT 1"))
    await db.dispose()
    assert unavailable(err.value)


async def test_a_bad_statement_is_not_unavailable(db):
    with pytest.raises(Exception) as err:
        async with db.session() as s:
            await s.execute(text("SELECT * FROM no_such_table"))
    assert not unavailable(err.value)


async def test_an_http_connection_error_inside_a_session_is_not_the_database(sqlite_db):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(aiohttp.ClientConnectorError) as err:
        async with sqlite_db.session() as s:
            await s.execute(text("SELECT 1"))
            async with aiohttp.ClientSession() as http:
                await http.get(f"http://127.0.0.1:{port}/")
    assert not unavailable(err.value)
    assert not unavailable(ValueError("x")) and not unavailable(OSError("disk"))
