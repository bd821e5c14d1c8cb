"""Charts as SVG, drawn on the server: bar, line, pie and funnel.

Each chart is an ``<svg role="img">`` named by its ``<title>`` (and ``aria-label``); the page
shows the same numbers in a table for screen readers. Every bar, dot, slice and stage carries a
``<title>`` with its label and full value: the browser shows it as a tooltip, with no script.
Colours come from CSS classes (``series-0`` ... ``series-7`` in ``dashboards.css``): the
Content-Security-Policy forbids ``style`` attributes, so geometry is written as SVG
presentation attributes only.

Bar and line charts have a y-axis with rounded ticks (``nice_ticks``) and gridlines; their
x-axis labels are written across when they fit, else turned 45 degrees, shortened and, when
even so they would overlap, only every n-th is written (``x_labels``). A funnel's stages are as
wide as their values (at least ``MIN_STAGE`` wide, so a stage of zero still shows), each
labelled with its value and its conversion from the previous stage.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 480, 260
PAD_RIGHT, PAD_TOP = 10, 18
BOTTOM_ACROSS, BOTTOM_TURNED = 26, 90  # below the x-axis: labels written across, or turned
FONT = 11.0  # the labels' font size (dashboards.css), in SVG units
TURNED_GAP = 14.0  # the least distance between two turned labels
TURNED_ROOM = (BOTTOM_TURNED - 28) / math.sin(math.pi / 4)  # the longest a turned label may be
SERIES = 8  # colour classes series-0 ... series-7
MIN_STAGE = 6.0  # the least width of a funnel's stage (a stage of zero is this wide)
FUNNEL_LABELS = 140.0  # the width of the funnel's stage names, left of the stages
MAX_VALUE_LABELS = 12  # more bars or dots than this: their values only in tooltips and table


@dataclass(frozen=True)
class Point:
    """One value of a chart: its label, the number and the number as people read it.

    ``detached``: a group outside the time axis (dates not set), drawn after it, not joined to
    the line. ``note``: what else the point says, short (a funnel's conversion, ``50%``), and
    ``tip`` the same in words for its tooltip."""

    label: str
    value: float
    text: str
    detached: bool = False
    note: str = ""
    tip: str = ""  # the note as the tooltip says it ("50% of the previous stage")


Tick = Callable[[float], str]


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _plain(value: float) -> str:
    return f"{value:.10g}"


# --- text and scales ------------------------------------------------------------------------


def text_width(text: str, size: float = FONT) -> float:
    """About how wide ``text`` is in a sans-serif font of ``size``, rather more than less: wide
    (CJK) characters one em, capitals and digits 0.7, Cyrillic 0.66, narrow ones 0.32, others
    0.6."""
    width = 0.0
    for char in text:
        if unicodedata.east_asian_width(char) in "WF":
            width += 1.0
        elif char.isupper() or char.isdigit():
            width += 0.7
        elif char in ".,:;'!|il" or unicodedata.category(char) == "Zs":
            width += 0.32
        elif "\u0400" <= char <= "\u04ff":
            width += 0.66
        else:
            width += 0.6
    return width * size


def fit(text: str, width: float, size: float = FONT) -> str:
    """``text`` shortened with an ellipsis to about ``width``."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def nice_ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """Rounded ticks from a multiple of the step at or below ``min(low, 0)`` to one at or above
    ``max(high, 0)``: about ``count`` steps of 1, 2, 2.5 or 5 times a power of ten (whole
    numbers only when ``whole``). An empty range is 0 to 1."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low <= 0:
        return [0.0, 1.0]
    raw = (high - low) / count
    power = 10.0 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if whole and power < 10 else (1, 2, 2.5, 5, 10)
    step = next(m * power for m in steps if m * power >= raw * (1 - 1e-9))
    if whole:
        step = max(round(step), 1)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, 10) + 0.0 for i in range(first, last + 1)]


@dataclass(frozen=True)
class XLabels:
    """How the x-axis labels are written: across or turned 45 degrees, every ``every``-th, each
    shortened to ``texts``."""

    turned: bool
    every: int
    texts: list[str]


def x_labels(labels: list[str], slot: float) -> XLabels:
    """The x-axis labels for slots ``slot`` wide: across when the widest fits its slot, else
    turned, shortened to fit below the axis, and only every n-th when slots are narrower than
    a turned label's height."""
    if not labels:
        return XLabels(False, 1, [])
    if max(text_width(label) for label in labels) <= slot - 4:
        return XLabels(False, 1, list(labels))
    every = max(1, math.ceil(TURNED_GAP / slot)) if slot > 0 else 1
    return XLabels(True, every, [fit(label, TURNED_ROOM) for label in labels])


