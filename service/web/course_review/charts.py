"""Lab trend plots as server-drawn SVG geometry (no JavaScript, no CDN).

One pure function per plot: values in, coordinates out.  The template only
draws what is computed here, and every plot has its table of values (screen
readers, printing).  All plots share one time axis, so a rituximab dose sits
at the same x in every plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 30


@dataclass(frozen=True)
class Reading:
    """One result of a trend's test, converted to the plot's unit where possible."""

    when: datetime
    value: float | None  # None: the unit could not be converted; listed, not plotted
    shown: str  # the value as reported ("350 mg/dL")


@dataclass(frozen=True)
class Marker:
    x: float
    date: str
    label: str


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    date: str
    shown: str


@dataclass(frozen=True)
class TableRow:
    date: str
    shown: str
    note: str = ""


@dataclass(frozen=True)
class Plot:
    key: str
    title: str
    unit: str
    points: list[Point]
    polyline: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    doses: list[Marker]
    ivig: list[Marker] = field(default_factory=list)
    threshold_y: float | None = None
    threshold_label: str | None = None
    rows: list[TableRow] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom_y: float = HEIGHT - BOTTOM
    right_x: float = WIDTH - RIGHT


@dataclass(frozen=True)
class TimeAxis:
    start: datetime
    end: datetime

    def x(self, when: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        frac = (when - self.start).total_seconds() / span
        return round(LEFT + min(1.0, max(0.0, frac)) * (WIDTH - LEFT - RIGHT), 1)

    def ticks(self, count: int = 6) -> list[Tick]:
        span = self.end - self.start
        # Months repeat on a short axis (a first course: weeks of data): then label days.
        label = "%Y-%m" if span.days > 2 * 365 else "%Y-%m-%d"
        return [Tick(self.x(t), t.strftime(label)) for t in (self.start + span * i / (count - 1)
                                                            for i in range(count))]


def _nice_step(top: float, lines: int = 4) -> float:
    raw = top / lines
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:g}"


def build_plot(
    key: str,
    title: str,
    unit: str,
    readings: list[Reading],
    axis: TimeAxis,
    doses: list[tuple[datetime, str]],
    threshold: tuple[float, str] | None = None,
    ivig: list[tuple[datetime, str]] = (),  # type: ignore[assignment]
) -> Plot:
    """Coordinates of one trend: values oldest first, threshold line, dose and IVIG markers."""
    ordered = sorted(readings, key=lambda r: r.when)
    plotted = [r for r in ordered if r.value is not None and axis.start <= r.when <= axis.end]
    top = max([r.value for r in plotted if r.value is not None] + ([threshold[0]] if threshold else []) + [1.0])
    step = _nice_step(top * 1.1)
    y_max = step * math.ceil(top * 1.1 / step)
    plot_h = HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - value / y_max), 1)

    points = [Point(axis.x(r.when), y(r.value), r.when.date().isoformat(), r.shown)  # type: ignore[arg-type]
              for r in plotted]
    y_ticks = [Tick(y(step * i), _fmt(step * i)) for i in range(int(round(y_max / step)) + 1)]
    rows = [TableRow(r.when.date().isoformat(), r.shown, "" if r.value is not None else "unit not convertible")
            for r in reversed(ordered)]
    return Plot(
        key=key, title=title, unit=unit, points=points,
        polyline=" ".join(f"{p.x},{p.y}" for p in points),
        x_ticks=axis.ticks(), y_ticks=y_ticks,
        doses=[Marker(axis.x(when), when.date().isoformat(), label) for when, label in doses],
        ivig=[Marker(axis.x(when), when.date().isoformat(), label) for when, label in ivig],
        threshold_y=y(threshold[0]) if threshold else None,
        threshold_label=f"{threshold[1]} {_fmt(threshold[0])} {unit}" if threshold else None,
        rows=rows,
    )
