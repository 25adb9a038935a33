"""`python -m bot ingest <set> <dir> --public --contact-section … --contact-phone …` and the documents' front matter:
what `make run` does with docs/samples-citizen, and what an administrator does with the city's pages."""
from __future__ import annotations

import asyncio

import pytest

from core.knowledge import public
from core.knowledge.public import Contact
from core.search.index import SearchError
from core.search.ingest import front_matter
from tests.skills.citizen.conftest import GOMI_URL, SAMPLES


async def _ingest(monkeypatch, db_url, argv):
    """The command line's own entry point (bot.admin.ingest_command), as `python -m bot ingest …` runs it."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    from bot.admin import ingest_command
    return await asyncio.to_thread(ingest_command, argv)


async def test_sample_pages_are_ingested_as_a_public_set_with_their_pages_and_contacts(db_url, db, monkeypatch,
                                                                                      capsys):
    argv = ["市民向け", str(SAMPLES), "--public", "--contact-section", "尼崎市役所 代表", "--contact-phone=06-6375-5639"]
    assert await _ingest(monkeypatch, db_url, argv) == 0
    out = capsys.readouterr().out
    assert "ナレッジセット「市民向け」を作成しました（全職員が検索できます。市民向けに公開します）。" in out
    assert "追加 4 件" in out
    from tests.harness import make_services

    services = make_services(db)
    try:
        info = await public.get(db, "市民向け")
        assert info.public and info.contact == Contact("尼崎市役所 代表", "06-6375-5639")
        assert [i.name for i in await public.public_sets(db)] == ["市民向け"]
        docs = await services.knowledge.list_documents("市民向け")
        assert docs["gomi.md"].url == GOMI_URL and docs["gomi.md"].title == "ごみの出し方"
        assert all(d.url.startswith("https://www.city.amagasaki.example/") for d in docs.values())
        contacts = await public.document_contacts(db, (d.id for d in docs.values()))
        assert contacts[docs["juminhyo.md"].id] == Contact("市民課", "06-0000-2201")
        hits = await services.knowledge.search("url 窓口 架空のサンプル", ["市民向け"], k=5, vectors=False)
        assert all("架空" not in h.text and "url:" not in h.text for h in hits)     # front matter is not text
        # run again, then make it private: nothing re-indexed, the flag goes
        assert await _ingest(monkeypatch, db_url, ["市民向け", str(SAMPLES), "--private"]) == 0
        assert "変更なし 4 件" in capsys.readouterr().out
        info = await public.get(db, "市民向け")
        assert not info.public and info.contact.section == "尼崎市役所 代表"
        assert await public.public_sets(db) == []
        # a set with members is never public, from the command line or otherwise
        assert await _ingest(monkeypatch, db_url, ["人事", str(SAMPLES), "--members", "g-1", "--public"]) == 2
        assert "メンバー限定のナレッジセットは公開" in capsys.readouterr().err
        assert await public.get(db, "人事") is None
        await services.knowledge.create_set("人事", members=["g-1"])
        with pytest.raises(SearchError, match="メンバー限定"):
            await public.configure(db, "人事", public=True)
    finally:
        await services.llm.close()


def test_front_matter_is_read_and_split_off():
    meta, body = front_matter("---\nurl: https://city.example/a.html\n窓口: 市民課\n電話: 06-0000-0000\n---\n# 本文\n"
                              .encode())
    assert (meta.url, meta.contact_section, meta.contact_phone) == ("https://city.example/a.html", "市民課",
                                                                   "06-0000-0000")
    assert body == "# 本文\n".encode()
    meta, body = front_matter(b"---\nurl: javascript:alert(1)\n---\ntext")      # only http(s) links
    assert meta.url is None and body == b"text"
    for raw in (b"# no front matter\n---\n", b"---\n: [broken\n---\nx", "\u30c6\u30ad\u30b9\u30c8".encode("cp932")):
        meta, body = front_matter(raw)
        assert meta.url is None and body == raw


async def test_migration_0016_keeps_every_set_document_and_chunk_and_goes_back(db_url):
    """Public flags are added in place: nothing stored before is lost (on SQLite a table copy would cascade its
    chunks away), existing sets stay private, and the downgrade removes the columns again."""
    from sqlalchemy import text

    from core.store import Database

    database = Database(db_url)
    try:
        await database.migrate("0015_search_reanalyse_readings")
        async with database.engine.begin() as conn:
            await conn.execute(text("INSERT INTO search_sets (id, name, title, members, created_at) "
                                    "VALUES (1, 'lib', 'lib', '[]', CURRENT_TIMESTAMP)"))
            await conn.execute(text("INSERT INTO search_documents (id, set_id, source, source_key, title, "
                                    "content_hash, updated_at, staff_written) VALUES (1, 1, 'folder', 'a.md', "
                                    "'a', 'x', CURRENT_TIMESTAMP, false)"))
            await conn.execute(text("INSERT INTO search_chunks (id, document_id, ordinal, title, section, text, "
                                    "tokens) VALUES (1, 1, 0, 'a', '', '本文', '本文')"))
        await database.migrate("0016_search_public")
        async with database.engine.connect() as conn:
            row = (await conn.execute(text("SELECT public, contact_section FROM search_sets"))).one()
            chunks = (await conn.execute(text("SELECT count(*) FROM search_chunks"))).scalar_one()
        assert (bool(row[0]), row[1], chunks) == (False, None, 1)
        assert await public.public_sets(database) == []
        await database.downgrade("0015_search_reanalyse_readings")
        async with database.engine.connect() as conn:
            chunks = (await conn.execute(text("SELECT count(*) FROM search_chunks"))).scalar_one()
            names = list((await conn.execute(text("SELECT * FROM search_sets"))).keys())
        assert chunks == 1 and "public" not in names
    finally:
        await database.dispose()
