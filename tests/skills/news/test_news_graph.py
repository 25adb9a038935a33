"""Microsoft Graph through the real msgraph-sdk against a loopback stand-in: profile pre-fill and sendMail."""
from __future__ import annotations

import pytest

from core.graph import GraphError, GraphService, GraphSettings
from tests.standins.graph import FixedCredential, GraphStandIn


@pytest.fixture
async def graph():
    srv = await GraphStandIn().start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_get_user_and_send_mail_over_the_wire(graph):
    graph.users["aad-1"] = {"displayName": "尼崎 太郎", "department": "DX推進課", "jobTitle": "主査",
                            "mail": "taro@example.jp"}
    cred = FixedCredential()
    svc = GraphService(cred, graph.base_url)
    u = await svc.get_user("aad-1")
    assert (u.department, u.job_title, u.mail) == ("DX推進課", "主査", "taro@example.jp")
    req = graph.requests[0]
    assert req["auth"] == "Bearer test-token" and req["path"] == "/v1.0/users/aad-1"
    assert "department" in req["query"].get("$select", "")
    assert cred.scopes[0] == ("https://graph.microsoft.com/.default",)
    await svc.send_mail("news@example.jp", ["taro@example.jp"], "件名", "<p>本文&amp;</p>")
    mail = {k.lower(): v for k, v in graph.mails[0].items()}   # the SDK writes "Message"; Graph is case-insensitive
    assert mail["sender"] == "news@example.jp"
    assert mail["message"]["subject"] == "件名"
    assert mail["message"]["body"] == {"contentType": "html", "content": "<p>本文&amp;</p>"}
    assert mail["message"]["toRecipients"][0]["emailAddress"]["address"] == "taro@example.jp"
    assert mail["savetosentitems"] is False


async def test_errors_carry_the_status(graph):
    svc = GraphService(FixedCredential(), graph.base_url)
    with pytest.raises(GraphError) as e:
        await svc.get_user("nobody")
    assert e.value.status == 404
    graph.fail_mail_status = 403
    with pytest.raises(GraphError) as e:
        await svc.send_mail("news@example.jp", ["a@example.jp"], "s", "<p>x</p>")
    assert e.value.status == 403


def test_not_configured_without_tenant_and_client():
    assert GraphService.from_settings(GraphSettings(_env_file=None)) is None
