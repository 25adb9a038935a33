"""The kpi skill through the router: admin check, /kpi card and CSV export, /skillcheck, /examples.

On SQLite only: the SQL behind these is covered on both back ends in test_report.py."""
from __future__ import annotations

import csv
import io

from sqlalchemy import select

from core import router
from core.skills import Command, Skill
from core.store.models import UserProfile
from skills.kpi import strings as S
from skills.kpi.models import QuizResult
from tests.harness import RecorderPort, make_request
from tests.skills.kpi.conftest import ADMIN_AAD
from tests.skills.kpi.seed import seed


def admin_request(text="", **kw):
    return make_request(text, **{"aad_object_id": ADMIN_AAD, **kw})


async def run(services, req) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(req, port, services)
    return port


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM missing"
    text = content[3:].decode("utf-8")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text)))


async def test_kpi_refuses_non_admins_politely(svc):
    for req in (make_request("/kpi"), make_request("/kpi export"), make_request(verb="kpi.export"),
                make_request(verb="kpi.refresh"), make_request("/kpi", aad_object_id=None)):
        port = await run(svc, req)
        assert port.texts() == [S.NOT_ADMIN] and not port.cards() and not [s for s in port.sent if s.file]


async def test_kpi_card_for_an_admin(svc, sqlite_db):
    await seed(sqlite_db)
    port = await run(svc, admin_request("/kpi"))
    [card] = port.cards()
    assert card["body"][0]["text"] == "AIの利用状況（効果測定）"
    # the same id in another case is still the admin (object ids are case-insensitive GUIDs)
    port = await run(svc, admin_request("/効果測定", aad_object_id=ADMIN_AAD.lower()))
    assert port.cards()
    port = await run(svc, admin_request("/kpi 何か"))
    assert port.texts() == [S.KPI_USAGE]


async def test_kpi_refresh_replaces_the_card(svc, sqlite_db):
    port = await run(svc, admin_request(verb="kpi.refresh", is_invoke=True))
    assert port.last().kind == "refresh" and port.last().card["body"][0]["text"] == "AIの利用状況（効果測定）"


async def test_export_csvs(svc, sqlite_db):
    await seed(sqlite_db, prompt_text="秘密の相談内容（宛名番号 12345678）")
    port = await run(svc, admin_request("/kpi export"))
    files = {s.file[0]: s.file for s in port.sent if s.kind == "file"}
    assert set(files) == {"ai_kpi_monthly_2026.csv", "ai_kpi_monthly_detail_2026.csv", "ai_audit_2026.csv"}
    assert all(ct == "text/csv" for _, _, ct in files.values())
    assert port.texts()[-1] == S.EXPORT_DONE.format(label="令和8年度（2026年度）")

    audit = read_csv(files["ai_audit_2026.csv"][1])
    assert audit[0] == ["番号", "日時（日本時間）", "利用者ID", "Entra ID オブジェクトID", "部署", "機能", "コマンド", "結果",
                        "理由", "ネットワーク区分", "接続先", "モデル", "入力トークン数", "出力トークン数",
                        "伏せ字（種類:件数）", "応答時間（ミリ秒）", "相関ID"]
    raw = files["ai_audit_2026.csv"][1].decode("utf-8-sig")
    assert "秘密の相談内容" not in raw and "12345678" not in raw
    rows = audit[1:]
    # FY2026 = 4/1 00:00 JST … 3/31: the 23:59 JST record of 3/31 is out, the 12/1 00:00 JST one is in
    assert len(rows) == 10
    assert rows[0][1:8] == ["2026-04-01 00:00:00", "u1", "aad-u1", "企画財政局", "drafting", "drafting", "成功"]
    assert rows[0][14:16] == ["name:1", "1234"]
    assert [r[7] for r in rows].count("拒否") == 1 and [r[7] for r in rows].count("エラー") == 1
    assert rows[-1][1] == "2026-12-01 00:00:00"

    monthly = read_csv(files["ai_kpi_monthly_2026.csv"][1])
    assert monthly[0] == ["年月", "利用回数", "利用者数（実人数）", "推定削減時間（時間）", "拒否件数", "エラー件数"]
    assert monthly[1] == ["2026-04", "1", "1", "0.5", "0", "0"]
    assert monthly[-1] == ["2026-11", "4", "3", "1.8", "1", "1"]       # 10 + 30 + 5 + 60 = 105 minutes
    assert len(monthly) == 1 + 8

    detail = read_csv(files["ai_kpi_monthly_detail_2026.csv"][1])
    assert detail[1] == ["2026-04", "企画財政局", "drafting", "1", "1", "0.5"]


