"""Pictures of the charts: the PNG fallback of the cards' Teams charts (Web Chat and older clients) and the charts of
the Excel report, drawn with the Japanese font that matplotlib-fontja ships."""
from __future__ import annotations

import base64
import io
import json
import warnings

import pytest
from openpyxl import load_workbook
from PIL import Image

from cards import analysis as acards
from skills.analysis import charts
from skills.analysis.report import build_report
from tests.harness import card_nodes
from tests.skills.analysis import samples
from tests.skills.analysis.test_analysis_skill import CHARTS, as_rendered_by_1_5, offline, run

BAR = acards.bar_chart("区別の件数", [("中央", 1200), ("小田", 3400), ("大庄", 2100), ("立花", 4100), ("武庫", 3900),
                                  ("園田", 3600)], x_title="区", y_title="件数")
LINE = acards.line_chart("年度別の推移", [("手数料", [(f"令和{i}年度", 1000 + i * 37.5) for i in range(1, 8)]),
                                      ("95%区間（下限）", [(f"令和{i}年度", 900.0 + i * 30) for i in range(5, 8)])],
                         x_title="年度", y_title="手数料（円）")
GROUPED = acards.grouped_chart("区×年代", [("30代", [("中央", 3), ("小田", 5)]), ("40代", [("中央", 4), ("小田", 2)])],
                               x_title="区", y_title="人数")


def drawn(chart, size=charts.SIZES[0]):
    """The PNG and the warnings raised while drawing it (all of them, recorded)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = charts.render_png(chart, size)
    return png, [str(w.message) for w in caught]


def pixels(png: bytes) -> tuple[str, tuple[int, int], int, float]:
    with Image.open(io.BytesIO(png)) as im:
        fmt, size = im.format, im.size
        rgb = im.convert("RGB")
        colours = len(rgb.getcolors(1 << 16) or [])
        data = rgb.getdata()
        inked = sum(1 for p in data if p != (255, 255, 255)) / len(data)
    return fmt, size, colours, inked


@pytest.mark.parametrize("chart", [BAR, LINE, GROUPED], ids=["bar", "line", "grouped"])
def test_each_chart_is_a_real_png_with_japanese_labels_in_the_bundled_font(chart):
    png, warned = drawn(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    fmt, size, colours, inked = pixels(png)
    assert fmt == "PNG" and size == charts.SIZES[0]
    assert colours >= 3 and 0.02 < inked < 0.6            # drawn: bars or lines, text, axes — not a blank image
    assert not [w for w in warned if "missing from" in w or "Glyph" in w], warned
    assert len(png) < 12_000                              # the small palette keeps it card-sized


def test_the_font_is_the_one_the_package_ships_and_the_glyph_check_can_fail(monkeypatch):
    from matplotlib import font_manager

    path = charts.font_path()
    assert path.name == "ipaexg.ttf" and path.is_file() and "matplotlib_fontja" in str(path)
    charts.render_png(BAR)
    found = font_manager.findfont(font_manager.FontProperties(family=charts.FONT_NAME), fallback_to_default=False)
    assert found == str(path)
    # the control: with a font that has no Japanese, the same drawing does raise the missing-glyph warning
    monkeypatch.setattr(charts, "FONT_NAME", "DejaVu Sans")
    _, warned = drawn(BAR)
    assert any("missing from" in w for w in warned)


def top_band_ink(png: bytes, rows: int = 22) -> int:
    """Dark pixels in the picture's top rows, where the title is drawn."""
    with Image.open(io.BytesIO(png)) as im:
        g = im.convert("L")
        return sum(1 for y in range(rows) for x in range(g.width) if g.getpixel((x, y)) < 128)


def test_the_japanese_title_is_drawn_not_left_blank():
    assert top_band_ink(charts.render_png(dict(BAR, title="\u3000"))) == 0   # the same layout, a blank title
    assert top_band_ink(charts.render_png(BAR)) > 50            # 区別の件数 in glyphs


def test_a_chart_without_data_is_not_drawn():
    assert charts.render(dict(BAR, data=[]), charts.SIZES[0]) is None


