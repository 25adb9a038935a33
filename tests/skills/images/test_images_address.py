"""画像点検's address lookup: 国土地理院's reverse geocoder API (LonLatToAddress) spoken over real HTTP to a loopback
stand-in (tests/standins/gsi_geocoder.py), through core.net's policy session. The address shows on the photo card,
the summary, the Excel/Word report and the kintone record; photos without GPS still say so; a failing geocoder
leaves coordinates and the 地理院地図 link with nothing said; lookups are cached; tier and address policy hold."""
from __future__ import annotations

import io

import pytest

from cards import images as cards
from core import router
from skills.images import geocoder
from skills.images.settings import ImagesSettings
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.images import samples
from tests.skills.images.conftest import OPENED
from tests.skills.images.test_images import REPAIR_FIELDS, attach, facts_of, texts_of
from tests.standins.gsi_geocoder import GsiGeocoderStandIn
from tests.standins.kintone import KintoneStandIn

NISHINOMIYA = (34.7376, 135.3416)
SEA = (34.6500, 135.3500)


@pytest.fixture(autouse=True)
def _fresh_cache():
    geocoder._caches.clear()                 # the cache is per process: each test starts from none


@pytest.fixture
async def gsi():
    s = await GsiGeocoderStandIn().start()
    s.place(34.70, 135.38, 34.76, 135.44, muni="28202", town="東七松町一丁目")
    s.place(34.72, 135.30, 34.75, 135.36, muni="28204", town="－")          # no 町・字: the city alone
    yield s
    await s.stop()


def services_on(db, gsi=None, llm=None, **settings):
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url} if llm else None
    services = make_services(db, llm_env=env)
    if gsi is not None:
        settings = {"IMAGES_GEOCODER_URL": gsi.url, "IMAGES_GEOCODER_ALLOWLIST": "127.0.0.1", **settings}
    services.settings.put(ImagesSettings(_env_file=None, **settings))
    OPENED.append(services)
    return services


async def send(services, *atts, **kw) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request("点検して", attachments=list(atts), **kw), port, services)
    return port


def said(port: RecorderPort) -> str:
    return "\n".join([*port.texts(), *(t for c in port.cards() for t in texts_of(c))])


# ---------------------------------------------------------------------------------------------- the wire

def test_the_answer_is_read_as_the_api_documents_it():
    table = geocoder.municipalities()
    assert table["28202"] == "兵庫県尼崎市" and table["27113"] == "大阪府大阪市西淀川区"
    assert geocoder.parse({"results": {"muniCd": "28202", "lv01Nm": "東七松町一丁目"}}, table).text == \
        "兵庫県尼崎市東七松町一丁目"
    assert geocoder.parse({"results": {"muniCd": "28204", "lv01Nm": "－"}}, table).text == "兵庫県西宮市"
    sapporo = geocoder.parse({"results": {"muniCd": "1101", "lv01Nm": "北一条西二丁目"}}, {"01101": "北海道札幌市中央区"})
    assert sapporo.code == "01101" and sapporo.text == "北海道札幌市中央区北一条西二丁目"      # leading zero restored
    assert geocoder.parse({"results": {"muniCd": "13101", "lv01Nm": "丸の内一丁目"}}, table).text == "丸の内一丁目"
    assert geocoder.parse({}, table) is None and geocoder.parse({"results": {"muniCd": "", "lv01Nm": ""}}, table) is None
    with pytest.raises(geocoder.GeocodeFailed):
        geocoder.parse(["not", "it"], table)


async def test_the_address_is_on_the_cards_and_each_position_is_asked_once(sqlite_db, gsi):
    services = services_on(sqlite_db, gsi)
    port = await send(services, attach("a.jpg", samples.road(gps=samples.AMAGASAKI)),
                      attach("b.jpg", samples.road(gps=samples.AMAGASAKI)),
                      attach("c.jpg", samples.road(gps=NISHINOMIYA)), attach("d.jpg", samples.road(gps=SEA)),
                      attach("e.png", samples.road(fmt="PNG"), "image/png"))
    a, b, c, d, e, summary = port.cards()
    assert facts_of(a)["住所"] == "兵庫県尼崎市東七松町一丁目付近" == facts_of(b)["住所"]
    assert facts_of(a)["位置"] == "北緯34.733300度、東経135.406700度"                 # the coordinates stay
    assert {"type": "Action.OpenUrl", "title": "地理院地図で開く",
            "url": "https://maps.gsi.go.jp/#17/34.733300/135.406700/"} in a["actions"]
    assert facts_of(c)["住所"] == "兵庫県西宮市付近"
    assert "住所" not in facts_of(d)                                   # the sea: no address, no complaint
    assert facts_of(e)["位置"] == "位置情報がありません" and "住所" not in facts_of(e)
    # the wire: one GET per distinct position (the same position again comes from the cache), only lat and lon
    assert sorted((r["query"]["lat"], r["query"]["lon"]) for r in gsi.requests) == [
        ("34.65000", "135.35000"), ("34.73330", "135.40670"), ("34.73760", "135.34160")]
    assert len(gsi.requests) == 3 and all(r["path"] == "/reverse-geocoder/LonLatToAddress" for r in gsi.requests)
    port = await send(services, attach("again.jpg", samples.road(gps=samples.AMAGASAKI)))
    assert facts_of(port.cards()[0])["住所"] == "兵庫県尼崎市東七松町一丁目付近" and len(gsi.requests) == 3
    assert "位置情報なし" in facts_of(summary) and facts_of(summary)["位置情報なし"] == "1枚"


