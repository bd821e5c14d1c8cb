"""The sales dashboard and a report in real Chromium: charts and numbers, the weighted forecast.

The deals are made through the API as seller1; the expected numbers are computed here from
every deal seller1 may list (the dashboard counts exactly those), weights by stage as in
specs/deals.yaml.
"""

from __future__ import annotations

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
    shown = card.locator(".kpi-value").inner_text()
    assert f"{forecast:,.2f}" in shown  # English: grouped thousands, two decimals
    assert int(page.locator("[data-kpi=open_deals]").get_attribute("data-value")) == open_deals

    # the bar chart: one bar per stage, its value in the SVG and in the data table
    chart = page.locator("#chart-deals_by_stage")
    svg = chart.locator("svg").evaluate("e => e.outerHTML")
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    rows = chart.locator("table tbody tr")
    values = [
        Decimal(rows.nth(i).locator("td").get_attribute("data-value")) for i in range(rows.count())
    ]
    assert sorted(values) == sorted(by_stage.values())
    negotiation = chart.locator("table tbody tr", has_text="Negotiation").locator("td")
    assert Decimal(negotiation.get_attribute("data-value")) == by_stage["negotiation"]
    assert negotiation.inner_text() in texts  # the same formatted number is drawn on the bar
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