# --- the SVG ----------------------------------------------------------------------------------


def _text(x: float, y: float, text: str, cls: str, anchor: str = "middle", extra: str = "") -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" class="{cls}" text-anchor="{anchor}"{extra}>'
        f"{escape(text)}</text>"
    )


def _tip(point: Point) -> str:
    said = point.tip or point.note
    note = f" ({said})" if said else ""
    return f"<title>{escape(point.label)}: {escape(point.text)}{escape(note)}</title>"


def _svg(kind: str, title: str, body: list[str], empty: str) -> Markup:
    if not body:
        body = [_text(WIDTH / 2, HEIGHT / 2, empty, "chart-empty")]
    label = escape(title)
    return Markup(
        f'<svg class="chart chart-{kind}" role="img" aria-label="{label}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMidYMid meet"><title>{label}</title>{"".join(body)}</svg>'
    )


@dataclass(frozen=True)
class Frame:
    """The plot area of a bar or line chart: its y-scale, slots and axis labels."""

    left: float
    top: float
    bottom: float  # the y of the plot's lowest tick
    ticks: list[float]
    slot: float
    labels: XLabels

    def y(self, value: float) -> float:
        low, high = self.ticks[0], self.ticks[-1]
        return self.bottom - (value - low) / (high - low) * (self.bottom - self.top)

    def x(self, i: int) -> float:
        return self.left + self.slot * (i + 0.5)


def _frame(points: list[Point], tick: Tick) -> tuple[Frame, list[str]]:
    """The plot's frame and its axes: gridlines, tick labels and x-axis labels."""
    values = [p.value for p in points]
    whole = all(float(v).is_integer() for v in values)
    ticks = nice_ticks(min(values), max(values), whole=whole)
    tick_texts = [tick(t) for t in ticks]
    left = max(text_width(t) for t in tick_texts) + 10
    slot = (WIDTH - PAD_RIGHT - left) / len(points)
    labels = x_labels([p.label for p in points], slot)
    bottom = HEIGHT - (BOTTOM_TURNED if labels.turned else BOTTOM_ACROSS)
    frame = Frame(left, PAD_TOP, bottom, ticks, slot, labels)
    body = []
    for value, text in zip(ticks, tick_texts, strict=True):
        y = frame.y(value)
        cls = "chart-axis" if value == 0 else "chart-grid"
        body.append(
            f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{WIDTH - PAD_RIGHT}" y2="{_n(y)}" '
            f'class="{cls}" data-tick="{_plain(value)}"/>'
        )
        body.append(_text(left - 5, y + 4, text, "chart-tick", "end"))
    for i, text in enumerate(labels.texts):
        if i % labels.every:
            continue
        x, y = frame.x(i), bottom + 15
        if labels.turned:  # it reaches down and left from (x, y): not past the left edge
            text = fit(text, (x - 2) / math.cos(math.pi / 4))
            turn = f' transform="rotate(-45 {_n(x)} {_n(y - 4)})"'
            body.append(_text(x, y, text, "chart-label", "end", turn))
        else:
            body.append(_text(x, y, text, "chart-label"))
    return frame, body


def _value_label(frame: Frame, points: list[Point], i: int, y: float, tick: Tick) -> str:
    """A point's (short) value above it, when there are few points and it fits its slot."""
    text = tick(points[i].value)
    if len(points) > MAX_VALUE_LABELS or text_width(text) > frame.slot:
        return ""
    above = y - 6 if points[i].value >= 0 else y + 14
    return _text(frame.x(i), above, text, "chart-value")


def bar(title: str, points: list[Point], empty: str, tick: Tick = _plain) -> Markup:
    """Vertical bars, one per point, from zero to its value, over a y-axis with gridlines."""
    if not points:
        return _svg("bar", title, [], empty)
    frame, body = _frame(points, tick)
    zero = frame.y(0)
    width = frame.slot * 0.7
    for i, p in enumerate(points):
        y = frame.y(p.value)
        top, height = min(y, zero), abs(zero - y)
        x = frame.x(i) - width / 2
        body.append(
            f'<g class="series-{i % SERIES}"><rect x="{_n(x)}" y="{_n(top)}" '
            f'width="{_n(width)}" height="{_n(height)}" data-value="{_plain(p.value)}">'
            f"{_tip(p)}</rect></g>"
        )
        body.append(_value_label(frame, points, i, y, tick))
    return _svg("bar", title, body, empty)


