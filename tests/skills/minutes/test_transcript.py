"""Transcript parsing and cleaning: Teams VTT (cue ids, voice tags, multi-line and long cues, entities, NOTE),
the Teams text export and 「名前：」 lines; fillers removed without touching content words; turns merged by speaker;
speaking time; sections within a token budget; the extractive summary."""
from __future__ import annotations

import pytest

from skills.minutes import extract
from skills.minutes import transcript as T
from tests.skills.minutes.samples import COLON_TEXT, TEAMS_EXPORT_TEXT, TEAMS_VTT, long_vtt


def test_teams_vtt_cues_speakers_and_text():
    cues = T.parse_vtt(TEAMS_VTT.encode("utf-8-sig"))
    assert [c.speaker for c in cues] == ["山田 太郎", "山田 太郎", "佐藤 花子", "鈴木 一郎", "佐藤 花子", "山田 太郎",
                                         "山田 太郎"]
    # a multi-line cue is one text, Japanese lines joined without a space
    assert cues[0].text == "えー、それでは定刻になりましたので、第3回地域福祉計画策定委員会を始めます。"
    assert (cues[0].start, cues[0].end) == (3.12, 7.54)
    assert cues[2].end == 65.25 and cues[2].text.endswith("試行することを想定しています。")
    assert "見通し&予算" in cues[3].text                      # &amp; decoded
    assert not any("NOTE" in c.text or "/12-0" in c.text for c in cues)


def test_vtt_voice_tag_without_closing_tag_and_two_voices_in_one_cue():
    vtt = ("WEBVTT\n\n1\n00:00:01.000 --> 00:00:04.000\n<v 甲>はい。\n\n"
           "2\n00:04.000 --> 00:06.500\n<v 乙>賛成です。</v><v 丙>反対です。</v>\n")
    cues = T.parse_vtt(vtt)
    assert [(c.speaker, c.text) for c in cues] == [("甲", "はい。"), ("乙", "賛成です。"), ("丙", "反対です。")]
    assert cues[1].start == 4.0 and cues[1].end == 6.5       # mm:ss.fff timings


@pytest.mark.parametrize("data,reason", [(b"hello", "not_vtt"), (b"WEBVTT\n\nNOTE only\n", "empty")])
def test_not_a_vtt(data, reason):
    with pytest.raises(T.TranscriptError) as e:
        T.parse_vtt(data)
    assert e.value.reason == reason


def test_fillers_removed_content_words_kept():
    assert T.clean_text("えー、それでは、あのー、始めます。") == "それでは、始めます。"
    assert T.clean_text("まあ、えっと、その、予算です。") == "予算です。"
    assert T.clean_text("うーん、では了承とします。") == "では了承とします。"
    # 「あの」「その」 as demonstratives, 「まあまあ」 inside a word are content
    assert T.clean_text("あの件は、その資料のとおりです。") == "あの件は、その資料のとおりです。"
    assert T.clean_text("えー、、あー、") == ""


def test_turns_merged_by_speaker_and_speaking_time():
    tr = T.load(TEAMS_VTT, "会議.vtt")
    assert [t.speaker for t in tr.turns] == ["山田 太郎", "佐藤 花子", "鈴木 一郎", "佐藤 花子", "山田 太郎"]
    first = tr.turns[0]
    assert first.cues == 2 and first.start == 3.12 and first.end == 12.0
    assert first.text == "それでは定刻になりましたので、第3回地域福祉計画策定委員会を始めます。本日の議題は、計画の骨子案と、市民アンケートの実施についてです。"
    assert "あのー" not in tr.turns[1].text and "まあ" not in tr.turns[1].text
    st = {s.speaker: s for s in T.speaking_time(tr)}
    assert round(st["佐藤 花子"].seconds, 2) == round((65.25 - 12.5) + (24.0 - 15.5), 2)
    assert round(st["山田 太郎"].seconds, 2) == round((12.0 - 3.12) + (36.0 - 24.5), 2)
    assert round(sum(s.share for s in st.values()), 6) == 1.0
    assert T.speaking_time(tr)[0].speaker == "佐藤 花子"


def test_text_transcripts():
    tr = T.load(TEAMS_EXPORT_TEXT, "会議.txt")
    assert [(T.clock(t.start), t.speaker) for t in tr.turns] == [("00:00:03", "山田 太郎"), ("00:00:12", "佐藤 花子"),
                                                                 ("00:01:24", "山田 太郎")]
    assert tr.turns[0].text == "それでは会議を始めます。"
    tr2 = T.load(COLON_TEXT, "memo.txt")
    assert [(t.speaker, t.start) for t in tr2.turns] == [("山田", 5.0), ("佐藤", 20.0)]
    assert tr2.turns[1].text == "資料を配布しております。ご確認ください。"
    prose = T.load("相談の内容を記録します。\n\n次回は来週です。", "memo.txt")
    assert [t.speaker for t in prose.turns] == [""] and prose.speakers == [T.UNKNOWN_SPEAKER]


def test_sections_stay_within_budget_and_keep_times():
    tr = T.load(long_vtt(hours=1.0), "long.vtt")
    secs = T.sections(tr.turns, 2000)
    assert len(secs) > 1
    for sec in secs:
        assert sum(T.estimate_tokens(T.turn_line(t)) + 1 for t in sec) <= 2000
    flat = [t for sec in secs for t in sec]
    assert [t.start for t in flat] == sorted(t.start for t in flat) and len(flat) == len(tr.turns)
    # one turn longer than the budget is cut, pieces keep increasing times
    long_turn = T.Turn(60.0, 660.0, "甲", "長い発言です。" * 400)
    pieces = T.sections([long_turn], 300)
    assert len(pieces) > 1 and pieces[0][0].start == 60.0 and pieces[1][0].start > 60.0
    assert "".join(t.text for sec in pieces for t in sec) == long_turn.text


def test_extractive_summary_decisions_and_actions():
    tr = T.load(TEAMS_VTT, "会議.vtt")
    ex = extract.extract(tr, max_lines=5)
    assert 0 < len(ex.summary) <= 5
    assert [s.start for s in ex.summary] == sorted(s.start for s in ex.summary)
    for line in ex.summary:        # verbatim sentences of the cleaned transcript
        assert any(line.text in t.text for t in tr.turns)
    assert any("了承とします" in d.text and d.speaker == "山田 太郎" and d.at == "00:01:24" for d in ex.decisions)
    due = {a.due for a in ex.actions}
    assert "12月15日まで" in due and "来週中" in due


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = st.sampled_from(["WEBVTT\n\n", "00:00:01.000 --> 00:00:02.000\n", "<v 山田>", "</v>", "\n\n", "えー、",
                           "発言です。", "1\n", "-->", "<v", "NOTE x\n", "99:99.9 --> 1:2\n", "&amp;", "\r\n", "：", "[00:00:05] "])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=30))
def test_any_input_is_a_transcript_or_a_transcript_error(parts):
    """Whatever a user sends, the parsers answer cues or TranscriptError (its reason has a Japanese message)."""
    data = "".join(parts)
    for name in ("x.vtt", "x.txt"):
        try:
            tr = T.load(data.encode("utf-8", "surrogatepass"), name)
        except T.TranscriptError as e:
            assert e.reason in ("encoding", "not_vtt", "empty")
            continue
        assert tr.turns and all(t.end >= t.start for t in tr.cues)
        T.speaking_time(tr)
        extract.extract(tr)
