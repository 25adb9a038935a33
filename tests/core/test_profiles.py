"""Department and job title come from Microsoft Graph (real msgraph-sdk, loopback Graph) on a user's first turn,
off the turn's path, once; the audit record of the next AI use carries the department."""
from __future__ import annotations

import asyncio

import aiohttp
from sqlalchemy import select

from core.graph import GraphService
from core.store.models import UsageEvent, UserProfile
from tests.harness import make_request, make_services, running_bot
from tests.standins.connector import ConnectorStandIn
from tests.standins.graph import FixedCredential, GraphStandIn
from tests.standins.openai_server import OpenAIStandIn

AAD = "00000000-0000-0000-0000-0000000000aa"


async def test_first_turn_fills_department_from_graph_once(db):
    graph = await GraphStandIn().start()
    graph.users[AAD] = {"displayName": "尼崎 太郎", "department": "企画財政局 DX推進課", "jobTitle": "係長"}
    connector = await ConnectorStandIn().start()
    llm = await OpenAIStandIn().start()
    services = make_services(db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url})
    services.graph = GraphService(FixedCredential(), graph.base_url)
    try:
        async with running_bot(services) as url, aiohttp.ClientSession() as s:
            for _ in range(3):
                n = len(connector.cards())
                await s.post(f"{url}/api/messages", json=connector.activity("/help"))
                await connector.wait_for(lambda acts: len(connector.cards()) > n)  # noqa: B023 - awaited in this iteration
            for _ in range(50):
                async with db.session() as ses:
                    prof = await ses.get(UserProfile, "29:user-1")
                if prof and prof.department:
                    break
                await asyncio.sleep(0.1)
            services.ai._departments.clear()
            await services.ai.chat(make_request(), "chat", [{"role": "user", "content": "こんにちは"}])
    finally:
        await connector.stop()
        await llm.stop()
        await graph.stop()
    assert (prof.department, prof.job_title) == ("企画財政局 DX推進課", "係長")
    user_lookups = [r for r in graph.requests if r["path"] == f"/v1.0/users/{AAD}"]
    assert len(user_lookups) == 1 and user_lookups[0]["auth"] == "Bearer test-token"
    async with db.session() as ses:
        ev = (await ses.execute(select(UsageEvent))).scalar_one()
    assert ev.department == "企画財政局 DX推進課"


async def test_group_membership_from_graph_grants_sets_and_kpi_admin(db):
    """A set restricted to an Entra group, and /kpi restricted to an admin group: both follow the user's group
    membership read from Graph (getMemberGroups), cached, and fail closed when Graph errs."""
    from core.profiles import group_ids
    from core.search.index import Index, readable_sets
    from skills.kpi.handler import is_admin
    from skills.kpi.settings import KpiSettings

    group = "11111111-aaaa-bbbb-cccc-000000000001"
    graph = await GraphStandIn().start()
    graph.users[AAD] = {"displayName": "尼崎 太郎"}
    graph.groups[AAD] = [group]
    services = make_services(db)
    services.graph = GraphService(FixedCredential(), graph.base_url)
    try:
        index = Index(db)
        await index.create_set("jinji", title="人事課限定", members=[group])
        assert await readable_sets(AAD, [], db) == []                       # not a member by user id
        groups = await group_ids(services, AAD)
        assert groups == [group] and await readable_sets(AAD, groups, db) == ["jinji"]
        settings = KpiSettings(_env_file=None, KPI_ADMIN_IDS=group.upper())
        assert await is_admin(make_request(), settings, services)
        assert not await is_admin(make_request(aad_object_id="99999999-0000-0000-0000-000000000000"), settings,
                                  services)                                   # unknown to Graph: 404, not admin
        await group_ids(services, AAD)
        lookups = [r for r in graph.requests if r["path"].endswith("/getMemberGroups")]
        assert len([r for r in lookups if AAD in r["path"]]) == 1             # cached
        assert lookups[0]["body"] == {"securityEnabledOnly": False}
    finally:
        await graph.stop()
