"""Structural rules per document type: realistic drafts pass, broken ones are caught, templates pass too."""
from __future__ import annotations

from datetime import date

import pytest

from skills.drafting import checks, compose
from skills.drafting.doctypes import COMMITMENTS, DOC_TYPES
from tests.skills.drafting.drafting_samples import BROKEN, GIKAI, GOOD, OSHIRASE


@pytest.mark.parametrize("key", sorted(GOOD))
def test_realistic_drafts_pass_their_checks(key):
    commitment = "検討してまいります" if key == "gikai" else None
    assert checks.errors(checks.check(key, GOOD[key], commitment=commitment)) == []


@pytest.mark.parametrize("key,text,code", BROKEN, ids=[f"{k}-{c}" for k, _, c in BROKEN])
def test_broken_drafts_are_caught(key, text, code):
    commitment = "検討してまいります" if key == "gikai" else None
    codes = [i.code for i in checks.check(key, text, commitment=commitment)]
    assert code in codes


def test_commitment_stronger_than_chosen_is_flagged_and_weaker_is_allowed():
    # chosen 研究: the draft saying 検討 promises more than the user chose
    issues = checks.check("gikai", GIKAI, commitment="研究してまいります")
    assert {"commitment", "commitment_stronger"} <= {i.code for i in issues}
    # chosen 取り組んでまいります, the draft also says it — and only weaker past-tense wording elsewhere
    text = GIKAI.replace("検討してまいります", "取り組んでまいります")
    assert checks.errors(checks.check("gikai", text, commitment="取り組んでまいります")) == []
    # 「取り組んでまいりました」 (the 経過) is not the promise 「取り組んでまいります」
    assert "取り組んでまいりました" in GIKAI
    assert checks.errors(checks.check("gikai", GIKAI, commitment="実現に努めてまいります")) != []


def test_polite_sentences_are_not_mistaken_for_plain_ones():
    text = ("お申し込みください。受付は終了しました。ご了承ください。ご不明な点はお問い合わせください。"
            "対象は市内在住の方です。費用はかかりません。ぜひご参加ください。")
    assert checks.register_issues(text) == []
    assert [i.code for i in checks.register_issues("費用はかからない。")] == ["register"]
    assert [i.code for i in checks.register_issues("会場は市役所だ。")] == ["register"]


def test_long_sentences_are_warnings_not_errors_and_easy_japanese_is_stricter():
    long = "本市では、市民の皆様が安心して暮らせるまちづくりを進めるため、地域の皆様や関係団体と協力しながら、さまざまな取組を着実に進めています。"
    assert len(long) > 60
    issues = checks.register_issues(long)
    assert [(i.code, i.severity) for i in issues] == [("long_sentence", "warning")]
    mid = "5月の粗大ごみの収集日が、祝日のため一部の地域で変更になりますので、お出しになる際はご注意ください。"
    assert 40 < len(mid) <= 60
    assert checks.check("oshirase", mid) == []
    assert [i.code for i in checks.check("oshirase", mid, easy=True)] == ["long_sentence"]


def test_autofix_repairs_mechanical_problems():
    broken = GOOD["notice_internal"].replace("の実施について（通知）", "の実施について").replace("、", "，")
    assert {"title", } <= {i.code for i in checks.check("notice_internal", broken)}
    fixed = checks.autofix("notice_internal", broken)
    assert "情報セキュリティ研修の実施について（通知）" in fixed and "，" not in fixed
    assert checks.errors(checks.check("notice_internal", fixed)) == []
    no_close = GIKAI.replace("\n\n以上でございます。", "")
    assert checks.autofix("gikai", no_close).endswith("以上でございます。")
    # numbers like 1,000 keep their comma
    assert checks.autofix("oshirase", "参加費は1,000円です。") == "参加費は1,000円です。"


@pytest.mark.parametrize("key", sorted(DOC_TYPES))
@pytest.mark.parametrize("given", ["nothing", "some"])
def test_offline_templates_pass_the_checks(key, given):
    dt = DOC_TYPES[key]
    raw = {"commitment": "研究"} if key == "gikai" else {}
    if given == "some":
        raw.update(subject="市民健康診断", addressee="各課長", points="健康診断を実施します。", when_where="5月1日 本庁舎",
                   contact="健康増進課 電話06-0000-0000", sender="健康福祉局長", background="受診率は40%です。")
    f = compose.normalize_fields(dt, raw, date(2025, 4, 1))
    text = compose.fill_template(dt, f)
    assert "{" not in text
    assert checks.errors(checks.check(key, text, commitment=f.get("commitment") or None)) == []
    if given == "nothing":
        assert compose.TODO in text
    if key == "gikai":
        assert "研究してまいります" in text and not any(c in text for c in COMMITMENTS[:4])


def test_sentences_split_on_full_stops_only():
    assert checks.sentences("日時：5月1日\n参加費は無料です。申込みは不要です。") == ["参加費は無料です。", "申込みは不要です。"]
    assert len(checks.sentences(OSHIRASE)) == 4


def test_every_draft_gets_the_kobun_check_as_warnings():
    """The 公用文 check (core.kobun, the same as /check) runs on every draft: its findings are warnings with the
    rule's message, the layout errors stay as they were, and the prose types' register/comma/length are not
    reported twice."""
    text = GOOD["notice_internal"].replace("実施しますので", "行ないますので").replace("報告してください", "報告して下さい")
    issues = checks.check("notice_internal", text)
    assert checks.errors(issues) == []
    kobun = {i.code: i.message for i in issues if i.code.startswith("kobun:")}
    assert kobun["kobun:okurigana.honsoku"].startswith("「行ない」→「行い」")
    assert kobun["kobun:hyoki.kudasai"].startswith("「下さい」→「ください」")
    assert all(i.severity == "warning" for i in issues if i.code.startswith("kobun:"))
    plain = OSHIRASE.replace("受け付けています。", "受け付けている。")
    codes = [i.code for i in checks.check("oshirase", plain)]
    assert codes.count("register") == 1 and "kobun:buntai.mix" not in codes
