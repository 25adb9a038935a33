"""The summary card's bulk kintone button: every finding at 判定区分 Ⅱ or worse (IMAGES_KINTONE_MIN_GRADE) goes to the
補修要望 app — one file upload per photo (POST /k/v1/file.json) and the records at most 100 per POST
/k/v1/records.json — through the real client to the loopback kintone stand-in. Pressing twice (one after the other,
or both at once, or with the photo's own button) registers nothing twice; the counts are said in Japanese."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiohttp import web

from cards import images as cards
from core import router
from skills.images import vision
from skills.images.models import ImageBatch, ImagePhoto
from skills.images.settings import ImagesSettings
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.images import samples
from tests.skills.images.conftest import OPENED
from tests.skills.images.test_images import REPAIR_FIELDS, attach
from tests.standins.kintone import KintoneStandIn, _error

GRADES = ["Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", None]          # None: 判定できない


class FlakyKintone(KintoneStandIn):
    """Answers the second POST /k/v1/records.json with kintone's 520 (the first and third go through)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.bulk_calls = 0

    async def _post_records(self, request: web.Request) -> web.Response:
        self.bulk_calls += 1
        if self.bulk_calls == 2:
            return _error(520, "GAIA_UN01", "一時的なエラーが発生しました。")
        return await super()._post_records(request)


@pytest.fixture
async def kintone():
    s = await FlakyKintone(app_id="12", api_token="repair-token", fields=REPAIR_FIELDS).start()
    s.bulk_calls = -1000             # not flaky unless a test says so
    yield s
    await s.stop()


def services_on(db, kintone, llm=None, **settings):
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url} if llm else None
    services = make_services(db, llm_env=env)
    services.settings.put(ImagesSettings(_env_file=None, IMAGES_KINTONE_BASE_URL=kintone.base_url,
                                         IMAGES_KINTONE_APP_ID="12", IMAGES_KINTONE_API_TOKEN="repair-token",
                                         **settings))
    OPENED.append(services)
    return services


def paths(kintone) -> list[str]:
    return [r["path"] for r in kintone.requests]


async def press(services, verb: str, data: dict, **kw) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(verb=verb, data=data, **kw), port, services)
    return port


async def checked_batch(services, llm) -> tuple[dict, list[dict]]:
    """Five photos judged Ⅰ, Ⅱ, Ⅲ, Ⅳ and 判定できない by the stand-in model: (summary card, photo cards)."""
    llm.script = [{"text": samples.answer(grade=g) if g else samples.answer(judgeable=False)} for g in GRADES]
    port = RecorderPort()
    await router.dispatch(make_request("点検して", attachments=[attach(f"p{i}.jpg", samples.road(240, 180))
                                                                for i in range(1, 6)]), port, services)
    *photos_, summary = port.cards()
    return summary, photos_


def bulk_button(summary: dict) -> dict:
    found = card_nodes(summary, lambda n: n.get("type") == "Action.Execute" and n.get("verb") == cards.KINTONE_ALL_VERB)
    assert len(found) == 1
    return found[0]


async def test_the_bulk_button_registers_grade_two_and_worse_once(sqlite_db, kintone, llm):
    services = services_on(sqlite_db, kintone, llm, IMAGES_CONCURRENCY=1)
    summary, photos_ = await checked_batch(services, llm)
    button = bulk_button(summary)
    assert button["title"] == "補修要望にまとめて登録（判定区分Ⅱ以上 3枚）"
    data = {k: v for k, v in button["data"].items() if k != "verb"}
    out = await press(services, cards.KINTONE_ALL_VERB, data)
    assert out.texts()[-1] == "判定区分Ⅱ以上の写真3枚のうち3件を、kintoneの補修要望に登録しました（レコード番号：1、2、3）。"
    assert paths(kintone).count("/k/v1/file.json") == 3
    bulk = [r for r in kintone.requests if r["path"] == "/k/v1/records.json" and r["method"] == "POST"]
    assert len(bulk) == 1 and bulk[0]["json"]["app"] == "12" and len(bulk[0]["json"]["records"]) == 3
    assert bulk[0]["headers"]["X-Cybozu-API-Token"] == "repair-token"
    assert [kintone.records[i]["判定区分"] for i in (1, 2, 3)] == ["判定区分 Ⅱ（予防保全段階）", "判定区分 Ⅲ（早期措置段階）",
                                                               "判定区分 Ⅳ（緊急措置段階）"]
    assert all(len(kintone.records[i]["写真"]) == 1 for i in (1, 2, 3))       # each with its photo attached
    # again: nothing new, and said so
    again = await press(services, cards.KINTONE_ALL_VERB, data)
    assert again.texts() == ["判定区分Ⅱ以上の写真3枚は、すべて登録済みです（重ねて登録していません）。"]
    assert len(kintone.records) == 3 and paths(kintone).count("/k/v1/file.json") == 3
    # the Ⅲ photo's own button knows it is registered
    own = card_nodes(photos_[2], lambda n: n.get("verb") == cards.KINTONE_VERB)[0]["data"]
    one = await press(services, cards.KINTONE_VERB, {"photo_id": own["photo_id"]})
    assert one.texts() == ["「p3.jpg」はすでにkintoneの補修要望に登録しています（レコード番号：2）。"]
    assert len(kintone.records) == 3
    # another user cannot press it
    other = await press(services, cards.KINTONE_ALL_VERB, data, user_id="29:other")
    assert "見つかりませんでした" in other.texts()[0] and len(kintone.records) == 3


