"""Reader profiles: created on first use, once, even when several turns of a new user arrive at the same time."""
from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from skills.news.models import NewsProfile
from skills.news.profiles import get_or_create
from tests.harness import make_request, make_services
from tests.skills.news.helpers import news_settings


async def test_concurrent_first_use_creates_one_profile(db, tmp_path):
    """Issue #22-8: two (here ten) first `/news 設定` of a new user at once raised a UNIQUE violation on
    news_profiles.user_id and the user got the apology. Every call now returns the profile; one row exists."""
    services = make_services(db)
    settings = news_settings(tmp_path)
    req = make_request("設定", user_id="29:new-user")

    results = await asyncio.gather(*(get_or_create(services, req, settings) for _ in range(10)),
                                   return_exceptions=True)

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, [repr(e)[:200] for e in errors]
    assert {p.user_id for p in results} == {"29:new-user"}
    assert {p.delivery_time for p in results} == {settings.NEWS_DEFAULT_TIME}
    assert {p.conversation_id for p in results} == {"a:personal-1"}
    async with services.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(NewsProfile)) == 1
        row = await s.get(NewsProfile, "29:new-user")
    assert row.conversation_id == "a:personal-1" and row.aad_object_id == req.aad_object_id
