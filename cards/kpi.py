"""Cards of the KPI / adoption skill: the KPI dashboard, the skill check, the examples library, the help desk and
the weekly tip. Pure functions (data in, Adaptive Card 1.5 JSON out).

Charts use the Teams chart elements (Chart.VerticalBar, Chart.Line; Teams renders them in version 1.5 cards). Each
chart carries a `fallback` table, which is what any other 1.5 renderer shows instead."""
from __future__ import annotations

from datetime import date
from typing import Any, Iterable, Mapping, Sequence

from cards.common import card, container, execute, facts, heading, input_choice, input_text, note, text, title

ROLE_VERB = "kpi.skillcheck.start"
SUBMIT_VERB = "kpi.skillcheck.submit"
ROLES_VERB = "kpi.skillcheck.roles"
BROWSE_VERB = "kpi.examples.browse"
RUN_VERB = "kpi.examples.run"
ANSWER_VERB = "kpi.helpdesk.answer"
EXPORT_VERB = "kpi.export"
REFRESH_VERB = "kpi.refresh"

MAX_DEPT_ROWS = 15          # Teams caps a message at about 28 KB: the rest is in the CSV


# -- small helpers ----------------------------------------------------------------------------------------------

def num(n: float) -> str:
    return f"{round(n):,}"


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def hours(h: float) -> str:
    return f"{h:,.1f}"


def _label(x: Any) -> str:
    """Chart labels are not markdown: only control characters are removed and the length capped."""
    return "".join(ch for ch in str(x) if ch >= " ")[:60]


def action_set(actions: list[dict]) -> dict:
    return {"type": "ActionSet", "actions": actions}


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, widths: Sequence[int] | None = None) -> dict:
    """A 1.5 Table with a header row (cells are plain text)."""
    header = list(header)
    widths = list(widths or [1] * len(header))

    def cell(v: Any, bold: bool = False) -> dict:
        t = text(str(v), wrap=True, weight="Bolder" if bold else None)
        if isinstance(v, str) and len(v) <= 8 and not bold:
            del t["wrap"]                       # short numbers: keep the card small
        return {"type": "TableCell", "items": [t]}

    return {"type": "Table", "firstRowAsHeader": True, "showGridLines": True,
            "columns": [{"width": w} for w in widths],
            "rows": [{"type": "TableRow", "cells": [cell(h, True) for h in header]}]
            + [{"type": "TableRow", "cells": [cell(v) for v in r]} for r in rows]}


def bar_chart(title_: str, points: Sequence[tuple[str, float]], *, x_title: str, y_title: str,
              fallback: dict) -> dict:
    """Teams' Chart.VerticalBar, with the table a plain 1.5 renderer shows instead."""
    return {"type": "Chart.VerticalBar", "title": title_, "xAxisTitle": x_title, "yAxisTitle": y_title,
            "colorSet": "categorical", "showBarValues": True,
            "data": [{"x": _label(x), "y": round(float(y), 1)} for x, y in points], "fallback": fallback}


def line_chart(title_: str, legend: str, points: Sequence[tuple[str, float]], *, x_title: str, y_title: str,
               fallback: dict) -> dict:
    """Teams' Chart.Line (one series), with the table a plain 1.5 renderer shows instead."""
    return {"type": "Chart.Line", "title": title_, "xAxisTitle": x_title, "yAxisTitle": y_title,
            "data": [{"legend": legend, "values": [{"x": _label(x), "y": float(y)} for x, y in points]}],
            "fallback": fallback}


# -- /kpi -------------------------------------------------------------------------------------------------------

