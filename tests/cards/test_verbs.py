"""Every button on every card reaches a handler that accepts what the button sends.

The bug behind this test: the only button on the /help card sent the verb "kpi.examples", which no skill handled,
so the user got 「このカードの操作は現在ご利用いただけません」. Three checks keep that from coming back:

1. Static (AST, over cards/ and skills/): `execute(...)` / `submit(...)` from cards.common always name their verb
   through a `*_VERB` constant (never a string literal or an f-string); every `*_VERB` constant in cards/*.py is a
   verb the registry handles; and every verb the registry handles is sent by some card constant (no dead handler).
2. Dynamic: every public card builder that emits actions is called with realistic arguments; every Action.Execute /
   Action.Submit found anywhere in its output has a handler, and its data (with and without the card's inputs, as
   the client merges them) passes that handler's data model. A new builder without a table entry fails here.
3. Round trip: the /help card's button, dispatched through the router, answers with the examples library card.
"""
from __future__ import annotations

import ast
import functools
import importlib
import inspect
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from pydantic import ValidationError

from bot.registry import build_registry
from core.carddata import NoData
from core.search.passages import Passage, Source

ROOT = Path(__file__).resolve().parents[2]
CARDS_DIR = ROOT / "cards"
SKILLS_DIR = ROOT / "skills"
COMMON = "cards.common"
ACTION_FUNCS = ("execute", "submit")
ACTION_TYPES = ("Action.Execute", "Action.Submit")

# Verbs a skill handles that no card constant sends. Each entry needs the reason it is legitimate (e.g. sent by
# bot/ or by another system); otherwise a verb without a card is a dead handler and should be removed.
SENT_ELSEWHERE: dict[str, str] = {}


@functools.cache
def registry():
    return build_registry()


def handled() -> dict[str, Any]:
    return registry().verbs()


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


# -- 1. static ------------------------------------------------------------------------------------------------

