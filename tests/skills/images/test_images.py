"""画像点検 end to end through the router: photos made with Pillow (EXIF GPS, time, orientation; none), a real face
photo, a zip; the vision endpoint is the loopback OpenAI stand-in spoken to through the real openai client (structured
output requested, answers valid, malformed and 判定できない); kintone is the loopback stand-in (file upload + record)."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from cards import images as cards
from core import router
from core.skills import FileAttachment
from skills.images import photos, privacy
from skills.images.settings import ImagesSettings
from tests.harness import RecorderPort, card_nodes, make_request, make_services
from tests.skills.images import samples
from tests.skills.images.conftest import OPENED
from tests.standins.kintone import KintoneStandIn


def services_on(db, llm=None, **settings):
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url} if llm else None
    services = make_services(db, llm_env=env)
    services.settings.put(ImagesSettings(_env_file=None, **settings))
    OPENED.append(services)
    return services


def attach(name: str, data: bytes, ctype: str = "image/jpeg") -> FileAttachment:
    return FileAttachment(name=name, content_type=ctype, content=data)


async def send(services, *atts: FileAttachment, words: str = "点検して") -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request(words, attachments=list(atts)), port, services)
    return port


def facts_of(card: dict) -> dict[str, str]:
    return {f["title"]: f["value"] for f in card_nodes(card, lambda n: "title" in n and "value" in n)}


def texts_of(card: dict) -> list[str]:
    return [n["text"] for n in card_nodes(card, lambda n: n.get("type") == "TextBlock")]


def image_of(card: dict) -> Image.Image:
    url = card_nodes(card, lambda n: n.get("type") == "Image")[0]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def sent_image(body: dict) -> tuple[bytes, Image.Image]:
    parts = body["messages"][-1]["content"]
    url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
    raw = base64.b64decode(url.split(",", 1)[1])
    return raw, Image.open(io.BytesIO(raw))


# ---------------------------------------------------------------------------------------------- reading photos

def test_exif_gps_time_and_orientation_are_read_and_applied():
    data = samples.road(800, 600, gps=samples.AMAGASAKI, orientation=6, taken="2026:11:20 10:15:00")
    p = photos.prepare(data, "a.jpg", max_side=1280, max_pixels=10**8)
    assert p.image.size == (600, 800) and p.original_size == (600, 800)     # turned upright
    assert p.image.getpixel((595, 5))[0] > 200 and p.image.getpixel((5, 5))[0] < 150   # the red corner moved right
    assert (p.location.lat, p.location.lon) == samples.AMAGASAKI
    assert p.location.map_url == "https://maps.gsi.go.jp/#17/34.733300/135.406700/"
    assert p.taken_at.isoformat() == "2026-11-20T10:15:00+09:00"
    none = photos.prepare(samples.road(fmt="PNG"), "b.png", max_side=1280, max_pixels=10**8)
    assert none.location is None and none.taken_at is None


def test_pixel_bomb_is_refused_before_decoding_and_sent_copies_carry_no_exif():
    with pytest.raises(photos.PhotoError) as e:
        photos.prepare(samples.road(4000, 3000), "big.jpg", max_side=1280, max_pixels=11_999_999)
    assert e.value.code == "too_many_pixels"
    p = photos.prepare(samples.road(4000, 3000, gps=samples.AMAGASAKI), "big.jpg", max_side=1280,
                       max_pixels=12_000_000)
    assert max(p.image.size) == 1280
    sent = Image.open(io.BytesIO(photos.jpeg(p.image, quality=82)))
    assert not sent.getexif() and "exif" not in sent.info and "icc_profile" not in sent.info


def test_the_opencv_detector_finds_the_sample_face_and_blurring_removes_it():
    im = Image.open(io.BytesIO(samples.face_photo())).convert("RGB")
    faces = privacy.detect_faces(im)
    assert len(faces) == 1
    blurred = privacy.blur(im, faces)
    assert privacy.detect_faces(blurred) == []


async def test_offline_shows_time_location_thumbnail_and_says_judging_needs_a_vision_model(sqlite_db):
    services = services_on(sqlite_db)
    port = await send(services, attach("現場1.jpg", samples.road(gps=samples.AMAGASAKI, orientation=6,
                                                                   taken="2026:11:20 10:15:00")),
                      attach("現場2.png", samples.road(fmt="PNG"), "image/png"))
    photo1, photo2, summary = port.cards()
    f1 = facts_of(photo1)
    assert f1["撮影日時"] == "2026年11月20日 10:15" and f1["位置"] == "北緯34.733300度、東経135.406700度"
    assert {"type": "Action.OpenUrl", "title": "地理院地図で開く",
            "url": "https://maps.gsi.go.jp/#17/34.733300/135.406700/"} in photo1["actions"]
    assert cards.OFFLINE_LABEL in texts_of(photo1) and not port.sent[0].ai_generated
    assert image_of(photo1).size[1] > image_of(photo1).size[0]              # the thumbnail is upright
    assert facts_of(photo2)["位置"] == "位置情報がありません" and facts_of(photo2)["撮影日時"] == "撮影日時の記録がありません"
    assert any("ビジョンモデル" in t and "オフラインモード" in t for t in texts_of(summary))
    for c in port.cards():
        assert len(json.dumps(c, ensure_ascii=False).encode()) < 28_000


async def test_a_zip_of_photos_is_read_and_a_zip_bomb_refused(sqlite_db):
    services = services_on(sqlite_db)
    z = samples.zipped({"写真/a.jpg": samples.road(), "写真/b.jpg": samples.road(), "__MACOSX/._a.jpg": b"x",
                        "memo.txt": b"hello"})
    port = await send(services, attach("現場写真.zip", z, "application/zip"))
    assert len(port.cards()) == 3
    assert [texts_of(c)[0] for c in port.cards()[:2]] == ["写真 1/2：a.jpg", "写真 2/2：b.jpg"]
    assert any("「memo.txt」は写真" in t for t in texts_of(port.cards()[-1]))
    bomb = samples.zipped({"a.jpg": samples.road(), "b.jpg": b"\0" * (3 << 20)})      # 3 MB of zeros: ratio ~1000
    port = await send(services, attach("bomb.zip", bomb, "application/zip"))
    assert port.texts() and "安全に開けない" in port.texts()[0] and "圧縮率" in port.texts()[0]


# ---------------------------------------------------------------------------------------------- the vision endpoint

async def test_structured_output_through_the_real_client_with_faces_blurred_before_sending(sqlite_db, llm):
    seen: list[dict] = []

    def reply(body):
        seen.append(body)
        return {"text": samples.answer(grade="Ⅲ")}
    llm.default = reply
    services = services_on(sqlite_db, llm)
    port = await send(services, attach("人と道路.jpg", samples.face_photo()),
                      attach("道路.jpg", samples.road(gps=samples.AMAGASAKI, taken="2026:11:20 10:15:00")))
    assert len(seen) == 2
    body = seen[0]
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["properties"]["overall_grade"]["enum"] == ["Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "判定できない"]
    assert body["messages"][-1]["content"][1]["image_url"]["detail"] == "high"
    raw, received = sent_image(body)
    # what left: no EXIF, shrunk, and the face no longer a face; the face region's detail is gone
    assert not received.getexif() and received.format == "JPEG"
    original = Image.open(io.BytesIO(samples.face_photo())).convert("RGB")
    face = privacy.detect_faces(original)[0]
    assert privacy.detect_faces(received.convert("RGB")) == []
    crop = (face.x + face.w // 4, face.y + face.h // 4, face.x + 3 * face.w // 4, face.y + 3 * face.h // 4)
    before = np.asarray(original.crop(crop).convert("L"), dtype=float)
    after = np.asarray(received.convert("RGB").crop(crop).convert("L"), dtype=float)
    assert np.abs(np.diff(after, axis=1)).mean() < 0.35 * np.abs(np.diff(before, axis=1)).mean()
    # the road photo sent no GPS either (it is only on the card)
    raw2, _ = sent_image(seen[1])
    assert b"GPS" not in raw2 and not Image.open(io.BytesIO(raw2)).getexif()
    photo1, photo2, summary = port.cards()
    assert "顔と思われる部分を1か所ぼかしてからAIに送信しました（位置情報などの撮影情報は送っていません）。" in texts_of(photo1)
    assert "判定：判定区分 Ⅲ（早期措置段階）" in texts_of(photo2)
    assert "1. ポットホール（Ⅲ、確信度82%）" in texts_of(photo2)
    assert facts_of(photo2)["程度"] == "直径約30cm、深さ約5cm" and port.sent[1].ai_generated
    # the box is drawn on the returned thumbnail: its edge at x = 0.25 of the width carries the grade's colour
    thumb = image_of(photo2).convert("RGB")
    W, H = thumb.size
    r, g, b = thumb.getpixel((round(0.25 * W), round(0.5 * H)))
    assert r > 180 and g < 150 and b < 100                    # #EF6C00 (Ⅲ) over grey asphalt
    assert any("ナンバープレートは検出していません" in t for t in texts_of(summary))
    assert "判定区分 Ⅲ（早期措置段階）" in facts_of(summary)


async def test_malformed_and_not_judgeable_answers_are_per_photo_and_the_batch_goes_on(sqlite_db, llm):
    llm.script = [{"text": "すみません、判定できます。"}, {"text": '{"subject": "道路"}'},     # photo 1: bad twice
                  {"text": samples.answer(judgeable=False)},                                 # photo 2: 判定できない
                  {"text": "```json\n" + samples.answer(grade="Ⅱ", kind="ひび割れ（線状）") + "\n```"}]   # photo 3
    services = services_on(sqlite_db, llm, IMAGES_CONCURRENCY=1)
    port = await send(services, *(attach(f"p{i}.jpg", samples.road()) for i in (1, 2, 3)))
    c1, c2, c3, summary = port.cards()
    assert any(t.startswith("AIの回答を読み取れなかったため、この写真は判定できませんでした") for t in texts_of(c1))
    assert "判定：判定できない" in texts_of(c2) and facts_of(c2)["根拠"] == "写真が暗く、路面が判別できません。"
    assert "判定：判定区分 Ⅱ（予防保全段階）" in texts_of(c3)
    assert facts_of(summary)["判定できない"] == "2枚" and facts_of(summary)["ひび割れ（線状）"] == "1件"
    assert len(llm.chat_requests()) == 4


async def test_report_files_carry_the_photos(sqlite_db, llm):
    llm.default = {"text": samples.answer()}
    services = services_on(sqlite_db, llm)
    port = await send(services, attach("a.jpg", samples.road(gps=samples.AMAGASAKI)), attach("b.jpg", samples.road()))
    summary = port.cards()[-1]
    for fmt in ("xlsx", "docx"):
        button = card_nodes(summary, lambda n: n.get("type") == "Action.Execute" and n.get("verb") == cards.REPORT_VERB
                            and n["data"]["format"] == fmt)[0]  # noqa: B023 - used at once
        out = RecorderPort()
        await router.dispatch(make_request(verb=cards.REPORT_VERB, data={k: v for k, v in button["data"].items()
                                                                          if k != "verb"}), out, services)
        name, content, _ = out.sent[-1].file
        assert name.endswith("." + fmt) and out.sent[-1].text == "点検報告書を作成しました（写真2枚）。"
        if fmt == "xlsx":
            from openpyxl import load_workbook
            ws = load_workbook(io.BytesIO(content)).active
            assert len(ws._images) == 2 and ws["I5"].value == "ポットホール" and ws["F5"].hyperlink.target.startswith(
                "https://maps.gsi.go.jp/#17/34.733300/135.406700/")
        else:
            from docx import Document
            doc = Document(io.BytesIO(content))
            assert len(doc.inline_shapes) == 2 and any("ポットホール" in p.text for p in doc.paragraphs)
    other = RecorderPort()
    await router.dispatch(make_request(verb=cards.REPORT_VERB, data={"batch_id": 1}, user_id="29:other"), other,
                          services)
    assert other.texts() == ["この点検結果は見つかりませんでした（保存期間が過ぎた可能性があります）。もう一度写真をお送りください。"]


# ---------------------------------------------------------------------------------------------- kintone

REPAIR_FIELDS = {"件名": "SINGLE_LINE_TEXT", "対象": "SINGLE_LINE_TEXT", "損傷の種類": "SINGLE_LINE_TEXT",
                 "判定区分": "SINGLE_LINE_TEXT", "損傷の程度": "MULTI_LINE_TEXT", "推奨対応": "MULTI_LINE_TEXT",
                 "確信度": "SINGLE_LINE_TEXT", "撮影日時": "DATETIME", "位置情報": "SINGLE_LINE_TEXT", "地図": "LINK",
                 "登録者": "SINGLE_LINE_TEXT", "写真": "FILE"}


async def test_a_finding_is_registered_in_kintone_with_the_photo_attached(sqlite_db, llm):
    kintone = await KintoneStandIn(app_id="12", api_token="repair-token", fields=REPAIR_FIELDS).start()
    try:
        llm.default = {"text": samples.answer()}
        services = services_on(sqlite_db, llm, IMAGES_KINTONE_BASE_URL=kintone.base_url, IMAGES_KINTONE_APP_ID="12",
                               IMAGES_KINTONE_API_TOKEN="repair-token")
        port = await send(services, attach("現場.jpg", samples.road(gps=samples.AMAGASAKI,
                                                                      taken="2026:11:20 10:15:00")))
        button = card_nodes(port.cards()[0], lambda n: n.get("type") == "Action.Execute" and n.get("verb") == cards.KINTONE_VERB)[0]
        data = {k: v for k, v in button["data"].items() if k != "verb"}
        out = RecorderPort()
        await router.dispatch(make_request(verb=cards.KINTONE_VERB, data=data), out, services)
        assert out.texts() == ["「現場.jpg」をkintoneの補修要望に登録しました（レコード番号：1）。"]
        upload = next(r for r in kintone.requests if r["path"] == "/k/v1/file.json")
        assert upload["headers"]["Content-Type"].startswith("multipart/form-data")
        assert upload["headers"]["X-Cybozu-API-Token"] == "repair-token"
        (key, stored), = kintone.files.items()
        assert stored["name"] == "現場_点検.jpg" and stored["content_type"] == "image/jpeg"
        assert Image.open(io.BytesIO(stored["content"])).format == "JPEG"
        record = kintone.records[1]
        assert record["写真"][0]["fileKey"] == key
        assert record["判定区分"] == "判定区分 Ⅲ（早期措置段階）" and record["損傷の種類"] == "ポットホール"
        assert record["撮影日時"] == "2026-11-20T01:15:00Z" and record["地図"].startswith("https://maps.gsi.go.jp/")
        again = RecorderPort()
        await router.dispatch(make_request(verb=cards.KINTONE_VERB, data=data), again, services)
        assert "すでにkintoneの補修要望に登録しています" in again.texts()[0] and len(kintone.records) == 1
    finally:
        await kintone.stop()
