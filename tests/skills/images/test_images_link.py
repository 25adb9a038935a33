"""画像点検 from a SharePoint/OneDrive sharing link (/photo <link>): read through Microsoft Graph by the real
msgraph-sdk against the loopback Graph stand-in over HTTP — GET /shares/{u!…}/driveItem and …/permission, the folder's
children (paged with @odata.nextLink), each photo's content (302 to the download URL) — photos only, bounded by
IMAGES_FOLDER_MAX_PHOTOS; without Graph, or with a link Graph refuses, a clear Japanese message."""
from __future__ import annotations

import pytest

from core import router
from core.graph import GraphService, share_token
from skills.images import strings as S
from skills.images.handler import sharepoint_link
from skills.images.settings import ImagesSettings
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.images import samples
from tests.skills.images.conftest import OPENED
from tests.skills.images.test_images import facts_of, texts_of
from tests.standins.graph_sharepoint import FixedCredential, SharePointStandIn

FOLDER = "https://amagasaki.sharepoint.com/:f:/s/douro/EkFolder1234?e=AbC123"
PHOTO = "https://amagasaki.sharepoint.com/:i:/s/douro/EpPhoto5678?e=XyZ789"


@pytest.fixture
async def sp():
    s = await SharePointStandIn().start()          # page_size 2: the 4 children come in two pages
    s.put("F1", "点検写真1130", None, folder=True)
    s.put("P1", "現場1.jpg", samples.road(gps=samples.AMAGASAKI, taken="2026:11:20 10:15:00"), parent="F1",
          mime="image/jpeg")
    s.put("P2", "現場2.png", samples.road(fmt="PNG"), parent="F1", mime="image/png")
    s.put("P3", "IMG0003", samples.road(), parent="F1", mime="image/jpeg")       # no extension: the MIME type says
    s.put("D1", "メモ.docx", b"PK\x03\x04 not a photo", parent="F1",
          mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    s.share(FOLDER, "F1")
    yield s
    await s.stop()


def services_on(db, sp=None, **settings):
    services = make_services(db)
    services.settings.put(ImagesSettings(_env_file=None, **settings))
    services.graph = GraphService(FixedCredential(), sp.base_url) if sp is not None else None
    OPENED.append(services)
    return services


async def photo(services, text: str) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(f"/photo {text}"), port, services)
    return port


def paths(sp) -> list[str]:
    return [r["path"] for r in sp.requests]


def test_the_link_is_found_in_the_text_and_other_hosts_are_not_links():
    assert sharepoint_link(f"点検してください {FOLDER}。") == FOLDER
    assert sharepoint_link("https://example.com/photos/a.jpg を点検") is None
    assert sharepoint_link("点検") is None


async def test_a_shared_folder_gives_a_card_per_photo_and_a_summary(sqlite_db, sp):
    services = services_on(sqlite_db, sp)
    port = await photo(services, FOLDER)
    *photos_, summary = port.cards()
    assert [texts_of(c)[0] for c in photos_] == ["写真 1/3：現場1.jpg", "写真 2/3：現場2.png", "写真 3/3：IMG0003"]
    assert facts_of(photos_[0])["位置"] == "北緯34.733300度、東経135.406700度"
    assert facts_of(photos_[1])["位置"] == "位置情報がありません"
    said = "\n".join(texts_of(summary))
    assert "共有フォルダー「点検写真1130」の写真3枚を点検しました。" in said
    assert "写真ではないファイル1件（「メモ.docx」）は点検していません。" in said
    token = share_token(FOLDER)
    seen = paths(sp)
    assert f"/v1.0/shares/{token}/driveItem" in seen and f"/v1.0/shares/{token}/permission" in seen
    assert seen.count("/v1.0/drives/b!drive-soumu/items/F1/children") == 2          # two pages followed
    assert sorted(p for p in seen if p.startswith("/download/")) == ["/download/P1", "/download/P2", "/download/P3"]
    assert all(r["auth"] == "Bearer sp-test-token" for r in sp.requests if r["path"].startswith("/v1.0/"))


async def test_a_folder_over_the_limit_is_cut_and_the_user_told_how_many_were_skipped(sqlite_db, sp):
    services = services_on(sqlite_db, sp, IMAGES_FOLDER_MAX_PHOTOS=2)
    port = await photo(services, FOLDER)
    *photos_, summary = port.cards()
    assert len(photos_) == 2
    said = "\n".join(texts_of(summary))
    assert "写真2枚を点検しました" in said and "1枚は点検していません（1つのフォルダーから読み取る上限は2枚です）" in said
    assert "/download/P3" not in paths(sp)


async def test_a_link_sent_with_the_word_tenken_reaches_the_skill_offline(sqlite_db, sp):
    services = services_on(sqlite_db, sp)
    port = RecorderPort()
    assert await router.dispatch(make_request(f"この写真を点検してください {FOLDER}"), port, services) == "images"
    assert len(port.cards()) == 4


async def test_a_link_to_one_photo_is_checked(sqlite_db, sp):
    sp.share(PHOTO, "P1")
    services = services_on(sqlite_db, sp)
    port = await photo(services, PHOTO)
    card, summary = port.cards()
    assert texts_of(card)[0] == "写真 1/1：現場1.jpg"
    assert f"/v1.0/shares/{share_token(PHOTO)}/driveItem/content" in paths(sp)


async def test_without_graph_the_user_is_told_in_japanese(sqlite_db):
    services = services_on(sqlite_db)
    port = await photo(services, FOLDER)
    assert port.texts() == [S.LINK_NO_GRAPH] and not port.cards()
    assert "Microsoft Graph の設定が必要" in S.LINK_NO_GRAPH


@pytest.mark.parametrize("status", [403, 404])
async def test_a_link_graph_refuses_is_a_clear_japanese_message(sqlite_db, sp, status):
    sp.share(FOLDER, "F1", status=status)
    services = services_on(sqlite_db, sp)
    port = await photo(services, FOLDER)
    assert port.texts() == [S.LINK_NOT_FOUND] and not port.cards()
    assert not any(p.startswith("/download/") or p.endswith("/children") for p in paths(sp))


async def test_a_link_that_does_not_show_the_user_may_open_it_is_not_read(sqlite_db, sp):
    sp.share(FOLDER, "F1", scope="users", granted=("someone-else",))
    services = services_on(sqlite_db, sp)
    port = await photo(services, FOLDER)
    assert port.texts() == [S.LINK_NO_ACCESS.format(name="点検写真1130")]
    assert not any(p.endswith("/children") for p in paths(sp))


async def test_a_link_to_a_non_photo_file_is_refused(sqlite_db, sp):
    sp.share(PHOTO, "D1")
    services = services_on(sqlite_db, sp)
    port = await photo(services, PHOTO)
    assert port.texts() == [S.LINK_NOT_PHOTO.format(name="メモ.docx")]
