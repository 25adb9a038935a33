"""A SharePoint/OneDrive link sent instead of a file: read through Microsoft Graph's shares API by the real
msgraph-sdk against the loopback Graph stand-in over HTTP (GET /shares/{u!…}/driveItem, …/permission,
…/driveItem/content with its 302), taken only when the link lets this user open the file, under the size cap;
without Graph configured a clear Japanese message."""
from __future__ import annotations

import base64
import json

import pytest

from core import router
from core.graph import GraphService, share_token
from skills.analysis import strings as S
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.analysis import samples
from tests.skills.analysis.conftest import OPENED, analysis_settings
from tests.skills.analysis.test_analysis_skill import card_text
from tests.standins.graph_sharepoint import FixedCredential, SharePointStandIn

USER = "00000000-0000-0000-0000-0000000000aa"            # make_request's aad_object_id
LINK = "https://amagasaki.sharepoint.com/:x:/s/soumu/EQx7AbCdEfGh1234?e=Xy9Zab"


@pytest.fixture
async def sp():
    s = await SharePointStandIn().start()
    s.put("01ELTAX", "法人市民税.csv", samples.eltax_csv())
    yield s
    await s.stop()


def services_with(db, tmp_path, sp=None, **kw):
    services = make_services(db)
    services.settings.put(analysis_settings(tmp_path, **kw))
    if sp is not None:
        services.graph = GraphService(FixedCredential(), sp.base_url)
    OPENED.append(services)
    return services


async def run(services, text):
    port = RecorderPort()
    await router.dispatch(make_request(text), port, services)
    return port


def shares_paths(sp) -> list[str]:
    return [r["path"] for r in sp.requests]


def test_share_token_is_unpadded_base64url_with_u_prefix():
    url = "https://amagasaki.sharepoint.com/:x:/s/soumu/E?e=a~b"   # '?' and '~' give '/' and '+' in plain base64
    token = share_token(url)
    body = token[2:]
    assert token.startswith("u!") and "=" not in body and "/" not in body and "+" not in body
    assert base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode() == url


async def test_an_organisation_link_is_fetched_through_graph_and_profiled(lite_db, tmp_path, sp):
    sp.share(LINK, "01ELTAX", scope="organization")
    services = services_with(lite_db, tmp_path, sp)
    port = await run(services, f"このデータを分析して {LINK}")
    token = share_token(LINK)
    assert shares_paths(sp) == [f"/v1.0/shares/{token}/driveItem", f"/v1.0/shares/{token}/permission",
                                f"/v1.0/shares/{token}/driveItem/content", "/download/01ELTAX"]
    assert sp.requests[0]["auth"] == "Bearer sp-test-token"
    assert sp.requests[0]["prefer"] == "redeemSharingLinkIfNecessary"
    card = json.dumps(port.cards()[-1], ensure_ascii=False)
    assert "法人市民税.csv" in card and "40行" in card and "申告区分" in card
    assert "リンク先の「法人市民税.csv」を取得しています…" in port.texts()
    # the file is the conversation's current one: a follow-up works on it
    port = await run(services, "/analyze 集計 申告区分")
    assert port.cards() and "申告区分" in card_text(port.cards()[-1])


async def test_a_link_for_specific_people_is_taken_only_for_them(lite_db, tmp_path, sp):
    services = services_with(lite_db, tmp_path, sp)
    sp.share(LINK, "01ELTAX", scope="users", granted=("11111111-2222-3333-4444-555555555555",))
    port = await run(services, f"/analyze {LINK}")
    assert port.texts() == [S.LINK_NO_ACCESS.format(name="法人市民税.csv")]
    assert not [p for p in shares_paths(sp) if p.endswith("/content") or p.startswith("/download")]
    sp.share(LINK, "01ELTAX", scope="users", granted=(USER,))
    port = await run(services, f"/analyze {LINK}")
    assert port.cards() and "法人市民税.csv" in json.dumps(port.cards()[-1], ensure_ascii=False)


@pytest.mark.parametrize("scope", [None, "existingAccess"])
async def test_a_plain_address_or_an_existing_access_link_is_not_taken(lite_db, tmp_path, sp, scope):
    address = "https://amagasaki.sharepoint.com/sites/soumu/Shared%20Documents/法人市民税.csv"
    sp.share(address, "01ELTAX", scope=scope)
    services = services_with(lite_db, tmp_path, sp)
    port = await run(services, f"/analyze {address}")
    assert port.texts() == [S.LINK_NO_ACCESS.format(name="法人市民税.csv")]
    assert not [p for p in shares_paths(sp) if p.endswith("/content")]


async def test_too_large_not_data_and_unknown_links_get_japanese_messages(lite_db, tmp_path, sp):
    sp.put("01BIG", "大きい.csv", b"a,b\n" + b"1,2\n" * 300_000)      # 1.2 MB
    sp.put("01DOC", "議事録.docx", b"PK\x03\x04not really")
    sp.share(LINK, "01BIG")
    sp.share(LINK + "2", "01DOC")
    services = services_with(lite_db, tmp_path, sp, ANALYSIS_MAX_FILE_MB=1)
    port = await run(services, f"/analyze {LINK}")
    assert port.texts() == [S.TOO_LARGE.format(name="大きい.csv", mb=1)]
    assert not [p for p in shares_paths(sp) if p.endswith("/content")]       # refused before downloading
    port = await run(services, f"/analyze {LINK}2")
    assert port.texts() == [S.NOT_DATA.format(name="議事録.docx")]
    port = await run(services, "/analyze https://amagasaki.sharepoint.com/:x:/s/soumu/Eunknown")
    assert port.texts() == [S.LINK_NOT_FOUND]


async def test_without_graph_the_user_is_told_plainly(lite_db, tmp_path):
    services = services_with(lite_db, tmp_path)
    assert services.graph is None
    port = await run(services, f"/analyze {LINK}")
    assert port.texts() == [S.LINK_NO_GRAPH]
    assert "Microsoft Graph の設定が必要" in S.LINK_NO_GRAPH and "直接添付" in S.LINK_NO_GRAPH
