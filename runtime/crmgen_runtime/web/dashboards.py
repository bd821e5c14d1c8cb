"""Dashboards (KPI cards, SVG charts) and reports (a table with totals, CSV download).

``/dashboards/<name>`` and ``/reports/<name>`` (``.csv`` for the download) show the numbers
the app's ``Analytics`` computes (``site.analytics``: one aggregate query per KPI, chart or
report, limited by the user's record rules); the spec's labels and formats come from
``ui.json`` (``site.spec["dashboards"]``). A page of a role the user lacks is a 403 page; values
are formatted per locale with Babel.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any, NamedTuple

from babel import dates, numbers
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime.analytics import Analytics, Result
from crmgen_runtime.formats import COMPACT_FROM, babel_locale, format_compact
from crmgen_runtime.principal import current_user
from crmgen_runtime.resources import Resource
from crmgen_runtime.web import charts
from crmgen_runtime.web.site import Site, login_redirect, secure, site_of

# How a period's first day reads, as a Babel date skeleton (week: the date of its Monday).
PERIOD_SKELETONS = {"day": "yMMMd", "week": "yMMMd", "month": "yMMM", "year": "y"}


# --- values as people read them ----------------------------------------------------------------


def number_text(site: Site, value: Any, fmt: str, locale: str) -> str:
    """``value`` formatted per ``fmt`` (number, money, percent) and ``locale``; empty is "—"."""
    if value is None:
        return "—"
    try:
        if fmt == "money":
            return site.formats.format_money(value, locale)
        if fmt == "percent":
            return numbers.format_percent(value, locale=locale, decimal_quantization=False)
        return numbers.format_decimal(value, locale=locale, decimal_quantization=False)
    except (ValueError, TypeError, numbers.UnknownCurrencyError):
        return str(value)


def short_text(
    site: Site, value: Any, fmt: str, locale: str, at_least: Decimal = COMPACT_FROM
) -> str:
    """``value`` written short for a KPI card (from ``COMPACT_FROM`` on) or a chart's axis
    (``at_least=0``): numbers and amounts compact (``1.2M``, ``1,2 млн ₽``, ``RUB 500``),
    percentages as ``number_text`` writes them."""
    if value is None:
        return "—"
    if fmt == "percent":
        return number_text(site, value, fmt, locale)
    currency = site.formats.currency if fmt == "money" else None
    return format_compact(value, locale, currency, at_least)


MAX_PERIODS = 1000  # a time axis of more periods shows only the periods that have records


def next_period(day: dt.date, period: str) -> dt.date:
    """The first day of the period after the one starting on ``day``."""
    if period == "day":
        return day + dt.timedelta(days=1)
    if period == "week":
        return day + dt.timedelta(days=7)
    if period == "month":
        return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day.replace(year=day.year + 1, month=1, day=1)


def fill_periods(keys: list[Any], period: str | None) -> list[Any]:
    """Every period from the first of ``keys`` to the last (each a period's first day), in
    order, then the keys that are no date (None, not set); ``keys`` unchanged when there is no
    period or the axis would hold more than ``MAX_PERIODS``."""
    days = sorted(k for k in keys if isinstance(k, dt.date))
    if period not in PERIOD_SKELETONS or not days:
        return keys
    filled = [days[0]]
    while filled[-1] < days[-1]:
        if len(filled) >= MAX_PERIODS:
            return keys
        filled.append(next_period(filled[-1], period))
    others = [k for k in keys if not isinstance(k, dt.date)]
    on_axis = set(filled)
    return filled + [k for k in days if k not in on_axis] + others


def conversion(value: float, previous: float | None, locale: str) -> str:
    """A stage's value as a share of the previous stage's (``50%``); empty for the first stage
    and after a stage of zero."""
    if not previous or previous <= 0:
        return ""
    share = round(value / previous, 3)  # to a tenth of a percent
    return numbers.format_percent(share, locale=babel_locale(locale), decimal_quantization=False)


def key_text(
    site: Site, group: dict[str, Any], entity: str, value: Any, period: str | None, locale: str
) -> str:
    """A group's value as a label: an enum's label, a reference's display, a period ..."""
    if value is None:
        return site.translator(locale)("dash_empty")
    if isinstance(value, dt.date) and period in PERIOD_SKELETONS:
        text = dates.format_skeleton(PERIOD_SKELETONS[period], value, locale=locale)
        if period == "week":
            return site.translator(locale)("dash_week_of").format(date=text)
        return text
    meta = site.entities.get(entity, {}).get("fields", {}).get(group["name"], {})
    return site.cell(meta, value, locale)


def plain(value: Any) -> str:
    """A value as the CSV file and ``data-value`` attributes hold it (machine-readable)."""
    return "" if value is None else str(value)


# --- pages ---------------------------------------------------------------------------------------


def analytics_of(site: Site) -> Analytics:
    """The app's dashboards and reports (``Site(..., analytics=...)``)."""
    if site.analytics is None:
        raise LookupError("this app's site has no analytics")
    return site.analytics


class Opened(NamedTuple):
    """A dashboard or report its reader may open, computed for them."""

    site: Site
    user: Any
    name: str
    item: dict[str, Any]  # the dashboard's or report's UI data
    locale: str
    result: Any  # a dashboard's KPIs and charts, or a report's ``Result``


async def _opened(request: Request, kind: str) -> Opened | Response:
    """The dashboard or report (``kind``: boards, reports) of the path computed with the
    signed-in user's rights, or the page saying why not."""
    site = site_of(request)
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    name = request.path_params["name"]
    item = site.spec["dashboards"][kind].get(name)
    if item is None:
        return site.error_page(request, 404, "not_found", user)
    analytics = analytics_of(site)
    if not analytics.may_open(tuple(item["roles"]), user):
        return site.error_page(request, 403, "forbidden", user)
    compute = analytics.dashboard if kind == "boards" else analytics.report
    result = await run_in_threadpool(compute, request.app.state.db, user, name)
    return Opened(site, user, name, item, site.locale_of(request), result)


def _kpi(site: Site, kpi: dict[str, Any], result: Result, locale: str) -> dict[str, Any]:
    value = result.value
    return {
        "name": kpi["name"],
        "label": site.pick(kpi["label"], locale),
        "available": result.available,
        "value": plain(value),
        "text": short_text(site, value, kpi["format"], locale) if result.available else "—",
        "full": number_text(site, value, kpi["format"], locale) if result.available else "—",
    }


def _points(
    site: Site, chart: dict[str, Any], result: Result, locale: str
) -> list[tuple[charts.Point, str]]:
    """The chart's points with their plain values; a funnel shows every stage of its enum."""
    found = {_identity(row.keys[0]): row.values[0] for row in result.rows}
    keys: list[Any] = [row.keys[0] for row in result.rows]
    if chart["type"] == "funnel":
        meta = (
            site.entities.get(chart["entity"], {}).get("fields", {}).get(chart["group"]["name"], {})
        )
        stages = [name for name, _ in meta.get("choices", [])]
        keys = stages + [k for k in keys if k not in stages]
    elif chart["type"] in ("bar", "line"):
        keys = fill_periods(keys, chart["period"])
    timed = chart["type"] in ("bar", "line") and chart["period"] in PERIOD_SKELETONS
    points = []
    previous: float | None = None
    for key in keys:
        value = found.get(_identity(key), 0)
        label = key_text(site, chart["group"], chart["entity"], key, chart["period"], locale)
        text = number_text(site, value, chart["format"], locale)
        number = float(value or 0)
        note = tip = ""
        if chart["type"] == "funnel":
            note = conversion(number, previous, locale)
            tip = site.translator(locale)("dash_of_previous").format(percent=note) if note else ""
            previous = number
        detached = timed and not isinstance(key, dt.date)
        point = charts.Point(label, number, text, detached, note, tip)
        points.append((point, plain(value)))
    return points


def _identity(key: Any) -> Any:
    """A group key usable in a dict (a reference by its id)."""
    return key["id"] if isinstance(key, dict) else key


def _chart(site: Site, chart: dict[str, Any], result: Result, locale: str) -> dict[str, Any]:
    label = site.pick(chart["label"], locale)
    points = _points(site, chart, result, locale) if result.available else []
    drawn = [p for p, _ in points]
    return {
        "name": chart["name"],
        "label": label,
        "type": chart["type"],
        "available": result.available,
        "group_label": site.pick(chart["group"]["label"], locale),
        "rows": [
            {"label": p.label, "text": p.text, "value": raw, "note": p.note} for p, raw in points
        ],
        "svg": charts.draw(
            chart["type"],
            label,
            drawn,
            site.translator(locale)("dash_no_data"),
            lambda value: short_text(site, value, chart["format"], locale, Decimal(0)),
        ),
    }


async def dashboard_page(request: Request) -> Response:
    opened = await _opened(request, "boards")
    if isinstance(opened, Response):
        return opened
    site, user, name, board, locale, data = opened
    context = {
        "name": name,
        "heading": site.pick(board["label"], locale),
        "kpis": [_kpi(site, k, data["kpis"][k["name"]], locale) for k in board["kpis"]],
        "charts": [_chart(site, c, data["charts"][c["name"]], locale) for c in board["charts"]],
    }
    return site.render(request, "dashboard.html", context, user=user)


def _table(site: Site, report: dict[str, Any], result: Result, locale: str) -> dict[str, Any]:
    """The report's header, rows and totals, each cell as text and as its plain value."""
    groups, columns = report["group_by"], report["columns"]

    def values(items: tuple[Any, ...]) -> list[dict[str, str]]:
        return [
            {"text": number_text(site, v, c["format"], locale), "value": plain(v)}
            for c, v in zip(columns, items, strict=False)
        ]

    return {
        "groups": [site.pick(g["label"], locale) for g in groups],
        "columns": [site.pick(c["label"], locale) for c in columns],
        "rows": [
            {
                "keys": [
                    key_text(site, g, report["entity"], k, None, locale)
                    for g, k in zip(groups, row.keys, strict=False)
                ],
                "values": values(row.values),
            }
            for row in result.rows
        ],
        "totals": values(result.totals),
    }


async def report_page(request: Request) -> Response:
    opened = await _opened(request, "reports")
    if isinstance(opened, Response):
        return opened
    site, user, name, report, locale, result = opened
    context = {
        "name": name,
        "heading": site.pick(report["label"], locale),
        "available": result.available,
        "table": _table(site, report, result, locale),
    }
    return site.render(request, "report.html", context, user=user)


async def report_csv(request: Request) -> Response:
    """The report as CSV: group labels, then plain numbers; the last row holds the totals."""
    opened = await _opened(request, "reports")
    if isinstance(opened, Response):
        return opened
    site, _user, name, report, locale, result = opened
    table = _table(site, report, result, locale)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table["groups"] + table["columns"])
    for row in table["rows"]:
        writer.writerow(row["keys"] + [v["value"] for v in row["values"]])
    if result.available:
        blanks = [""] * max(len(table["groups"]) - 1, 0)
        label = [site.translator(locale)("dash_total")] if table["groups"] else []
        writer.writerow(label + blanks + [v["value"] for v in table["totals"]])
    response = Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
    return secure(request, response)


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboards/{name}", dashboard_page, methods=["GET"], name="dashboard"),
        Route("/reports/{name}.csv", report_csv, methods=["GET"], name="report_csv"),
        Route("/reports/{name}", report_page, methods=["GET"], name="report"),
    ]


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    return []
