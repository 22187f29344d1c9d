"""Geometry for the small server-rendered SVG charts. Plain numbers in, SVG-ready coordinates out; no Django.

Templates draw what this module computes (polylines, ticks, dots), so a chart is testable without a browser and the
page needs no JavaScript charting library.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Distinguishable for common colour-vision deficiencies, and readable on white.
PALETTE = ("#2563eb", "#ea580c", "#059669", "#9333ea", "#dc2626", "#0891b2", "#a16207", "#475569")


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    value: float
    x_label: str
    partial: bool = False


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    color: str
    points: str  # "x,y x,y ..." for <polyline points>
    dots: tuple[Dot, ...]


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    series: tuple[Series, ...]


def nice_step(span: float, count: int) -> float:
    """A step of 1, 2, 2.5 or 5 × 10^k that splits ``span`` into at most ``count`` intervals."""
    if span <= 0:
        return 1.0
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if multiple * magnitude >= raw:
            return multiple * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def nice_ticks(max_value: float, count: int = 4) -> list[float]:
    """Tick values from 0 up to the first nice value at or above ``max_value``."""
    step = nice_step(max_value, count)
    top = step * math.ceil(max_value / step) if max_value > 0 else step
    n = round(top / step)
    return [round(i * step, 10) for i in range(n + 1)]


def compact_number(value: float) -> str:
    """1234 -> "1.2k", 2500000 -> "2.5M"; short enough for an axis label."""
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            scaled = value / threshold
            text = f"{scaled:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def pivot_weekly(rows: Iterable[tuple[dt.date, str, float]]) -> tuple[list[dt.date], dict[str, list[float]]]:
    """(week, key, value) rows -> sorted weeks and, per key, one value per week (0 where a key has no row)."""
    cells: dict[tuple[dt.date, str], float] = {}
    for week, key, value in rows:
        cells[(week, key)] = cells.get((week, key), 0.0) + value
    weeks = sorted({week for week, _ in cells})
    keys = sorted({key for _, key in cells})
    return weeks, {key: [cells.get((week, key), 0.0) for week in weeks] for key in keys}


def partial_weeks(weeks: Sequence[dt.date], *, first: dt.date, last: dt.date) -> list[bool]:
    """For Monday week starts: True where the days ``first``..``last`` cover only part of the week."""
    return [week < first or week + dt.timedelta(days=6) > last for week in weeks]


def line_chart(
    *,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    width: int = 560,
    height: int = 220,
    margin: tuple[float, float, float, float] = (12, 12, 28, 52),  # top, right, bottom, left
    max_x_ticks: int = 6,
    colors: dict[str, str] | None = None,
    partial: Sequence[bool] | None = None,
) -> LineChart:
    """Lines for ``series`` ((key, label, values), values aligned with ``x_labels``) on a shared zero-based y axis.

    ``partial`` flags x positions that cover only part of their period (a week cut by the date range), so the
    chart can draw them differently instead of letting a short week look like a collapse.
    """
    top, right_margin, bottom_margin, left = margin
    right, bottom = width - right_margin, height - bottom_margin
    n = len(x_labels)
    flags = list(partial) if partial is not None else [False] * n
    if len(flags) != n:
        raise ValueError(f"{len(flags)} partial flags for {n} x labels.")
    for key, _, values in series:
        if len(values) != n:
            raise ValueError(f"Series {key!r} has {len(values)} values for {n} x labels.")

    peak = max((v for _, _, values in series for v in values), default=0.0)
    ticks = nice_ticks(peak)
    y_max = ticks[-1]

    def x_at(i: int) -> float:
        return (left + right) / 2 if n == 1 else left + (right - left) * i / (n - 1)

    def y_at(v: float) -> float:
        return bottom - (bottom - top) * (v / y_max)

    stride = max(1, math.ceil(n / max_x_ticks))
    x_ticks = tuple(Tick(round(x_at(i), 2), x_labels[i]) for i in range(0, n, stride))
    y_ticks = tuple(Tick(round(y_at(t), 2), compact_number(t)) for t in ticks)

    drawn = []
    for index, (key, label, values) in enumerate(series):
        dots = tuple(Dot(round(x_at(i), 2), round(y_at(v), 2), v, x_labels[i], flags[i]) for i, v in enumerate(values))
        color = (colors or {}).get(key, PALETTE[index % len(PALETTE)])
        drawn.append(Series(key, label, color, " ".join(f"{d.x},{d.y}" for d in dots), dots))
    return LineChart(width, height, left, top, right, bottom, y_ticks, x_ticks, tuple(drawn))


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    y_low: float
    y_high: float


@dataclass(frozen=True)
class CurveChart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    line: str  # "x,y ..." of the expected curve, for <polyline points>
    band: str  # "x,y ..." around the interval, for <polygon points>
    marker: Marker | None  # the chosen point and its interval


def curve_chart(
    *,
    x: Sequence[float],
    expected: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    chosen: tuple[float, float, float, float] | None = None,
    width: int = 340,
    height: int = 200,
    margin: tuple[float, float, float, float] = (10, 14, 30, 44),  # top, right, bottom, left
    ticks: int = 3,
) -> CurveChart:
    """One response curve: the ``expected`` line over ``x`` inside its ``low``..``high`` band, both axes from 0, and
    ``chosen`` = (x, y, y_low, y_high) marked as a point with its interval. Few ticks: the chart must stay legible
    when a phone shrinks it."""
    n = len(x)
    if not (len(expected) == len(low) == len(high) == n) or n < 2:
        raise ValueError(f"A curve needs at least 2 points and as many values as x ({n}).")
    top, right_margin, bottom_margin, left = margin
    right, bottom = width - right_margin, height - bottom_margin
    peak_y = max([*high, *expected, *((chosen[3], chosen[1]) if chosen else ())])
    peak_x = max([*x, *((chosen[0],) if chosen else ())])
    y_values, x_values = nice_ticks(peak_y, ticks), nice_ticks(peak_x, ticks)
    y_max, x_max = y_values[-1], x_values[-1]

    def px(v: float) -> float:
        return round(left + (right - left) * v / x_max, 2)

    def py(v: float) -> float:
        return round(bottom - (bottom - top) * max(v, 0.0) / y_max, 2)

    line = " ".join(f"{px(a)},{py(b)}" for a, b in zip(x, expected, strict=True))
    outline = [*zip(x, high, strict=True), *reversed(list(zip(x, low, strict=True)))]
    band = " ".join(f"{px(a)},{py(b)}" for a, b in outline)
    marker = Marker(px(chosen[0]), py(chosen[1]), py(chosen[2]), py(chosen[3])) if chosen else None
    return CurveChart(
        width, height, left, top, right, bottom,
        tuple(Tick(py(v), compact_number(v)) for v in y_values),
        tuple(Tick(px(v), compact_number(v)) for v in x_values),
        line, band, marker,
    )  # fmt: skip
