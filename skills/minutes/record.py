"""What the minutes are: the city's 議事録 layout and the 相談記録 layout, and the robust reading of a model's JSON
answer into them (code fences, prose around the JSON, wrong types and unknown times are tolerated; an answer with
no usable JSON raises `AnswerError`). Every line keeps the transcript time it came from."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from skills.minutes.transcript import clock, parse_clock

MINUTES = "minutes"
CONSULTATION = "consultation"


class AnswerError(Exception):
    """The model's answer could not be read; `detail` says why (for the retry message and the log)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class Point:
    t: str                    # "00:12:30": where in the transcript this comes from
    text: str
    speaker: str = ""


@dataclass
class Action:
    task: str
    owner: str = ""
    due: str = ""
    t: str = ""


@dataclass
class Record:
    """議事録 (kind "minutes") or 相談記録 (kind "consultation"). Fields that one layout does not use stay empty."""

    kind: str = MINUTES
    title: str = ""                                        # 会議名
    date: str = ""                                         # 日時 / 相談日時
    place: str = ""                                        # 場所
    attendees: list[str] = field(default_factory=list)     # 出席者
    agenda: list[str] = field(default_factory=list)        # 議題
    proceedings: list[Point] = field(default_factory=list)  # 議事の経過（発言要旨） / 経過
    decisions: list[Point] = field(default_factory=list)   # 決定事項
    actions: list[Action] = field(default_factory=list)    # 今後の対応（担当・期限）
    client: str = ""                                       # 相談者 (always shown masked)
    complaint: str = ""                                    # 主訴
    responses: list[Point] = field(default_factory=list)   # 対応
    policy: list[Point] = field(default_factory=list)      # 今後の方針

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Partial:
    """One section's summary (the map step): points, decisions, actions, topics, each point with its time."""

    points: list[Point] = field(default_factory=list)
    decisions: list[Point] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"[{p.t}] {p.speaker or '－'}: {p.text}" for p in self.points]
        out += [f"[{d.t}] （決定）{d.text}" for d in self.decisions]
        out += [f"[{a.t}] （対応）{a.task}／担当：{a.owner or '未定'}／期限：{a.due or '未定'}" for a in self.actions]
        return out


# -- reading the model's answer ----------------------------------------------------------------------------------

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def json_object(text: str) -> dict:
    """The JSON object in a model's answer: bare, in a ``` fence, or with prose around it."""
    t = (text or "").strip()
    if not t:
        raise AnswerError("empty answer")
    fenced = _FENCE.search(t)
    if fenced:
        t = fenced.group(1).strip()
    try:
        data = json.loads(t)
    except json.JSONDecodeError:
        start, end = t.find("{"), t.rfind("}")
        if start < 0 or end <= start:
            raise AnswerError("no JSON object in the answer") from None
        try:
            data = json.loads(t[start:end + 1])
        except json.JSONDecodeError as e:
            raise AnswerError(f"invalid JSON: {e.msg} at {e.pos}") from None
    if not isinstance(data, dict):
        raise AnswerError("the JSON is not an object")
    return data


def _s(value: Any, limit: int = 2000) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = "、".join(_s(v) for v in value if _s(v))
    elif isinstance(value, dict):
        value = value.get("text") or value.get("name") or ""
    return " ".join(str(value).split())[:limit]


def _strings(value: Any, limit: int = 50) -> list[str]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[、,\n]", value)]
    if not isinstance(value, list):
        return []
    return [s for s in (_s(v, 200) for v in value) if s][:limit]


class Times:
    """Snaps a model's time to the transcript: the nearest known time (a section's lines, or the combined input's),
    so that every line points at a place that exists."""

    def __init__(self, known: list[float], fallback: float = 0.0) -> None:
        self.known = sorted(set(known))
        self.fallback = fallback

    def snap(self, value: Any) -> str:
        secs = parse_clock(_s(value, 20)) if value is not None else None
        if not self.known:
            return clock(secs if secs is not None else self.fallback)
        if secs is None:
            return clock(self.fallback if self.fallback is not None else self.known[0])
        return clock(min(self.known, key=lambda k: (abs(k - secs), k)))


def _points(value: Any, times: Times, *, speaker: bool = True, limit: int = 200) -> list[Point]:
    if isinstance(value, str):
        value = [{"text": value}]
    if not isinstance(value, list):
        return []
    out = []
    for item in value[:limit]:
        if isinstance(item, str):
            item = {"text": item}
        if not isinstance(item, dict):
            continue
        text = _s(item.get("text") or item.get("summary") or item.get("content"))
        if not text:
            continue
        who = _s(item.get("speaker") or item.get("name"), 60) if speaker else ""
        out.append(Point(times.snap(item.get("t") or item.get("time")), text, who))
    return out


def _actions(value: Any, times: Times, limit: int = 50) -> list[Action]:
    if not isinstance(value, list):
        return []
    out = []
    for item in value[:limit]:
        if isinstance(item, str):
            item = {"task": item}
        if not isinstance(item, dict):
            continue
        task = _s(item.get("task") or item.get("text") or item.get("content"), 400)
        if not task:
            continue
        out.append(Action(task=task, owner=_s(item.get("owner") or item.get("担当"), 60),
                          due=_s(item.get("due") or item.get("期限"), 40),
                          t=times.snap(item.get("t") or item.get("time"))))
    return out


def parse_partial(text: str, times: Times) -> Partial:
    data = json_object(text)
    p = Partial(points=_points(data.get("points"), times), decisions=_points(data.get("decisions"), times,
                                                                            speaker=False),
                actions=_actions(data.get("actions"), times), topics=_strings(data.get("topics"), 20))
    if not (p.points or p.decisions or p.actions):
        raise AnswerError("no points in the section summary")
    return p


def parse_record(text: str, kind: str, times: Times) -> Record:
    data = json_object(text)
    r = Record(kind=kind, title=_s(data.get("title"), 200), date=_s(data.get("date"), 100),
               place=_s(data.get("place"), 200), attendees=_strings(data.get("attendees")),
               agenda=_strings(data.get("agenda"), 30),
               proceedings=_points(data.get("proceedings") or data.get("progress"), times),
               decisions=_points(data.get("decisions"), times, speaker=False),
               actions=_actions(data.get("actions"), times))
    if kind == CONSULTATION:
        r.client = _s(data.get("client"), 60)
        r.complaint = _s(data.get("complaint"), 2000)
        r.responses = _points(data.get("responses") or data.get("response"), times, speaker=False)
        r.policy = _points(data.get("policy") or data.get("plan"), times, speaker=False)
        if not (r.complaint or r.proceedings or r.responses):
            raise AnswerError("no 主訴, 経過 or 対応 in the consultation record")
    elif not (r.proceedings or r.decisions):
        raise AnswerError("no 議事の経過 or 決定事項 in the minutes")
    return r


def mask_name(name: str) -> str:
    """A person's name as a 相談記録 shows it: the first character kept, the rest 〇 (「尼崎 花子」→「尼〇〇〇」)."""
    n = "".join((name or "").split())
    if not n:
        return "（記載なし）"
    return n[0] + "〇" * max(2, min(len(n) - 1, 4))
