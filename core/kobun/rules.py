"""The rule file: parsing and validating `rules.yaml` (and an administrator's extra file) into `RuleSet`.

A broken rule is reported with its id and the problem in Japanese (`RuleError`), for the administrator who edits
the file; the checker itself never sees a half-valid rule."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

LEVELS = ("fix", "advise", "review")
CHECKS = ("long_sentence", "register_mix", "digit_width_mix", "kansuji", "prefix_mix")
PLACES = ("self", "prev", "prev2", "next", "next2")
TOKEN_KEYS = ("surface", "lemma", "pos", "reading", "conj")
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


class RuleError(ValueError):
    """The rules file is not usable; the message names the rule and the problem (for administrators)."""


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    url: str = ""


@dataclass(frozen=True)
class TokenTest:
    """What one token must be: each given field must match one of its values (pos and conj by prefix/part)."""

    surface: frozenset[str] = frozenset()
    lemma: frozenset[str] = frozenset()
    pos: tuple[str, ...] = ()
    reading: frozenset[str] = frozenset()
    conj: tuple[str, ...] = ()

    def matches(self, tok) -> bool:
        if tok is None:
            return False
        if self.surface and tok.surface not in self.surface:
            return False
        if self.lemma and tok.lemma not in self.lemma:
            return False
        if self.pos and not any(tok.pos.startswith(p) for p in self.pos):
            return False
        if self.reading and tok.reading not in self.reading:
            return False
        if self.conj and not any(c in tok.conj for c in self.conj):
            return False
        return True


Condition = Mapping[str, TokenTest]      # place ("self", "prev", …) -> test; all must hold


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    title: str
    source: Source
    level: str = "advise"
    note: str = ""
    auto: bool = False
    kinds: tuple[str, ...] = ()                      # empty = every kind
    patterns: tuple[tuple[re.Pattern, str | None], ...] = ()
    tokens: Mapping[tuple[str, ...], str | None] = field(default_factory=dict)
    lemmas: Mapping[str, str] = field(default_factory=dict)
    check: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    when: tuple[Condition, ...] = ()
    unless: tuple[Condition, ...] = ()

    def applies(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    @property
    def citation(self) -> str:
        return f"{self.source.title}{'　' + self.note if self.note else ''}"


@dataclass
class RuleSet:
    rules: list[Rule]
    sources: dict[str, Source]
    kinds: dict[str, str]                            # key -> Japanese label

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


# -- parsing ---------------------------------------------------------------------------------------------------

def _strs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, int)):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise RuleError(f"{where} は文字列のリストで指定してください。")
    return tuple(str(v) for v in value)


def _token_test(raw: Any, where: str) -> TokenTest:
    if not isinstance(raw, dict):
        raise RuleError(f"{where} は surface・lemma・pos・reading・conj の指定にしてください。")
    unknown = set(raw) - set(TOKEN_KEYS)
    if unknown:
        raise RuleError(f"{where} に使えない項目があります：{'、'.join(sorted(unknown))}")
    return TokenTest(surface=frozenset(_strs(raw.get("surface"), f"{where}.surface")),
                     lemma=frozenset(_strs(raw.get("lemma"), f"{where}.lemma")),
                     pos=_strs(raw.get("pos"), f"{where}.pos"),
                     reading=frozenset(_strs(raw.get("reading"), f"{where}.reading")),
                     conj=_strs(raw.get("conj"), f"{where}.conj"))


def _conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RuleError(f"{where} は条件のリストで指定してください。")
    out = []
    for i, cond in enumerate(raw, 1):
        if not isinstance(cond, dict) or not cond:
            raise RuleError(f"{where} の{i}番目の条件が正しくありません。")
        bad = set(cond) - set(PLACES)
        if bad:
            raise RuleError(f"{where} の{i}番目の条件に使えない位置があります：{'、'.join(sorted(bad))}"
                            f"（{'・'.join(PLACES)}）")
        out.append({place: _token_test(test, f"{where}[{i}].{place}") for place, test in cond.items()})
    return tuple(out)


def _patterns(raw: Any, where: str) -> tuple[tuple[re.Pattern, str | None], ...]:
    if not isinstance(raw, list) or not raw:
        raise RuleError(f"{where} は [正規表現, 置換] のリストで指定してください。")
    out = []
    for i, item in enumerate(raw, 1):
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                and (item[1] is None or isinstance(item[1], str))):
            raise RuleError(f"{where} の{i}番目は [正規表現, 置換] の形にしてください。")
        try:
            pattern = re.compile(item[0])
        except re.error as e:
            raise RuleError(f"{where} の{i}番目の正規表現が正しくありません：{e}") from None
        if pattern.match(""):
            raise RuleError(f"{where} の{i}番目の正規表現が空の文字列に一致します。")
        out.append((pattern, item[1]))
    return tuple(out)


def _table(raw: Any, where: str) -> dict[str, str | None]:
    if not isinstance(raw, dict) or not raw:
        raise RuleError(f"{where} は「誤: 正」の対応表で指定してください。")
    out: dict[str, str | None] = {}
    for k, v in raw.items():
        if not isinstance(k, str) or not k.strip() or not (v is None or isinstance(v, str)):
            raise RuleError(f"{where} の「{k}」の指定が正しくありません。")
        out[k.strip()] = v
    return out


def parse_rule(raw: Any, sources: dict[str, Source], kinds: dict[str, str], n: int) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"{n}番目の規則の形式が正しくありません。")
    rid = str(raw.get("id") or "").strip()
    if not _ID.match(rid):
        raise RuleError(f"{n}番目の規則の id「{rid}」が正しくありません（例: kutoten.comma）。")
    for key in ("category", "title"):
        if not str(raw.get(key) or "").strip():
            raise RuleError(f"規則「{rid}」に {key} がありません。")
    source = sources.get(str(raw.get("source") or ""))
    if source is None:
        raise RuleError(f"規則「{rid}」の source「{raw.get('source')}」が sources にありません。")
    level = str(raw.get("level") or "advise")
    if level not in LEVELS:
        raise RuleError(f"規則「{rid}」の level は {' / '.join(LEVELS)} のいずれかにしてください。")
    rule_kinds = _strs(raw.get("kinds"), f"{rid}.kinds")
    bad_kinds = [k for k in rule_kinds if k not in kinds]
    if bad_kinds:
        raise RuleError(f"規則「{rid}」の kinds に未定義の種類があります：{'、'.join(bad_kinds)}")
    matchers = [k for k in ("patterns", "tokens", "lemmas", "check") if raw.get(k) is not None]
    if len(matchers) != 1:
        raise RuleError(f"規則「{rid}」には patterns・tokens・lemmas・check のどれか一つを指定してください。")
    kw: dict[str, Any] = {}
    if "patterns" in matchers:
        kw["patterns"] = _patterns(raw["patterns"], f"{rid}.patterns")
    elif "tokens" in matchers:
        kw["tokens"] = {tuple(k.split()): v for k, v in _table(raw["tokens"], f"{rid}.tokens").items()}
    elif "lemmas" in matchers:
        table = _table(raw["lemmas"], f"{rid}.lemmas")
        if any(v is None for v in table.values()):
            raise RuleError(f"規則「{rid}」の lemmas には正しい形を必ず指定してください。")
        kw["lemmas"] = table
    else:
        check = str(raw["check"])
        if check not in CHECKS:
            raise RuleError(f"規則「{rid}」の check「{check}」はありません（{', '.join(CHECKS)}）。")
        kw["check"] = check
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            raise RuleError(f"規則「{rid}」の params は対応表で指定してください。")
        kw["params"] = params
    if (raw.get("when") or raw.get("unless")) and not (kw.get("tokens") or kw.get("lemmas")):
        raise RuleError(f"規則「{rid}」の when・unless は tokens・lemmas の規則にだけ指定できます。")
    return Rule(id=rid, category=str(raw["category"]).strip(), title=str(raw["title"]).strip(), source=source,
                level=level, note=str(raw.get("note") or "").strip(), auto=bool(raw.get("auto", False)),
                kinds=rule_kinds, when=_conditions(raw.get("when"), f"{rid}.when"),
                unless=_conditions(raw.get("unless"), f"{rid}.unless"), **kw)


def parse(data: Any, base: RuleSet | None = None) -> RuleSet:
    """A rule set from parsed YAML. With `base`, the data extends it: new sources and kinds are added, a rule with
    an existing id replaces it, `disabled: true` removes it."""
    if not isinstance(data, dict):
        raise RuleError("規則ファイルの形式が正しくありません（sources・kinds・rules の対応表）。")
    sources = dict(base.sources) if base else {}
    for key, raw in (data.get("sources") or {}).items():
        if not isinstance(raw, dict) or not str(raw.get("title") or "").strip():
            raise RuleError(f"出典「{key}」に title がありません。")
        sources[str(key)] = Source(str(key), str(raw["title"]).strip(), str(raw.get("url") or "").strip())
    kinds = dict(base.kinds) if base else {}
    for key, label in (data.get("kinds") or {}).items():
        kinds[str(key)] = str(label)
    if not kinds:
        raise RuleError("kinds（文書の種類）がありません。")
    rules = list(base.rules) if base else []
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise RuleError("rules は規則のリストで指定してください。")
    seen: set[str] = set()
    for n, raw in enumerate(raw_rules, 1):
        rid = str(raw.get("id") or "") if isinstance(raw, dict) else ""
        if rid and rid in seen:
            raise RuleError(f"規則の id「{rid}」が重複しています。")
        seen.add(rid)
        if isinstance(raw, dict) and raw.get("disabled"):
            rules = [r for r in rules if r.id != rid]
            continue
        rule = parse_rule(raw, sources, kinds, n)
        at = next((i for i, r in enumerate(rules) if r.id == rule.id), None)
        if at is None:
            rules.append(rule)
        else:
            rules[at] = rule
    if not rules:
        raise RuleError("有効な規則がありません。")
    return RuleSet(rules=rules, sources=sources, kinds=kinds)


def load_file(path: Path, base: RuleSet | None = None) -> RuleSet:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RuleError(f"規則ファイル {path} を読めません（{type(e).__name__}）。") from e
    except yaml.YAMLError as e:
        raise RuleError(f"規則ファイル {path} の YAML が正しくありません：{e}") from e
    return parse(data, base)
