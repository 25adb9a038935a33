"""Recordings: a real audio file made in the test (a tone whose pitch names each second; WAV 44.1 kHz stereo, and
AAC in .m4a encoded with PyAV) is decoded, resampled, split into overlapping pieces and sent through the real
openai client to the loopback speech endpoint; the stitched transcript holds every second once, in order, with
progress shown per piece. No endpoint approved for personal data in the tier: the user is told, nothing is sent."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from docx import Document

from core import router
from core.skills import FileAttachment
from core.speech import Segment, SpeechSettings
from skills.minutes.audio import split, stitch
from skills.minutes.settings import MinutesSettings
from tests.harness import RecorderPort, make_request, make_services
from tests.standins.speech import SpeechStandIn, tone_samples, tone_wav

SECONDS = 25
EXPECTED = "".join(f"{k}番目の発言です。" for k in range(SECONDS))


def m4a(seconds: int) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        stream.layout = "mono"
        pcm = tone_samples(seconds, 44100).astype(np.float32)
        for i in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[None, i:i + 1024], format="fltp", layout="mono")
            frame.sample_rate = 44100
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


@pytest.fixture
async def speech():
    s = await SpeechStandIn().start()
    yield s
    await s.stop()


def services_for(sqlite_db, speech, personal: bool = True):
    services = make_services(sqlite_db)
    services.settings.put(SpeechSettings(_env_file=None, SPEECH_ENDPOINTS=json.dumps([
        {"name": "onprem-whisper", "tier": "internet", "base_url": speech.base_url, "model": "whisper-large-v3",
         "personal_data": personal}])))
    services.settings.put(MinutesSettings(_env_file=None, MINUTES_AUDIO_CHUNK_SECONDS=10,
                                          MINUTES_AUDIO_OVERLAP_SECONDS=2))
    return services


def transcript_in_docx(data: bytes) -> str:
    paras = [p.text for p in Document(io.BytesIO(data)).paragraphs]
    return paras[paras.index("［00:00:00］発言者不明") + 1]


def test_split_and_stitch_keep_each_second_once(tmp_path):
    pieces = split(tone_wav(SECONDS), tmp_path, chunk=10.0, overlap=2.0, max_seconds=3600)
    assert [(p.start, round(p.seconds, 3)) for p in pieces] == [(0.0, 10.0), (8.0, 10.0), (16.0, 9.0)]
    from tests.standins.speech import hear

    results = [(p, [Segment(s["start"], s["end"], s["text"]) for s in hear(p.path.read_bytes())]) for p in pieces]
    cues = stitch(results, 2.0)
    assert "".join(c.text for c in cues) == EXPECTED
    assert [c.start for c in cues] == [float(k) for k in range(SECONDS)]
    # a recording shorter than one piece is one piece
    assert len(split(tone_wav(3), tmp_path, chunk=10.0, overlap=2.0, max_seconds=3600)) == 1


@pytest.mark.parametrize("name,data", [("打合せ.wav", tone_wav(SECONDS)), ("打合せ.m4a", m4a(SECONDS))])
async def test_a_recording_becomes_minutes(sqlite_db, speech, name, data):
    services = services_for(sqlite_db, speech)
    port = RecorderPort()
    att = FileAttachment(name=name, content_type="audio/mp4", content=data)
    await router.dispatch(make_request("議事録にして", attachments=[att]), port, services)
    assert [(r["model"], r["language"], r["response_format"]) for r in speech.requests] == \
        [("whisper-large-v3", "ja", "verbose_json")] * 3
    assert all(r["filename"].endswith(".wav") for r in speech.requests)
    informs = [s.text for s in port.sent if s.kind == "inform"]
    assert informs == ["録音を文字起こししています（1/3、00:00:10まで）…", "録音を文字起こししています（2/3、00:00:18まで）…",
                       "録音を文字起こししています（3/3、00:00:25まで）…"]
    assert port.cards()[0]["body"][0]["text"] == "会議録（自動抽出）：打合せ"
    assert transcript_in_docx(port.sent[-1].file[1]) == EXPECTED


async def test_refused_without_a_speech_endpoint_for_personal_data(sqlite_db, speech):
    services = services_for(sqlite_db, speech, personal=False)
    port = RecorderPort()
    att = FileAttachment(name="相談.m4a", content_type="audio/mp4", content=tone_wav(3))
    await router.dispatch(make_request("相談記録にして", attachments=[att]), port, services)
    assert port.texts()[-1].startswith("録音の文字起こしには、この区分（インターネット接続系）で個人情報の取扱いを認められた")
    assert speech.requests == [] and not port.cards()


async def test_broken_audio(sqlite_db, speech):
    services = services_for(sqlite_db, speech)
    port = RecorderPort()
    att = FileAttachment(name="会議.mp3", content_type="audio/mpeg", content=b"ID3\x00not really audio" * 50)
    await router.dispatch(make_request("議事録", attachments=[att]), port, services)
    assert port.texts()[-1] == "「会議.mp3」の音声を読み取れませんでした。録音・録画のファイルが壊れていないか確認してください。"
    assert speech.requests == []


async def test_azure_deployment_then_minutes_by_the_model(sqlite_db, speech, model):
    """An Azure OpenAI Whisper deployment (the openai client's Azure route) transcribes; the transcript then goes to
    the chat model approved for personal data, which writes the 議事録 from the recording's words."""
    services = make_services(sqlite_db, llm_env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": model.base_url,
                                               "LLM_PERSONAL_DATA": "true"})
    services.settings.put(SpeechSettings(_env_file=None, SPEECH_ENDPOINTS=json.dumps([
        {"name": "azure-whisper", "tier": "internet", "base_url": f"http://127.0.0.1:{speech.port}", "azure": True,
         "api_key": "azure-key", "model": "whisper-jp", "personal_data": True}])))
    services.settings.put(MinutesSettings(_env_file=None, MINUTES_AUDIO_CHUNK_SECONDS=10,
                                          MINUTES_AUDIO_OVERLAP_SECONDS=2))
    port = RecorderPort()
    att = FileAttachment(name="定例会.wav", content_type="audio/wav", content=tone_wav(12))
    await router.dispatch(make_request("議事録にして", attachments=[att]), port, services)
    assert [r["path"] for r in speech.requests] == ["/openai/deployments/whisper-jp/audio/transcriptions"] * 2
    assert all(r["auth"] == "azure-key" for r in speech.requests)
    sent = model.chat_requests()[0]["messages"][1]["content"]
    assert sent.startswith("[00:00:00] 発言者不明: 0番目の発言です。1番目の発言です。")
    assert sent.endswith("11番目の発言です。") and sent.count("9番目の発言です。") == 1
    assert port.cards()[0]["body"][0]["text"] == "議事録（案）：定例会"
