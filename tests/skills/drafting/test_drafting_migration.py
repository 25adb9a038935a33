"""Issue #14: a draft's references moved from positional lists in `fields["_refs"]` to their own `references`
column (migration 0012_drafting_references). A draft written before it keeps its citations, on both back ends."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import select, text

from core import router
from core.store import Database
from skills.drafting.compose import Reference
from skills.drafting.models import Draft
from skills.drafting.settings import DraftingSettings
from skills.drafting.store import references_of
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.drafting.drafting_samples import GIKAI

OLD_FIELDS = {"subject": "放課後児童クラブの待機児童対策", "points": "待機児童の解消に向けた今後の方針を問う",
              "commitment": "検討してまいります",
              "_refs": [[1, "令和6年第3回定例会 一般質問答弁（放課後児童クラブ）", "https://example.invalid/r6-3",
                         "放課後児童クラブの待機児童については、余裕教室の活用により定員を120人拡大した"],
                        [2, "児童福祉法 第6条の3", None, "この法律で、放課後児童健全育成事業とは…"]]}


async def _old_draft(database: Database) -> None:
    """A 議会答弁 draft as the code before 0012 stored it: its references inside `fields`."""
    await database.migrate("0005_drafting")
    async with database.engine.begin() as conn:
        now = datetime(2025, 4, 1, 1, 0, tzinfo=timezone.utc)
        await conn.execute(text(
            "INSERT INTO drafts (id, user_id, doc_type, fields, text, masked_note, easy, offline, revision, "
            "created_at, updated_at) VALUES (5, '29:user-1', 'gikai', :fields, :text, '', false, false, 0, :t, :t)"),
            {"fields": json.dumps(OLD_FIELDS, ensure_ascii=False), "text": GIKAI, "t": now})


async def test_references_leave_the_fields_for_their_own_column(db_url):
    database = Database(db_url)
    try:
        await _old_draft(database)
        await database.migrate()
        assert (await database.ready())[0]
        async with database.session() as s:
            row = (await s.execute(select(Draft).where(Draft.id == 5))).scalar_one()
        assert row.fields == {k: v for k, v in OLD_FIELDS.items() if k != "_refs"}
        assert references_of(row) == [
            Reference(1, "令和6年第3回定例会 一般質問答弁（放課後児童クラブ）",
                      "放課後児童クラブの待機児童については、余裕教室の活用により定員を120人拡大した",
                      url="https://example.invalid/r6-3"),
            Reference(2, "児童福祉法 第6条の3", "この法律で、放課後児童健全育成事業とは…")]
        assert [Reference.from_json(r.to_json()) for r in references_of(row)] == references_of(row)

        # and back: a downgrade puts them where the older code reads them
        await database.downgrade("0005_drafting")
        async with database.engine.begin() as conn:
            stored = (await conn.execute(text("SELECT fields FROM drafts WHERE id = 5"))).scalar_one()
        fields = stored if isinstance(stored, dict) else json.loads(stored)
        assert fields == OLD_FIELDS
    finally:
        await database.dispose()


async def test_a_draft_from_before_the_migration_is_revised_with_its_citations(db_url, llm):
    database = Database(db_url)
    services = make_services(database, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url,
                                                "LLM_MAX_RETRIES": "0"})
    services.settings.put(DraftingSettings(_env_file=None))
    try:
        await _old_draft(database)
        await database.migrate()
        llm.script = [{"text": GIKAI}]
        port = RecorderPort()
        await router.dispatch(make_request(verb="draft.shorter", data={"draft_id": 5}, is_invoke=True), port,
                              services)
        sent = port.last()
        assert [(c.position, c.name, c.url) for c in sent.citations] == [
            (1, "令和6年第3回定例会 一般質問答弁（放課後児童クラブ）", "https://example.invalid/r6-3"),
            (2, "児童福祉法 第6条の3", None)]
        assert sent.citations[0].abstract.startswith("放課後児童クラブの待機児童については")
        card = json.dumps(sent.card, ensure_ascii=False).replace("\\", "")      # text() escapes the brackets
        assert "[1] 令和6年第3回定例会 一般質問答弁（放課後児童クラブ）" in card and "[2] 児童福祉法 第6条の3" in card
    finally:
        await services.llm.close()
        await database.dispose()
