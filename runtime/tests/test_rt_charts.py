"""``crmgen_runtime.web.charts``: server-drawn SVG charts, named for screen readers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from crmgen_runtime.web import charts
from crmgen_runtime.web.charts import Point, draw
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


def test_bars_scale_to_the_largest_value_and_shorten_long_labels() -> None:
    root = parsed(charts.bar("T", POINTS, "-"))
    heights = [float(r.get("height", "0")) for r in root.iter(f"{SVG}rect")]
    inner = charts.HEIGHT - charts.PAD_TOP - charts.PAD_BOTTOM
    assert heights == [inner, inner / 3, 0]
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-label"]
    assert labels[2] == "A very long s…" and len(labels[2]) == charts.MAX_LABEL


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


def test_a_line_of_one_point_is_centred() -> None:
    root = parsed(charts.line("T", [Point("Jan", 4.0, "4")], "-"))
    (dot,) = root.iter(f"{SVG}circle")
    assert dot.get("cx") == str(charts.WIDTH // 2)
    polyline = next(root.iter(f"{SVG}polyline"))
    assert polyline.get("points", "").startswith("240,")


def test_funnel_bars_are_at_least_two_units_wide() -> None:
    root = parsed(charts.funnel("T", POINTS, "-"))
    widths = [float(r.get("width", "0")) for r in root.iter(f"{SVG}rect")]
    assert widths[0] == charts.WIDTH - 170 and widths[2] == 2
