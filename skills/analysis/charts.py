"""Charts as PNG images: the fallback of the card's Teams charts (for clients that do not render them, such as Web
Chat) and the charts of the Excel report where the report has no chart of its own.

The image is drawn from the card's chart element itself (Chart.VerticalBar, Chart.VerticalBar.Grouped, Chart.Line:
title, axis titles, data), so the picture and the Teams chart always show the same numbers. matplotlib draws it
with the Agg backend (no display, no pyplot state) and IPAex Gothic, the Japanese font that the matplotlib-fontja
package ships (IPA Font License); no system font is assumed. The PNG is reduced to a small palette so that it fits in
a card as a data URL."""
from __future__ import annotations

import importlib.util
import io
import logging
import threading
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FONT_FILE = "ipaexg.ttf"
FONT_NAME = "IPAexGothic"
COLORS = ("#4F6BED", "#E8743B", "#19A979", "#ED4A7B", "#945ECF", "#13A4B4", "#525DF4", "#BF399E")
SIZES = ((560, 280), (420, 210))        # tried in turn until the image fits the room left in the card
PALETTE = 16                            # colours kept in the PNG

_lock = threading.Lock()                # rcParams and the font manager are process-wide
_ready = False


def font_path() -> Path:
    """The IPAex Gothic file that matplotlib-fontja ships (found without importing it: its import sets matplotlib's
    global font)."""
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib-fontja is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "fonts" / FONT_FILE


def _setup() -> None:
    global _ready
    if _ready:
        return
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(font_path()))
    _ready = True


def _series(chart: dict) -> list[tuple[str, list[str], list[float]]]:
    """(legend, x labels, y values) of each series of a card chart element."""
    if chart.get("type") == "Chart.VerticalBar":
        data = chart.get("data") or []
        return [("", [str(p.get("x", "")) for p in data], [float(p.get("y") or 0) for p in data])]
    out = []
    for s in chart.get("data") or []:
        values = s.get("values") or []
        out.append((str(s.get("legend") or ""), [str(p.get("x", "")) for p in values],
                    [float(p.get("y") or 0) for p in values]))
    return out


def _number(v: float, _pos: Any = None) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:,.3g}"


def render_png(chart: dict, size: tuple[int, int] = SIZES[0]) -> bytes:
    """The PNG of a card chart element. Raises ValueError for an element that is not a chart with data."""
    series = _series(chart)
    if not series or not any(ys for _, _, ys in series):
        raise ValueError("no data to draw")
    with _lock:
        _setup()
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter

        with matplotlib.rc_context({"font.family": FONT_NAME, "font.size": 9, "axes.unicode_minus": False}):
            w, h = size
            fig = Figure(figsize=(w / 100, h / 100), dpi=100)
            FigureCanvasAgg(fig)
            ax = fig.add_subplot()
            kind = chart.get("type")
            if kind == "Chart.Line":
                _draw_lines(ax, series)
            elif kind == "Chart.VerticalBar.Grouped":
                _draw_grouped(ax, series)
            else:
                _draw_bars(ax, series[0], bool(chart.get("showBarValues")))
            ax.set_title(str(chart.get("title") or "")[:60], fontsize=11)
            ax.set_xlabel(str(chart.get("xAxisTitle") or "")[:40])
            ax.set_ylabel(str(chart.get("yAxisTitle") or "")[:40])
            ax.yaxis.set_major_formatter(FuncFormatter(_number))
            ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
            ax.set_axisbelow(True)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            labels = ax.get_xticklabels()
            if len(labels) > 6 or max((len(t.get_text()) for t in labels), default=0) > 6:
                for t in labels:
                    t.set_rotation(40)
                    t.set_horizontalalignment("right")
            fig.tight_layout(pad=0.6)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100)
    return _small(buf.getvalue())


def _draw_bars(ax, series: tuple[str, list[str], list[float]], values: bool) -> None:
    _, xs, ys = series
    pos = range(len(xs))
    bars = ax.bar(pos, ys, color=COLORS[0], width=0.7)
    ax.set_xticks(list(pos), [x[:14] for x in xs])
    if values and len(xs) <= 12:
        ax.bar_label(bars, labels=[_number(y) for y in ys], fontsize=8, padding=2)


def _draw_grouped(ax, series: list[tuple[str, list[str], list[float]]]) -> None:
    xs = series[0][1]
    n = len(series)
    width = 0.8 / max(1, n)
    for k, (name, sx, ys) in enumerate(series):
        by_x = dict(zip(sx, ys))
        ax.bar([i - 0.4 + width * (k + 0.5) for i in range(len(xs))], [by_x.get(x, 0.0) for x in xs], width=width,
               color=COLORS[k % len(COLORS)], label=name[:20])
    ax.set_xticks(list(range(len(xs))), [x[:14] for x in xs])
    ax.legend(fontsize=8, frameon=False)


def _draw_lines(ax, series: list[tuple[str, list[str], list[float]]]) -> None:
    xs: list[str] = []
    for _, sx, _ in series:
        for x in sx:
            if x not in xs:
                xs.append(x)
    index = {x: i for i, x in enumerate(xs)}
    for k, (name, sx, ys) in enumerate(series):
        dashed = "区間" in name
        ax.plot([index[x] for x in sx], ys, color=COLORS[k % len(COLORS)], marker="" if dashed else "o",
                markersize=3, linewidth=1 if dashed else 1.8, linestyle="--" if dashed else "-", label=name[:20])
    step = max(1, len(xs) // 12)
    ax.set_xticks(list(range(0, len(xs), step)), [x[:14] for x in xs[::step]])
    if len(series) > 1 or series[0][0]:
        ax.legend(fontsize=8, frameon=False)


def _small(png: bytes) -> bytes:
    """The PNG with its colours reduced to a small palette (anti-aliased text keeps its look), compressed hard."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        small = im.convert("RGB").quantize(colors=PALETTE, method=Image.Quantize.MEDIANCUT)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def render(chart: dict, size: tuple[int, int]) -> bytes | None:
    """`render_png`, or None when the chart cannot be drawn (the card keeps its table fallback)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # a glyph missing from the font draws as a box, nothing worse
            return render_png(chart, size)
    except Exception as e:  # noqa: BLE001 - a chart that cannot be drawn keeps its table fallback
        log.warning("analysis: chart image not drawn: %s", type(e).__name__)
        return None