def image_of(fallback: dict) -> bytes:
    assert fallback["type"] == "Container"
    (img,) = fallback["items"]
    assert img["type"] == "Image" and img["altText"].startswith("グラフ: ")
    head, _, b64 = img["url"].partition(",")
    assert head == "data:image/png;base64"
    return base64.b64decode(b64, validate=True)


def test_fallback_pictures_stay_within_the_card_limit_and_keep_tables_past_it():
    card = acards.profile_card({"title": "表", "rows": 3, "columns": []}, filename="a.csv")
    card["body"] += [json.loads(json.dumps(c)) for c in (BAR, LINE, GROUPED)]
    rich = acards.with_chart_images(card, charts.render)
    assert acards.card_bytes(rich) <= acards.MAX_CARD_BYTES
    found = acards.charts_of(rich)
    assert [c["type"] for c in found] == [BAR["type"], LINE["type"], GROUPED["type"]]
    for chart in found:
        png = image_of(chart["fallback"])
        assert pixels(png)[0] == "PNG"
    assert acards.charts_of(card)[0]["fallback"]["type"] == "Table"     # the card given is not changed
    # a limit with room for about one picture: the first chart gets it (at the smaller size), the line chart (whose
    # picture is larger than its table by more than the room left) keeps its table, and the card stays within the
    # limit (the grouped chart's picture is smaller than its table: it may take it)
    first_small = len(base64.b64encode(charts.render(BAR, charts.SIZES[-1]) or b""))
    limit = acards.card_bytes(card) + first_small + 400
    tight = acards.with_chart_images(card, charts.render, limit=limit)
    assert acards.card_bytes(tight) <= limit
    kinds = [c["fallback"]["type"] for c in acards.charts_of(tight)]
    assert kinds[:2] == ["Container", "Table"]
    # no room at all: every chart keeps its table
    none = acards.with_chart_images(card, charts.render, limit=acards.card_bytes(card))
    assert [c["fallback"]["type"] for c in acards.charts_of(none)] == ["Table"] * 3


async def test_cards_sent_carry_pictures_valid_for_1_5_and_the_profile_report_has_them(lite_db, tmp_path, testdata):
    import jsonschema

    schema = json.loads((testdata / "schemas" / "adaptive-cards" / "1.5.0" / "adaptive-card.json").read_text())
    validator = jsonschema.Draft6Validator(schema)
    services = offline(lite_db, tmp_path)
    made = (await run(services, "分析して", files=[("区別人口.xlsx", samples.population_xlsx())])).cards()
    made += (await run(services, "/analyze 推計")).cards()
    made += (await run(services, "/analyze 推移")).cards()
    pictures = 0
    for card in made:
        assert acards.card_bytes(card) <= acards.MAX_CARD_BYTES
        for chart in card_nodes(card, lambda n: n.get("type") in CHARTS):
            if chart["fallback"]["type"] == "Container":
                assert pixels(image_of(chart["fallback"]))[0] == "PNG"
                pictures += 1
        errors = sorted(validator.iter_errors(as_rendered_by_1_5(card)), key=lambda e: list(e.path))
        assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]
    assert pictures >= 3
    # the profile's Excel report: its charts as pictures on a sheet of their own
    token = next(a["data"]["token"] for a in card_nodes(made[0], lambda n: n.get("type") == "Action.Execute")
                 if a.get("verb") == acards.XLSX_VERB)
    port = await run(services, verb=acards.XLSX_VERB, data={"token": token})
    _name, data, _ctype = port.last().file
    wb = load_workbook(io.BytesIO(data))
    assert "グラフ" in wb.sheetnames
    images = wb["グラフ"]._images
    assert len(images) == len(card_nodes(made[0], lambda n: n.get("type") in CHARTS)) >= 1
    assert pixels(images[0]._data())[0] == "PNG"


def test_report_pictures_sheet_only_when_given():
    png = charts.render_png(BAR)
    wb = load_workbook(io.BytesIO(build_report(filename="a.csv", heading="h", label="l",
                                               images=[("=HYPERLINK(\"x\")", png)])))
    ws = wb["グラフ"]
    assert ws["A1"].value == "'=HYPERLINK(\"x\")"         # a title is text, never a formula
    assert len(ws._images) == 1
    assert "グラフ" not in load_workbook(io.BytesIO(build_report(filename="a.csv", heading="h", label="l"))).sheetnames
