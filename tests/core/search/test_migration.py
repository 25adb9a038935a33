"""Migration 0009 re-analyses chunks stored by the earlier analysis, on both back ends."""
from sqlalchemy import text

from core.search.index import Index, chunk_terms
from core.search.text import sudachi
from core.store import Database


async def test_chunks_stored_before_0009_are_reanalysed(db_url):
    database = Database(db_url)
    try:
        await database.migrate("0004_search")
        async with database.engine.begin() as conn:
            await conn.execute(text("INSERT INTO search_sets (id, name, title, members, created_at) "
                                    "VALUES (1, 'lib', 'lib', '[]', CURRENT_TIMESTAMP)"))
            await conn.execute(text("INSERT INTO search_documents (id, set_id, source, source_key, title, "
                                    "content_hash, updated_at, staff_written) VALUES (1, 1, 'folder', 'net.md', "
                                    "'予約', 'x', CURRENT_TIMESTAMP, false)"))
            # tokens as the analysis before 0009 stored them: heading once, no synonym groups
            await conn.execute(text("INSERT INTO search_chunks (id, document_id, ordinal, title, section, text, "
                                    "tokens) VALUES (1, 1, 0, '予約', '', 'インターネットで本を予約できます。', "
                                    "'予約 いんたーねっと 本 予約 出来る')"))
        await database.migrate()
        assert (await database.ready())[0]
        async with database.engine.connect() as conn:
            tokens = (await conn.execute(text("SELECT tokens FROM search_chunks WHERE id = 1"))).scalar_one()
        assert tokens.split() == chunk_terms(sudachi(), "予約", "", "インターネットで本を予約できます。")
        assert tokens.split().count("予約") == 3  # heading twice, text once
        hits = await Index(database).search("ネットで予約", ["lib"], k=1)  # ネット finds インターネット via its group
        assert hits and hits[0].document_id == 1 and hits[0].coverage == 1.0
    finally:
        await database.dispose()
