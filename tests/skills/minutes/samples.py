"""Transcripts shaped like the ones Teams produces (WebVTT with cue ids and voice tags), a plain-text transcript,
and a synthesised long meeting."""
from __future__ import annotations

# The shape Teams writes: a cue id of the form <guid>/<n>-<m>, <v Name>…</v> voice tags, multi-line cues, a long
# cue, one speaker continuing over several cues, fillers, an HTML entity, a NOTE block.
TEAMS_VTT = """WEBVTT

NOTE この会議の文字起こしは自動で作成されました。

0d7d5bd4-0d0a-4b3a-9a8c-2f1f6f0e9b11/12-0
00:00:03.120 --> 00:00:07.540
<v 山田 太郎>えー、それでは定刻になりましたので、
第3回地域福祉計画策定委員会を始めます。</v>

0d7d5bd4-0d0a-4b3a-9a8c-2f1f6f0e9b11/12-1
00:00:07.540 --> 00:00:12.000
<v 山田 太郎>本日の議題は、計画の骨子案と、市民アンケートの実施についてです。</v>

0d7d5bd4-0d0a-4b3a-9a8c-2f1f6f0e9b11/19-0
00:00:12.500 --> 00:01:05.250
<v 佐藤 花子>あのー、骨子案についてご説明します。まあ、前回の委員会でいただいた意見を踏まえまして、基本目標を三つに整理しました。一つ目は地域の見守り体制の強化、二つ目は相談窓口の一本化、三つ目は担い手の育成です。特に相談窓口については、福祉・介護・子育ての窓口を統合し、令和8年度から試行することを想定しています。</v>

0d7d5bd4-0d0a-4b3a-9a8c-2f1f6f0e9b11/23-0
00:01:06.000 --> 00:01:15.000
<v 鈴木 一郎>えっと、窓口の統合は賛成です。ただ、人員の確保の見通し&amp;予算が気になります。</v>

0d7d5bd4-0d0a-4b3a-9a8c-2f1f6f0e9b11/27-0
00:01:15.500 --> 00:01:24.000
<v 佐藤 花子>人員については、人事課と調整します。12月15日までに見込みをお示しします。</v>

0d7d5bd4-0d0a-4b3a-9a8c-2f1f6f0e9b11/31-0
00:01:24.500 --> 00:01:30.000
<v 山田 太郎>うーん、では骨子案は原案のとおり了承とします。</v>

0d7d5bd4-0d0a-4b3a-9a8c-2f1f6f0e9b11/31-1
00:01:30.000 --> 00:01:36.000
<v 山田 太郎>アンケートは、佐藤さんの方で来週中に設問案を作成してください。</v>
"""

TEAMS_EXPORT_TEXT = """山田 太郎   0:03
えー、それでは会議を始めます。

佐藤 花子   0:12
骨子案についてご説明します。基本目標を三つに整理しました。

山田 太郎   1:24
では原案のとおり了承とします。
"""

COLON_TEXT = """[00:00:05] 山田：本日は相談窓口の件です。
[00:00:20] 佐藤：あの、資料を配布しております。
[00:00:40] 佐藤：ご確認ください。
"""


def long_vtt(hours: float = 3.0, speakers: tuple[str, ...] = ("山田 太郎", "佐藤 花子", "鈴木 一郎", "田中 美咲"),
             cue_seconds: float = 12.0) -> str:
    """A synthesised meeting of `hours`: rotating speakers, agenda items changing every 20 minutes, a decision
    and a task at the end of each item. About 300 characters of speech a minute, as in a real meeting."""
    topics = ["予算編成", "地域福祉計画", "防災訓練", "庁舎の改修", "窓口のデジタル化", "職員研修", "広報紙の刷新",
              "公共施設の再配置", "子育て支援", "ごみの減量"]
    out = ["WEBVTT", ""]
    t, i = 0.0, 0
    end = hours * 3600
    while t < end:
        item = int(t // 1200)
        topic = topics[item % len(topics)]
        speaker = speakers[i % len(speakers)]
        minute = int(t // 60)
        if int((t + cue_seconds) // 1200) != item:
            said = f"{topic}については原案のとおり決定とします。{speakers[(i + 1) % len(speakers)]}さんは来週中に資料を作成してください。"
        else:
            said = (f"えー、{topic}について{minute}分時点の論点を申し上げます。あのー、現状の課題は人員と予算の確保であり、"
                    f"関係課と調整を進める必要があると考えております。")
        out += [f"a1b2c3d4/{i}-0", f"{_ts(t)} --> {_ts(t + cue_seconds)}", f"<v {speaker}>{said}</v>", ""]
        t += cue_seconds
        i += 1
    return "\n".join(out)


def _ts(s: float) -> str:
    return f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}:{s % 60:06.3f}"
