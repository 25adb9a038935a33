"""Reading photos: bytes (JPEG, PNG, HEIC/HEIF) → an upright, bounded RGB image with its EXIF time and GPS, the copy
that may be sent (shrunk, no EXIF) and the small copies for cards and reports. A zip of photos is opened under the
document ingest's zip-bomb limits (core.search.extract.inspect_zip, INGEST_MAX_* settings).

Pure functions, CPU-bound: the handler runs them in a thread. `prepare` decodes a photo in a child process
(core.search.extract.run_isolated, under DECODE_MEMORY_MB and DECODE_SECONDS): a photo's pixels are hostile input —
a 175 KB PNG of 60 million pixels is 240 MB once decoded — and never enter the bot's process; only the upright copy
of at most `max_side` pixels comes back (#21)."""
from __future__ import annotations

import base64
import io
import logging
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath

from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF (iPhone photos) through libheif, when the wheel is installed
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - pillow-heif is in requirements.txt
    HEIF = False

log = logging.getLogger(__name__)

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".heic", ".heif")
DECODE_MEMORY_MB = 1024      # address space of the child that decodes one photo (a 60-Mpx photo needs about 400 MB)
DECODE_SECONDS = 60.0        # wall-clock and CPU time it may take
Image.init()
FORMATS = tuple(f for f in ("JPEG", "MPO", "PNG", "HEIF") if f in Image.OPEN)   # what Pillow may open here
GSI_MAP = "https://maps.gsi.go.jp/#17/{lat:.6f}/{lon:.6f}/"
JST = timezone(timedelta(hours=9))

_TAG_ORIENTATION = 0x0112
_TAG_DATETIME = 0x0132
_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_OFFSET_ORIGINAL = 0x9011


class PhotoError(Exception):
    """A photo that cannot be read; `code` is one of unreadable | too_many_pixels | format."""

    def __init__(self, code: str, **info) -> None:
        super().__init__(code)
        self.code = code
        self.info = info


@dataclass
class Located:
    lat: float
    lon: float

    @property
    def map_url(self) -> str:
        return GSI_MAP.format(lat=self.lat, lon=self.lon)

    @property
    def text(self) -> str:
        return f"北緯{self.lat:.6f}度、東経{self.lon:.6f}度" if self.lat >= 0 and self.lon >= 0 \
            else f"緯度{self.lat:.6f}、経度{self.lon:.6f}"


@dataclass
class Prepared:
    """One photo read: `image` is upright RGB, at most `max_side` on its longest side."""

    name: str
    image: Image.Image
    original_size: tuple[int, int]              # upright width, height of the photo as taken
    original_bytes: int
    orientation: int | None = None              # EXIF orientation tag as found (1–8)
    taken_at: datetime | None = None            # aware (EXIF offset, else Japan time)
    location: Located | None = None
    fmt: str = ""
    notes: list[str] = field(default_factory=list)


def is_photo_name(name: str) -> bool:
    return (name or "").lower().endswith(PHOTO_EXTENSIONS)


def prepare(data: bytes, name: str, *, max_side: int, max_pixels: int) -> Prepared:
    """`decode` in a child process under DECODE_MEMORY_MB and DECODE_SECONDS (blocking: call it from a thread). A
    photo that needs more memory or time, or crashes its decoder, is "unreadable". Raises PhotoError."""
    from core.search.extract import Limits, Refused, run_isolated

    try:
        out = run_isolated("skills.images.photos:decode_in_child", data,
                           {"name": name, "max_side": max_side, "max_pixels": max_pixels},
                           Limits(memory_mb=DECODE_MEMORY_MB, timeout_seconds=DECODE_SECONDS))
    except Refused as e:
        log.warning("photo decoder stopped (%s): %s", e.code, e.detail[:300])
        raise PhotoError("unreadable", reason=e.code) from None
    if not isinstance(out, dict) or out.get("error"):
        info = out.get("info") if isinstance(out, dict) and isinstance(out.get("info"), dict) else {}
        raise PhotoError(str(out.get("error") if isinstance(out, dict) else "unreadable"), **info)
    image = Image.frombytes("RGB", (int(out["size"][0]), int(out["size"][1])), base64.b64decode(out["rgb"]))
    taken = datetime.fromisoformat(out["taken_at"]) if out.get("taken_at") else None
    where = Located(*out["location"]) if out.get("location") else None
    return Prepared(name=name, image=image, original_size=(int(out["original_size"][0]), int(out["original_size"][1])),
                    original_bytes=len(data), orientation=out.get("orientation"), taken_at=taken, location=where,
                    fmt=str(out.get("fmt") or ""), notes=list(out.get("notes") or []))


