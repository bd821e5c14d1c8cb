"""Charts as SVG, drawn on the server: bar, line, pie and funnel.

Each chart is an ``<svg role="img">`` named by its ``<title>`` (and ``aria-label``); the page
shows the same numbers in a table for screen readers. Colours come from CSS classes
(``series-0`` ... ``series-7`` in ``dashboards.css``): the Content-Security-Policy forbids
``style`` attributes, so geometry is written as SVG presentation attributes only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 480, 260
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 12, 12, 22, 40
SERIES = 8  # colour classes series-0 ... series-7
MAX_LABEL = 14  # characters of an axis label before it is shortened


@dataclass(frozen=True)
class Point:
    """One value of a chart: its label, the number and the number as people read it."""

    label: str
    value: float
    text: str


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _text(x: float, y: float, text: str, cls: str, anchor: str = "middle") -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" class="{cls}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _tip(point: Point) -> str:
    return f"<title>{escape(point.label)}: {escape(point.text)}</title>"


def _svg(kind: str, title: str, body: list[str], empty: str) -> Markup:
    if not body:
        body = [_text(WIDTH / 2, HEIGHT / 2, empty, "chart-empty")]
    label = escape(title)
    return Markup(
        f'<svg class="chart chart-{kind}" role="img" aria-label="{label}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMidYMid meet"><title>{label}</title>{"".join(body)}</svg>'
    )


def _scale(points: list[Point]) -> float:
    top = max((p.value for p in points), default=0.0)
    return top if top > 0 else 1.0


def bar(title: str, points: list[Point], empty: str) -> Markup:
    """Vertical bars, one per point, its value above it."""
    if not points:
        return _svg("bar", title, [], empty)
    top = _scale(points)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = inner_w / len(points)
    width = step * 0.7
    base = HEIGHT - PAD_BOTTOM
    body = [
        f'<line x1="{PAD_LEFT}" y1="{base}" x2="{WIDTH - PAD_RIGHT}" y2="{base}" class="chart-axis"/>'
    ]
    for i, p in enumerate(points):
        h = max(p.value, 0) / top * inner_h
        x = PAD_LEFT + i * step + (step - width) / 2
        body.append(
            f'<g class="series-{i % SERIES}"><rect x="{_n(x)}" y="{_n(base - h)}" '
            f'width="{_n(width)}" height="{_n(h)}">{_tip(p)}</rect></g>'
        )
        body.append(_text(x + width / 2, base - h - 5, p.text, "chart-value"))
        body.append(_text(x + width / 2, base + 16, _short(p.label), "chart-label"))
    return _svg("bar", title, body, empty)


def line(title: str, points: list[Point], empty: str) -> Markup:
    """A line through the points in order (periods), a dot and its value at each."""
    if not points:
        return _svg("line", title, [], empty)
    top = _scale(points)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT - 30
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    base = HEIGHT - PAD_BOTTOM
    step = inner_w / max(len(points) - 1, 1)
    xy = [
        (
            PAD_LEFT + 15 + i * step if len(points) > 1 else WIDTH / 2,
            base - max(p.value, 0) / top * inner_h,
        )
        for i, p in enumerate(points)
    ]
    body = [
        f'<line x1="{PAD_LEFT}" y1="{base}" x2="{WIDTH - PAD_RIGHT}" y2="{base}" class="chart-axis"/>',
        '<polyline class="chart-path" fill="none" points="'
        + " ".join(f"{_n(x)},{_n(y)}" for x, y in xy)
        + '"/>',
    ]
    for (x, y), p in zip(xy, points):
        body.append(f'<circle class="chart-dot" cx="{_n(x)}" cy="{_n(y)}" r="4">{_tip(p)}</circle>')
        body.append(_text(x, y - 8, p.text, "chart-value"))
        body.append(_text(x, base + 16, _short(p.label), "chart-label"))
    return _svg("line", title, body, empty)


def pie(title: str, points: list[Point], empty: str) -> Markup:
    """Slices of a circle in proportion to the (positive) values, with a legend."""
    shown = [p for p in points if p.value > 0]
    if not shown:
        return _svg("pie", title, [], empty)
    total = sum(p.value for p in shown)
    cx, cy, r = 120.0, HEIGHT / 2, 100.0
    body = []
    angle = -math.pi / 2
    for i, p in enumerate(shown):
        sweep = p.value / total * 2 * math.pi
        cls = f"series-{i % SERIES}"
        if len(shown) == 1:
            body.append(
                f'<g class="{cls}"><circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}">{_tip(p)}</circle></g>'
            )
        else:
            x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            x2, y2 = cx + r * math.cos(angle + sweep), cy + r * math.sin(angle + sweep)
            large = 1 if sweep > math.pi else 0
            body.append(
                f'<g class="{cls}"><path d="M{_n(cx)},{_n(cy)} L{_n(x1)},{_n(y1)} '
                f'A{_n(r)},{_n(r)} 0 {large} 1 {_n(x2)},{_n(y2)} Z">{_tip(p)}</path></g>'
            )
        angle += sweep
        y = 30 + i * 22
        body.append(f'<g class="{cls}"><rect x="250" y="{y - 11}" width="12" height="12"/></g>')
        body.append(_text(268, y, f"{_short(p.label)}: {p.text}", "chart-legend", "start"))
    return _svg("pie", title, body, empty)


def funnel(title: str, points: list[Point], empty: str) -> Markup:
    """Stages top to bottom (the enum's order), each as wide as its value, centred."""
    if not points:
        return _svg("funnel", title, [], empty)
    top = _scale(points)
    band = (HEIGHT - 10) / len(points)
    usable = WIDTH - 170
    body = []
    for i, p in enumerate(points):
        width = max(max(p.value, 0) / top * usable, 2)
        x = 150 + (usable - width) / 2
        y = 5 + i * band
        body.append(
            f'<g class="series-{i % SERIES}"><rect x="{_n(x)}" y="{_n(y + 2)}" width="{_n(width)}" '
            f'height="{_n(band - 4)}">{_tip(p)}</rect></g>'
        )
        body.append(_text(140, y + band / 2 + 4, _short(p.label), "chart-label", "end"))
        body.append(_text(150 + usable / 2, y + band / 2 + 4, p.text, "chart-value chart-inside"))
    return _svg("funnel", title, body, empty)


DRAW = {"bar": bar, "line": line, "pie": pie, "funnel": funnel}


def draw(kind: str, title: str, points: list[Point], empty: str) -> Markup:
    """The chart ``kind`` (bar, line, pie, funnel) of ``points`` as an SVG element."""
    return DRAW.get(kind, bar)(title, points, empty)
