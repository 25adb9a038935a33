"""The vision check: the prompt, the answer's JSON schema and the grade scale are data files an engineer of the 道路課
can edit (skills/images/prompts/, or the files IMAGES_PROMPT_FILE / IMAGES_SCHEMA_FILE / IMAGES_GRADES_FILE name),
read again whenever they change. One call per photo through core.ai (guard, the tier's endpoint, audit) with an
OpenAI `image_url` data-URL part and `response_format` json_schema; the answer is validated against the same schema
and asked for once more when it does not fit (servers differ in how well they hold to a schema)."""
from __future__ import annotations

import base64
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

SHIPPED = Path(__file__).resolve().parent / "prompts"
NOT_JUDGED = "判定できない"


@dataclass(frozen=True)
class Grade:
    code: str
    label: str
    description: str
    colour: str = "#C62828"


@dataclass(frozen=True)
class Config:
    prompt: str
    schema: dict
    grades: tuple[Grade, ...]
    scale: str = "判定区分"

    def grade(self, code: str) -> Grade | None:
        return next((g for g in self.grades if g.code == code), None)

    def rank(self, code: str) -> int:
        """0 for the mildest grade; -1 for 判定できない or an unknown code."""
        return next((i for i, g in enumerate(self.grades) if g.code == code), -1)


_cache: dict[tuple, Config] = {}


def _stamp(path: Path) -> tuple[str, float]:
    try:
        return str(path), os.stat(path).st_mtime
    except OSError:
        return str(path), -1.0


def load_config(settings) -> Config:
    """The prompt, schema and grades, from the configured files or the shipped ones; cached until a file changes."""
    paths = (Path(settings.IMAGES_PROMPT_FILE or SHIPPED / "inspect.md"),
             Path(settings.IMAGES_SCHEMA_FILE or SHIPPED / "finding.schema.json"),
             Path(settings.IMAGES_GRADES_FILE or SHIPPED / "grades.yaml"))
    key = tuple(_stamp(p) for p in paths)
    if key in _cache:
        return _cache[key]
    prompt_text = paths[0].read_text(encoding="utf-8").strip()
    schema = json.loads(paths[1].read_text(encoding="utf-8"))
    raw = yaml.safe_load(paths[2].read_text(encoding="utf-8")) or {}
    grades = tuple(Grade(str(g["code"]), str(g.get("label", "")), str(g.get("description", "")),
                         str(g.get("colour") or "#C62828")) for g in raw.get("grades") or [])
    if not grades:
        raise ValueError(f"{paths[2]}: no grades")
    codes = [g.code for g in grades]
    props = schema["properties"]
    props["overall_grade"]["enum"] = [*codes, NOT_JUDGED]
    props["findings"]["items"]["properties"]["grade"]["enum"] = codes
    Draft202012Validator.check_schema(schema)
    grade_lines = "\n".join(f"- {g.code}（{g.label}）: {g.description}" for g in grades)
    text = (prompt_text.replace("{grades}", grade_lines)
            .replace("{road_kinds}", "、".join(raw.get("road_kinds") or []))
            .replace("{pipe_kinds}", "、".join(raw.get("pipe_kinds") or [])))
    config = Config(prompt=text, schema=schema, grades=grades, scale=str(raw.get("name") or "判定区分"))
    _cache.clear()
    _cache[key] = config
    return config


def response_format(config: Config) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "photo_inspection", "schema": config.schema,
                                                   "strict": True}}


def messages(config: Config, jpeg: bytes, *, detail: str = "high") -> list[dict]:
    """System prompt and one user message: a short instruction and the photo as a data URL (nothing else: no file
    name, no place, no time — the model judges what it sees)."""
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
    return [{"role": "system", "content": config.prompt},
            {"role": "user", "content": [
                {"type": "text", "text": "この写真を点検し、指定の形式で答えてください。"},
                {"type": "image_url", "image_url": {"url": url, "detail": detail}}]}]


@dataclass
class Finding:
    kind: str
    extent: str
    grade: str
    box: tuple[float, float, float, float]     # x, y, w, h in 0–1
    confidence: float
    action: str


@dataclass
class Judgement:
    subject: str
    judgeable: bool
    overall_grade: str
    reason: str
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"subject": self.subject, "judgeable": self.judgeable, "overall_grade": self.overall_grade,
                "reason": self.reason, "findings": [{**vars(f), "box": list(f.box)} for f in self.findings]}

    @classmethod
    def from_json(cls, d: dict) -> "Judgement":
        return cls(d["subject"], d["judgeable"], d["overall_grade"], d["reason"],
                   [Finding(f["kind"], f["extent"], f["grade"], tuple(f["box"]), f["confidence"], f["action"])  # type: ignore[arg-type]
                    for f in d.get("findings") or []])


class BadAnswer(Exception):
    """The model's answer is not JSON or does not fit the schema; `why` is a short Japanese reason."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _strip_fence(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        if t.rstrip().endswith("```"):
            t = t.rstrip()[:-3]
    return t.strip()


def _unit(v: float) -> float:
    return min(1.0, max(0.0, float(v)))


def parse(text: str, config: Config) -> Judgement:
    """The model's answer checked against the schema, boxes clipped to the image, confidence to 0–1; a
    判定できない answer drops its findings. Raises BadAnswer."""
    try:
        data: Any = json.loads(_strip_fence(text or ""))
    except (json.JSONDecodeError, ValueError):
        raise BadAnswer("JSON形式ではありませんでした") from None
    errors = sorted(Draft202012Validator(config.schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "全体"
        raise BadAnswer(f"回答の形式が指定と異なりました（{where}）")
    findings = []
    for f in data["findings"]:
        b = f["box"]
        if not all(math.isfinite(float(b[k])) for k in "xywh") or not math.isfinite(float(f["confidence"])):
            raise BadAnswer("回答に数値でない値が含まれていました")
        x, y = _unit(b["x"]), _unit(b["y"])
        w, h = min(_unit(b["w"]), 1.0 - x), min(_unit(b["h"]), 1.0 - y)
        findings.append(Finding(f["kind"], f["extent"].strip(), f["grade"], (x, y, w, h),
                                _unit(f["confidence"]), f["action"].strip()))
    judgeable = bool(data["judgeable"]) and data["overall_grade"] != NOT_JUDGED
    overall = data["overall_grade"] if judgeable else NOT_JUDGED
    if judgeable and findings:   # the photo's grade is never milder than its worst finding
        worst = max(findings, key=lambda f: config.rank(f.grade))
        if config.rank(worst.grade) > config.rank(overall):
            overall = worst.grade
    return Judgement(subject=data["subject"], judgeable=judgeable, overall_grade=overall,
                     reason=data["reason"].strip(), findings=findings if judgeable else [])
