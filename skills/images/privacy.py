"""Faces blurred before a photo leaves for an endpoint not approved for personal data, with the frontal and profile
face Haar cascades that ship with OpenCV (opencv-python-headless, cv2.data.haarcascades).

What this does and does not find, said plainly to the user (strings.PRIVACY_LIMITS): Haar cascades find faces seen
roughly from the front or the side at a usable size (at least 24 pixels in an 800-pixel copy, about 38 in the
1280-pixel copy that is sent); they miss small,
turned-away or partly hidden faces and may blur things that only look like a face. Number plates are not detected:
OpenCV ships only a cascade trained on Russian plates, which does not fit Japanese plates, so none is used."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

MIN_FACE = 24          # pixels, in the detection copy
DETECT_SIDE = 800      # longest side of the detection copy: a face of 24 px there is 38 px in a 1280 px photo
_local = threading.local()


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


def _cascades():
    """One pair of classifiers per thread (a CascadeClassifier is not safe to share between threads)."""
    pair = getattr(_local, "cascades", None)
    if pair is None:
        import cv2

        root = cv2.data.haarcascades
        pair = (cv2.CascadeClassifier(root + "haarcascade_frontalface_default.xml"),
                cv2.CascadeClassifier(root + "haarcascade_profileface.xml"))
        if any(c.empty() for c in pair):  # pragma: no cover - the files ship inside the wheel
            raise RuntimeError("OpenCV face cascades could not be loaded")
        _local.cascades = pair
    return pair


def detect_faces(image: Image.Image) -> list[Box]:
    """Faces in an RGB image (frontal, and profile facing either way), merged where they overlap."""
    import cv2

    small = image.convert("L")
    scale = 1.0
    if max(small.size) > DETECT_SIDE:          # detect on a copy of at most DETECT_SIDE pixels (4x fewer at 1600)
        scale = max(small.size) / DETECT_SIDE
        small = small.resize((round(small.width / scale), round(small.height / scale)), Image.Resampling.BILINEAR)
    gray = cv2.equalizeHist(np.asarray(small))
    frontal, profile = _cascades()
    found: list[tuple[int, int, int, int]] = []
    for cascade, flipped in ((frontal, False), (profile, False), (profile, True)):
        src = np.ascontiguousarray(gray[:, ::-1]) if flipped else gray
        rects = cascade.detectMultiScale(src, scaleFactor=1.1, minNeighbors=5, minSize=(MIN_FACE, MIN_FACE))
        for x, y, w, h in (rects if len(rects) else []):
            x = int(src.shape[1] - x - w) if flipped else int(x)
            found.append((x, int(y), int(w), int(h)))
    return [Box(round(x * scale), round(y * scale), round(w * scale), round(h * scale)) for x, y, w, h in _merge(found)]


def _merge(rects: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    out: list[tuple[int, int, int, int]] = []
    for r in sorted(rects, key=lambda r: -r[2] * r[3]):
        if not any(_overlap(r, o) > 0.3 for o in out):
            out.append(r)
    return out


def _overlap(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / float(min(aw * ah, bw * bh) or 1)


def blur(image: Image.Image, boxes: list[Box]) -> Image.Image:
    """A copy with each box (grown by a fifth on every side) reduced to 6 × 6 blocks and blurred beyond recognition."""
    out = image.copy()
    W, H = out.size
    for b in boxes:
        gx, gy = b.w // 5, b.h // 5
        x0, y0 = max(0, b.x - gx), max(0, b.y - gy)
        x1, y1 = min(W, b.x + b.w + gx), min(H, b.y + b.h + gy)
        if x1 <= x0 or y1 <= y0:
            continue
        region = out.crop((x0, y0, x1, y1))
        small = region.resize((6, 6), Image.Resampling.BOX)          # 6 × 6 blocks: no feature survives
        radius = max(2, min(x1 - x0, y1 - y0) // 8)
        region = small.resize(region.size, Image.Resampling.NEAREST).filter(ImageFilter.GaussianBlur(radius))
        out.paste(region, (x0, y0))
    return out
