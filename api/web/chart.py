"""Readings and a patient's threshold bands drawn as an SVG chart, in pure Python.

``draw(chart)`` returns SVG markup: red and yellow bands behind the plot (red below
red low and above red high, yellow between red and yellow), one line of points per
series, and a point the device flagged drawn as a triangle with the flags in its
tooltip, so a flag is never told by colour alone. Every text is escaped. Styling is by
class names (the page's stylesheet), so a Content-Security-Policy without inline
styles holds.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from api.web.render import when

# Drawing area in SVG user units; the element scales to its container (viewBox).
WIDTH = 720
HEIGHT = 220
# Room for the value axis labels on the left and the time labels below.
LEFT = 44
RIGHT = 8
TOP = 10
BOTTOM = 26
POINT_RADIUS = 3
# Half the width of the triangle marking a flagged point.
MARK = 5
# Characters XML 1.0 does not allow (section 2.2 "Char"): C0 controls but tab, newline
# and carriage return; the non-characters U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Value ticks drawn at most (evenly spaced), besides the band limits.
TICKS = 6  # at most, on the value axis


@dataclass(frozen=True, slots=True, kw_only=True)
class Bands:
    """A patient's limits for one kind (ingest.threshold); any may be absent."""

    red_low: float | None = None
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_high: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    at: datetime
    value: float
    # The device's status flags (devices.reading.Flag values); empty: a plain point.
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """One series: its CSS name (``series-<name>``), legend label and points."""

    name: str
    label: str
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    title: str
    unit: str
    since: datetime
    until: datetime
    low: float
    high: float
    lines: tuple[Line, ...]
    bands: Bands = field(default_factory=Bands)
    # Word shown in tooltips of flagged points ("marked by the device").
    flagged_word: str = "flagged"

    def __post_init__(self) -> None:
        if not self.until > self.since:
            raise ValueError("a chart needs until after since")
        if not self.high > self.low:
            raise ValueError("a chart needs high above low")


def value_range(
    chart_low: float, chart_high: float, values: Sequence[float]
) -> tuple[float, float]:
    """The default range widened to hold every value (and a margin)."""
    low = min([chart_low, *values])
    high = max([chart_high, *values])
    margin = (high - low) * 0.05
    return (low - margin if low < chart_low else low, high + margin if high > chart_high else high)


def tick_values(low: float, high: float) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) on the value axis: at most
    ``TICKS`` of them, and at least two whenever ``high > low``."""
    span = high - low
    if not span > 0:
        return [low]
    base = 10 ** math.floor(math.log10(span / TICKS))
    for factor in (1, 2, 5, 10, 20, 50):
        step = base * factor
        values = [
            index * step for index in range(math.ceil(low / step), math.floor(high / step) + 1)
        ]
        if len(values) <= TICKS:
            break
    return values if len(values) >= 2 else [low, high]


def draw(chart: Chart) -> str:
    """The SVG element of ``chart``."""
    plot = _Plot(chart)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{_e(chart.title)} ({_e(chart.unit)})" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(chart.title)} ({_e(chart.unit)})</title>",
        f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{plot.width:.1f}" '
        f'height="{plot.height:.1f}"/>',
        *_bands(plot, chart.bands),
        *_ticks(plot, chart),
        *(part for line in chart.lines for part in _line(plot, line, chart.flagged_word)),
        "</svg>",
    ]
    return "".join(parts)


class _Plot:
    """Maps times and values to SVG coordinates."""

    def __init__(self, chart: Chart) -> None:
        self.chart = chart
        self.width = WIDTH - LEFT - RIGHT
        self.height = HEIGHT - TOP - BOTTOM

    def x(self, at: datetime) -> float:
        span = (self.chart.until - self.chart.since).total_seconds()
        share = (at - self.chart.since).total_seconds() / span
        return LEFT + min(1.0, max(0.0, share)) * self.width

    def y(self, value: float) -> float:
        share = (value - self.chart.low) / (self.chart.high - self.chart.low)
        return TOP + (1.0 - min(1.0, max(0.0, share))) * self.height


def _bands(plot: _Plot, bands: Bands) -> list[str]:
    low, high = plot.chart.low, plot.chart.high
    # (severity, from value, to value): the value ranges each colour covers.
    spans = (
        ("red", low, bands.red_low),
        ("yellow", bands.red_low, bands.yellow_low),
        ("yellow", bands.yellow_high, bands.red_high),
        ("red", bands.red_high, high),
    )
    drawn = []
    for severity, start, end in spans:
        if start is None or end is None:
            continue
        bottom, top = max(low, min(start, end)), min(high, max(start, end))
        if top <= bottom:
            continue
        y_top, y_bottom = plot.y(top), plot.y(bottom)
        drawn.append(
            f'<rect class="band band-{severity}" data-band="{severity}" x="{LEFT}" '
            f'y="{y_top:.1f}" width="{plot.width:.1f}" height="{y_bottom - y_top:.1f}"/>'
        )
    return drawn


def _ticks(plot: _Plot, chart: Chart) -> list[str]:
    drawn = []
    values = tick_values(chart.low, chart.high)
    for value in values:
        y = plot.y(value)
        drawn.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{value:g}</text>"
        )
    for at, anchor in ((chart.since, "start"), (chart.until, "end")):
        drawn.append(
            f'<text class="tick" x="{plot.x(at):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
            f"{_e(when(at))}</text>"
        )
    return drawn


def _line(plot: _Plot, line: Line, flagged_word: str) -> list[str]:
    ordered = sorted(line.points, key=lambda point: point.at)
    if not ordered:
        return []
    coordinates = " ".join(f"{plot.x(p.at):.1f},{plot.y(p.value):.1f}" for p in ordered)
    drawn = [
        f'<g class="series series-{_e(line.name)}" data-series="{_e(line.name)}">',
        f'<polyline class="trace" points="{coordinates}"/>',
    ]
    for point in ordered:
        x, y = plot.x(point.at), plot.y(point.value)
        tip = f"{line.label} {point.value:g} {point.at:%Y-%m-%d %H:%M}"
        if point.flags:
            tip += f" ({flagged_word}: {', '.join(point.flags)})"
            drawn.append(
                f'<path class="point flagged" data-flags="{_e(" ".join(point.flags))}" '
                f'd="M{x:.1f},{y - MARK:.1f} L{x + MARK:.1f},{y + MARK:.1f} '
                f'L{x - MARK:.1f},{y + MARK:.1f} Z"><title>{_e(tip)}</title></path>'
            )
        else:
            drawn.append(
                f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="{POINT_RADIUS}">'
                f"<title>{_e(tip)}</title></circle>"
            )
    drawn.append("</g>")
    return drawn


def _e(text: str) -> str:
    """``text`` escaped, without the control characters XML cannot hold."""
    return html.escape(_NOT_XML.sub("", text), quote=True)