def kpi_card(r: Any, skill_titles: Mapping[str, str] | None = None) -> dict:
    """The KPI dashboard from a `skills.kpi.report.KpiReport` (read by attribute)."""
    skill_titles = skill_titles or {}
    today: date = r.today
    body: list[dict] = [
        title("AIの利用状況（効果測定）"),
        note(f"{r.fy_label}・{today.year}年{today.month}月{today.day}日時点。"
             "年度は4月1日から翌年3月31日までで、目標は年度の経過日数で按分しています。"),
        heading("利用回数"),
        facts([
            (f"今月（{today.month}月）", f"{num(r.uses_month)}回"),
            ("年度累計", f"{num(r.uses_fytd)}回"),
            ("今日までの目標（按分）", f"{num(r.target_uses_fytd)}回（年間目標 {num(r.target_uses_year)}回）"),
            ("達成率", pct(r.uses_progress)),
        ]),
        heading("利用者"),
        facts([
            ("今月の利用者", f"{num(r.active_users_month)}人"),
            ("年度の利用者", f"{num(r.active_users_fytd)}人"
                        + (f"（職員 {num(r.staff_total)}人の {pct(r.share_fytd)}）" if r.staff_total else "")),
        ]),
    ]
    if r.departments:
        rows = [[d.name, num(d.users_fytd), num(d.staff) if d.staff else "—", pct(d.share), num(d.users_month)]
                for d in r.departments[:MAX_DEPT_ROWS]]
        body += [text("部署別（利用率の低い順。職員数の登録がない部署は人数のみ）", size="Small", weight="Bolder"),
                 table(["部署", "年度の利用者", "職員数", "利用率", "今月の利用者"], rows, widths=[3, 2, 2, 2, 2])]
        if len(r.departments) > MAX_DEPT_ROWS:
            body.append(note(f"ほか {len(r.departments) - MAX_DEPT_ROWS}部署は CSV 出力でご確認ください。"))
    else:
        body.append(note("まだ利用の記録がありません。"))

    body.append(heading("推定削減時間"))
    body.append(facts([
        ("年度累計", f"{hours(r.hours_fytd)}時間"),
        ("今日までの目標（按分）", f"{hours(r.target_hours_fytd)}時間（年間目標 {num(r.target_hours_year)}時間）"),
        ("達成率", pct(r.hours_progress)),
    ]))
    if r.skills:
        skill_rows = [(skill_titles.get(s.skill, s.skill), s.uses, s.minutes_per_use, s.hours) for s in r.skills]
        fallback = table(["機能", "利用回数", "1回あたり（分）", "削減時間（時間）"],
                         [[n, num(u), f"{m:g}", hours(h)] for n, u, m, h in skill_rows], widths=[3, 2, 2, 2])
        body.append(bar_chart("機能別の推定削減時間（時間）", [(n, h) for n, _, _, h in skill_rows],
                              x_title="機能", y_title="時間", fallback=fallback))

    body.append(heading("職員の評価"))
    if r.likes + r.dislikes:
        body.append(facts([("👍 の割合", pct(r.like_ratio)), ("👍 / 👎", f"{num(r.likes)}件 / {num(r.dislikes)}件")]))
    else:
        body.append(note("今年度の評価（👍/👎）はまだありません。"))

    body.append(heading("週ごとの利用回数（直近12週）"))
    week_points = [(f"{d.month}/{d.day}週", n) for d, n in r.weeks]
    body.append(line_chart("週ごとの利用回数", "利用回数", week_points, x_title="週（月曜日始まり）", y_title="回",
                           fallback=table(["週（月曜日）", "利用回数"], [[w, num(n)] for w, n in week_points],
                                          widths=[3, 2])))

    citizen_fytd = getattr(r, "citizen_fytd", None) or {}
    citizen_month = getattr(r, "citizen_month", None) or {}
    if sum(citizen_fytd.values()):
        body.append(heading("市民向けチャットボット（職員の利用回数とは別に集計）"))
        body.append(table(["", "回答した", "職員に引き継いだ", "回答しなかった", "合計"],
                          [[label, num(c.get("answered", 0)), num(c.get("handed_off", 0)), num(c.get("declined", 0)),
                            num(sum(c.values()))]
                           for label, c in ((f"今月（{today.month}月）", citizen_month), ("年度累計", citizen_fytd))],
                          widths=[2, 2, 2, 2, 2]))
        body.append(note("市のホームページのチャットで住民から受けた質問の件数です。「回答しなかった」は、職員向けの機能の"
                         "依頼、回数や文字数の上限、引き継ぎ先がなく回答できなかったものなどです。"))

    body.append(heading("AIスキルチェックの受検状況（部署別）"))
    if r.quiz:
        body.append(table(["部署", "受検者", "受検回数", "平均正答率"],
                          [[q.department, num(q.takers), num(q.attempts), f"{q.average_percent:.0f}%"]
                           for q in r.quiz[:MAX_DEPT_ROWS]], widths=[3, 2, 2, 2]))
        if len(r.quiz) > MAX_DEPT_ROWS:
            body.append(note(f"ほか {len(r.quiz) - MAX_DEPT_ROWS}部署の受検状況は省略しています。"))
    else:
        body.append(note("今年度の受検はまだありません。"))

    body.append(note("利用回数はAIが応答した回数です（拒否やエラーになった依頼は含みません）。"
                     "削減時間は、機能ごとに設定した1回あたりの削減時間（分）からの推計です。"))
    return card(body, [execute("CSVを出力", EXPORT_VERB), execute("最新の値に更新", REFRESH_VERB)],
                fallback_text=f"AIの利用状況：年度累計 {num(r.uses_fytd)}回、推定削減時間 {hours(r.hours_fytd)}時間")


