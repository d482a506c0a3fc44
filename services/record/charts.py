"""«Динамика»: an analyte's values over time as a PNG chart, and its caption.

``render_trend(series)`` is pure CPU work (matplotlib's Figure API with the Agg
canvas, never pyplot, so it is safe in the CPU pool's threads): the values over
time, the reference band shaded, values outside it marked in red, Russian
labels in the bundled DejaVu Sans. ``ChartCache`` keeps the PNG of the same
data (sha256 of the series) in process, least recently used out first;
``cached_render`` uses the module's one cache. ``caption`` says in words what
the chart shows. Callers run rendering in ``ctx.cpu`` outside any unit of work.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import matplotlib
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import FuncFormatter

__all__ = [
    "ChartCache",
    "TrendPoint",
    "TrendSeries",
    "cached_render",
    "caption",
    "demo_series",
    "direction",
    "number",
    "range_text",
    "render_trend",
    "series_digest",
]

FONT_PATH = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
BOLD_FONT_PATH = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
# 1000×600 px.
FIGSIZE = (10.0, 6.0)
DPI = 100
LINE_COLOUR = "#1f5fa8"
OUTSIDE_COLOUR = "#d0342c"
BAND_COLOUR = "#3aa35b"
# A change smaller than this share of the first value (or of the band) is «без изменений».
STEADY_SHARE = 0.05


@dataclass(frozen=True)
class TrendPoint:
    on: date
    value: float


@dataclass(frozen=True)
class TrendSeries:
    """One analyte's numeric values, oldest first, and its reference range."""

    name: str
    unit: str | None
    ref_low: float | None
    ref_high: float | None
    points: tuple[TrendPoint, ...]

    @property
    def title(self) -> str:
        return f"{self.name}, {self.unit}" if self.unit else self.name

    def outside(self, value: float) -> bool:
        if self.ref_low is not None and value < self.ref_low:
            return True
        return self.ref_high is not None and value > self.ref_high


# -- words ------------------------------------------------------------------------