def decode_in_child(data: bytes, args: dict) -> dict:
    """core.search.extract.run_isolated's entry (in the child): `decode`, the image as raw RGB bytes (base64)."""
    try:
        p = decode(data, str(args["name"]), max_side=int(args["max_side"]), max_pixels=int(args["max_pixels"]))
    except PhotoError as e:
        return {"error": e.code, "info": e.info}
    return {"size": list(p.image.size), "rgb": base64.b64encode(p.image.tobytes()).decode("ascii"),
            "original_size": list(p.original_size), "orientation": p.orientation,
            "taken_at": p.taken_at.isoformat() if p.taken_at else None,
            "location": [p.location.lat, p.location.lon] if p.location else None, "fmt": p.fmt, "notes": p.notes}


def decode(data: bytes, name: str, *, max_side: int, max_pixels: int) -> Prepared:
    """Open, check the pixel count before decoding, read EXIF (orientation, time, GPS), decode at reduced size when
    the format allows (JPEG DCT scaling), shrink to `max_side` (before any full-size copy is made) and turn upright.
    Runs in this process: callers use `prepare`. Raises PhotoError."""
    try:
        im = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:             # Pillow's own guard (over twice MAX_IMAGE_PIXELS): too large
        raise PhotoError("too_many_pixels", limit=max_pixels) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise PhotoError("unreadable") from None
    try:
        w, h = im.size
        if w <= 0 or h <= 0 or w * h > max_pixels:
            raise PhotoError("too_many_pixels", pixels=w * h, limit=max_pixels)
        exif = im.getexif()
        orientation = exif.get(_TAG_ORIENTATION)
        taken_at = _taken_at(exif)
        location = _location(exif)
        fmt = im.format or ""
        if fmt in ("JPEG", "MPO"):
            im.draft("RGB", (max_side, max_side))     # decode at 1/2, 1/4 or 1/8 scale when that is still large enough
        try:
            im.load()
        except (OSError, ValueError, Image.DecompressionBombError):
            raise PhotoError("unreadable") from None
        if im.mode in ("RGB", "RGBA", "RGBX", "L", "LA", "CMYK", "YCbCr"):
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)   # in place: the full size is let go
        upright = ImageOps.exif_transpose(im)
        if upright is None:  # pragma: no cover - exif_transpose returns an image unless in_place
            upright = im
        rgb = upright.convert("RGB")
        size = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return Prepared(name=name, image=rgb, original_size=size, original_bytes=len(data),
                        orientation=orientation if isinstance(orientation, int) else None, taken_at=taken_at,
                        location=location, fmt=fmt)
    finally:
        im.close()


def jpeg(image: Image.Image, *, quality: int, max_side: int | None = None) -> bytes:
    """The image as a JPEG without any metadata (no EXIF, no GPS, no ICC profile, no comment)."""
    if max_side and max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=max(1, min(95, quality)), optimize=True)
    return buf.getvalue()


def thumbnail(image: Image.Image, *, max_bytes: int, sides: tuple[int, ...] = (400, 320, 240, 160)) -> bytes:
    """The largest small JPEG of `image` that fits in `max_bytes` (for a card's data URL)."""
    last = b""
    for side in sides:
        for quality in (70, 55, 40):
            last = jpeg(image, quality=quality, max_side=side)
            if len(last) <= max_bytes:
                return last
    return last


