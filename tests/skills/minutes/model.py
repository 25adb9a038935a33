"""A model for the OpenAI stand-in that answers the minutes prompts the way a good model would: JSON built from
the lines it was sent (so that each line's time is one of the input's), or a scripted malformed answer."""
from __future__ import annotations

import json
import re

LINE = re.compile(r"^\[(\d{2}:\d{2}:\d{2})\] ([^:]+): (.*)$")


def _lines(body: dict) -> list[tuple[str, str, str]]:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return [m.groups() for m in (LINE.match(ln) for ln in user.splitlines()) if m]


def answer(body: dict) -> dict:
    system = body["messages"][0]["content"]
    lines = _lines(body)
    if "区間" in system and '"points"' in system:          # a section (map) or a combine (reduce) step
        pts = [{"t": t, "speaker": s, "text": x[:60]} for t, s, x in lines[:: max(1, len(lines) // 6)]]
        dec = [{"t": t, "text": x[:60]} for t, s, x in lines if "決定" in x][:3]
        act = [{"t": t, "owner": "佐藤 花子", "task": x[:40], "due": "来週中"} for t, s, x in lines if "作成" in x][:3]
        return {"text": json.dumps({"points": pts, "decisions": dec, "actions": act, "topics": ["議題"]},
                                   ensure_ascii=False), "prompt_tokens": len(json.dumps(body, ensure_ascii=False)),
                "completion_tokens": 300}
    if '"complaint"' in system:
        rec = {"date": "", "client": "尼崎 花子", "complaint": "子育てと仕事の両立に悩んでいる。",
               "proceedings": [{"t": t, "speaker": s, "text": x[:50]} for t, s, x in lines[:4]],
               "responses": [{"t": lines[-1][0], "text": "一時預かり事業を案内した。"}],
               "policy": [{"t": "99:99:99", "text": "２週間後に再度連絡する。"}],
               "actions": [{"t": lines[-1][0], "owner": "相談員", "task": "保育課へ照会", "due": "12月10日"}]}
    else:
        rec = {"title": "", "date": "", "place": "第1委員会室", "attendees": [], "agenda": ["骨子案", "市民アンケート"],
               "proceedings": [{"t": t, "speaker": s, "text": x[:50]} for t, s, x in lines[:: max(1, len(lines) // 8)]],
               "decisions": [{"t": "00:01:25", "text": "骨子案を原案のとおり了承した。"}],
               "actions": [{"t": "00:01:31", "owner": "佐藤 花子", "task": "アンケートの設問案を作成する", "due": "来週中"},
                           {"t": "00:01:16", "owner": "佐藤 花子", "task": "人員の見込みを示す", "due": "12月15日"}]}
    return {"text": "```json\n" + json.dumps(rec, ensure_ascii=False) + "\n```",
            "prompt_tokens": len(json.dumps(body, ensure_ascii=False)), "completion_tokens": 500}