def number(value: float) -> str:
    """A value as a Russian reader writes it: decimal comma, no trailing zeros."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}".replace(".", ",")


def range_text(low: float | None, high: float | None) -> str | None:
    """«норма 3,9–6,1», «норма до 5,2», «норма от 3,9»; None without a range."""
    if low is not None and high is not None:
        return f"норма {number(low)}–{number(high)}"
    if high is not None:
        return f"норма до {number(high)}"
    if low is not None:
        return f"норма от {number(low)}"
    return None


def day(on: date) -> str:
    return on.strftime("%d.%m.%Y")


def direction(series: TrendSeries) -> str:
    """«растёт», «снижается» or «без существенных изменений» (the last against the first)."""
    first, last = series.points[0].value, series.points[-1].value
    scale = abs(first)
    if series.ref_low is not None and series.ref_high is not None:
        scale = max(scale, series.ref_high - series.ref_low)
    tolerance = STEADY_SHARE * scale
    if last - first > tolerance:
        return "растёт"
    if first - last > tolerance:
        return "снижается"
    return "без существенных изменений"


def caption(series: TrendSeries) -> str:
    """What the chart shows, in words: first, last, lowest, highest, direction, range."""
    points = series.points
    unit = f" {series.unit}" if series.unit else ""

    def line(label: str, point: TrendPoint) -> str:
        return f"{label}: {number(point.value)}{unit} ({day(point.on)})"

    lowest = min(points, key=lambda p: (p.value, p.on))
    highest = max(points, key=lambda p: (p.value, p.on))
    last = points[-1]
    band = range_text(series.ref_low, series.ref_high)
    if band is None:
        verdict = "Референсный интервал лабораторией не указан."
    elif series.ref_low is not None and last.value < series.ref_low:
        verdict = f"Последнее значение ниже нормы ({band})."
    elif series.ref_high is not None and last.value > series.ref_high:
        verdict = f"Последнее значение выше нормы ({band})."
    else:
        verdict = f"Последнее значение в пределах нормы ({band})."
    return "\n".join(
        [
            f"Динамика: {series.title} — значений: {len(points)}",
            line("Первое", points[0]),
            line("Последнее", last),
            line("Наименьшее", lowest),
            line("Наибольшее", highest),
            f"Направление: {direction(series)}.",
            verdict,
        ]
    )


# -- the picture ------------------------------------------------------------------


def _limits(series: TrendSeries) -> tuple[float, float]:
    values = [p.value for p in series.points]
    values += [v for v in (series.ref_low, series.ref_high) if v is not None]
    low, high = min(values), max(values)
    pad = (high - low) * 0.12 or max(abs(high) * 0.1, 1.0)
    return low - pad, high + pad


def render_trend(series: TrendSeries) -> bytes:
    """The chart of `series` as PNG bytes (1000×600 px). Pure: no I/O, no global state."""
    if not series.points:
        raise ValueError("a trend needs at least one value")
    font = FontProperties(fname=FONT_PATH, size=11)
    title_font = FontProperties(fname=BOLD_FONT_PATH, size=14)
    small = FontProperties(fname=FONT_PATH, size=10)

    figure = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    xs = [p.on for p in series.points]
    ys = [p.value for p in series.points]
    bottom, top = _limits(series)
    ax.set_ylim(bottom, top)

    band = range_text(series.ref_low, series.ref_high)
    if band is not None:
        low = series.ref_low if series.ref_low is not None else bottom
        high = series.ref_high if series.ref_high is not None else top
        ax.axhspan(low, high, color=BAND_COLOUR, alpha=0.15, label=band.capitalize())
        for edge in (series.ref_low, series.ref_high):
            if edge is not None:
                ax.axhline(edge, color=BAND_COLOUR, linewidth=1, linestyle="--", alpha=0.7)

    ax.plot(xs, ys, color=LINE_COLOUR, linewidth=2, zorder=2)  # type: ignore[arg-type]
    for outside, colour, size, label in (
        (False, LINE_COLOUR, 50, "В норме"),
        (True, OUTSIDE_COLOUR, 70, "Вне нормы"),
    ):
        chosen = [p for p in series.points if series.outside(p.value) == outside]
        if chosen:
            ax.scatter(
                [p.on for p in chosen],  # type: ignore[arg-type]
                [p.value for p in chosen],
                color=colour,
                s=size,
                zorder=4 if outside else 3,
                label=label,
            )
    if len(series.points) <= 12:
        for point in series.points:
            ax.annotate(
                number(point.value),
                (point.on, point.value),  # type: ignore[arg-type]
                textcoords="offset points",
                xytext=(0, 9),
                ha="center",
                fontproperties=small,
                color=OUTSIDE_COLOUR if series.outside(point.value) else "#333333",
            )

    span = max((xs[-1] - xs[0]).days * 0.05, 15.0)
    ax.set_xlim(xs[0] - timedelta(days=span), xs[-1] + timedelta(days=span))  # type: ignore[arg-type]
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d.%m.%Y"))  # type: ignore[no-untyped-call]
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: number(round(v, 4))))
    for tick in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
        tick.set_fontproperties(small)
    figure.autofmt_xdate(rotation=30)

    ax.set_title(series.title, fontproperties=title_font)
    ax.set_xlabel("Дата", fontproperties=font)
    ax.set_ylabel(series.unit or "Значение", fontproperties=font)
    ax.grid(True, alpha=0.3)
    ax.legend(prop=small, loc="best")
    figure.tight_layout()

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


# -- the cache --------------------------------------------------------------------


def series_digest(series: TrendSeries) -> str:
    """sha256 of the series' data: the same values, dates and range give the same digest."""
    data = {
        "name": series.name,
        "unit": series.unit,
        "low": series.ref_low,
        "high": series.ref_high,
        "points": [[p.on.isoformat(), p.value] for p in series.points],
    }
    raw = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


class ChartCache:
    """PNGs by the digest of their data, at most `size` of them (least recently used out)."""

    def __init__(
        self, render: Callable[[TrendSeries], bytes] = render_trend, size: int = 128
    ) -> None:
        self.render = render
        self.size = size
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, series: TrendSeries) -> bytes:
        key = series_digest(series)
        with self._lock:
            png = self._items.get(key)
            if png is not None:
                self._items.move_to_end(key)
                return png
        png = self.render(series)
        with self._lock:
            self._items[key] = png
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return png

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


CACHE = ChartCache()


def cached_render(series: TrendSeries) -> bytes:
    """`render_trend` through the process's cache (run it in ``ctx.cpu``)."""
    return CACHE.get(series)


def demo_series(points: int) -> TrendSeries:
    """A plausible glucose series of `points` values, a month or so apart (benchmarks)."""
    start = date(2024, 1, 15)
    values = []
    for n in range(points):
        wave = 0.5 * math.sin(n / 2.3) + 0.25 * math.cos(n / 0.9)
        values.append(round(5.0 + wave + 0.012 * n, 1))
    step = max(1, 720 // max(points, 1))
    return TrendSeries(
        name="Глюкоза",
        unit="ммоль/л",
        ref_low=3.9,
        ref_high=6.1,
        points=tuple(
            TrendPoint(start + timedelta(days=step * n), value) for n, value in enumerate(values)
        ),
    )
