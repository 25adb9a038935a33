"""Pure logic of drafting: field clean-up, offline templates, prompt assembly and applying revision edits."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Mapping

from skills import prompts
from skills.drafting.doctypes import COMMITMENTS, DOC_TYPES, FIELD_LABELS, DocType, normalize_commitment

SKILL = "drafting"
TEMPLATES = Path(__file__).resolve().parent / "templates"
TODO = "【要記入】"
MAX_FIELD = 4000


@dataclass(frozen=True)
class Reference:
    """A retrieved passage (past answer, plan) given to the model and cited on the reply."""

    position: int
    title: str
    text: str
    url: str | None = None
    kind: str = "reference"        # reference (past answers, plans) | law (根拠法令 from e-Gov)

    def to_json(self) -> dict[str, Any]:
        """The stored form (a draft's `references` column holds a list of these)."""
        return {"position": self.position, "title": self.title, "text": self.text, "url": self.url,
                "kind": self.kind}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reference:
        """Back from the stored form; a missing `kind` is a plain reference."""
        return cls(position=int(data["position"]), title=str(data.get("title") or ""),
                   text=str(data.get("text") or ""), url=data.get("url") or None,
                   kind=str(data.get("kind") or "reference"))


def budget_references(refs: list[Reference], total_chars: int) -> list[Reference]:
    """Share a character budget among the passages (the prompt must stay within its token target)."""
    if not refs:
        return []
    per = max(120, total_chars // len(refs))
    return [replace(r, text=r.text if len(r.text) <= per else r.text[:per - 1] + "…") for r in refs]


def wareki(d: date | datetime) -> str:
    """2025-04-01 -> 令和7年4月1日 (dates before 令和 -> 平成)."""
    if (d.year, d.month, d.day) >= (2019, 5, 1):
        return f"令和{d.year - 2018}年{d.month}月{d.day}日"
    return f"平成{d.year - 1988}年{d.month}月{d.day}日"


_ISO = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


def normalize_date(value: str) -> str:
    """ISO or slashed dates become 和暦; anything else is kept as typed."""
    v = unicodedata.normalize("NFKC", value or "").strip()
    m = _ISO.match(v)
    if m:
        try:
            return wareki(date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            return value.strip()
    return value.strip()


def normalize_fields(dt: DocType, raw: dict, today: date) -> dict[str, str]:
    """The type's fields, trimmed and completed: today's date, 「様」 on the addressee, a bare subject."""
    f = {k: str(raw.get(k) or "").strip()[:MAX_FIELD] for k in dt.fields}
    if "date" in dt.fields:
        f["date"] = normalize_date(f["date"]) if f["date"] else wareki(today)
    if f.get("addressee") and dt.key in ("notice_internal", "notice_external", "jimu", "citizen") and \
            not re.search(r"(様|殿|御中)$", f["addressee"]):
        f["addressee"] = f["addressee"] + " 様"
    if f.get("subject"):
        f["subject"] = re.sub(r"(について)?[（(](通知|依頼|回答|照会)[）)]$|について$", "", f["subject"]).strip()
    if "commitment" in dt.fields:
        f["commitment"] = normalize_commitment(f["commitment"]) or ""
    if f.get("tone") == "標準":
        f["tone"] = ""
    return f


def fill_template(dt: DocType, fields: dict[str, str]) -> str:
    """The offline draft: the type's template with the user's facts; every missing fact is 【要記入】."""
    text = (TEMPLATES / f"{dt.key}.txt").read_text(encoding="utf-8").strip()
    values = dict(fields)
    if not values.get("doc_number") and "doc_number" in dt.fields:
        values["doc_number"] = f"{TODO}第{TODO}号"
    if not values.get("addressee") and dt.key == "citizen":
        values["addressee"] = f"{TODO}様"
    if not values.get("addressee") and dt.key in ("notice_internal", "notice_external", "jimu"):
        values["addressee"] = f"{TODO} 様"
    for key in FIELD_LABELS:
        text = text.replace("{" + key + "}", values.get(key) or TODO)
    return text


# -- prompts -----------------------------------------------------------------------------------------------------

def type_rules(dt: DocType, *, commitment: str = "", easy: bool = False) -> str:
    """The type's own prompt file (with the 議会答弁 commitment filled in), plus the やさしい日本語 rules."""
    parts = []
    body = prompts.load(SKILL, dt.key)
    if dt.key == "gikai":
        chosen = commitment if commitment in COMMITMENTS else COMMITMENTS[3]
        stronger = "、".join(f"「{c}」" for c in COMMITMENTS[:COMMITMENTS.index(chosen)]) or "なし"
        body = body.replace("{commitment}", chosen).replace("{stronger}", stronger)
    parts.append(body)
    if easy:
        parts.append(prompts.load(SKILL, "easy"))
    return "\n\n".join(parts)


def system_prompt(dt: DocType, *, commitment: str = "", easy: bool = False) -> str:
    return prompts.load(SKILL, "common") + "\n\n" + type_rules(dt, commitment=commitment, easy=easy)


def facts_block(dt: DocType, fields: dict[str, str]) -> str:
    lines = []
    for key in dt.fields:
        v = fields.get(key)
        if v:
            lines.append(f"【{dt.label_of(key)}】{v}")
    return "\n".join(lines)


def generation_messages(dt: DocType, fields: dict[str, str], *, easy: bool = False,
                        references: list[Reference] = ()) -> list[dict]:
    user = f"次の内容で「{dt.label}」の素案を作成してください。\n{facts_block(dt, fields)}"
    past = [r for r in references if r.kind != "law"]
    laws = [r for r in references if r.kind == "law"]
    if past:
        refs = "\n".join(f"[{r.position}] {r.title}\n{r.text}" for r in past)
        user += f"\n\n参考資料（本市の過去の答弁・計画）：\n{refs}"
    if laws:
        refs = "\n".join(f"[{r.position}] {r.title}\n{r.text}" for r in laws)
        user += f"\n\n根拠法令の条文（e-Gov法令検索。引用するときは条名を正確に）：\n{refs}"
    return [{"role": "system", "content": system_prompt(dt, commitment=fields.get("commitment", ""), easy=easy)},
            {"role": "user", "content": user}]


def revision_messages(dt: DocType, fields: dict[str, str], previous: str, instruction: str) -> list[dict]:
    """A free-text revision: the previous draft and the instruction; the model answers with edit blocks."""
    system = prompts.render(SKILL, "revise", label=dt.label)
    if dt.key == "gikai" and fields.get("commitment"):
        system += f"\n今後の方針の表現「{fields['commitment']}」は、指示がない限り変えません。"
    return [{"role": "system", "content": system},
            {"role": "user", "content": f"【素案】\n{previous}\n\n【修正指示】\n{instruction}"}]


REWRITES = {
    "shorter": "全体を短く簡潔にする（目安は今の7割以下）。必要な事実・項目は残す。",
    "polite": "より丁寧な言葉づかいにする（相手への敬意と配慮を表す表現を加える）。",
    "easy": "やさしい日本語に書き直す。",
}


def rewrite_messages(dt: DocType, fields: dict[str, str], previous: str, kind: str,
                     problems: list[str] = ()) -> list[dict]:
    """Whole-draft rewrites (もっと短く・より丁寧に・やさしい日本語に) and the automatic repair of broken layout."""
    if kind == "repair":
        instruction = "次の形式上の問題だけを直す。それ以外はできるだけ変えない：" + "／".join(problems)
    else:
        instruction = REWRITES[kind]
    system = prompts.render(SKILL, "rewrite", instruction=instruction, label=dt.label)
    system += "\n\n" + type_rules(dt, commitment=fields.get("commitment", ""), easy=kind == "easy")
    return [{"role": "system", "content": system},
            {"role": "user", "content": f"【素案】\n{previous}"}]


# -- model output ------------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^```[a-zA-Z]*\n|\n?```\s*$")


def clean_output(text: str) -> str:
    """Drop code fences and surrounding blank space the model may add."""
    t = (text or "").strip()
    t = _FENCE.sub("", t).strip()
    return t


EDIT_BLOCK = re.compile(r"<{5,}[^\n]*\n(.*?)\n={5,}[^\n]*\n(.*?)\n?>{5,}[^\n]*", re.S)


@dataclass
class EditResult:
    text: str
    applied: int
    failed: list[str]
    whole: bool = False        # the model returned a whole document instead of edit blocks


def _loose(s: str) -> str:
    return re.sub(r"\s+", "", s)


def apply_edits(previous: str, reply: str) -> EditResult:
    """Apply 「修正前 / 修正後」 blocks to the previous draft, leaving every other character as it was.

    An old text is matched exactly, else ignoring white space within one line span; blocks that match nothing are
    reported. A reply without blocks is taken as the whole revised document."""
    reply = clean_output(reply)
    blocks = EDIT_BLOCK.findall(reply)
    if not blocks:
        return EditResult(reply or previous, 0, [], whole=bool(reply))
    text = previous
    applied, failed = 0, []
    for old, new in blocks:
        old_s = old.strip("\n")
        if old_s and old_s in text:
            text = text.replace(old_s, new.strip("\n"), 1)
            applied += 1
            continue
        # whitespace-insensitive match: find the span of `text` whose squeezed form equals the squeezed old text
        target = _loose(old_s)
        span = _loose_find(text, target) if target else None
        if span:
            text = text[:span[0]] + new.strip("\n") + text[span[1]:]
            applied += 1
        else:
            failed.append(old_s[:40])
    return EditResult(text, applied, failed)


def _loose_find(text: str, target: str) -> tuple[int, int] | None:
    idx = [i for i, ch in enumerate(text) if not ch.isspace()]
    squeezed = "".join(text[i] for i in idx)
    pos = squeezed.find(target)
    if pos < 0:
        return None
    return idx[pos], idx[pos + len(target) - 1] + 1


def type_of(key: str) -> DocType | None:
    return DOC_TYPES.get(key)