async def test_export_of_an_earlier_fiscal_year_and_bad_year(svc, sqlite_db):
    await seed(sqlite_db)
    port = await run(svc, admin_request("/kpi export 2025年度"))
    audit = read_csv({s.file[0]: s.file for s in port.sent if s.kind == "file"}["ai_audit_2025.csv"][1])
    assert [r[2] for r in audit[1:]] == ["u9"]
    port = await run(svc, admin_request("/kpi export 令和7"))
    assert port.texts() == [S.EXPORT_BAD_YEAR]


async def test_csv_cells_cannot_become_excel_formulas(svc, sqlite_db):
    from core.store.models import UsageEvent

    async with sqlite_db.session() as s:
        s.add(UsageEvent(user_id="=HYPERLINK(\"http://x\")", department="+部署", skill="qa", outcome="ok",
                         created_at=svc.clock.now()))
    port = await run(svc, admin_request("/kpi export"))
    audit = read_csv({s.file[0]: s.file for s in port.sent if s.kind == "file"}["ai_audit_2026.csv"][1])
    assert audit[1][2].startswith("'=") and audit[1][4] == "'+部署"


async def test_skillcheck_flow_stores_the_result_by_department(svc, sqlite_db):
    async with sqlite_db.session() as s:
        s.add(UserProfile(user_id="29:user-1", department="企画財政局", prefs={}))
    port = await run(svc, make_request("/skillcheck"))
    [roles] = port.cards()
    assert [a["data"]["role"] for c in roles["body"] if c["type"] == "Container" for i in c["items"]
            if i["type"] == "ActionSet" for a in i["actions"]] == ["general", "manager", "dx"]

    port = await run(svc, make_request(verb="kpi.skillcheck.start", data={"role": "manager"}, is_invoke=True))
    assert port.last().kind == "refresh" and "管理職" in port.last().card["body"][0]["text"]

    from skills.kpi.content import load_quiz
    from skills.kpi.settings import DATA_DIR

    role = load_quiz(DATA_DIR / "skillcheck.yaml").role("manager")
    answers = {f"q_{q.id}": str(q.answer) for q in role.questions}
    answers[f"q_{role.questions[0].id}"] = "1" if role.questions[0].answer != 1 else "2"
    port = await run(svc, make_request(verb="kpi.skillcheck.submit", data={"role": "manager", **answers},
                                       is_invoke=True))
    assert port.last().kind == "refresh"
    n = len(role.questions)
    assert f"{n}問中 {n - 1}問 正解" in port.last().card["body"][1]["text"]
    async with sqlite_db.session() as s:
        [row] = (await s.execute(select(QuizResult))).scalars().all()
    assert (row.user_id, row.department, row.role, row.score, row.total) == ("29:user-1", "企画財政局", "manager",
                                                                           n - 1, n)

    port = await run(svc, make_request("/skillcheck 部長"))
    assert port.texts()[0].startswith("「部長」という役割は見つかりませんでした") and port.cards()
    port = await run(svc, make_request("/スキルチェック DX推進員"))
    assert "DX推進員" in port.cards()[0]["body"][0]["text"]


async def test_examples_browse_and_unknown(svc):
    port = await run(svc, make_request("/examples"))
    assert port.cards()[0]["body"][0]["text"] == "AI活用例集"
    port = await run(svc, make_request("/活用例 議会答弁"))
    assert port.cards()[0]["body"][0]["text"] == "AI活用例：議会答弁"
    port = await run(svc, make_request(verb="kpi.examples.browse", data={"category": "excel"}, is_invoke=True))
    assert port.last().kind == "refresh" and port.last().card["body"][0]["text"] == "AI活用例：Excel関数"
    port = await run(svc, make_request(verb="kpi.examples.browse", data={}, is_invoke=True))
    assert port.last().card["body"][0]["text"] == "AI活用例集"
    port = await run(svc, make_request("/examples 占い"))
    assert port.texts()[0].startswith("「占い」の活用例は見つかりませんでした")


