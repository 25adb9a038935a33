"""The administrator-edited data files: shipped content, validation messages, scoring, reload on change."""
from __future__ import annotations

import os

import pytest

from skills.kpi.content import ContentError, input_id, load_library, load_quiz, parse_library, parse_quiz, score
from skills.kpi.settings import DATA_DIR


def test_shipped_skillcheck_has_three_roles_with_at_least_eight_questions():
    quiz = load_quiz(DATA_DIR / "skillcheck.yaml")
    assert [r.title for r in quiz.roles] == ["一般職員", "管理職", "DX推進員"]
    for role in quiz.roles:
        assert len(role.questions) >= 8, role.id
        for q in role.questions:
            assert q.explanation and 1 <= q.answer <= len(q.choices)
        assert role.next_steps
    # the shipped next steps point at categories that exist
    lib = load_library(DATA_DIR / "examples.yaml")
    for role in quiz.roles:
        for step in role.next_steps:
            if step.run.startswith("/examples "):
                assert lib.category(step.run.split(" ", 1)[1]) is not None, step.run


def test_shipped_examples_cover_the_use_cases_and_name_real_commands():
    from bot.registry import build_registry
    from core.router import split_command

    lib = load_library(DATA_DIR / "examples.yaml")
    titles = [c.title for c in lib.categories]
    for wanted in ("通知文", "議会答弁", "要約", "Excel関数", "アンケート分析", "庁内Q&A", "企画"):
        assert wanted in titles
    registry = build_registry()
    for c in lib.categories:
        for e in c.entries:
            parsed = split_command(e.text)
            if parsed:                      # a slash command must be one the registry knows
                assert registry.lookup(parsed[0]) is not None, e.text
    assert lib.tips


def test_role_and_category_lookup_accept_titles_ids_and_width_variants():
    quiz = load_quiz(DATA_DIR / "skillcheck.yaml")
    assert quiz.role("ＤＸ推進員").id == "dx"
    assert quiz.role("manager").title == "管理職"
    assert quiz.role("部長") is None
    lib = load_library(DATA_DIR / "examples.yaml")
    assert lib.category("excel").title == "Excel関数"
    assert lib.category("庁内Ｑ＆Ａ").id == "qa"


QUIZ = {"roles": [{"id": "general", "title": "一般職員", "questions": [
    {"id": "a", "question": "Q1", "choices": ["x", "y", "z"], "answer": 2, "explanation": "e1"},
    {"id": "b", "question": "Q2", "choices": ["x", "y"], "answer": 1, "explanation": "e2"},
    {"id": "c", "question": "Q3", "choices": ["x", "y"], "answer": 2, "explanation": "e3"},
    {"id": "d", "question": "Q4", "choices": ["x", "y"], "answer": 2, "explanation": "e4"},
]}]}


def test_scoring_counts_right_answers_and_treats_bad_values_as_wrong():
    role = parse_quiz(QUIZ).roles[0]
    s = score(role, {input_id(role.questions[0]): "2", "q_b": "2", "q_c": "7", "q_d": "abc"})
    assert (s.correct, s.total, s.percent) == (1, 4, 25)
    assert [i.correct for i in s.items] == [True, False, False, False]
    assert s.answers() == {"a": 2, "b": 2, "c": None, "d": None}
    s = score(role, {"q_a": "2", "q_b": "1", "q_c": " 2 ", "q_d": 2})
    assert (s.correct, s.percent) == (4, 100)
    assert score(role, {}).correct == 0


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["roles"][0]["questions"][0].update(answer=4), "answer は1から3までの番号"),
    (lambda d: d["roles"][0]["questions"][1].update(choices=["only"]), "2つ以上"),
    (lambda d: d["roles"][0]["questions"][1].update(id="a"), "重複"),
    (lambda d: d["roles"][0].pop("questions"), "questions"),
    (lambda d: d.pop("roles"), "roles"),
])
def test_quiz_validation_names_the_problem_in_japanese(mutate, expected):
    import copy

    data = copy.deepcopy(QUIZ)
    mutate(data)
    with pytest.raises(ContentError) as e:
        parse_quiz(data)
    assert expected in e.value.message_ja


def test_library_validation():
    with pytest.raises(ContentError, match="title と text"):
        parse_library({"categories": [{"id": "a", "title": "A", "entries": [{"title": "t", "text": " "}]}]})
    with pytest.raises(ContentError, match="entries"):
        parse_library({"categories": [{"id": "a", "title": "A"}]})


def test_files_are_reread_when_changed_and_yaml_errors_are_reported(tmp_path):
    import yaml

    path = tmp_path / "quiz.yaml"
    path.write_text(yaml.safe_dump(QUIZ, allow_unicode=True), encoding="utf-8")
    assert len(load_quiz(path).roles[0].questions) == 4
    data = dict(QUIZ, roles=[dict(QUIZ["roles"][0], questions=QUIZ["roles"][0]["questions"][:2])])
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + 5))
    assert len(load_quiz(path).roles[0].questions) == 2
    path.write_text("roles: [\n  - id: x\n bad", encoding="utf-8")
    os.utime(path, (st.st_atime, st.st_mtime + 10))
    with pytest.raises(ContentError, match="書き方に誤り"):
        load_quiz(path)
    with pytest.raises(ContentError, match="見つかりません"):
        load_quiz(tmp_path / "missing.yaml")
