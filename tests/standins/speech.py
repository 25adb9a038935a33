"""A loopback OpenAI-compatible speech-to-text server (`POST /v1/audio/transcriptions`, and Azure's
`/openai/deployments/{d}/audio/transcriptions`), spoken to through the real `openai` client.

It "hears" the test recordings made by `tone_wav`: second k of a recording is a pure tone of 400 + 40·k Hz, and the
server answers one verbose_json segment per whole second of the piece it receives, 「k番目の発言です。」, found by the
tone's frequency (FFT). So the test knows exactly what each piece contained, wherever it was cut."""
from __future__ import annotations

import io
import wave

import numpy as np
from aiohttp import web

from tests.standins.base import LoopbackServer

BASE_HZ, STEP_HZ = 400.0, 40.0


def tone_samples(seconds: int, rate: int) -> np.ndarray:
    t = np.arange(rate) / rate
    return np.concatenate([0.4 * np.sin(2 * np.pi * (BASE_HZ + STEP_HZ * k) * t) for k in range(seconds)])


def tone_wav(seconds: int, rate: int = 44100, channels: int = 2) -> bytes:
    pcm = (tone_samples(seconds, rate) * 32767).astype("<i2")
    frames = np.repeat(pcm[:, None], channels, axis=1).tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


def hear(wav_bytes: bytes) -> list[dict]:
    with wave.open(io.BytesIO(wav_bytes)) as w:
        rate, n = w.getframerate(), w.getnframes()
        pcm = np.frombuffer(w.readframes(n), dtype="<i2").astype(float)
    segs = []
    for j in range(len(pcm) // rate):
        window = pcm[j * rate:(j + 1) * rate]
        hz = float(np.argmax(np.abs(np.fft.rfft(window)))) * rate / len(window)
        k = round((hz - BASE_HZ) / STEP_HZ)
        segs.append({"id": j, "start": float(j), "end": float(j + 1), "text": f"{k}番目の発言です。"})
    return segs


class SpeechStandIn(LoopbackServer):
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_status: int | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        app.router.add_post("/openai/deployments/{d}/audio/transcriptions", self._transcribe)

    async def _transcribe(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        audio = upload.file.read() if hasattr(upload, "file") else b""
        self.requests.append({"path": request.path, "model": form.get("model"), "language": form.get("language"),
                              "response_format": form.get("response_format"),
                              "filename": getattr(upload, "filename", None), "bytes": len(audio),
                              "auth": request.headers.get("Authorization") or request.headers.get("api-key")})
        if self.fail_status:
            return web.json_response({"error": {"message": "scripted failure"}}, status=self.fail_status)
        segs = hear(audio)
        return web.json_response({"task": "transcribe", "language": "japanese", "duration": float(len(segs)),
                                  "text": "".join(s["text"] for s in segs), "segments": segs})
