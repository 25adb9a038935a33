"""Photos made with Pillow for the 画像点検 tests, and the one real face photo at hand: matplotlib ships
grace_hopper.jpg in its sample data (OpenCV's wheel ships cascades but no sample image)."""
from __future__ import annotations

import io
import json
import zipfile

from PIL import Image, ImageDraw

AMAGASAKI = (34.7333, 135.4067)      # 尼崎市役所 あたり


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = round((value - d - m / 60) * 3600, 4)
    return float(d), float(m), s


def road(width: int = 800, height: int = 600, *, gps: tuple[float, float] | None = None,
         orientation: int | None = None, taken: str | None = None, fmt: str = "JPEG") -> bytes:
    """A grey 'asphalt' with a dark crack, a red marker in its top-left corner (to see rotation), EXIF as asked."""
    im = Image.new("RGB", (width, height), (110, 110, 110))
    d = ImageDraw.Draw(im)
    d.line([(width * 0.3, height * 0.4), (width * 0.5, height * 0.55), (width * 0.7, height * 0.5)], fill=(20, 20, 20),
           width=6)
    d.rectangle((0, 0, width // 8, height // 8), fill=(220, 0, 0))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if gps:
        g = exif.get_ifd(0x8825)
        g[1], g[2] = ("N" if gps[0] >= 0 else "S"), _dms(gps[0])
        g[3], g[4] = ("E" if gps[1] >= 0 else "W"), _dms(gps[1])
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    buf = io.BytesIO()
    im.save(buf, fmt, exif=exif) if fmt == "JPEG" else im.save(buf, fmt)
    return buf.getvalue()


def face_photo() -> bytes:
    import matplotlib.cbook as cbook

    with open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), "rb") as f:
        return f.read()


def zipped(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def answer(*, grade: str = "Ⅲ", kind: str = "ポットホール", judgeable: bool = True, box=(0.25, 0.3, 0.5, 0.4)) -> str:
    findings = [] if not judgeable else [{"kind": kind, "extent": "直径約30cm、深さ約5cm", "grade": grade,
                                          "box": dict(zip("xywh", box)), "confidence": 0.82,
                                          "action": "早期にパッチングで補修"}]
    return json.dumps({"subject": "道路" if judgeable else "その他", "judgeable": judgeable,
                       "overall_grade": grade if judgeable else "判定できない",
                       "reason": "路面に穴が見られます。" if judgeable else "写真が暗く、路面が判別できません。",
                       "findings": findings}, ensure_ascii=False)
