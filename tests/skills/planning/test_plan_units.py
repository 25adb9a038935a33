"""Pure pieces of /plan: outline parsing, the offline skeleton, profiles, the slide builder, cards."""
from __future__ import annotations

import io
import json

import pytest
from pptx import Presentation

from cards import planning as plan_cards
from core.pptx import SlideDeck
from core.search.passages import Source
from skills.planning.outline import (
    SECTIONS,
    OutlineUnreadable,
    offline_outline,
    parse_outline,
    parse_revision,
    section_key,
)
from skills.planning.profiles import ProfileError, load_profiles, parse_profiles
from skills.planning.settings import BUNDLED_PROFILES
from tests.skills.law.cardschema import assert_valid_card, card_errors
from tests.skills.planning.plan_helpers import outline_json


def test_outline_json_in_a_code_fence_with_unknown_citations_dropped():
    text = outline_json().replace("その2です[2]", "その2です[2][9]")
    outline = parse_outline(text, "テーマ", {1, 2})
    assert [s["name"] for s in outline["sections"]] == list(SECTIONS)
    assert outline["title"] == "子育て支援アプリの導入について" and outline["mode"] == "ai"
    assert all(s["sources"] == [1, 2] for s in outline["sections"])


def test_outline_from_markdown_with_other_heading_names_and_missing_sections_marked():
    text = ("## 1. 背景\n- 国の方針[1]\n## 現状・課題\n- 待機児童[2]\n## 目的\n- 負担軽減\n"
            "## 具体策\n- アプリ導入\n## 成果指標\n- 登録者数\n## 事業費\n- 約1,200万円[1]\n")
    outline = parse_outline(text, "テーマ", {1, 2})
    by = {s["name"]: s for s in outline["sections"]}
    assert by["施策案"]["points"] == ["アプリ導入"] and by["KPI"]["points"] == ["登録者数"]
    assert by["スケジュール"]["points"] == ["（要確認）"] and by["リスク"]["points"] == ["（要確認）"]
    assert outline["title"] == "テーマ"


@pytest.mark.parametrize("text", ["申し訳ありませんが、お答えできません。", '{"sections": []}', ""])
def test_unreadable_outline_raises(text):
    with pytest.raises(OutlineUnreadable):
        parse_outline(text, "テーマ", set())


def test_section_names_and_revision_parsing():
    assert section_key("課題とリスク") == "リスク" and section_key("KPI（成果指標）") == "KPI"
    assert section_key("雑記") is None
    assert parse_revision("修正案です。\n- 一点目[1]\n・二点目", {1}) == ["一点目[1]", "二点目"]
    with pytest.raises(OutlineUnreadable):
        parse_revision("", set())


def test_offline_skeleton_quotes_passages_under_fitting_headings():
    profile = load_profiles(BUNDLED_PROFILES).get("kiki")
    materials = [
        Source(n=1, kind="knowledge", title="防災計画", text="避難所の運営に課題があり、要配慮者の把握が不足している。"),
        Source(n=2, kind="law", title="災害対策基本法 第五十条", text="災害応急対策は、次の各号に掲げる事項について…"),
        Source(n=3, kind="knowledge", title="予算資料", text="訓練経費として年額300万円の予算を計上する。"),
    ]
    outline = offline_outline("避難所運営の改善", profile, materials)
    by = {s["name"]: s for s in outline["sections"]}
    assert by["背景"]["sources"][0] == 2                                  # law first under 背景
    assert by["現状と課題"]["points"][0] == "「避難所の運営に課題があり、要配慮者の把握が不足している。」（防災計画）[1]"
    assert 3 in by["概算予算"]["sources"]
    assert outline["mode"] == "offline" and outline["method"][0].startswith("災害リスクの現状分析")
    empty = offline_outline("t", profile, [])
    assert all(s["points"] == ["（該当する資料は見つかりませんでした。要確認）"] for s in empty["sections"])


def test_profiles_bundled_file_and_department_matching():
    profiles = load_profiles(BUNDLED_PROFILES)
    assert {p.id for p in profiles.items} >= {"general", "dx", "kodomo", "kiki"}
    assert profiles.for_department("総務局 DX推進課").id == "dx"
    assert profiles.for_department("危機管理安全局 危機管理課").id == "kiki"
    assert profiles.for_department("税務管理課").id == "general"
    assert profiles.for_department(None).id == "general"
    assert profiles.get("nope").id == "general"


@pytest.mark.parametrize("data,fragment", [
    ({}, "profiles"),
    ({"profiles": [{"id": "a"}]}, "name"),
    ({"profiles": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}, "重複"),
    ({"profiles": [{"id": "a", "name": "A", "outputs": ["video"]}]}, "outputs"),
    ({"default": "z", "profiles": [{"id": "a", "name": "A"}]}, "default"),
])
def test_profile_errors_name_the_problem(data, fragment):
    with pytest.raises(ProfileError) as e:
        parse_profiles(data)
    assert fragment in str(e.value)


def test_broken_profiles_file_falls_back_to_the_bundled_one(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("profiles: [unclosed", encoding="utf-8")
    assert load_profiles(path).get("dx").name == "DX推進課"
    path.write_text("default: x\nprofiles:\n  - {id: x, name: 試験課}\n", encoding="utf-8")
    import os
    os.utime(path, (1, 1))   # a different mtime than the broken version: reloaded
    assert load_profiles(path).get("x").name == "試験課"


def test_slide_deck_splits_long_lists_and_sets_east_asian_font():
    deck = SlideDeck(max_points=3).title_slide("表題", "副題").bullets("施策案", [f"点{i}" for i in range(5)])
    deck.sources([("資料A", "https://example.lg.jp/a"), ("資料B", None)])
    prs = Presentation(io.BytesIO(deck.to_bytes()))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles == ["表題", "施策案", "施策案（続き）", "出典"]
    assert prs.slides[2].placeholders[1].text_frame.text == "点3\n点4"
    assert prs.slides[3].placeholders[1].text_frame.text == "[1] 資料A（https://example.lg.jp/a）\n[2] 資料B"
    run = prs.slides[1].placeholders[1].text_frame.paragraphs[0].runs[0]
    assert run._r.rPr.find("{http://schemas.openxmlformats.org/drawingml/2006/main}ea").get("typeface") == "Meiryo UI"
    assert prs.slide_width > prs.slide_height                         # 16:9


def test_plan_cards_are_valid_and_escape_untrusted_text():
    outline = {"mode": "ai", "title": "題*名", "sections": [{"name": n, "points": ["<at>x</at>[1]"], "sources": [1]}
                                                          for n in SECTIONS]}
    sources = [Source(n=1, kind="case", title="[link](http://evil)", text="t")]
    cards = [plan_cards.clarify_card("テーマ", [("a", "A課", "x→y")], "a"),
             plan_cards.accepted_card("テーマ", "A課"), plan_cards.failed_card(1, "テーマ", "調査", "失敗"),
             plan_cards.outline_card(1, "テーマ", "A課", {"purpose": "p"}, outline, sources),
             plan_cards.jobs_card([{"id": 1, "theme": "t", "status": "done", "stage": "done", "updated": "u",
                                    "resumable": False}])]
    for c in cards:
        assert_valid_card(c)
    text = json.dumps(cards[3], ensure_ascii=False)
    assert "<at>" not in text and "[link]" not in text and "・\\\\<at\\\\>x\\\\</at\\\\>［1］" in text
    assert card_errors({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Nope"}]})