def draw_boxes(image: Image.Image, boxes: list[tuple[float, float, float, float, str]]) -> Image.Image:
    """A copy with each (x, y, w, h, colour) box drawn, the box given in 0–1 coordinates of the image."""
    out = image.copy()
    if not boxes:
        return out
    d = ImageDraw.Draw(out)
    W, H = out.size
    width = max(2, round(max(W, H) / 160))
    for x, y, w, h, colour in boxes:
        x0, y0 = round(x * W), round(y * H)
        x1, y1 = round((x + w) * W), round((y + h) * H)
        if x1 > x0 and y1 > y0:
            d.rectangle((x0, y0, x1, y1), outline=colour, width=width)
    return out


# ---------------------------------------------------------------------------------------------- zip of photos

@dataclass
class Member:
    name: str                # the file name shown to the user
    path: str = ""           # the member's path inside the zip
    error: str = ""          # too_large | not_photo


def zip_entries(data: bytes, *, limits, max_member_bytes: int, max_photos: int) -> list[Member]:
    """The photos inside a zip, in the zip's order (folders, macOS resource forks and hidden files skipped), at most
    `max_photos`. Only the central directory is read here; each photo is read when its turn comes. The zip is
    inspected first with the document ingest's zip-bomb rules (`limits`: core.search.extract.Limits — total inflated
    size, compression ratio, member count, nested archives, odd names); raises core.search.extract.Refused when it
    fails them. A member larger than `max_member_bytes` is listed with error "too_large", not read."""
    from core.search.extract import inspect_zip

    inspect_zip(data, "zip", limits)
    out: list[Member] = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            path = PurePosixPath(info.filename)
            if info.is_dir() or "__MACOSX" in path.parts or any(p.startswith(".") for p in path.parts):
                continue
            if not is_photo_name(path.name):
                out.append(Member(path.name, info.filename, "not_photo"))
                continue
            if sum(1 for m in out if m.error != "not_photo") >= max_photos:
                break
            out.append(Member(path.name, info.filename, "too_large" if info.file_size > max_member_bytes else ""))
    return out


# ---------------------------------------------------------------------------------------------- EXIF

def _rational(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError, ZeroDivisionError):
        return float("nan")


def _degrees(value, ref) -> float | None:
    try:
        d, m, s = (_rational(x) for x in value)
    except (TypeError, ValueError):
        return None
    deg = d + m / 60.0 + s / 3600.0
    if deg != deg:   # NaN (a zero denominator)
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    return -deg if str(ref or "").strip().upper() in ("S", "W") else deg


def _location(exif: Image.Exif) -> Located | None:
    try:
        gps = exif.get_ifd(_IFD_GPS)
    except (KeyError, ValueError, TypeError, OSError):
        return None
    if not gps or 2 not in gps or 4 not in gps:
        return None
    lat, lon = _degrees(gps.get(2), gps.get(1)), _degrees(gps.get(4), gps.get(3))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return Located(round(lat, 6), round(lon, 6))


def _taken_at(exif: Image.Exif) -> datetime | None:
    try:
        sub = exif.get_ifd(_IFD_EXIF)
    except (KeyError, ValueError, TypeError, OSError):
        sub = {}
    raw = sub.get(_TAG_DATETIME_ORIGINAL) or exif.get(_TAG_DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.strptime(raw.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(_TAG_OFFSET_ORIGINAL)
    tz = JST
    if isinstance(offset, str) and len(offset.strip()) >= 6 and offset.strip()[0] in "+-":
        try:
            sign = -1 if offset.strip()[0] == "-" else 1
            hh, mm = offset.strip()[1:6].split(":")
            tz = timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))
        except ValueError:
            tz = JST
    return when.replace(tzinfo=tz)
