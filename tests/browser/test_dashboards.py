"""The sales dashboard and a report in real Chromium: charts and numbers, the weighted forecast.

The deals are made through the API as seller1; the expected numbers are computed here from
every deal seller1 may list (the dashboard counts exactly those), weights by stage as in
specs/deals.yaml.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from tests.browser.pipeline import deal_in
from tests.browser.test_browser import PHONE, page, shots, sign_in  # noqa: F401 - fixtures
from tests.e2e.conftest import Server

WEIGHTS = {
    "lead": Decimal("0.1"),
    "qualification": Decimal("0.2"),
    "proposal": Decimal("0.5"),
    "negotiation": Decimal("0.8"),
    "won": Decimal(1),
    "lost": Decimal(0),
}
MINE = [
    ("lead", "1200.00"),
    ("qualification", "310.40"),
    ("proposal", "999.99"),
    ("negotiation", "4500.00"),
    ("lost", "777.00"),
]


def _visible_deals(live: Server, token: str) -> list[dict[str, Any]]:
    with live.client(token) as client:
        response = client.get("/api/deals", params={"limit": 500})
        assert response.status_code == 200, response.text
        return list(response.json()["items"])


def test_the_dashboard_shows_the_weighted_forecast(page: Any, live: Server, shots: Path) -> None:  # noqa: F811
    token = live.token("seller1")
    created = []
    for stage, amount in MINE:  # each reached the pipeline's way
        record = deal_in(live, "seller1", stage, name=f"Dashboard {stage}", amount=amount)
        created.append(record["id"])
    deals = _visible_deals(live, token)
    assert set(created) <= {d["id"] for d in deals}
    forecast = sum(
        (Decimal(d["amount"] or 0) * WEIGHTS[d["stage"]] for d in deals if d["stage"] != "lost"),
        Decimal(0),
    ).quantize(Decimal("0.01"), ROUND_HALF_UP)
    open_deals = sum(
        1 for d in deals if d["stage"] in ("lead", "qualification", "proposal", "negotiation")
    )
    by_stage: dict[str, Decimal] = {}
    for d in deals:
        by_stage[d["stage"]] = by_stage.get(d["stage"], Decimal(0)) + Decimal(d["amount"] or 0)

    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/locale?set=en&next=/dashboards/sales_overview")
    card = page.locator("[data-kpi=forecast]")
    assert Decimal(card.get_attribute("data-value")) == forecast
    value = card.locator(".kpi-value")
    shown = value.get_attribute("title") or value.inner_text()  # compact from 10,000: in full
    assert f"{forecast:,.2f}" in shown  # English: grouped thousands, two decimals
    assert int(page.locator("[data-kpi=open_deals]").get_attribute("data-value")) == open_deals

    # the bar chart: one bar per stage, its value in the SVG and in the data table
    chart = page.locator("#chart-deals_by_stage")
    svg = chart.locator("svg").evaluate("e => e.outerHTML")
    root = ET.fromstring(svg.replace("&nbsp;", "\u00a0"))  # HTML's serialization of U+00A0
    assert root.get("role") == "img"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    rows = chart.locator("table tbody tr")
    values = [
        Decimal(rows.nth(i).locator("td").get_attribute("data-value")) for i in range(rows.count())
    ]
    assert sorted(values) == sorted(by_stage.values())
    negotiation = chart.locator("table tbody tr", has_text="Negotiation").locator("td")
    assert Decimal(negotiation.get_attribute("data-value")) == by_stage["negotiation"]
    tips = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
    assert f"Negotiation: {negotiation.inner_text()}" in tips  # the bar's tooltip: the same
    assert texts  # the axis' ticks and labels
    assert page.locator("svg.chart-funnel").is_visible()
    assert page.locator("svg.chart-line").count() >= 1
    page.screenshot(path=str(shots / "dashboard-desktop.png"), full_page=True)

    page.set_viewport_size(PHONE)
    page.goto(f"{live.base}/dashboards/sales_overview")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the dashboard scrolls sideways ({width}px)"
    page.screenshot(path=str(shots / "dashboard-phone.png"), full_page=True)


def test_the_manager_report_has_totals(page: Any, live: Server, shots: Path) -> None:  # noqa: F811
    sign_in(page, live, "admin")
    deals = _visible_deals(live, live.token("admin"))
    kept = [d for d in deals if d["stage"] != "lost"]
    page.goto(f"{live.base}/reports/pipeline_by_owner")
    totals = page.locator("tr.totals td")
    assert int(totals.nth(0).get_attribute("data-value")) == len(kept)
    amount = sum((Decimal(d["amount"] or 0) for d in kept), Decimal(0))
    assert Decimal(totals.nth(1).get_attribute("data-value")) == amount
    page.screenshot(path=str(shots / "report-desktop.png"), full_page=True)
    with page.expect_download() as download:
        page.click("a[href$='.csv']")
    assert download.value.suggested_filename == "pipeline_by_owner.csv"


# Each KPI value's text: (its width, the width it is given, the lines it takes).
KPI_LINES = """() => [...document.querySelectorAll('.kpi-value')].map(e => {
  const range = document.createRange();
  range.selectNodeContents(e.querySelector('[aria-hidden]') || e);
  const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  return [e.scrollWidth, e.clientWidth, tops.size, e.textContent];
})"""
# The x-axis labels and ticks of each bar and line chart: their boxes, whether turned, the chart's box.
AXIS_LABELS = """() => [...document.querySelectorAll('svg.chart-bar, svg.chart-line')].map(svg => {
  const box = svg.getBoundingClientRect();
  const texts = [...svg.querySelectorAll('text.chart-label, text.chart-tick')].map(t => {
    const r = t.getBoundingClientRect();
    return [r.left, r.right, r.top, r.bottom, t.hasAttribute('transform'), t.textContent];
  });
  return [[box.left, box.right, box.top, box.bottom], texts];
})"""


def test_kpis_sit_on_one_line_and_axis_labels_fit(page: Any, live: Server, shots: Path) -> None:  # noqa: F811
    # a value too long to write out (compact on the card) and closing dates over fourteen months
    big = deal_in(live, "seller1", "proposal", name="KPI width", amount="98765432.10")
    with live.client(live.token("seller1")) as client:  # leads: created in their first stage
        for month in range(14):
            year, m = divmod(month + 8, 12)
            close = f"{2025 + year}-{m + 1:02d}-15"
            deal = {"name": f"Close {month}", "amount": "10.00", "expected_close": close}
            assert client.post("/api/deals", json=deal).status_code == 201
    assert big["amount"] == "98765432.10"
    sign_in(page, live, "seller1")
    for width in (1440, PHONE["width"]):
        page.set_viewport_size({"width": width, "height": 900})
        # every language at phone width, where labels are the tightest
        for locale in ("en", "ru") if width > PHONE["width"] else ("en", "ru", "id", "bs", "zh"):
            page.goto(f"{live.base}/locale?set={locale}&next=/dashboards/sales_overview")
            for scroll, given, lines, text in page.evaluate(KPI_LINES):
                assert lines == 1 and scroll <= given, (width, locale, text, scroll, given)
            pipeline = page.locator("[data-kpi=pipeline] .kpi-value")
            full = pipeline.get_attribute("title")  # the compact value's full amount
            assert full and full in pipeline.locator(".visually-hidden").text_content()
            compact = {"en": "M", "ru": "млн", "id": "jt", "bs": "mil.", "zh": "万"}[locale]
            assert compact in pipeline.locator("[aria-hidden]").inner_text()
            for (left, right, top, bottom), texts in page.evaluate(AXIS_LABELS):
                across = []
                for x1, x2, y1, y2, turned, text in texts:
                    inside = (
                        left - 1 <= x1 and x2 <= right + 1 and top - 1 <= y1 and y2 <= bottom + 1
                    )
                    assert inside, (
                        width,
                        locale,
                        text,
                        (x1, x2, y1, y2),
                        (left, right, top, bottom),
                    )
                    if not turned:
                        across.append((y1, x1, x2, text))
                across.sort()
                for (ya, _, a2, ta), (yb, b1, _, tb) in itertools.pairwise(across):
                    assert ya != yb or a2 <= b1 + 0.5, (width, locale, ta, tb)  # no overlap
            months = page.locator("#chart-closing_per_month tbody tr")
            assert months.count() >= 14 + 1  # every month between, and the deals without a date
            width_now = page.evaluate("document.documentElement.scrollWidth")
            assert width_now <= width + 1, (locale, width_now)
            if locale == "ru":
                page.screenshot(path=str(shots / f"dashboard-ru-{width}.png"), full_page=True)
            page.goto(f"{live.base}/")  # the home page's KPIs: the same
            home = page.evaluate(KPI_LINES)
            assert len(home) >= 2
            for scroll, given, lines, text in home:
                assert lines == 1 and scroll <= given, (width, locale, text, scroll, given)
