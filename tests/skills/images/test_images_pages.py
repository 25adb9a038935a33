"""Every photo of a large batch gets its card: the first IMAGES_CARDS_MAX come as the photos are checked, the rest a
page at a time from the summary card's 「次の…枚を表示」 button (and each page's own button after it), paced so that a
page stays within Teams' per-conversation rate (about 60 messages per 30 s)."""
from __future__ import annotations

import json
import time

from cards import images as cards
from core import router
from skills.images.settings import ImagesSettings
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.images import samples
from tests.skills.images.conftest import OPENED
from tests.skills.images.test_images import attach, facts_of, image_of, texts_of
from tests.skills.images.test_images_bulk import seed


def services_on(db, **settings):
    services = make_services(db)
    services.settings.put(ImagesSettings(_env_file=None, **{"IMAGES_CARD_INTERVAL_SECONDS": 0, **settings}))
    OPENED.append(services)
    return services


def page_button(card: dict) -> dict | None:
    found = card_nodes(card, lambda n: n.get("type") == "Action.Execute" and n.get("verb") == cards.PAGE_VERB)
    assert len(found) <= 1
    return {k: v for k, v in found[0]["data"].items() if k != "verb"} if found else None


async def press(services, data: dict, **kw) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(verb=cards.PAGE_VERB, data=data, **kw), port, services)
    return port


def position(card: dict) -> int:
    return int(texts_of(card)[0].split("：")[0].removeprefix("写真 ").split("/")[0])


async def test_photos_past_the_first_cards_are_shown_from_the_summarys_button(sqlite_db):
    services = services_on(sqlite_db, IMAGES_CARDS_MAX=4)
    port = RecorderPort()
    await router.dispatch(make_request("点検して", attachments=[
        attach(f"p{i}.jpg", samples.road(160, 120, gps=samples.AMAGASAKI if i == 6 else None)) for i in range(1, 8)]),
        port, services)
    *first, summary = port.cards()
    assert [position(c) for c in first] == [1, 2, 3, 4]
    assert any("5枚目以降の写真のカードは、このカードの「次の3枚を表示」で順に表示できます。" in t for t in texts_of(summary))
    data = page_button(summary)
    assert data is not None and data["start"] == 5
    button = card_nodes(summary, lambda n: n.get("verb") == cards.PAGE_VERB)[0]
    assert button["title"] == "次の3枚を表示（5〜7枚目）"
    out = await press(services, data)
    *page, end = out.cards()
    assert [position(c) for c in page] == [5, 6, 7] and texts_of(page[0])[0] == "写真 5/7：p5.jpg"
    assert facts_of(page[1])["位置"] == "北緯34.733300度、東経135.406700度"          # what the first cards show
    assert facts_of(page[0])["位置"] == "位置情報がありません"
    assert image_of(page[0]).size[0] > 0 and cards.OFFLINE_LABEL in texts_of(page[0])
    assert texts_of(end)[0] == "写真5〜7枚目（全7枚）のカードを表示しました。" and page_button(end) is None
    assert "すべての写真のカードを表示しました。" in texts_of(end)
    for c in out.cards():
        assert len(json.dumps(c, ensure_ascii=False).encode()) < 28_000
    other = await press(services, data, user_id="29:other")
    assert "見つかりませんでした" in other.texts()[0] and not other.cards()


async def test_every_photo_of_a_200_photo_batch_can_be_seen_a_page_at_a_time(sqlite_db):
    services = services_on(sqlite_db, IMAGES_CARDS_MAX=30)
    batch_id = await seed(services, 200)
    seen: list[int] = list(range(1, 31))             # the cards sent while checking
    data: dict | None = {"batch_id": batch_id, "start": 31}
    presses = 0
    while data is not None:
        out = await press(services, data)
        presses += 1
        *page, end = out.cards()
        assert len(out.sent) <= 31                 # one page: at most 30 cards and the page card
        seen += [position(c) for c in page]
        assert all(card_nodes(c, lambda n: n.get("verb") == cards.KINTONE_VERB) == [] for c in page)  # no kintone set
        assert "判定：判定区分 Ⅲ（早期措置段階）" in texts_of(page[0]) and out.sent[0].ai_generated
        data = page_button(end)
    assert seen == list(range(1, 201)) and presses == 6
    gone = await press(services, {"batch_id": batch_id, "start": 201})
    assert gone.texts() == ["この点検結果の写真はすべて表示済みです（全200枚）。"]


async def test_a_page_is_paced(sqlite_db):
    services = services_on(sqlite_db, IMAGES_CARDS_MAX=5, IMAGES_CARD_INTERVAL_SECONDS=0.1)
    batch_id = await seed(services, 10)
    began = time.monotonic()
    out = await press(services, {"batch_id": batch_id, "start": 6})
    took = time.monotonic() - began
    assert len(out.cards()) == 6 and took >= 0.5          # 5 cards and the page card, 0.1 s apart