async def test_the_summary_report_and_kintone_record_carry_the_address(sqlite_db, gsi, llm):
    kintone = await KintoneStandIn(app_id="12", api_token="repair-token", fields=REPAIR_FIELDS).start()
    try:
        llm.default = {"text": samples.answer(grade="Ⅲ")}
        services = services_on(sqlite_db, gsi, llm, IMAGES_KINTONE_BASE_URL=kintone.base_url,
                               IMAGES_KINTONE_APP_ID="12", IMAGES_KINTONE_API_TOKEN="repair-token")
        port = await send(services, attach("現場.jpg", samples.road(gps=samples.AMAGASAKI)),
                          attach("位置なし.jpg", samples.road()))
        photo, _, summary = port.cards()
        assert any(t.endswith("兵庫県尼崎市東七松町一丁目付近") and t.startswith("1. 現場.jpg") for t in texts_of(summary))
        batch = next(n for n in card_nodes(summary, lambda n: n.get("verb") == cards.REPORT_VERB))["data"]["batch_id"]
        out = RecorderPort()
        await router.dispatch(make_request(verb=cards.REPORT_VERB, data={"batch_id": batch, "format": "xlsx"}), out,
                              services)
        from openpyxl import load_workbook
        ws = load_workbook(io.BytesIO(out.sent[-1].file[1])).active
        assert [c.value for c in ws[4]][3:6] == ["位置（緯度, 経度）", "住所", "地理院地図"]
        assert ws["E5"].value == "兵庫県尼崎市東七松町一丁目付近" and ws["E6"].value in (None, "")
        assert ws["D6"].value == "位置情報がありません"
        out = RecorderPort()
        await router.dispatch(make_request(verb=cards.REPORT_VERB, data={"batch_id": batch, "format": "docx"}), out,
                              services)
        from docx import Document
        doc = Document(io.BytesIO(out.sent[-1].file[1]))
        assert any(p.text == "・住所：兵庫県尼崎市東七松町一丁目付近" for p in doc.paragraphs)
        button = card_nodes(photo, lambda n: n.get("verb") == cards.KINTONE_VERB)[0]
        await router.dispatch(make_request(verb=cards.KINTONE_VERB, data={"photo_id": button["data"]["photo_id"]}),
                              RecorderPort(), services)
        assert kintone.records[1]["位置情報"] == "兵庫県尼崎市東七松町一丁目付近（北緯34.733300度、東経135.406700度）"
    finally:
        await kintone.stop()


# ---------------------------------------------------------------------------------------------- failures

@pytest.mark.parametrize("failure", ["status", "slow", "not_json"])
async def test_a_failing_geocoder_leaves_coordinates_and_the_map_and_says_nothing(sqlite_db, gsi, failure):
    if failure == "status":
        gsi.status = 503
    elif failure == "slow":
        gsi.delay = 1.0
    else:
        gsi.body = "<html>maintenance</html>"
    services = services_on(sqlite_db, gsi, IMAGES_GEOCODER_TIMEOUT_SECONDS=0.3, IMAGES_CONCURRENCY=1)
    port = await send(services, *(attach(f"p{i}.jpg", samples.road(gps=(34.7333 + i / 1000, 135.4067)))
                                  for i in range(3)))
    *photos_, summary = port.cards()
    for card in photos_:
        assert "住所" not in facts_of(card) and facts_of(card)["位置"].startswith("北緯")
        assert any(a.get("url", "").startswith("https://maps.gsi.go.jp/#17/") for a in card["actions"])
    text = said(port)
    assert "住所" not in text and "ジオコーダ" not in text and "取得できません" not in text
    assert len(gsi.requests) == 1                  # after the first failure the batch does not ask again


async def test_other_tiers_and_the_address_policy_keep_the_position_in(sqlite_db, gsi):
    services = services_on(sqlite_db, gsi)
    port = await send(services, attach("a.jpg", samples.road(gps=samples.AMAGASAKI)), tier="lgwan")
    assert "住所" not in facts_of(port.cards()[0]) and gsi.requests == []
    # without the allowlist a loopback geocoder is a private address: refused before any connection
    services = services_on(sqlite_db, None, IMAGES_GEOCODER_URL=gsi.url)
    port = await send(services, attach("a.jpg", samples.road(gps=samples.AMAGASAKI)))
    assert "住所" not in facts_of(port.cards()[0]) and gsi.requests == []
    # a redirect to another host is not followed
    other = await GsiGeocoderStandIn().start()
    try:
        other.place(30, 130, 40, 140, muni="28202", town="東七松町一丁目")
        gsi.redirect_to = other.url.replace("127.0.0.1", "localhost") + "?lat=34.7333&lon=135.4067"
        services = services_on(sqlite_db, gsi, IMAGES_GEOCODER_ALLOWLIST="127.0.0.1,localhost")
        port = await send(services, attach("a.jpg", samples.road(gps=samples.AMAGASAKI)))
        assert "住所" not in facts_of(port.cards()[0]) and len(gsi.requests) == 1 and other.requests == []
    finally:
        await other.stop()