@dataclass
class Parsed:
    """One source file: its module-level assignments and how it reaches cards.common's action builders."""

    path: Path
    tree: ast.Module
    assigned: dict[str, ast.expr] = field(default_factory=dict)     # module-level NAME = value
    imported: set[str] = field(default_factory=set)                 # names bound by module-level imports
    func_names: dict[str, str] = field(default_factory=dict)        # local name -> "execute" | "submit"
    common_names: set[str] = field(default_factory=set)             # local names bound to the cards.common module

    @classmethod
    def of(cls, path: Path) -> "Parsed":
        p = cls(path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        package = _module_name(path).rpartition(".")[0] if path.name != "__init__.py" else _module_name(path)
        for node in p.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                p.assigned[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                p.assigned[node.target.id] = node.value
        for node in ast.walk(p.tree):         # imports inside functions count too
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:                # relative: resolve against this file's package
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                    module = ".".join([*base, module] if module else base)
                for alias in node.names:
                    local = alias.asname or alias.name
                    if node in p.tree.body:
                        p.imported.add(local)
                    if module == COMMON and alias.name in ACTION_FUNCS:
                        p.func_names[local] = alias.name
                    elif module == COMMON and alias.name == "*":
                        p.func_names.update({f: f for f in ACTION_FUNCS})
                    elif module == "cards" and alias.name == "common":
                        p.common_names.add(local)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == COMMON and alias.asname:
                        p.common_names.add(alias.asname)
                    if node in p.tree.body:
                        p.imported.add(alias.asname or alias.name.partition(".")[0])
        return p

    def action_kind(self, call: ast.Call) -> str | None:
        """"execute" / "submit" when this call is cards.common's, else None (e.g. SQLAlchemy's `s.execute`)."""
        f = call.func
        if isinstance(f, ast.Name):
            return self.func_names.get(f.id)
        if isinstance(f, ast.Attribute) and f.attr in ACTION_FUNCS:
            owner = _dotted(f.value)
            if owner == COMMON or owner in self.common_names:
                return f.attr
        return None

    def action_calls(self, within: ast.AST | None = None) -> Iterator[tuple[ast.Call, str]]:
        for node in ast.walk(within or self.tree):
            if isinstance(node, ast.Call):
                kind = self.action_kind(node)
                if kind:
                    yield node, kind


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def _verb_arg(call: ast.Call) -> ast.expr | None:
    if len(call.args) >= 2 and not any(isinstance(a, ast.Starred) for a in call.args[:2]):
        return call.args[1]
    return next((k.value for k in call.keywords if k.arg == "verb"), None)


def _table_elements(node: ast.Subscript, mod: Parsed) -> list[ast.expr] | None:
    """What `TABLE[...][...]` can yield, when TABLE is a module-level literal dict/tuple/list (else None)."""
    base = node.value
    if isinstance(base, ast.Name) and base.id in mod.assigned:
        containers = [mod.assigned[base.id]]
    elif isinstance(base, ast.Subscript):
        containers = _table_elements(base, mod)
        if containers is None:
            return None
    else:
        return None
    key = node.slice.value if isinstance(node.slice, ast.Constant) else None
    out: list[ast.expr] = []
    for c in containers:
        if isinstance(c, ast.Dict):
            out += [v for k, v in zip(c.keys, c.values, strict=True)
                    if key is None or (isinstance(k, ast.Constant) and k.value == key)]
        elif isinstance(c, (ast.Tuple, ast.List)):
            out += [c.elts[key]] if isinstance(key, int) and -len(c.elts) <= key < len(c.elts) else list(c.elts)
        else:
            return None
    return out


def _verb_problem(node: ast.expr | None, mod: Parsed) -> str | None:
    """None when the verb expression names a `*_VERB` constant; else what is wrong with it."""
    if node is None:
        return "no verb argument"
    if isinstance(node, ast.Constant):
        return f"the string literal {node.value!r}"
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, ast.Name):
        if node.id.endswith("_VERB"):
            if node.id in mod.assigned or node.id in mod.imported:
                return None
            return f"{node.id}, which is not a module-level constant or import"
        if node.id in mod.assigned:       # a module-level alias of a constant
            return _verb_problem(mod.assigned[node.id], mod)
        return f"the name {node.id!r}, which is not a *_VERB constant"
    if isinstance(node, ast.Attribute):
        return None if node.attr.endswith("_VERB") else f"{_dotted(node) or '...'}, which is not a *_VERB constant"
    if isinstance(node, ast.Subscript):
        elements = _table_elements(node, mod)
        if elements is None:
            return "a subscript of something other than a module-level table of *_VERB constants"
        for e in elements:
            problem = _verb_problem(e, mod)
            if problem:
                return f"a table entry that is {problem}"
        return None
    return f"an expression ({type(node).__name__}) built at run time"


def _sources() -> list[Path]:
    return sorted(CARDS_DIR.glob("*.py")) + sorted(SKILLS_DIR.rglob("*.py"))


def _card_modules() -> list[Path]:
    return [p for p in sorted(CARDS_DIR.glob("*.py")) if p.name not in ("__init__.py", "common.py")]


def card_verb_constants() -> dict[str, tuple[str, object]]:
    """Every module-level `*_VERB` constant assigned in cards/*.py: 'cards.x.NAME' -> (source line, value)."""
    out: dict[str, tuple[str, object]] = {}
    for path in _card_modules():
        mod = Parsed.of(path)
        for name, value in mod.assigned.items():
            if name.endswith("_VERB"):
                shown = value.value if isinstance(value, ast.Constant) else ast.unparse(value)
                out[f"{_module_name(path)}.{name}"] = (f"{_rel(path)}:{value.lineno}", shown)
    return out


def test_sources_are_found():
    names = {p.name for p in _card_modules()}
    assert {"help.py", "kpi.py", "drafting.py"} <= names
    assert any(True for p in _sources() if p.parts[-2] == "kpi" and p.name == "handler.py")


def test_action_verbs_are_named_constants():
    problems, calls = [], 0
    for path in _sources():
        mod = Parsed.of(path)
        for call, kind in mod.action_calls():
            calls += 1
            problem = _verb_problem(_verb_arg(call), mod)
            if problem:
                problems.append(f"{_rel(path)}:{call.lineno}: {kind}() gets its verb from {problem}; "
                                f"use a *_VERB constant of cards/<skill>.py")
    assert calls >= 20, f"only {calls} execute()/submit() calls found: is the import resolution broken?"
    assert not problems, "\n".join(problems)


def test_actions_are_built_only_with_the_common_helpers():
    """A hand-written {"type": "Action.Execute", "verb": ...} would bypass the check above."""
    problems = []
    for path in _sources():
        if _rel(path) == "cards/common.py":
            continue
        for node in ast.walk(Parsed.of(path).tree):
            if not isinstance(node, ast.Dict):
                continue
            pairs = {k.value: v for k, v in zip(node.keys, node.values, strict=True)
                     if isinstance(k, ast.Constant)}
            t = pairs.get("type")
            if (isinstance(t, ast.Constant) and t.value in ACTION_TYPES) or "verb" in pairs:
                problems.append(f"{_rel(path)}:{node.lineno}: a card action written by hand; use "
                                f"cards.common.execute()/submit() with a *_VERB constant")
    assert not problems, "\n".join(problems)


def test_every_card_verb_constant_is_handled():
    constants = card_verb_constants()
    assert len(constants) >= 20
    known = handled()
    problems = [f"{where}: {name} = {value!r} has no handler in the registry"
                for name, (where, value) in sorted(constants.items()) if value not in known]
    assert not problems, "\n".join(problems) + f"\nhandled verbs: {sorted(known)}"
    # the runtime values are what the AST saw (no rebinding later in the module)
    for name, (where, value) in constants.items():
        module, _, attr = name.rpartition(".")
        assert getattr(importlib.import_module(module), attr) == value, where


def test_no_verb_is_handled_without_a_card_sending_it():
    sent = {value for _where, value in card_verb_constants().values()}
    dead = sorted(set(handled()) - sent - set(SENT_ELSEWHERE))
    assert not dead, ("verbs with a handler but no *_VERB constant in cards/ (dead handlers; allowlist them in "
                      f"SENT_ELSEWHERE with a reason if something else sends them): {dead}")
    stale = sorted(v for v in SENT_ELSEWHERE if v not in handled() or v in sent)
    assert not stale, f"SENT_ELSEWHERE entries no longer needed: {stale}"


# -- 2. dynamic -----------------------------------------------------------------------------------------------

def walk(node: Any) -> Iterator[dict]:
    """Every JSON object in a card, depth first: body, actions, ActionSets, ShowCard cards, containers, columns,
    table cells, chart fallbacks, refresh, selectAction..."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def card_inputs(card: dict) -> dict[str, Any]:
    """What the client adds to an action's data: each input's id and current value (as Teams sends it)."""
    out: dict[str, Any] = {}
    for node in walk(card):
        if str(node.get("type", "")).startswith("Input.") and node.get("id"):
            out[node["id"]] = str(node.get("value", ""))
    return out


def action_verb(action: dict) -> str | None:
    data = action.get("data") if isinstance(action.get("data"), dict) else {}
    if action["type"] == "Action.Execute":
        assert data.get("verb", action.get("verb")) == action.get("verb"), f"verb and data.verb differ: {action}"
        return action.get("verb")
    return data.get("verb")


def check_card(label: str, card: dict) -> list[str]:
    """Problems with the actions of one built card (empty list when all is well)."""
    json.dumps(card, ensure_ascii=False)          # a card is JSON
    problems: list[str] = []
    inputs = card_inputs(card)
    for action in (n for n in walk(card) if n.get("type") in ACTION_TYPES):
        verb = action_verb(action)
        where = f"{label}: {action['type']} 「{action.get('title')}」 verb {verb!r}"
        found = registry().verb(verb) if isinstance(verb, str) else None
        if found is None:
            problems.append(f"{where} has no handler in the registry")
            continue
        model = found[1].data or NoData
        data = {k: v for k, v in (action.get("data") or {}).items() if k != "verb"}
        for what, sent in (("its data", data), ("its data with the card's inputs", {**data, **inputs})):
            try:
                model.model_validate(sent)
            except ValidationError as e:
                problems.append(f"{where}: {model.__name__} refuses {what} {sent!r}: {e}")
                break
    return problems


def actions_of(card: dict) -> list[dict]:
    return [n for n in walk(card) if n.get("type") in ACTION_TYPES]


# Sample arguments, built from the real types where that is easy.

def _quiz():
    from skills.kpi.content import load_quiz
    from skills.kpi.settings import DATA_DIR

    return load_quiz(DATA_DIR / "skillcheck.yaml")


def _library():
    from skills.kpi.content import load_library
    from skills.kpi.settings import DATA_DIR

    return load_library(DATA_DIR / "examples.yaml")


def _role_with_steps():
    return next(r for r in _quiz().roles if any(s.run for s in r.next_steps))


def _score(role, right: bool):
    from skills.kpi.content import input_id, score

    return score(role, {input_id(q): str(q.answer if right else 0) for q in role.questions})


def _kpi_report():
    from skills.kpi.report import DeptRow, KpiReport, QuizRow, SkillRow

    return KpiReport(today=date(2026, 11, 30), fiscal_year=2026, uses_month=120, uses_fytd=900,
                     target_uses_year=3000, target_uses_fytd=1600.0, active_users_month=40, active_users_fytd=85,
                     staff_total=300, departments=[DeptRow("企画財政局", 20, 8, 300, 40), DeptRow("環境部", 3, 1, 10)],
                     skills=[SkillRow("drafting", 200, 15.0), SkillRow("qa", 150, 5.0)], target_hours_year=1000,
                     target_hours_fytd=530.0, likes=30, dislikes=4,
                     weeks=[(date(2026, 11, 16), 60), (date(2026, 11, 23), 72)],
                     quiz=[QuizRow("企画財政局", 12, 15, 86.5)])


def _law_hits():
    from core.law.client import LawHit

    return [LawHit(law_id="129AC0000000089", law_num="明治二十九年法律第八十九号", law_title="民法", article="第七百九条",
                   elm="MainProvision-Article_709", excerpt="故意又は過失によって他人の権利又は法律上保護される利益を侵害した者は…",
                   url="https://laws.e-gov.go.jp/law/129AC0000000089#Mp-At_709"),
            LawHit(law_id="415AC0000000057", law_num="平成十五年法律第五十七号", law_title="個人情報の保護に関する法律",
                   article=None, elm=None, excerpt="附則の一部", url="")]


def _law_article():
    from core.law.client import LawArticle

    return LawArticle(law_title="民法", article_title="第七百九条", caption="（不法行為による損害賠償）",
                      text="第七百九条　故意又は過失によって…賠償する責任を負う。",
                      url="https://laws.e-gov.go.jp/law/129AC0000000089#Mp-At_709",
                      law_id="129AC0000000089", elm="MainProvision-Article_709")


def _digest():
    from skills.news.digest import CorpusItem, Digest, RankedItem

    def item(id_: int, title: str, ai: bool) -> CorpusItem:
        return CorpusItem(id=id_, title=title, url=f"https://www.city.amagasaki.hyogo.jp/news/{id_}.html",
                          source_id=1, source_title="尼崎市", source_url="https://www.city.amagasaki.hyogo.jp/rss.xml",
                          personal_source=False, tags=("防災",),
                          published=datetime(2026, 11, 30, 0, 0, tzinfo=timezone.utc),
                          summary="防災訓練を実施します。", ai_summary=ai, terms=frozenset({"防災"}), base=1.0)

    return Digest(day=date(2026, 11, 30), items=[RankedItem(item(101, "防災訓練のお知らせ", True), 2.0, "防災"),
                                                 RankedItem(item(102, "子育て支援の拡充", False), 1.5, "子育て")])


def _news_profile():
    from skills.news.models import NewsProfile

    return NewsProfile(user_id="29:user-1", keywords=["防災", "子育て支援"], tags=["防災"],
                       sources=["https://example.jp/feed.xml"], delivery_time="08:30", mail=True,
                       mail_address="taro@city.amagasaki.hyogo.jp", paused=False, department="企画財政局",
                       job_title="主事")


def _draft_form(key: str = "gikai"):
    from skills.drafting.handler import COMMITMENTS, DOC_TYPES, MULTILINE, TONES

    dt = DOC_TYPES[key]
    rows = [{"id": f, "label": dt.label_of(f), "value": "", "multiline": f in MULTILINE,
             "essential": f in dt.essentials, "missing": f in dt.essentials} for f in dt.fields]
    return dict(type_key=dt.key, type_label=dt.label, fields=rows, missing_labels=[r["label"] for r in rows
                                                                                    if r["missing"]],
                easy_variant=dt.easy_variant, easy=False, commitments=COMMITMENTS, tones=TONES)


def _doc_types():
    from skills.drafting.handler import DOC_TYPES

    return [(t.key, t.label) for t in DOC_TYPES.values()]


_OUTLINE = {"title": "子育て手続のオンライン化", "mode": "llm", "method": ["庁内資料の確認", "他都市事例の調査"],
            "sections": [{"name": "現状と課題", "points": ["窓口の待ち時間が長い[1]"]},
                         {"name": "施策案", "points": ["オンライン申請の導入[2]"]}]}
_SOURCES = [Source(n=1, kind="knowledge", title="窓口調査報告", section="第2章"),
            Source(n=2, kind="case", title="他都市の事例")]
_INPUTS = {"purpose": "手続の負担軽減", "target": "未就学児の保護者", "period": "令和8年度", "budget": "未定"}
_PASSAGES = [Passage(n=1, title="年次休暇の取扱い", section="繰越し", page="3ページ", text="20日を限度として繰り越せる。",
                     url="https://intra.example.jp/doc/1"),
             Passage(n=2, title="職員の回答", text="担当課にご確認ください。", staff_written=True)]

_APPROVED = {"id": 31, "set": "soumu", "question": "庁舎の駐車場は使えますか", "answer": "職員は利用できません。",
             "owner": "総務 花子", "approved": "2026年04月01日", "expires": "2027年03月31日まで", "state": "active"}

_KOBUN_ITEM = {"line": 3, "level": "fix", "level_label": "修正", "category": "送り仮名", "title": "本則に従う",
               "original": "行なう", "replacement": "行う", "source": "「送り仮名の付け方」", "rule_id": "okurigana.honsoku"}

Case = Callable[[], dict]

# (module, builder) -> cases. Every public builder of cards/*.py that (directly or through a private helper of its
# module) calls execute()/submit() must be here; the cases should reach every branch that adds an action.
CASES: dict[tuple[str, str], list[Case]] = {
    ("cards.help", "help_card"): [
        lambda: _mod("cards.help").help_card(registry()),
        lambda: _mod("cards.help").help_card(registry(), scope="channel", unknown="nwes", nearest=["/news"]),
        lambda: _mod("cards.help").help_card(registry(), free_text=True, offline=True),
    ],
    ("cards.kpi", "kpi_card"): [
        lambda: _mod("cards.kpi").kpi_card(_kpi_report(), {"drafting": "文書作成", "qa": "庁内Q&A"}),
        lambda: _mod("cards.kpi").kpi_card(_mod("skills.kpi.report").KpiReport(today=date(2026, 4, 1),
                                                                               fiscal_year=2026)),
    ],
    ("cards.kpi", "roles_card"): [lambda: _mod("cards.kpi").roles_card(_quiz().roles)],
    ("cards.kpi", "quiz_card"): [lambda role=role: _mod("cards.kpi").quiz_card(role) for role in _quiz().roles],
    ("cards.kpi", "quiz_result_card"): [
        lambda: _mod("cards.kpi").quiz_result_card(_role_with_steps(), _score(_role_with_steps(), True), 80),
        lambda: _mod("cards.kpi").quiz_result_card(_role_with_steps(), _score(_role_with_steps(), False), 80),
    ],
    ("cards.kpi", "examples_index_card"): [lambda: _mod("cards.kpi").examples_index_card(_library().categories)],
    ("cards.kpi", "examples_category_card"): [lambda c=c: _mod("cards.kpi").examples_category_card(c)
                                              for c in _library().categories],
    ("cards.kpi", "helpdesk_channel_card"): [
        lambda: _mod("cards.kpi").helpdesk_channel_card(12, "尼崎 太郎", "企画財政局", "2026年11月30日 9:30",
                                                        "Copilotの使い方を教えてください。"),
        lambda: _mod("cards.kpi").helpdesk_channel_card(13, "", None, "2026年11月30日 9:31", "質問",
                                                        error="回答を送れませんでした。"),
    ],
    ("cards.kpi", "nudge_card"): [
        lambda: _mod("cards.kpi").nudge_card(_library().tips[0].text, _library().tips[0].run),
        lambda: _mod("cards.kpi").nudge_card("要約は3行でと頼むと便利です。"),
    ],
    ("cards.drafting", "type_choice_card"): [lambda: _mod("cards.drafting").type_choice_card(_doc_types(),
                                                                                             points="研修の開催")],
    ("cards.drafting", "form_card"): [lambda: _mod("cards.drafting").form_card(**_draft_form("gikai")),
                                      lambda: _mod("cards.drafting").form_card(**_draft_form("oshirase"))],
    ("cards.drafting", "result_card"): [
        lambda: _mod("cards.drafting").result_card(draft_id=7, heading="通知文（庁内）の素案", draft="件名\n\n本文",
                                                   issues=[("error", "日付の曜日が違います"), ("warn", "長い文")],
                                                   masked_note="氏名を伏せました", easy_variant=True,
                                                   references=[(1, "文書規程")], notices=["注意"]),
        lambda: _mod("cards.drafting").result_card(draft_id=8, heading="素案", draft="本文", offline=True),
    ],
    ("cards.law", "results_card"): [lambda: _mod("cards.law").results_card("不法行為", _law_hits(),
                                                                            total_note="2件")],
    ("cards.law", "article_card"): [lambda: _mod("cards.law").article_card(_law_article(), query="不法行為"),
                                    lambda: _mod("cards.law").article_card(_law_article())],
    ("cards.news", "digest_card"): [
        lambda: _mod("cards.news").digest_card(_digest(), user_name="尼崎 太郎"),
        lambda: _mod("cards.news").digest_card(_digest(), reactions={101: "like", 102: "dislike"}, paused=True),
    ],
    ("cards.news", "settings_card"): [
        lambda: _mod("cards.news").settings_card(_news_profile(), known_tags=["防災", "子育て", "DX"],
                                                 mail_available=True, message="保存しました。"),
        lambda: _mod("cards.news").settings_card(_news_profile(), known_tags=[], mail_available=False,
                                                 error="時刻の形式が違います。"),
    ],
    ("cards.planning", "clarify_card"): [
        lambda: _mod("cards.planning").clarify_card("子育て手続のオンライン化",
                                                    [("kikaku", "企画課", "統計と事例"), ("kodomo", "こども課", "アンケート")],
                                                    "kikaku", values=_INPUTS),
    ],
    ("cards.planning", "failed_card"): [
        lambda: _mod("cards.planning").failed_card(5, "子育て", "調査", "接続できませんでした。"),
        lambda: _mod("cards.planning").failed_card(6, "子育て", "構成案の作成", "中断", interrupted=True),
    ],
    ("cards.planning", "outline_card"): [
        lambda: _mod("cards.planning").outline_card(9, "子育て", "企画課", _INPUTS, _OUTLINE, _SOURCES,
                                                    masked_note="氏名を伏せました", revised="修正しました"),
        lambda: _mod("cards.planning").outline_card(10, "子育て", "企画課", _INPUTS, {**_OUTLINE, "mode": "offline"},
                                                    [], formats=("report",)),
    ],
    ("cards.planning", "jobs_card"): [
        lambda: _mod("cards.planning").jobs_card([
            {"id": 1, "theme": "子育て", "status": "done", "stage": "done", "updated": "11月30日"},
            {"id": 2, "theme": "防災", "status": "failed", "stage": "research", "updated": "11月29日", "resumable": True},
            {"id": 3, "theme": "DX", "status": "running", "stage": "outline", "updated": "11月28日"}]),
    ],
    ("cards.qa", "answer_card"): [lambda: _mod("cards.qa").answer_card(21, staff_written=True, masked_note="伏せました"),
                                  lambda: _mod("cards.qa").answer_card(22, can_escalate=False)],
    ("cards.qa", "search_results_card"): [lambda: _mod("cards.qa").search_results_card(_PASSAGES, 23, lead="次の箇所"),
                                          lambda: _mod("cards.qa").search_results_card(_PASSAGES, 24, offline=False)],
    ("cards.qa", "declined_card"): [lambda: _mod("cards.qa").declined_card("見つかりませんでした。", 25, offer="問い合わせ"),
                                    lambda: _mod("cards.qa").declined_card("見つかりませんでした。", None)],
    ("cards.qa", "staff_question_card"): [
        lambda: _mod("cards.qa").staff_question_card(26, "年休は繰り越せますか", "尼崎 太郎", "11月30日 9:30", "総務",
                                                     _PASSAGES),
    ],
    ("cards.qa", "choose_set_card"): [
        lambda: _mod("cards.qa").choose_set_card(["規程.pdf"], [("soumu", "総務課"), ("jinji", "人事課")], "tok_abc-123"),
    ],
    ("cards.qa_approved", "approved_answer_card"): [
        lambda: _mod("cards.qa_approved").approved_answer_card(
            "庁舎の駐車場は使えますか", "職員は利用できません。", owner="総務 花子", approved="2026年04月01日",
            set_label="総務課（soumu）", expires="2027年03月31日まで", question_id=27, can_escalate=True),
    ],
    ("cards.qa_approved", "approved_list_card"): [
        lambda: _mod("cards.qa_approved").approved_list_card(
            [_APPROVED, {**_APPROVED, "id": 32, "state": "revoked"}], set_filter="soumu", sets_label="soumu", page=1,
            pages=3, total=20, message="保存しました。"),
        lambda: _mod("cards.qa_approved").approved_list_card([_APPROVED], set_filter="", sets_label="soumu、kankyo",
                                                             page=0, pages=1, total=1),
    ],
    ("cards.qa_approved", "approved_edit_card"): [
        lambda: _mod("cards.qa_approved").approved_edit_card(_APPROVED, set_filter="soumu", page=0,
                                                             expires_value="2027-03-31", error="入力してください。"),
    ],
    ("cards.qa_approved", "approved_delete_card"): [
        lambda: _mod("cards.qa_approved").approved_delete_card(_APPROVED, set_filter="", page=2),
    ],
    ("cards.notices", "check_result_card"): [
        lambda: _mod("cards.notices").check_result_card(
            check_id=5, items=[_KOBUN_ITEM, {**_KOBUN_ITEM, "replacement": None, "level": "advise"}], total=12,
            counts={"修正": 7, "推奨": 5}, page=1, pages=3, kind="notice",
            kinds={"notice": "通知・庁内文書", "public": "広報・市民向け文書"}, name="研修.docx", ai_available=True),
        lambda: _mod("cards.notices").check_result_card(check_id=6, items=[], total=0, counts={}, page=0, pages=1,
                                                        kind="public", kinds={"notice": "通知", "public": "広報"}),
    ],
    ("cards.notices", "notice_card"): [
        lambda: _mod("cards.notices").notice_card(
            reading_id=4, name="通知.pdf", title="行政手続のオンライン化の推進について（通知）", issuer="総務省自治行政局長",
            number="総行政第123号", issued="令和7年4月1日（火）", summary=["要旨1", "要旨2", "要旨3"],
            actions=[{"text": "調査票を提出する", "due": "令和7年5月9日（金）まで", "overdue": False}],
            sections=[("DX推進課", "個人情報")], laws=[("地方自治法第2条", "https://laws.e-gov.go.jp/law/322AC0000000067"),
                                                   ("情報通信技術を活用した行政の推進等に関する法律", None)],
            attachments=[("別添1", "ガイドライン")], deadlines=[("2025-05-09", "令和7年5月9日（金）", False),
                                                              ("2025-04-25", "令和7年4月25日（金）", True)],
            warnings=["曜日が違います。"], ai=True, masked_note="氏名を伏せました。", can_remind=True),
    ],
    ("cards.notices", "check_ai_card"): [
        lambda: _mod("cards.notices").check_ai_card(check_id=5, items=[
            {"original": "実施する予定であることをお知らせします", "replacement": "実施します", "reason": "簡潔に",
             "aspect": "分かりやすさ"}], masked_note="氏名1件を伏せて送信しました。"),
    ],
    ("cards.minutes", "record_card"): [
        lambda: _mod("cards.minutes").record_card(
            {"kind": "minutes", "title": "第3回策定委員会", "date": "2026年11月27日（金）14:00～15:30", "place": "会議室",
             "attendees": ["山田 太郎", "佐藤 花子"], "agenda": ["骨子案"],
             "proceedings": [{"t": "00:00:03", "speaker": "山田 太郎", "text": "開会した。"}],
             "decisions": [{"t": "00:01:24", "text": "骨子案を了承した。"}],
             "actions": [{"t": "00:01:30", "owner": "佐藤 花子", "task": "設問案を作成する", "due": "12月15日"}]},
            speaking=[{"speaker": "山田 太郎", "time": "1分", "share": 0.6}], todo=True, sections=3),
        lambda: _mod("cards.minutes").record_card(
            {"kind": "consultation", "client": "尼〇〇〇", "complaint": "子育ての悩み。",
             "proceedings": [], "responses": [], "policy": [],
             "actions": [{"t": "00:10:00", "owner": "相談員", "task": "保育課へ照会", "due": ""}]},
            todo=True, masked_note="氏名1件を伏せて送信しました。"),
    ],
    ("cards.images", "photo_card"): [
        lambda: _mod("cards.images").photo_card(
            {"position": 1, "total": 2, "name": "写真1.jpg", "thumb": "data:image/jpeg;base64,/9j/", "ai": True,
             "taken": "2026年11月27日 10:15", "location": "34.7330, 135.4060", "map_url":
             "https://maps.gsi.go.jp/#17/34.733/135.406/", "grade": "Ⅲ（早期措置段階）", "grade_rank": 2,
             "subject": "道路", "reason": "亀甲状のひび割れ", "photo_id": 17, "privacy": ["顔1か所をぼかして送信しました。"],
             "findings": [{"kind": "ひび割れ（亀甲状）", "extent": "約2m²", "grade": "Ⅲ", "confidence": 0.8,
                           "action": "切削オーバーレイ"}]},
            label="【AIによる判定】", kintone=True),
        lambda: _mod("cards.images").photo_card(
            {"position": 2, "total": 2, "name": "写真2.png", "taken": "不明", "location": "位置情報がありません",
             "error": "この写真は読み取れませんでした。"}, label="【自動】", kintone=True),
    ],
    ("cards.images", "summary_card"): [
        lambda: _mod("cards.images").summary_card(
            batch_id=4, total=2, label="【AIによる判定】", grades=[("Ⅰ", 0), ("Ⅲ", 1)], kinds=[("ポットホール", 1)],
            worst=[{"position": 1, "name": "写真1.jpg", "grade": "Ⅲ", "kinds": "ポットホール", "map_url": None}],
            not_judged=1, no_location=1, messages=["1枚は読み取れませんでした。"], privacy=[],
            kintone_all=("判定区分Ⅱ", 1), next_page=(31, 60)),
    ],
    ("cards.images", "page_card"): [
        lambda: _mod("cards.images").page_card(batch_id=4, first=31, last=60, total=200, next_page=(61, 90)),
        lambda: _mod("cards.images").page_card(batch_id=4, first=181, last=200, total=200, next_page=None),
    ],
    ("cards.tier", "tier_card"): [
        lambda: _mod("cards.tier").tier_card(None, "internet", [("internet", "ep-net", False),
                                                                ("lgwan", "ep-lg", True)]),
        lambda: _mod("cards.tier").tier_card("lgwan", "internet", [("internet", "ep-net", False),
                                                                   ("lgwan", "ep-lg", True)], message="切り替えました。"),
    ],
    ("cards.analysis", "profile_card"): [
        lambda: _mod("cards.analysis").profile_card(_analysis_profile(), filename="区別人口.xlsx", token="tok_1",
                                                    sheets=["区別人口", "世帯数"], current=0, can_forecast=True),
        lambda: _mod("cards.analysis").profile_card(_analysis_profile(), filename="a.csv", personal="氏名（氏名）"),
        lambda: _mod("cards.analysis").profile_card(_analysis_profile(), filename="アンケート.csv", token="tok_6",
                                                    free_text=[(0, "ご意見")], ai=True),
    ],
    ("cards.analysis", "result_card"): [
        lambda: _mod("cards.analysis").result_card(
            heading_text="区別の件数", question="区別の件数は？", columns=["区", "件数"], rows=[["中央", 19]], page=1,
            pages=3, total_text="全40行", token="tok_2", sql='SELECT "区", count(*) FROM "data" GROUP BY 1'),
        lambda: _mod("cards.analysis").result_card(heading_text="集計", question="", columns=["a"], rows=[], page=0,
                                                   pages=1, total_text="0行", token=""),
    ],
    ("cards.analysis", "forecast_card"): [
        lambda: _mod("cards.analysis").forecast_card(
            {"method": "指数平滑法", "labels": ["2022年", "2023年", "2024年", "2025年"], "values": [3, 4, 5, 6],
             "future": ["2026年"], "mean": [7.0], "lower": [6.0], "upper": [8.0], "caveats": ["推計です。"]},
            heading_text="人口の推計", measure="人口", token="tok_3"),
    ],
    ("cards.analysis", "relation_card"): [
        lambda: _mod("cards.analysis").relation_card(
            {"x": "人口", "y": "世帯数", "n": 6, "pearson": 0.9, "pearson_p": 0.01, "spearman": 0.8, "slope": 0.4,
             "intercept": 10.0, "slope_low": 0.2, "slope_high": 0.6, "r2": 0.81, "caveats": []},
            strength="強い正の相関", token="tok_4"),
    ],
    ("cards.analysis", "themes_card"): [
        lambda: _mod("cards.analysis").themes_card(
            column="ご意見", answered=27, distinct=8, coded=8, counted=[["窓口の待ち時間", 10, 37.0, "待ち時間の声"],
                                                                      ["駐車場", 4, 14.8, "駐車場の不足"]],
            quotes=[["窓口の待ち時間", "窓口の待ち時間が長い。", 7]],
            cross={"by": "年代", "columns": ["テーマ", "20代", "計"], "rows": [["窓口の待ち時間", 3, 10]]},
            masked_note="AIに送る前に、回答の中の個人情報（電話番号1件）を伏せました。", token="tok_5"),
    ],
}


def _analysis_profile() -> dict:
    return {"title": "区別人口", "rows": 7, "total_rows": 1,
            "columns": [{"name": "地区", "kind": "text", "filled": 7, "missing": 0, "distinct": 7,
                         "top": [["中央", 1], ["小田", 1]]},
                        {"name": "令和6年・計", "kind": "integer", "filled": 7, "missing": 0, "distinct": 7, "sum": 9.0,
                         "mean": 1.0, "median": 1.0, "min": 0.0, "max": 2.0, "bins": [["0〜", 3], ["1〜", 2], ["2〜", 2]]}],
            "trend": {"by": "年度", "period": "年度", "labels": ["2023年度", "2024年度"], "counts": [1, 2]}}


def _mod(name: str):
    return importlib.import_module(name)


def emitting_builders() -> set[tuple[str, str]]:
    """Public functions of cards/*.py that emit card actions: their source calls execute()/submit() (also through
    a private helper of the same module), or contains `execute(` / `submit(` at all."""
    out: set[tuple[str, str]] = set()
    for path in _card_modules():
        mod = Parsed.of(path)
        name = _module_name(path)
        funcs = {n.name: n for n in mod.tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        calls = {f: {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
                 for f, node in funcs.items()}
        emits = {f for f, node in funcs.items() if any(mod.action_calls(node))}
        changed = True
        while changed:                      # through helpers: f calls g, g emits
            grown = {f for f in funcs if calls[f] & emits} | emits
            changed, emits = grown != emits, grown
        module = importlib.import_module(name)
        for f in funcs:
            source = inspect.getsource(getattr(module, f))
            if f in emits or "execute(" in source or "submit(" in source:
                if not f.startswith("_"):
                    out.add((name, f))
    return out


def test_every_action_emitting_builder_is_in_the_table():
    builders = emitting_builders()
    assert ("cards.help", "help_card") in builders and ("cards.qa", "answer_card") in builders
    missing = sorted(builders - set(CASES))
    assert not missing, ("card builders that emit actions but have no entry in CASES (add realistic sample calls): "
                         + ", ".join(f"{m}.{f}" for m, f in missing))
    unknown = sorted(k for k in CASES if not callable(getattr(importlib.import_module(k[0]), k[1], None)))
    assert not unknown, f"CASES names builders that do not exist: {unknown}"


@pytest.mark.parametrize("key", sorted(CASES), ids=lambda k: f"{k[0].rpartition('.')[2]}.{k[1]}")
def test_card_actions_reach_a_handler_that_accepts_their_data(key):
    problems: list[str] = []
    emitted = 0
    for n, case in enumerate(CASES[key]):
        built = case()
        assert built.get("type") == "AdaptiveCard", f"{key}[{n}] did not build a card"
        emitted += len(actions_of(built))
        problems += check_card(f"{key[0]}.{key[1]}[{n}]", built)
    assert not problems, "\n".join(problems)
    assert emitted, f"no case of {key[0]}.{key[1]} produced an action: the sample arguments miss its buttons"


def test_the_cases_send_every_card_verb():
    """The sample arguments reach every branch that adds a button: each card verb constant is actually emitted."""
    sent = {action_verb(a) for cases in CASES.values() for case in cases for a in actions_of(case())}
    constants = {value for _where, value in card_verb_constants().values()}
    assert not constants - sent, f"card verbs no CASES entry emits: {sorted(constants - sent)}"


def test_the_walk_finds_nested_actions_and_the_original_bug():
    """The checker itself: an unknown verb deep inside a ShowCard / ActionSet / column is reported, and so is
    data the handler's model refuses."""
    from cards.common import card, container, execute

    UNHANDLED = "kpi.examples.nonexistent"      # like the original "kpi.examples": a verb nothing handles
    assert registry().verb(UNHANDLED) is None
    bad = card([container([{"type": "ColumnSet", "columns": [{"type": "Column", "items": [
        {"type": "ActionSet", "actions": [execute("活用例を見る", UNHANDLED)]}]}]}])],
        [{"type": "Action.ShowCard", "title": "詳細", "card": {"type": "AdaptiveCard", "body": [], "actions": [
            execute("条文を表示", "law.article", {"law_id": "", "elm": "x"})]}}])
    problems = check_card("bad", bad)
    assert len(problems) == 2, problems
    assert f"{UNHANDLED!r} has no handler" in problems[0] and "ArticleData refuses" in problems[1]


# -- 3. round trip through the router -------------------------------------------------------------------------

@pytest.mark.parametrize("invoke", [True, False], ids=["Action.Execute", "Action.Submit"])
async def test_help_card_button_answers_with_the_examples_library(db, invoke):
    from cards.help import help_card
    from core import router
    from tests.harness import RecorderPort, make_request, make_services

    services = make_services(db)
    card = help_card(services.registry)
    action = card["actions"][0]
    assert action["title"] == "活用例を見る"
    data = {k: v for k, v in action["data"].items() if k != "verb"}
    port = RecorderPort()
    handled_by = await router.dispatch(make_request(verb=action_verb(action), data=data, is_invoke=invoke),
                                       port, services)
    assert router.UNKNOWN_VERB not in port.texts() and router.BAD_CARD_DATA not in port.texts(), port.sent
    assert handled_by == "kpi"
    cards = port.cards()
    assert len(cards) == 1 and cards[0]["body"][0]["text"] == "AI活用例集", port.sent
    # a new message: the /help card the button was on stays as it is
    assert port.last().kind == "card"
    # and the library's own buttons are handled too
    assert not check_card("examples library", cards[0])