# -- /skillcheck ------------------------------------------------------------------------------------------------

def roles_card(roles: Sequence[Any]) -> dict:
    body = [title("AIスキルチェック"),
            text("生成AIを安全に、上手に使うための確認テストです。役割を選んでください（所要時間は5分程度です）。")]
    for r in roles:
        body.append(container([text(r.title, weight="Bolder"), text(r.description, subtle=True),
                               action_set([execute(f"{r.title}として受ける", ROLE_VERB, {"role": r.id})])],
                              separator=True))
    return card(body)


def quiz_card(role: Any) -> dict:
    body: list[dict] = [title(f"AIスキルチェック（{role.title}）"), text(role.description),
                        note(f"全{len(role.questions)}問です。すべて答えてから「採点する」を押してください。")]
    for n, q in enumerate(role.questions, start=1):
        choice = input_choice(f"q_{q.id}", f"問{n}の回答", [(c, str(i)) for i, c in enumerate(q.choices, start=1)],
                              expanded=True, required=True)
        choice["wrap"] = True
        body.append(container([text(f"問{n}. {q.question}", weight="Bolder"), choice], separator=True))
    return card(body, [execute("採点する", SUBMIT_VERB, {"role": role.id}, style="positive")])


def quiz_result_card(role: Any, score: Any, pass_percent: int) -> dict:
    passed = score.percent >= pass_percent
    body: list[dict] = [
        title(f"AIスキルチェックの結果（{role.title}）"),
        text(f"{score.total}問中 {score.correct}問 正解（正答率 {score.percent}%）", size="Medium", weight="Bolder",
             color="Good" if passed else "Warning"),
        text("合格です。この調子で業務に活用してください。" if passed else
             f"合格の目安は正答率 {pass_percent}%です。解説を確認して、もう一度挑戦してみてください。"),
    ]
    for n, item in enumerate(score.items, start=1):
        q = item.question
        right = f"{q.answer}. {q.choices[q.answer - 1]}"
        if item.correct:
            head = f"問{n} ✔ 正解"
            detail = f"正解：{right}"
        else:
            mine = f"{item.chosen}. {q.choices[item.chosen - 1]}" if item.chosen else "未回答"
            head = f"問{n} ✖ 不正解"
            detail = f"あなたの回答：{mine}\n正解：{right}"
        body.append(container([text(head, weight="Bolder", color="Good" if item.correct else "Attention"),
                               text(q.question, subtle=True), text(detail), text(f"解説：{q.explanation}")],
                              separator=True))
    if role.next_steps:
        body.append(heading("次のステップ"))
        for step in role.next_steps:
            items = [text(step.text)]
            if step.run:
                items.append(action_set([execute("試してみる", RUN_VERB, {"text": step.run})]))
            body.append(container(items))
    return card(body, [execute("もう一度受ける", ROLE_VERB, {"role": role.id}),
                       execute("ほかの役割で受ける", ROLES_VERB)])


