"""Recordings (m4a, mp3, wav, mp4, webm) to a transcript: decoded with PyAV (FFmpeg's libraries inside the wheel;
no system ffmpeg), resampled to 16 kHz mono, cut into pieces of MINUTES_AUDIO_CHUNK_SECONDS that overlap by
MINUTES_AUDIO_OVERLAP_SECONDS, each piece sent as WAV through services.ai.transcribe (the tier's speech endpoint
approved for personal data), and the pieces' segments stitched: a segment belongs to the piece whose half of the
overlap its middle falls in, so a word at a boundary is kept once."""
from __future__ import annotations

import asyncio
import io
import logging
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from core.ai import AIFailed, AIRefused
from core.guard.policy import TIER_LABELS_JA
from core.services import Services
from core.skills import ReplyPort, SkillRequest
from core.speech import Segment, SpeechGateway, SpeechSettings
from skills.minutes import strings as S
from skills.minutes.settings import MinutesSettings
from skills.minutes.transcript import Cue, Transcript, TranscriptError, clock, from_cues

log = logging.getLogger(__name__)
RATE = 16000
SKILL = "minutes"


class AudioError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason          # "unreadable" | "too_long"


@dataclass(frozen=True)
class Piece:
    start: float                  # seconds from the start of the recording
    seconds: float
    path: Path                    # a 16 kHz mono 16-bit WAV


def split(data: bytes | Path, folder: Path, *, chunk: float, overlap: float, max_seconds: float) -> list[Piece]:
    """Decode the recording's first audio stream (its bytes, or the file it was downloaded to) and write the
    overlapping WAV pieces into `folder`."""
    import av

    step_bytes = int((chunk - overlap) * RATE) * 2
    chunk_bytes = int(chunk * RATE) * 2
    pieces: list[Piece] = []
    buf = bytearray()
    start = 0.0
    total = 0

    def write(part: bytes) -> None:
        path = folder / f"piece-{len(pieces):04d}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(part)
        pieces.append(Piece(start, len(part) / 2 / RATE, path))

    def emit(final: bool) -> None:
        nonlocal start
        while len(buf) >= chunk_bytes:
            write(bytes(buf[:chunk_bytes]))
            del buf[:step_bytes]
            start += step_bytes / 2 / RATE
        if final and buf and (not pieces or len(buf) > int(overlap * RATE) * 2):
            write(bytes(buf))
            buf.clear()

    try:
        with av.open(str(data) if isinstance(data, Path) else io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioError("unreadable")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    raw = bytes(out.planes[0])[: out.samples * 2]
                    buf += raw
                    total += len(raw)
                if total > max_seconds * RATE * 2:
                    raise AudioError("too_long")
                emit(False)
            for out in resampler.resample(None):
                buf += bytes(out.planes[0])[: out.samples * 2]
            emit(True)
    except AudioError:
        raise
    except Exception as e:  # noqa: BLE001 - PyAV's errors for broken or unknown files
        log.info("minutes: audio not decodable: %s", type(e).__name__)
        raise AudioError("unreadable") from e
    return pieces


def stitch(results: list[tuple[Piece, list[Segment]]], overlap: float) -> list[Cue]:
    """Segments in recording time; of two pieces that overlap, each keeps the segments whose middle lies in its
    half of the overlap."""
    cues: list[Cue] = []
    for i, (piece, segs) in enumerate(results):
        lo = piece.start + overlap / 2 if i > 0 else float("-inf")
        hi = results[i + 1][0].start + overlap / 2 if i + 1 < len(results) else float("inf")
        for s in segs:
            a, b = piece.start + s.start, piece.start + s.end
            mid = (a + b) / 2
            if lo <= mid < hi and s.text:
                cues.append(Cue(a, b, "", s.text))
    return cues


def _gateway(services: Services) -> SpeechGateway:
    return services.extra("minutes.speech", lambda: SpeechGateway(services.settings.get(SpeechSettings)))


async def transcript_of(req: SkillRequest, reply: ReplyPort, services: Services, data: bytes | Path,
                        name: str) -> Transcript | None:
    """The recording's transcript (from its bytes or its file), or None after telling the user why not."""
    settings = services.settings.get(MinutesSettings)
    speech = _gateway(services)
    tier = req.tier or services.ai.guard.settings.GUARD_DEFAULT_TIER
    ep = speech.for_tier(tier)
    if ep is None or not ep.personal_data:            # checked before decoding: nothing is sent, nothing is spent
        await services.ai.record_offline(req, SKILL, outcome="refused", reason="no_speech_endpoint")
        await reply.send_text(S.AUDIO_NO_ENDPOINT.format(tier=TIER_LABELS_JA.get(tier, tier)))
        return None
    with tempfile.TemporaryDirectory(prefix="minutes-audio-") as tmp:
        try:
            pieces = await asyncio.to_thread(split, data, Path(tmp), chunk=float(settings.MINUTES_AUDIO_CHUNK_SECONDS),
                                             overlap=float(settings.MINUTES_AUDIO_OVERLAP_SECONDS),
                                             max_seconds=settings.MINUTES_AUDIO_MAX_HOURS * 3600)
        except AudioError as e:
            msg = S.AUDIO_TOO_LONG if e.reason == "too_long" else S.AUDIO_UNREADABLE
            await reply.send_text(msg.format(name=name, hours=f"{settings.MINUTES_AUDIO_MAX_HOURS:g}"))
            return None
        if not pieces:
            await reply.send_text(S.AUDIO_SILENT.format(name=name))
            return None
        results: list[tuple[Piece, list[Segment]]] = []
        for i, piece in enumerate(pieces, 1):
            await reply.inform(S.AUDIO_PROGRESS.format(i=i, n=len(pieces), at=clock(piece.start + piece.seconds)))
            try:
                got = await services.ai.transcribe(req, SKILL, piece.path.read_bytes(), f"{piece.path.stem}.wav",
                                                   speech=speech, tier=tier,
                                                   timeout=settings.MINUTES_TRANSCRIBE_SECONDS,
                                                   step="transcribe" if len(pieces) > 1 else None)
            except (AIRefused, AIFailed) as e:
                await reply.send_text(S.AUDIO_FAILED.format(reason=e.message_ja))
                return None
            segs = got.segments or ([Segment(0.0, piece.seconds, got.text)] if got.text else [])
            results.append((piece, segs))
    try:
        return from_cues(stitch(results, float(settings.MINUTES_AUDIO_OVERLAP_SECONDS)), "audio")
    except TranscriptError:
        await reply.send_text(S.AUDIO_SILENT.format(name=name))
        return None
