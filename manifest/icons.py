"""Draws the two Teams app icons (run once; the PNGs are checked in).

    .venv/bin/python -m manifest.icons

color.png   192x192, full colour: a rounded square in city blue with a white speech bubble (symbol inside the
            120x120 safe area Teams asks for).
outline.png 32x32, white on a fully transparent background: the same speech bubble, outline only.

Both are drawn at 8x and downsampled, so the edges are anti-aliased and the result is reproducible.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
CITY_BLUE = (0, 94, 172, 255)      # a calm civic blue, #005EAC
WHITE = (255, 255, 255, 255)
SCALE = 8


def _bubble(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], *, fill=None, outline=None,
            width: int = 0) -> None:
    """A speech bubble: a rounded rectangle with a tail at the lower left."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    body_bottom = y0 + h * 0.74
    radius = h * 0.22
    tail = [(x0 + w * 0.22, body_bottom - 1), (x0 + w * 0.18, y1), (x0 + w * 0.46, body_bottom - 1)]
    if fill is not None:
        draw.rounded_rectangle((x0, y0, x1, body_bottom), radius=radius, fill=fill)
        draw.polygon(tail, fill=fill)
    if outline is not None:
        draw.rounded_rectangle((x0, y0, x1, body_bottom), radius=radius, outline=outline, width=width)
        # the tail: two strokes from the body's lower edge; blank the body edge between them first
        inner = [(tail[0][0] + width, body_bottom - width), (tail[2][0] - width, body_bottom - width),
                 (tail[2][0] - width, body_bottom + 1), (tail[0][0] + width, body_bottom + 1)]
        draw.polygon(inner, fill=(0, 0, 0, 0))
        draw.line([tail[0], tail[1], tail[2]], fill=outline, width=width, joint="curve")


def _dots(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], color) -> None:
    """Three dots inside the bubble body: "someone is answering"."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cy = y0 + h * 0.37
    r = h * 0.065
    for fx in (0.30, 0.50, 0.70):
        cx = x0 + w * fx
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=color)


def draw_color(size: int = 192) -> Image.Image:
    big = size * SCALE
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.2, fill=CITY_BLUE)
    m = big * 0.2                                   # symbol stays inside the central ~120/192 safe area
    box = (m, m + big * 0.02, big - m, big - m + big * 0.04)
    _bubble(d, box, fill=WHITE)
    _dots(d, box, CITY_BLUE)
    return img.resize((size, size), Image.LANCZOS)


def draw_outline(size: int = 32) -> Image.Image:
    big = size * SCALE
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    stroke = int(big * 0.085)
    m = big * 0.06 + stroke / 2
    box = (m, m + big * 0.04, big - m, big - m + big * 0.02)
    _bubble(d, box, outline=WHITE, width=stroke)
    _dots(d, box, WHITE)
    out = img.resize((size, size), Image.LANCZOS)
    # Teams wants pure white on transparent: keep only alpha, force every visible pixel to white.
    alpha = out.getchannel("A")
    white = Image.new("RGBA", (size, size), WHITE)
    white.putalpha(alpha)
    return white


def main() -> None:
    draw_color().save(HERE / "color.png", optimize=True)
    draw_outline().save(HERE / "outline.png", optimize=True)
    print(f"wrote {HERE / 'color.png'} and {HERE / 'outline.png'}")


if __name__ == "__main__":
    main()