# -- /examples --------------------------------------------------------------------------------------------------

def examples_index_card(categories: Sequence[Any]) -> dict:
    body = [title("AI活用例集"),
            text("業務別に、すぐに使える依頼文の例をまとめています。分類を選ぶと例が表示され、ボタン一つで実行できます。")]
    for c in categories:
        body.append(container([
            text(f"{c.title}（{len(c.entries)}件）", weight="Bolder"),
            text(c.description, subtle=True),
            action_set([execute(f"{c.title}の例を見る", BROWSE_VERB, {"category": c.id})])], separator=True))
    body.append(note("例文の日時や名称は架空のものです。実際の業務では内容を置き換えてご利用ください。"))
    return card(body)


def examples_category_card(category: Any) -> dict:
    body = [title(f"AI活用例：{category.title}"), text(category.description, subtle=True)]
    for e in category.entries:
        items = [text(e.title, weight="Bolder"), text(e.text, size="Small")]
        if e.note:
            items.append(note(e.note))
        items.append(action_set([execute("この例を実行", RUN_VERB, {"text": e.text}, style="positive")]))
        body.append(container(items, separator=True))
    body.append(note("個人情報や機密性2以上の情報は入力しないでください。"))
    return card(body, [execute("分類の一覧に戻る", BROWSE_VERB, {"category": ""})])


# -- /helpdesk --------------------------------------------------------------------------------------------------

def helpdesk_channel_card(ticket_id: int, asker: str, department: str | None, asked_at: str, question: str,
                          *, error: str | None = None) -> dict:
    """Posted to the DX support channel: the question and an answer box."""
    body = [title(f"ヘルプデスクへの質問（受付番号 {ticket_id}）"),
            facts([("質問者", asker or "（不明）"), ("部署", department or "（未設定）"), ("受付日時", asked_at)]),
            container([text(question)], style="emphasis")]
    if error:
        body.append(text(error, color="Attention"))
    body.append(input_text("answer", "回答", multiline=True, required=True, max_length=4000,
                           placeholder="回答を入力してください。質問者の個人チャットに届きます。"))
    return card(body, [execute("回答する", ANSWER_VERB, {"ticket": ticket_id}, style="positive")])


def helpdesk_answered_card(ticket_id: int, asker: str, question: str, answer: str, answered_by: str,
                           answered_at: str, delivered: bool) -> dict:
    """What the channel card becomes once answered."""
    return card([
        title(f"ヘルプデスクへの質問（受付番号 {ticket_id}）：回答済み"),
        facts([("質問者", asker or "（不明）"), ("回答者", answered_by or "（不明）"), ("回答日時", answered_at)]),
        container([text(question)], style="emphasis"),
        text("回答", weight="Bolder"),
        text(answer),
        note("質問者の個人チャットに回答を届けました。" if delivered else
             "質問者に回答を届けられませんでした（アプリが削除されている可能性があります）。個別にご連絡ください。"),
    ])


def helpdesk_answer_card(ticket_id: int, question: str, answer: str, answered_by: str) -> dict:
    """Sent to the asker: the staff's answer (written by a person, not by AI)."""
    return card([
        title("ヘルプデスクからの回答"),
        note(f"受付番号 {ticket_id}"),
        text("ご質問", weight="Bolder"),
        container([text(question)], style="emphasis"),
        text(f"回答（{answered_by or 'DX推進担当'}）", weight="Bolder"),
        text(answer),
        note("ほかにも質問があれば /helpdesk に続けて入力してください。"),
    ])


# -- nudges -----------------------------------------------------------------------------------------------------

def nudge_card(tip: str, run: str = "") -> dict:
    body = [title("今週のAI活用のヒント"), text(tip)]
    actions = []
    if run:
        actions.append(execute("試してみる", RUN_VERB, {"text": run}, style="positive"))
    actions += [execute("活用例を見る", BROWSE_VERB), execute("スキルチェックを受ける", ROLES_VERB)]
    body.append(note("このお知らせは、しばらくAIアシスタントをご利用でない方に週1回お送りしています。"))
    return card(body, actions)
