"""公用文チェック: deterministic rules from 「公用文作成の考え方」(2022) and the usual 表記 rules, as data
(core/kobun/rules.yaml, extended by an administrator's KOBUN_RULES_FILE) and code (engine.py), with SudachiPy where
morphology beats a regular expression (送り仮名, 形式名詞, 補助動詞).

    from core import kobun
    for s in kobun.check("会議を行なった時は、報告して下さい。", kind="notice"):
        print(s.rule_id, s.original, "→", s.replacement, s.source)

`kind` is a document kind of the rule file ("notice": 告示・通知等, "public": 解説・広報等); some rules (「又は」 in
kanji, 複合語の送り仮名) apply to notices only. Used by the /check command and by the drafting skill on every
draft, and measured by bench/kobun_rules.py."""
from __future__ import annotations

import logging
from pathlib import Path

from core import settings as app_settings
from core.datafile import cached
from core.kobun.engine import LEVEL_LABELS, Options, Suggestion, apply, minimal_edit, run
from core.kobun.rules import Rule, RuleError, RuleSet, load_file
from core.settings import AppSettings

log = logging.getLogger(__name__)

BUNDLED = Path(__file__).with_name("rules.yaml")

__all__ = ["BUNDLED", "LEVEL_LABELS", "KobunSettings", "Options", "Rule", "RuleError", "RuleSet", "Suggestion",
           "apply", "autofix", "check", "default_rules", "minimal_edit", "ruleset"]


class KobunSettings(AppSettings):
    section = "kobun"

    KOBUN_RULES_FILE: str = ""
    """YAML file of extra or changed 公用文 rules (same format as core/kobun/rules.yaml; a rule with a bundled id replaces it, `disabled: true` removes it); empty = the bundled rules only."""


def bundled() -> RuleSet:
    return cached("kobun.rules", BUNDLED, lambda: load_file(BUNDLED))


def ruleset(extra: str | Path | None = None) -> RuleSet:
    """The bundled rules, extended by `extra` (KOBUN_RULES_FILE) when given. The extra file is re-read when it
    changes; an unusable one is logged and left out, so the check keeps working with the bundled rules."""
    base = bundled()
    if not extra or not str(extra).strip():
        return base
    path = Path(extra)
    try:
        return cached("kobun.rules.extra", path, lambda: load_file(path, base))
    except (RuleError, OSError) as e:
        log.error("KOBUN_RULES_FILE unusable, using the bundled rules only: %s", e)
        return base


def default_rules() -> RuleSet:
    """The rules in force in this process: the bundled ones and KOBUN_RULES_FILE."""
    return ruleset(app_settings.get(KobunSettings).KOBUN_RULES_FILE)


def check(text: str, *, kind: str = "notice", options: Options | None = None,
          rules: RuleSet | None = None) -> list[Suggestion]:
    """Every finding in `text` (see engine.run)."""
    return run(rules or default_rules(), text, kind=kind, options=options)


def autofix(text: str, *, kind: str = "notice", rules: RuleSet | None = None) -> str:
    """`text` with the findings of the rules marked `auto` (mechanical repairs such as 「，」→「、」) applied."""
    rules = rules or default_rules()
    auto = frozenset(r.id for r in rules.rules if r.auto)
    return apply(text, run(rules, text, kind=kind, options=Options(only=auto))) if auto else text