async def test_example_run_redispatches_as_if_typed(svc):
    seen = []

    async def probe(req, reply, services):
        seen.append((req.command, req.text, req.verb, req.data, req.is_invoke, req.user_id))
        await reply.send_text("probe ran")

    svc.registry.add(Skill(name="probe", title="probe", description="test", commands=[Command("probe", "p", "p")],
                           handler=probe))
    port = await run(svc, make_request(verb="kpi.examples.run", data={"text": "/probe 通知文 研修の開催"},
                                       is_invoke=True))
    assert seen == [("probe", "通知文 研修の開催", None, {}, False, "29:user-1")]
    assert port.texts() == ["probe ran"]
    # free text (no slash) goes through the router's free-text path: offline keyword rules pick /examples here
    port = await run(svc, make_request(verb="kpi.examples.run", data={"text": "活用例を見たい"}, is_invoke=True))
    assert port.cards()[0]["body"][0]["text"] == "AI活用例集"
    port = await run(svc, make_request(verb="kpi.examples.run", data={"text": " "}, is_invoke=True))
    assert port.texts() == [S.EXAMPLES_EMPTY_RUN]


async def test_broken_data_file_gives_a_clear_message(make_svc, tmp_path):
    bad = tmp_path / "quiz.yaml"
    bad.write_text("roles: []\n", encoding="utf-8")
    svc = make_svc(KPI_SKILLCHECK_FILE=str(bad))
    port = await run(svc, make_request("/skillcheck"))
    assert port.texts() == ["quiz.yaml: roles（役割の一覧）がありません。"]


async def test_figures_and_quiz_results_stay_out_of_shared_conversations(svc):
    channel = dict(conversation_id="19:team@thread.tacv2;messageid=1", conversation_type="channel")
    port = await run(svc, admin_request("/kpi", **channel))
    assert port.texts() == [S.PERSONAL_ONLY.format(command="/kpi")] and not port.cards()
    port = await run(svc, admin_request(verb="kpi.export", is_invoke=True, **channel))
    assert port.texts() == [S.PERSONAL_ONLY.format(command="/kpi")] and not [s for s in port.sent if s.file]
    port = await run(svc, make_request("/skillcheck", **channel))
    assert port.texts() == [S.PERSONAL_ONLY.format(command="/skillcheck")] and not port.cards()
    port = await run(svc, make_request(verb="kpi.skillcheck.submit", data={"role": "dx"}, is_invoke=True, **channel))
    assert port.texts() == [S.PERSONAL_ONLY.format(command="/skillcheck")]


async def test_examples_buttons_open_a_new_card_from_help_and_refresh_inside_the_library(svc):
    from cards.kpi import BROWSE_VERB
    from tests.harness import card_nodes

    def browse_data(card):
        nodes = card_nodes(card, lambda n: n.get("type") == "Action.Execute" and n.get("verb") == BROWSE_VERB)
        return [{k: v for k, v in n["data"].items() if k != "verb"} for n in nodes]

    from_help = await run(svc, make_request(verb=BROWSE_VERB, data={}, is_invoke=True))
    assert [s.kind for s in from_help.sent] == ["card"]          # the /help card stays; the library is a new card
    category = await run(svc, make_request(verb=BROWSE_VERB, data=browse_data(from_help.sent[0].card)[0],
                                           is_invoke=True))
    assert [s.kind for s in category.sent] == ["refresh"]        # a category replaces the library card
    back = browse_data(category.sent[0].card)[-1]                 # 「分類の一覧に戻る」
    again = await run(svc, make_request(verb=BROWSE_VERB, data=back, is_invoke=True))
    assert [s.kind for s in again.sent] == ["refresh"]           # and back to the list, in place too