def line(title: str, points: list[Point], empty: str, tick: Tick = _plain) -> Markup:
    """A line through the points in order (periods, one per slot), a dot at each, over a
    y-axis with gridlines; a detached point (dates not set) is a dot after the line."""
    if not points:
        return _svg("line", title, [], empty)
    frame, body = _frame(points, tick)
    xy = [(frame.x(i), frame.y(p.value)) for i, p in enumerate(points)]
    joined = [f"{_n(x)},{_n(y)}" for (x, y), p in zip(xy, points, strict=True) if not p.detached]
    if len(joined) > 1:
        body.append(f'<polyline class="chart-path" fill="none" points="{" ".join(joined)}"/>')
    small = len(points) > 40
    for i, ((x, y), p) in enumerate(zip(xy, points, strict=True)):
        r = 2.5 if small else 4
        body.append(
            f'<circle class="chart-dot" cx="{_n(x)}" cy="{_n(y)}" r="{r}" '
            f'data-value="{_plain(p.value)}">{_tip(p)}</circle>'
        )
        body.append(_value_label(frame, points, i, y, tick))
    return _svg("line", title, body, empty)


def pie(title: str, points: list[Point], empty: str, tick: Tick = _plain) -> Markup:
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
                f'<g class="{cls}"><circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}" '
                f'data-value="{_plain(p.value)}">{_tip(p)}</circle></g>'
            )
        else:
            x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            x2, y2 = cx + r * math.cos(angle + sweep), cy + r * math.sin(angle + sweep)
            large = 1 if sweep > math.pi else 0
            body.append(
                f'<g class="{cls}"><path d="M{_n(cx)},{_n(cy)} L{_n(x1)},{_n(y1)} '
                f'A{_n(r)},{_n(r)} 0 {large} 1 {_n(x2)},{_n(y2)} Z" '
                f'data-value="{_plain(p.value)}">{_tip(p)}</path></g>'
            )
        angle += sweep
        y = 30 + i * 22
        body.append(f'<g class="{cls}"><rect x="250" y="{y - 11}" width="12" height="12"/></g>')
        legend = f"{p.label}: {tick(p.value)}"
        body.append(_text(268, y, fit(legend, WIDTH - 272), "chart-legend", "start"))
    return _svg("pie", title, body, empty)


def funnel(title: str, points: list[Point], empty: str, tick: Tick = _plain) -> Markup:
    """Stages top to bottom (the enum's order), each centred and as wide as its value (at least
    ``MIN_STAGE``), its name on the left and its value with its conversion from the previous
    stage inside it, or beside it when the stage is too narrow to hold them."""
    if not points:
        return _svg("funnel", title, [], empty)
    top = max((p.value for p in points), default=0.0)
    band = (HEIGHT - 10) / len(points)
    left = FUNNEL_LABELS + 10
    usable = WIDTH - left - PAD_RIGHT
    middle = left + usable / 2
    body = []
    for i, p in enumerate(points):
        share = max(p.value, 0) / top if top > 0 else 0.0
        width = max(share * usable, MIN_STAGE)
        x = middle - width / 2
        y = 5 + i * band
        zero = " chart-zero" if p.value <= 0 else ""
        body.append(
            f'<g class="series-{i % SERIES}{zero}"><rect x="{_n(x)}" y="{_n(y + 2)}" '
            f'width="{_n(width)}" height="{_n(band - 4)}" data-value="{_plain(p.value)}">'
            f"{_tip(p)}</rect></g>"
        )
        baseline = y + band / 2 + 4
        body.append(
            _text(FUNNEL_LABELS, baseline, fit(p.label, FUNNEL_LABELS - 4), "chart-label", "end")
        )
        said = " · ".join(part for part in (tick(p.value), p.note) if part)
        if text_width(said) + 10 <= width:
            body.append(_text(middle, baseline, said, "chart-value chart-inside"))
        else:
            body.append(_text(x + width + 5, baseline, said, "chart-value", "start"))
    return _svg("funnel", title, body, empty)


DRAW = {"bar": bar, "line": line, "pie": pie, "funnel": funnel}


def draw(kind: str, title: str, points: list[Point], empty: str, tick: Tick = _plain) -> Markup:
    """The chart ``kind`` (bar, line, pie, funnel) of ``points`` as an SVG element; ``tick``
    writes a number short (axis ticks, values beside bars and stages)."""
    return DRAW.get(kind, bar)(title, points, empty, tick)