async def test_a_photo_registered_on_its_own_is_skipped_and_the_threshold_is_a_setting(sqlite_db, kintone, llm):
    services = services_on(sqlite_db, kintone, llm, IMAGES_CONCURRENCY=1, IMAGES_KINTONE_MIN_GRADE="Ⅲ")
    summary, photos_ = await checked_batch(services, llm)
    button = bulk_button(summary)
    assert button["title"] == "補修要望にまとめて登録（判定区分Ⅲ以上 2枚）"
    own = card_nodes(photos_[3], lambda n: n.get("verb") == cards.KINTONE_VERB)[0]["data"]     # the Ⅳ photo
    await press(services, cards.KINTONE_VERB, {"photo_id": own["photo_id"]})
    out = await press(services, cards.KINTONE_ALL_VERB, {"batch_id": button["data"]["batch_id"]})
    assert out.texts()[-1] == ("判定区分Ⅲ以上の写真2枚のうち1件を、kintoneの補修要望に登録しました（レコード番号：2）。"
                               "登録済みの1件は、重ねて登録していません。")
    assert sorted(r["判定区分"][:6] for r in kintone.records.values()) == ["判定区分 Ⅲ", "判定区分 Ⅳ"]


async def test_two_presses_at_once_register_each_photo_once(sqlite_db, kintone, llm):
    kintone.delay = 0.05
    services = services_on(sqlite_db, kintone, llm, IMAGES_CONCURRENCY=1)
    summary, _ = await checked_batch(services, llm)
    data = {"batch_id": bulk_button(summary)["data"]["batch_id"]}
    first, second = await asyncio.gather(press(services, cards.KINTONE_ALL_VERB, data),
                                         press(services, cards.KINTONE_ALL_VERB, data))
    assert len(kintone.records) == 3 and paths(kintone).count("/k/v1/file.json") == 3
    said = first.texts()[-1] + second.texts()[-1]
    assert "3件を、kintoneの補修要望に登録しました" in said and "登録中のため、今回は登録していません" in said


async def seed(services, n: int, *, grade: str = "Ⅲ") -> int:
    """A checked batch of n photos with findings, as the skill stores it (for sizes the model stand-in would make
    slow to reach)."""
    config = vision.load_config(services.settings.get(ImagesSettings))
    judgement = vision.parse(samples.answer(grade=grade), config).to_json()
    picture = samples.road(64, 48)
    now = services.clock.now()
    async with services.db.session() as s:
        batch = ImageBatch(user_id="29:user-1", user_name="尼崎 太郎", mode="ai", summary={}, created_at=now,
                           expires_at=now + timedelta(days=7))
        s.add(batch)
        await s.flush()
        for i in range(1, n + 1):
            s.add(ImagePhoto(batch_id=batch.id, position=i, name=f"p{i:03d}.jpg", picture=picture,
                             facts={"lat": 34.7333, "lon": 135.4067, "taken_at": None}, judgement=judgement))
        return batch.id


async def test_150_findings_go_in_two_requests_and_a_failed_one_is_sent_again_alone(sqlite_db, kintone):
    services = services_on(sqlite_db, kintone)
    batch_id = await seed(services, 150)
    kintone.bulk_calls = 0                          # the second records request fails
    out = await press(services, cards.KINTONE_ALL_VERB, {"batch_id": batch_id})
    bulk = [r for r in kintone.requests if r["path"] == "/k/v1/records.json" and r["method"] == "POST"]
    assert [len(r["json"]["records"]) for r in bulk] == [100, 50] and len(kintone.records) == 100
    assert out.texts()[-1].startswith("判定区分Ⅱ以上の写真150枚のうち100件を、kintoneの補修要望に登録しました（レコード番号：1〜100）。")
    assert "50件は登録できませんでした" in out.texts()[-1] and "もう一度押すと" in out.texts()[-1]
    again = await press(services, cards.KINTONE_ALL_VERB, {"batch_id": batch_id})
    bulk = [r for r in kintone.requests if r["path"] == "/k/v1/records.json" and r["method"] == "POST"]
    assert [len(r["json"]["records"]) for r in bulk] == [100, 50, 50] and len(kintone.records) == 150
    assert again.texts()[-1] == ("判定区分Ⅱ以上の写真150枚のうち50件を、kintoneの補修要望に登録しました"
                                 "（レコード番号：101〜150）。登録済みの100件は、重ねて登録していません。")
    names = sorted(f["name"] for f in kintone.files.values())
    assert len(kintone.files) == 200 and len(set(names)) == 150      # the failed chunk's photos were uploaded again
    async with services.db.session() as s:
        from sqlalchemy import select
        ids = sorted(int(i) for i in (await s.execute(select(ImagePhoto.kintone_record_id)
                                                      .where(ImagePhoto.batch_id == batch_id))).scalars())
    assert ids == list(range(1, 151))


async def test_nothing_to_register_is_said_and_no_button_without_findings(sqlite_db, kintone):
    services = services_on(sqlite_db, kintone)
    batch_id = await seed(services, 2, grade="Ⅰ")
    out = await press(services, cards.KINTONE_ALL_VERB, {"batch_id": batch_id})
    assert out.texts() == ["判定区分Ⅱ以上の損傷が見つかった写真はありません。kintoneには登録していません。"]
    assert kintone.requests == []
    port = RecorderPort()
    await router.dispatch(make_request("点検して", attachments=[attach("a.jpg", samples.road())]), port, services)
    assert not card_nodes(port.cards()[-1], lambda n: n.get("verb") == cards.KINTONE_ALL_VERB)     # offline
