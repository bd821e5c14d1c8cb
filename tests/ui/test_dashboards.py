"""Dashboards and reports of examples/crm, in process, on SQLite and PostgreSQL.

Records are written straight into the tables (known owners, stages, amounts and dates); every
expected number is computed here in Python over those rows and compared with what the pages
(``data-value`` attributes, the SVG) and the JSON API show.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import itertools
import re
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tests.backend.conftest import Backend, crm, crm_backend, dialect  # noqa: F401 - fixtures
from tests.backend.payloads import create, deal_in

WEIGHTS = {
    "lead": Decimal("0.1"),
    "qualification": Decimal("0.2"),
    "proposal": Decimal("0.5"),
    "negotiation": Decimal("0.8"),
    "won": Decimal(1),
    "lost": Decimal(0),
}
OPEN = ("lead", "qualification", "proposal", "negotiation")
CENT = Decimal("0.01")
SVG = "{http://www.w3.org/2000/svg}"
# (owner, stage, amount, expected_close)
DEALS = [
    ("sales", "lead", "1000.00", dt.date(2024, 1, 5)),
    ("sales", "qualification", "250.50", dt.date(2024, 1, 31)),
    ("sales", "proposal", "333.33", dt.date(2024, 2, 1)),
    ("sales", "won", "120.00", dt.date(2024, 2, 29)),
    ("sales", "lost", "999.99", dt.date(2024, 3, 10)),
    ("sales2", "negotiation", "4000.00", dt.date(2024, 3, 15)),
    ("sales2", "proposal", "75.25", None),
    ("sales2", "won", "880.10", dt.date(2024, 12, 31)),
    ("manager", "lead", "10.00", dt.date(2025, 1, 1)),
]


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def add_deals(b: Backend) -> None:
    models = b.gen.models
    with b.database.session() as session:
        for i, (owner, stage, amount, close) in enumerate(DEALS):
            session.add(
                models.Deal(
                    name=f"Deal {i}",
                    stage=stage,
                    amount=Decimal(amount),
                    owner_id=b.users[owner].id,
                    expected_close=close,
                    closed_on=dt.date.today() if stage == "won" else None,
                )
            )
        session.commit()


def deals_of(*owners: str) -> list[tuple[str, str, Decimal, dt.date | None]]:
    return [(o, s, Decimal(a), c) for o, s, a, c in DEALS if not owners or o in owners]


def page(b: Backend, url: str, user: str | None) -> Any:
    b.client.cookies.set("locale", "en")
    return b.client.get(url, headers=b.as_user(user), follow_redirects=False)


def kpis(text: str) -> dict[str, str]:
    return dict(re.findall(r'data-kpi="([^"]+)" data-value="([^"]*)"', text))


def chart_rows(text: str, name: str) -> list[tuple[str, str]]:
    """(label, plain value) of each row of the data table of chart ``name``."""
    block = re.search(rf'id="chart-{name}".*?</figure>', text, re.DOTALL)
    assert block, name
    rows = re.findall(r'<th scope="row">([^<]*)</th><td data-value="([^"]*)"', block.group(0))
    return [(html.unescape(label), value) for label, value in rows]


def expected_kpis(
    deals: list[tuple[str, str, Decimal, dt.date | None]],
) -> dict[str, Decimal | int]:
    won = [a for _, s, a, _ in deals if s == "won"]
    return {
        "open_deals": sum(1 for _, s, _, _ in deals if s in OPEN),
        "pipeline": sum((a for _, s, a, _ in deals if s in OPEN), Decimal(0)),
        "forecast": cents(sum((a * WEIGHTS[s] for _, s, a, _ in deals if s != "lost"), Decimal(0))),
        "won_this_month": sum(won, Decimal(0)),
        "average_deal": cents(sum(won, Decimal(0)) / len(won)) if won else None,
    }


def same(shown: str, expected: Decimal | int | None) -> bool:
    if expected is None:
        return shown == ""
    return Decimal(shown) == Decimal(expected)


def test_manager_sees_every_kpi_exactly(crm: Backend) -> None:  # noqa: F811 - the fixture
    add_deals(crm)
    response = page(crm, "/dashboards/sales_overview", "manager")
    assert response.status_code == 200, response.text
    shown = kpis(response.text)
    for name, value in expected_kpis(deals_of()).items():
        assert same(shown[name], value), (name, shown[name], value)
    assert same(shown["unpaid_invoices"], 0)
    # the card shows the amount in the app's currency, formatted for the locale
    # Babel writes "RUB4,555.49"; CLDR's currency spacing puts a space after a word sign
    forecast = f"RUB\u00a0{expected_kpis(deals_of())['forecast']:,.2f}"
    card = re.search(r'data-kpi="forecast".*?</article>', response.text, re.DOTALL)
    assert card and f'<p class="kpi-value">{html.escape(forecast)}</p>' in card.group(0)


def test_a_seller_counts_only_their_own_deals(crm: Backend) -> None:  # noqa: F811 - the fixture
    add_deals(crm)
    for seller in ("sales", "sales2"):
        shown = kpis(page(crm, "/dashboards/sales_overview", seller).text)
        for name, value in expected_kpis(deals_of(seller)).items():
            assert same(shown[name], value), (seller, name, shown[name], value)
    funnel = dict(chart_rows(page(crm, "/dashboards/sales_overview", "sales2").text, "funnel"))
    assert funnel == {
        "Lead": "0",
        "Qualification": "0",
        "Proposal": "1",
        "Negotiation": "1",
        "Won": "1",
        "Lost": "0",
    }


def test_charts_group_by_stage_and_month_in_order(crm: Backend) -> None:  # noqa: F811 - the fixture
    add_deals(crm)
    text = page(crm, "/dashboards/sales_overview", "admin").text
    by_stage: dict[str, Decimal] = {}
    for _, s, a, _ in deals_of():
        by_stage[s] = by_stage.get(s, Decimal(0)) + a
    rows = chart_rows(text, "deals_by_stage")
    order = ["lead", "qualification", "proposal", "negotiation", "won", "lost"]
    assert [Decimal(v) for _, v in rows] == [by_stage[s] for s in order]
    assert rows[0][0] == "Lead"
    monthly: dict[dt.date | None, Decimal] = {}
    for _, s, a, close in deals_of():
        if s != "lost":
            key = close.replace(day=1) if close else None
            monthly[key] = monthly.get(key, Decimal(0)) + a * WEIGHTS[s]
    dated = sorted(k for k in monthly if k is not None)
    months = [dated[0]]  # every month from the first to the last, those without deals as zero
    while months[-1] < dated[-1]:
        after = months[-1] + dt.timedelta(days=31)
        months.append(after.replace(day=1))
    for month in months:
        monthly.setdefault(month, Decimal(0))
    assert len(months) == 13  # January 2024 to January 2025
    rows = chart_rows(text, "closing_per_month")
    assert [Decimal(v) for _, v in rows] == [cents(monthly[m]) for m in months] + [
        cents(monthly[None])
    ]
    assert [label for label, _ in rows] == [m.strftime("%b %Y") for m in months] + ["(not set)"]


def test_interactions_per_week_start_on_monday(crm: Backend) -> None:  # noqa: F811 - the fixture
    models = crm.gen.models
    moments = [
        dt.datetime(2024, 3, 3, 23, 30, tzinfo=dt.UTC),  # Sunday in UTC, Monday in Moscow
        dt.datetime(2024, 3, 4, 0, 10, tzinfo=dt.UTC),  # Monday: a new week
        dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC),  # Sunday of that week
        dt.datetime(2024, 12, 30, 9, 0, tzinfo=dt.UTC),  # the week of Jan 1 2025 starts in 2024
        dt.datetime(2025, 1, 1, 9, 0, tzinfo=dt.UTC),
    ]
    with crm.database.session() as session:
        for i, moment in enumerate(moments):
            session.add(models.Interaction(happened_at=moment, gist=f"call {i}", kind="call"))
        session.commit()
    weeks: dict[dt.date, int] = {}
    for moment in moments:  # weeks of the app's time zone (Moscow), not of UTC
        local = moment.astimezone(ZoneInfo("Europe/Moscow")).date()
        monday = local - dt.timedelta(days=local.weekday())
        weeks[monday] = weeks.get(monday, 0) + 1
    rows = chart_rows(page(crm, "/dashboards/team", "manager").text, "interactions_per_week")
    first, last = min(weeks), max(weeks)  # every week between, the empty ones as zero
    every = [first + dt.timedelta(days=7 * i) for i in range((last - first).days // 7 + 1)]
    assert [int(v) for _, v in rows] == [weeks.get(w, 0) for w in every]
    assert len(rows) == 44 and sum(int(v) for _, v in rows) == 5
    assert rows[0][0] == "Week of Mar 4, 2024"  # Sunday 23:30 in UTC is Monday in Moscow


def test_report_rows_totals_and_csv(crm: Backend) -> None:  # noqa: F811 - the fixture
    add_deals(crm)
    response = page(crm, "/reports/pipeline_by_owner", "manager")
    assert response.status_code == 200
    kept = [d for d in deals_of() if d[1] != "lost"]
    totals = re.search(r'<tr class="totals">(.*?)</tr>', response.text, re.DOTALL)
    assert totals
    values = re.findall(r'data-value="([^"]*)"', totals.group(1))
    amount = sum((a for _, _, a, _ in kept), Decimal(0))
    assert [Decimal(v) for v in values] == [
        len(kept),
        amount,
        cents(sum((a * WEIGHTS[s] for _, s, a, _ in kept), Decimal(0))),
        cents(amount / len(kept)),
    ]
    download = page(crm, "/reports/pipeline_by_owner.csv", "manager")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
    assert table[0] == ["Owner", "Stage", "Deals", "Amount", "Forecast", "Average amount"]
    groups = {(o, s) for o, s, _, _ in kept}
    assert len(table) == 1 + len(groups) + 1
    sales_lead = next(r for r in table if r[:2] == ["Sales", "Lead"])
    assert sales_lead[2:] == ["1", "1000.00", "100.00", "1000.00"]
    assert table[-1][0] == "Total" and Decimal(table[-1][3]) == amount


def test_roles_unknown_names_and_anonymous(crm: Backend) -> None:  # noqa: F811 - the fixture
    assert page(crm, "/dashboards/sales_overview", "support").status_code == 403
    assert page(crm, "/dashboards/team", "sales").status_code == 403
    assert page(crm, "/reports/pipeline_by_owner", "sales").status_code == 403
    assert page(crm, "/reports/pipeline_by_owner.csv", "sales").status_code == 403
    assert page(crm, "/dashboards/nope", "admin").status_code == 404
    assert page(crm, "/reports/nope", "admin").status_code == 404
    anonymous = page(crm, "/dashboards/sales_overview", None)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_every_chart_is_valid_accessible_svg_even_without_data(crm: Backend) -> None:  # noqa: F811 - the fixture
    seen = set()
    for board, user in (("sales_overview", "manager"), ("team", "manager")):
        for with_data in (False, True):
            if with_data:
                add_deals(crm)
            text = page(crm, f"/dashboards/{board}", user).text
            svgs = re.findall(r"<svg class=\"chart.*?</svg>", text, re.DOTALL)
            assert svgs
            for source in svgs:
                root = ET.fromstring(source)
                assert root.get("role") == "img" and root.get("aria-label")
                assert root.find(f"{SVG}title") is not None
                assert "style" not in source
                seen.add(root.get("class", "").split()[-1])
            if not with_data:
                assert "No data yet" in text
            crm.reset()
    assert {"chart-bar", "chart-line", "chart-pie", "chart-funnel"} <= seen


def test_empty_reports_render_with_zero_totals(crm: Backend) -> None:  # noqa: F811 - the fixture
    for name in ("pipeline_by_owner", "revenue_by_company", "tasks_by_assignee"):
        response = page(crm, f"/reports/{name}", "admin")
        assert response.status_code == 200, name
        assert "No data yet" in response.text


def test_the_json_api(crm: Backend) -> None:  # noqa: F811 - the fixture
    add_deals(crm)
    response = crm.client.get("/api/dashboards/sales_overview", headers=crm.as_user("sales"))
    assert response.status_code == 200, response.text
    data = response.json()
    assert (
        Decimal(data["kpis"]["forecast"]["value"]) == expected_kpis(deals_of("sales"))["forecast"]
    )
    points = {p["key"]: p["value"] for p in data["charts"]["funnel"]["points"]}
    assert points == {"lead": 1, "qualification": 1, "proposal": 1, "won": 1, "lost": 1}
    report = crm.client.get("/api/reports/pipeline_by_owner", headers=crm.as_user("manager")).json()
    assert report["totals"]["deals"] == sum(1 for d in DEALS if d[1] != "lost")
    assert report["rows"][0]["keys"][0]["display"]
    refused = crm.client.get("/api/reports/pipeline_by_owner", headers=crm.as_user("sales"))
    assert refused.status_code == 403
    assert crm.client.get("/api/dashboards/sales_overview").status_code == 401


def test_a_chart_over_a_rollup_sums_each_companys_won_total(crm: Backend) -> None:  # noqa: F811 - the fixture
    """won_by_industry sums Company.won_total (a rollup over the deals) per industry: deals
    won through the API, the total kept by the rollup, the chart read from the stored value."""
    made = {}
    for name, industry in (("Retail one", "retail"), ("Retail two", "retail"), ("Works", "it")):
        made[name] = create(crm, "companies", full=False, name=name, industry=industry)["id"]
    for company, amount in (("Retail one", "100.50"), ("Retail two", "20.25"), ("Works", "7.00")):
        deal_in(crm, "won", company=made[company], amount=amount)
    deal_in(crm, "proposal", company=made["Works"], amount="1000.00")  # not won: not counted
    rows = dict(
        chart_rows(page(crm, "/dashboards/sales_overview", "admin").text, "won_by_industry")
    )
    assert Decimal(rows["Retail"]) == Decimal("120.75")
    assert Decimal(rows["IT"]) == Decimal("7.00")


def svg_of(text: str, name: str) -> ET.Element:
    block = re.search(rf'id="chart-{name}".*?(<svg.*?</svg>)', text, re.DOTALL)
    assert block, name
    return ET.fromstring(block.group(1))


def plot_of(root: ET.Element) -> tuple[list[float], float, float]:
    """The y-axis ticks (from the gridlines) and the y of the lowest and highest."""
    lines = [g for g in root.iter(f"{SVG}line") if g.get("data-tick") is not None]
    ticks = [float(g.get("data-tick", "")) for g in lines]
    ys = [float(g.get("y1", "")) for g in lines]
    return ticks, ys[0], ys[-1]


def test_charts_draw_the_numbers_of_the_database(crm: Backend) -> None:  # noqa: F811 - the fixture
    add_deals(crm)
    text = page(crm, "/dashboards/sales_overview", "admin").text
    order = ["lead", "qualification", "proposal", "negotiation", "won", "lost"]
    amounts = {s: sum((a for _, st, a, _ in deals_of() if st == s), Decimal(0)) for s in order}
    counts = {s: sum(1 for _, st, _, _ in deals_of() if st == s) for s in order}

    # bars: rounded ticks from 0 past the largest sum, each bar as high as its sum
    root = svg_of(text, "deals_by_stage")
    ticks, bottom, top = plot_of(root)
    steps = {round(b - a, 6) for a, b in itertools.pairwise(ticks)}
    assert ticks[0] == 0 and len(steps) == 1 and ticks[-2] < max(amounts.values()) <= ticks[-1]
    assert steps.pop() in (500, 1000, 2000, 2500, 5000)  # a 1, 2, 2.5 or 5 times ten step
    bars = [r for r in root.iter(f"{SVG}rect")]
    assert [Decimal(r.get("data-value", "")) for r in bars] == [amounts[s] for s in order]
    for rect, stage in zip(bars, order, strict=True):
        height = float(rect.get("height", ""))
        assert abs(height - float(amounts[stage]) / ticks[-1] * (bottom - top)) < 0.15
        assert abs(float(rect.get("y", "")) + height - bottom) < 0.15
        tip = rect.find(f"{SVG}title")
        assert tip is not None and tip.text == f"{stage.title()}: RUB\u00a0{amounts[stage]:,.2f}"

    # the funnel: widths in proportion to the counts, zero stages at the least width, and the
    # conversion from the previous stage in the SVG and in the table
    root = svg_of(text, "funnel")
    stages = [r for r in root.iter(f"{SVG}rect")]
    widths = [float(r.get("width", "")) for r in stages]
    most = max(counts.values())
    for width, stage in zip(widths, order, strict=True):
        if counts[stage]:
            assert abs(width / max(widths) - counts[stage] / most) < 0.002, stage
        else:
            assert width == 6
    said = [t.text for t in root.iter(f"{SVG}text") if "chart-value" in t.get("class", "")]
    rows = re.findall(r'<td class="chart-conversion">([^<]*)</td>', text)
    expected = ["—"]
    for before, stage in itertools.pairwise(order):
        share = Decimal(counts[stage]) / counts[before] * 100 if counts[before] else None
        expected.append(
            "—"
            if share is None
            else f"{share.quantize(Decimal('0.1')):f}".rstrip("0").rstrip(".") + "%"
        )
    assert rows == expected
    assert said == [
        f"{counts[s]}" + ("" if e == "—" else f" · {e}")
        for s, e in zip(order, expected, strict=True)
    ]

    # the line: a dot per month from the first to the last (empty months at zero), joined;
    # the deal without a date is a dot after the line, not joined to it
    root = svg_of(text, "closing_per_month")
    dots = [c for c in root.iter(f"{SVG}circle")]
    line = root.find(f"{SVG}polyline")
    assert line is not None and len(line.get("points", "").split()) == len(dots) - 1 == 13
    ticks, bottom, top = plot_of(root)
    values = [float(c.get("data-value", "")) for c in dots]
    assert values.count(0) == 13 - 5  # months without a deal closing
    for dot, value in zip(dots, values, strict=True):
        assert abs(float(dot.get("cy", "")) - (bottom - value / ticks[-1] * (bottom - top))) < 0.15
    rows = chart_rows(text, "closing_per_month")
    assert [float(v) for _, v in rows] == values
