"""画像点検 (#19): a batch of 200 photos of about 4 MB each sent in one message, end to end through the router.

    .venv/bin/python bench/images_batch.py [--photos 200] [--distinct 8] [--concurrency 4]

Photos: `--distinct` different 4032 × 3024 JPEGs (a gradient with noise, about 4 MB each; half with EXIF GPS and
time, a quarter turned by EXIF orientation 6) are served from a loopback HTTP server under `--photos` names, as Teams
gives the bot download URLs; the bot downloads, decodes and checks them IMAGES_CONCURRENCY at a time.

Each mode runs in a fresh child process (its peak RSS, ru_maxrss, is the whole process: interpreter, libraries, the
file server and the stand-in included):

* baseline — offline mode: download, decode (JPEG draft), EXIF, orientation, thumbnails, cards; no model, no blurring;
* ai — the same with face detection and blurring (the default tier's endpoint is not approved for personal data) and
  one vision call per photo to the loopback OpenAI-compatible stand-in answering at once (zero latency) through the
  real openai client, the answer validated against the schema.

Figures: time to the first photo card, total time to the summary card, bytes sent per photo (the JPEG inside the
data URL the stand-in received, after shrinking to IMAGES_SEND_MAX_SIDE), peak RSS. The machine's load average is
printed with them: on a shared 2-core machine both modes slow down alike."""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_photos(folder: Path, distinct: int) -> list[Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(19)
    w, h = 4032, 3024
    noise = rng.normal(0, 10, (h, w, 3))
    out = []
    for i in range(distinct):
        base = np.linspace(50 + 5 * i, 190 - 5 * i, w)[None, :, None] * np.ones((h, 1, 3))
        arr = np.clip(base + np.roll(noise, i * 97, axis=1), 0, 255).astype("uint8")
        im = Image.fromarray(arr)
        exif = Image.Exif()
        if i % 2 == 0:
            g = exif.get_ifd(0x8825)
            g[1], g[2], g[3], g[4] = "N", (34.0, 43.0, 59.88 + i), "E", (135.0, 24.0, 24.12 + i)
            exif.get_ifd(0x8769)[0x9003] = f"2026:11:2{i % 10} 10:15:00"
        if i % 4 == 1:
            exif[0x0112] = 6
        path = folder / f"p{i}.jpg"
        im.save(path, "JPEG", quality=91, exif=exif)
        out.append(path)
    return out


async def child(mode: str, folder: Path, photos: int, concurrency: int) -> dict:
    from aiohttp import web

    from core import router
    from core.skills import FileAttachment
    from core.store import Database
    from skills.images.settings import ImagesSettings
    from tests.harness import RecorderPort, make_request, make_services
    from tests.skills.images.samples import answer
    from tests.standins.openai_server import OpenAIStandIn

    files = sorted(folder.glob("p*.jpg"))
    blobs = [f.read_bytes() for f in files]

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=blobs[int(request.match_info["i"]) % len(blobs)], content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/f/{i}.jpg", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    stand_in = await OpenAIStandIn(default={"text": answer()}).start()
    db = Database(f"sqlite+aiosqlite:///{folder}/{mode}.db")
    await db.migrate()
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": stand_in.base_url} if mode == "ai" else None
    services = make_services(db, llm_env=env)
    services.settings.put(ImagesSettings(_env_file=None, IMAGES_DOWNLOAD_HOSTS="127.0.0.1",
                                         IMAGES_DOWNLOAD_ALLOWLIST="127.0.0.1", IMAGES_CONCURRENCY=concurrency,
                                         IMAGES_MAX_PHOTOS=max(300, photos)))
    atts = [FileAttachment(name=f"IMG_{i:04d}.jpg", content_type="image/jpeg",
                           download_url=f"http://127.0.0.1:{port}/f/{i}.jpg") for i in range(photos)]
    first: list[float] = []

    class Port(RecorderPort):
        async def send_card(self, card, **kw):
            if not first:
                first.append(time.perf_counter())
            return await super().send_card(card, **kw)

    rec = Port()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    await router.dispatch(make_request("点検", attachments=atts), rec, services)
    total = time.perf_counter() - start
    sent = []
    for body in stand_in.chat_requests():
        url = next(p["image_url"]["url"] for p in body["messages"][-1]["content"] if p["type"] == "image_url")
        sent.append(len(base64.b64decode(url.split(",", 1)[1])))
    cards = rec.cards()
    await services.llm.close()
    await stand_in.stop()
    await runner.cleanup()
    await db.dispose()
    return {"mode": mode, "photos": photos, "cards": len(cards), "first_card_s": round(first[0] - start, 2),
            "total_s": round(total, 2), "per_photo_ms": round(total / photos * 1000, 1),
            "vision_calls": len(sent), "sent_bytes_mean": round(sum(sent) / len(sent)) if sent else 0,
            "sent_bytes_max": max(sent) if sent else 0,
            "photo_bytes_mean": round(sum(len(b) for b in blobs) / len(blobs)),
            "rss_before_batch_mb": round(rss_before, 1), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--distinct", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--child", choices=("baseline", "ai"))
    ap.add_argument("--folder")
    args = ap.parse_args()
    if args.child:
        mode = "offline" if args.child == "baseline" else "ai"
        print(json.dumps(asyncio.run(child(mode, Path(args.folder), args.photos, args.concurrency))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        made = make_photos(Path(tmp), args.distinct)
        sizes = [p.stat().st_size for p in made]
        print(f"{len(made)} distinct photos, {min(sizes) / 1e6:.1f}–{max(sizes) / 1e6:.1f} MB each "
              f"(made in {time.perf_counter() - t:.0f} s); load average {os.getloadavg()}")
        for mode in ("baseline", "ai"):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--folder", tmp, "--photos",
                                  str(args.photos), "--concurrency", str(args.concurrency)],
                                 capture_output=True, text=True, timeout=1800, cwd=ROOT)
            if out.returncode != 0:
                print(mode, "failed:", out.stderr[-2000:])
                continue
            print(out.stdout.strip().splitlines()[-1])
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
