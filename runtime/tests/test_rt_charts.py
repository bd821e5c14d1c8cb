"""``crmgen_runtime.web.charts``: server-drawn SVG charts, named for screen readers."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest
from crmgen_runtime.web import charts
from crmgen_runtime.web.charts import Point, draw
from crmgen_runtime.web.dashboards import conversion, fill_periods, next_period
from markupsafe import Markup

SVG = "{http://www.w3.org/2000/svg}"
POINTS = [
    Point("Won", 30.0, "30"),
    Point("Lost <& gone>", 10.0, "10"),
    Point("A very long stage name indeed", 0.0, "0"),
]


def parsed(svg: Markup) -> ET.Element:
    return ET.fromstring(str(svg))


@pytest.mark.parametrize("kind", ["bar", "line", "pie", "funnel"])
def test_each_kind_is_an_accessible_svg_without_style_attributes(kind: str) -> None:
    svg = draw(kind, "Deals by stage", POINTS, "No data")
    assert isinstance(svg, Markup)
    root = parsed(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "Deals by stage"
    assert root.get("class") == f"chart chart-{kind}"
    assert root.findtext(f"{SVG}title") == "Deals by stage"
    assert "style=" not in svg  # the CSP forbids it: colours are classes
    assert "Lost &lt;&amp; gone&gt;" in svg  # labels are escaped
    assert "<script" not in svg
    classes = {e.get("class") for e in root.iter()}
    assert "series-0" in classes or "chart-path" in classes


@pytest.mark.parametrize("kind", ["bar", "line", "pie", "funnel"])
def test_no_points_draws_the_empty_message(kind: str) -> None:
    svg = draw(kind, "Nothing <yet>", [], "No data yet")
    root = parsed(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["No data yet"]
    assert root.get("aria-label") == "Nothing <yet>"


def test_an_unknown_kind_draws_bars() -> None:
    assert draw("radar", "T", POINTS, "-") == charts.bar("T", POINTS, "-")


def test_bars_scale_to_the_top_tick_and_shorten_long_labels() -> None:
    root = parsed(charts.bar("T", POINTS, "-"))
    ticks = [float(g.get("data-tick", "")) for g in root.iter(f"{SVG}line")]
    assert ticks == [0, 10, 20, 30]
    ys = [float(g.get("y1", "")) for g in root.iter(f"{SVG}line")]
    heights = [float(r.get("height", "0")) for r in root.iter(f"{SVG}rect")]
    inner = ys[0] - ys[-1]
    assert heights == [pytest.approx(inner, abs=0.1), pytest.approx(inner / 3, abs=0.1), 0]
    labels = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "chart-label"]
    assert labels[2].endswith("…") and labels[2].startswith("A very long")
    assert max(charts.text_width(label) for label in labels) <= charts.TURNED_ROOM


def test_all_zero_values_do_not_divide_by_zero() -> None:
    zeros = [Point("a", 0.0, "0"), Point("b", -2.0, "-2")]
    for kind in ("bar", "line", "funnel"):
        assert parsed(draw(kind, "T", zeros, "-")) is not None
    # a pie shows positive values only: none here, so the empty message
    assert [t.text for t in parsed(charts.pie("T", zeros, "none")).iter(f"{SVG}text")] == ["none"]


def test_a_pie_of_one_value_is_a_circle_and_of_many_is_slices() -> None:
    one = parsed(charts.pie("T", [Point("all", 5.0, "5")], "-"))
    assert len(list(one.iter(f"{SVG}circle"))) == 1
    many = parsed(charts.pie("T", [Point("a", 3.0, "3"), Point("b", 1.0, "1")], "-"))
    paths = [p.get("d", "") for p in many.iter(f"{SVG}path")]
    assert len(paths) == 2
    assert re.search(r" 1 1 ", paths[0])  # three quarters: the large arc
    assert re.search(r" 0 1 ", paths[1])
    legend = [t.text for t in many.iter(f"{SVG}text") if t.get("class") == "chart-legend"]
    assert legend == ["a: 3", "b: 1"]


def test_a_line_of_one_point_is_a_dot_in_the_middle_of_the_plot() -> None:
    root = parsed(charts.line("T", [Point("Jan", 4.0, "4")], "-"))
    (dot,) = root.iter(f"{SVG}circle")
    grid = next(root.iter(f"{SVG}line"))
    middle = (float(grid.get("x1", "")) + float(grid.get("x2", ""))) / 2
    assert float(dot.get("cx", "")) == pytest.approx(middle, abs=0.1)
    assert root.find(f"{SVG}polyline") is None


def test_a_detached_point_is_not_joined_to_the_line() -> None:
    points = [Point("Jan", 1.0, "1"), Point("Feb", 0.0, "0"), Point("Mar", 3.0, "3")]
    root = parsed(charts.line("T", [*points, Point("(not set)", 2.0, "2", detached=True)], "-"))
    polyline = root.find(f"{SVG}polyline")
    assert polyline is not None and len(polyline.get("points", "").split()) == 3
    assert len(list(root.iter(f"{SVG}circle"))) == 4


def test_funnel_stages_are_as_wide_as_their_values_and_zero_ones_still_show() -> None:
    stages = [
        Point("Lead", 40.0, "40"),
        Point("Won", 10.0, "10", note="25%", tip="25% of the previous stage"),
        Point("Lost", 0.0, "0", note="0%"),
    ]
    root = parsed(charts.funnel("T", stages, "-"))
    widths = [float(r.get("width", "0")) for r in root.iter(f"{SVG}rect")]
    usable = charts.WIDTH - charts.FUNNEL_LABELS - 10 - charts.PAD_RIGHT
    assert widths == [usable, usable / 4, charts.MIN_STAGE]
    centres = {
        round(float(r.get("x", "")) + float(r.get("width", "")) / 2, 1)
        for r in root.iter(f"{SVG}rect")
    }
    assert len(centres) == 1  # centred: a funnel
    groups = [g.get("class") for g in root.iter(f"{SVG}g")]
    assert groups[2] == "series-2 chart-zero"
    values = [t for t in root.iter(f"{SVG}text") if "chart-value" in (t.get("class") or "")]
    assert [t.text for t in values] == ["40", "10 · 25%", "0 · 0%"]
    # the stage of zero: its label beside the stage, not over the middle
    assert values[2].get("text-anchor") == "start"
    assert float(values[2].get("x", "")) > charts.WIDTH / 2
    tips = [t.text for t in root.iter(f"{SVG}title")][1:]
    assert tips == ["Lead: 40", "Won: 10 (25% of the previous stage)", "Lost: 0 (0%)"]


@pytest.mark.parametrize(
    ("low", "high", "whole", "ticks"),
    [
        (0, 7123.4, False, [0, 2000, 4000, 6000, 8000]),
        (0, 10, False, [0, 2, 4, 6, 8, 10]),
        (0, 3, True, [0, 1, 2, 3]),
        (0, 12, True, [0, 5, 10, 15]),  # counts: no step of 2.5
        (0, 1, True, [0, 1]),
        (0, 1, False, [0, 0.2, 0.4, 0.6, 0.8, 1]),
        (0, 0, False, [0, 1]),
        (-5, 12, False, [-5, 0, 5, 10, 15]),
        (3, 4, False, [0, 1, 2, 3, 4]),  # always from zero
        (0, 1234567, False, [0, 250000, 500000, 750000, 1000000, 1250000]),
        (0, 0.03, False, [0, 0.01, 0.02, 0.03]),
    ],
)
def test_nice_ticks(low: float, high: float, whole: bool, ticks: list[float]) -> None:
    assert charts.nice_ticks(low, high, whole=whole) == ticks


def test_x_labels_across_turned_and_every_nth() -> None:
    assert charts.x_labels(["Jan", "Feb"], 60) == charts.XLabels(False, 1, ["Jan", "Feb"])
    months = ["янв. 2024 г.", "февр. 2024 г.", "сент. 2024 г."]
    turned = charts.x_labels(months, 30)
    assert turned.turned and turned.every == 1 and turned.texts == months
    many = charts.x_labels(months * 12, 5)  # 36 months in 180 units: every third is written
    assert many.turned and many.every == 3
    long = charts.x_labels(["Очень длинное название этапа продаж"], 30)
    assert long.texts[0].endswith("…") and charts.text_width(long.texts[0]) <= charts.TURNED_ROOM
    assert charts.x_labels([], 10) == charts.XLabels(False, 1, [])


def test_ticks_are_written_by_the_given_function() -> None:
    root = parsed(charts.bar("T", [Point("a", 1500000.0, "1,500,000")], "-", lambda v: f"<{v:g}>"))
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-tick"]
    assert ticks == ["<0>", "<500000>", "<1e+06>", "<1.5e+06>"]
    assert "&lt;1.5e+06&gt;" in str(
        charts.bar("T", [Point("a", 1500000.0, "x")], "-", lambda v: f"<{v:g}>")
    )


def test_fill_periods_makes_a_continuous_time_axis() -> None:
    jan, mar = dt.date(2024, 1, 1), dt.date(2024, 3, 1)
    dec = dt.date(2023, 12, 1)
    assert fill_periods([mar, None, dec], "month") == [dec, jan, dt.date(2024, 2, 1), mar, None]
    monday = dt.date(2024, 12, 30)
    weeks = fill_periods([monday + dt.timedelta(days=21), monday], "week")
    assert weeks == [monday + dt.timedelta(days=7 * i) for i in range(4)]
    assert fill_periods([dt.date(2024, 2, 28), dt.date(2024, 3, 1)], "day") == [
        dt.date(2024, 2, 28),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 1),
    ]
    assert fill_periods([dt.date(2022, 1, 1), dt.date(2024, 1, 1)], "year") == [
        dt.date(2022, 1, 1),
        dt.date(2023, 1, 1),
        dt.date(2024, 1, 1),
    ]
    assert fill_periods(["won", "lost"], None) == ["won", "lost"]  # no period: as they are
    assert fill_periods([None], "month") == [None]
    # an axis longer than MAX_PERIODS keeps only the periods that have records
    far = [dt.date(1900, 1, 1), dt.date(2024, 1, 1)]
    assert fill_periods(far, "day") == far
    assert len(fill_periods([dt.date(1950, 1, 1), dt.date(2024, 1, 1)], "month")) == 74 * 12 + 1


def test_next_period_of_each_grain() -> None:
    assert next_period(dt.date(2024, 1, 31), "day") == dt.date(2024, 2, 1)
    assert next_period(dt.date(2024, 1, 1), "month") == dt.date(2024, 2, 1)
    assert next_period(dt.date(2024, 12, 1), "month") == dt.date(2025, 1, 1)
    assert next_period(dt.date(2024, 12, 30), "week") == dt.date(2025, 1, 6)
    assert next_period(dt.date(2024, 1, 1), "year") == dt.date(2025, 1, 1)


@pytest.mark.parametrize(
    ("value", "previous", "locale", "text"),
    [
        (1, 2, "en", "50%"),
        (1, 3, "en", "33.3%"),
        (1, 3, "ru", "33,3\xa0%"),
        (2, 1, "en", "200%"),
        (0, 4, "en", "0%"),
        (3, 0, "en", ""),  # after a stage of zero: no share
        (3, None, "en", ""),  # the first stage
    ],
)
def test_conversion_from_the_previous_stage(
    value: float, previous: float | None, locale: str, text: str
) -> None:
    assert conversion(value, previous, locale) == text
