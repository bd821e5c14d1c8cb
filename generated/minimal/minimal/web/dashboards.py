"""Dashboards (KPI cards, SVG charts) and reports (a table with totals, CSV download).

``/dashboards/<name>`` and ``/reports/<name>`` (``.csv`` for the download) show the numbers
``analytics`` computes (one aggregate query per KPI, chart or report, limited by the user's
record rules); the spec's labels and formats come from ``ui.json`` (``SPEC["dashboards"]``).
A page of a role the user lacks is a 403 page; values are formatted per locale with Babel.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from babel import dates, numbers
from crmgen_runtime.principal import current_user
from crmgen_runtime.resources import Resource
from crmgen_runtime.web import charts
from crmgen_runtime.web.site import (
    login_redirect,
    secure,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from minimal import analytics
from minimal.settings import FORMATS
from minimal.web.core import (
    ENTITIES,
    SPEC,
    cell,
    error_page,
    locale_of,
    pick,
    render,
    translator,
)

DATA: dict[str, Any] = SPEC["dashboards"]
# How a period's first day reads, as a Babel date skeleton (week: the date of its Monday).
PERIOD_SKELETONS = {"day": "yMMMd", "week": "yMMMd", "month": "yMMM", "year": "y"}


# --- values as people read them ----------------------------------------------------------------


def number_text(value: Any, fmt: str, locale: str) -> str:
    """``value`` formatted per ``fmt`` (number, money, percent) and ``locale``; empty is "—"."""
    if value is None:
        return "—"
    try:
        if fmt == "money":
            return FORMATS.format_money(value, locale)
        if fmt == "percent":
            return numbers.format_percent(
                value, locale=locale, decimal_quantization=False
            )
        return numbers.format_decimal(value, locale=locale, decimal_quantization=False)
    except (ValueError, TypeError, numbers.UnknownCurrencyError):
        return str(value)


def key_text(
    group: dict[str, Any], entity: str, value: Any, period: str | None, locale: str
) -> str:
    """A group's value as a label: an enum's label, a reference's display, a period ..."""
    if value is None:
        return translator(locale)("dash_empty")
    if isinstance(value, dt.date) and period in PERIOD_SKELETONS:
        text = dates.format_skeleton(PERIOD_SKELETONS[period], value, locale=locale)
        return (
            translator(locale)("dash_week_of").format(date=text)
            if period == "week"
            else text
        )
    meta = ENTITIES.get(entity, {}).get("fields", {}).get(group["name"], {})
    return cell(meta, value, locale)


def plain(value: Any) -> str:
    """A value as the CSV file and ``data-value`` attributes hold it (machine-readable)."""
    return "" if value is None else str(value)


# --- pages ---------------------------------------------------------------------------------------


async def _opened(
    request: Request, kind: str
) -> tuple[Any, dict[str, Any] | None, Response | None]:
    """The signed-in user and the dashboard or report of the path, or the page saying why not."""
    user = await current_user(request)
    if user is None:
        return None, None, login_redirect(request)
    item = DATA[kind].get(request.path_params["name"])
    if item is None:
        return user, None, error_page(request, 404, "not_found", user)
    if not analytics.may_open(tuple(item["roles"]), user):
        return user, None, error_page(request, 403, "forbidden", user)
    return user, item, None


def _kpi(kpi: dict[str, Any], result: analytics.Result, locale: str) -> dict[str, Any]:
    value = result.value
    return {
        "name": kpi["name"],
        "label": pick(kpi["label"], locale),
        "available": result.available,
        "value": plain(value),
        "text": number_text(value, kpi["format"], locale) if result.available else "—",
    }


def _points(
    chart: dict[str, Any], result: analytics.Result, locale: str
) -> list[tuple[charts.Point, str]]:
    """The chart's points with their plain values; a funnel shows every stage of its enum."""
    found = {_identity(row.keys[0]): row.values[0] for row in result.rows}
    keys: list[Any] = [row.keys[0] for row in result.rows]
    if chart["type"] == "funnel":
        meta = (
            ENTITIES.get(chart["entity"], {})
            .get("fields", {})
            .get(chart["group"]["name"], {})
        )
        stages = [name for name, _ in meta.get("choices", [])]
        keys = stages + [k for k in keys if k not in stages]
    points = []
    for key in keys:
        value = found.get(_identity(key), 0)
        label = key_text(chart["group"], chart["entity"], key, chart["period"], locale)
        text = number_text(value, chart["format"], locale)
        points.append((charts.Point(label, float(value or 0), text), plain(value)))
    return points


def _identity(key: Any) -> Any:
    """A group key usable in a dict (a reference by its id)."""
    return key["id"] if isinstance(key, dict) else key


def _chart(
    chart: dict[str, Any], result: analytics.Result, locale: str
) -> dict[str, Any]:
    label = pick(chart["label"], locale)
    points = _points(chart, result, locale) if result.available else []
    drawn = [p for p, _ in points]
    return {
        "name": chart["name"],
        "label": label,
        "type": chart["type"],
        "available": result.available,
        "group_label": pick(chart["group"]["label"], locale),
        "rows": [{"label": p.label, "text": p.text, "value": raw} for p, raw in points],
        "svg": charts.draw(
            chart["type"], label, drawn, translator(locale)("dash_no_data")
        ),
    }


async def dashboard_page(request: Request) -> Response:
    user, board, refusal = await _opened(request, "boards")
    if refusal is not None:
        return refusal
    assert board is not None
    name = request.path_params["name"]
    data = await run_in_threadpool(
        analytics.dashboard, request.app.state.db, user, name
    )
    locale = locale_of(request)
    context = {
        "name": name,
        "heading": pick(board["label"], locale),
        "kpis": [_kpi(k, data["kpis"][k["name"]], locale) for k in board["kpis"]],
        "charts": [
            _chart(c, data["charts"][c["name"]], locale) for c in board["charts"]
        ],
    }
    return render(request, "dashboard.html", context, user=user)


def _table(
    report: dict[str, Any], result: analytics.Result, locale: str
) -> dict[str, Any]:
    """The report's header, rows and totals, each cell as text and as its plain value."""
    groups, columns = report["group_by"], report["columns"]

    def values(items: tuple[Any, ...]) -> list[dict[str, str]]:
        return [
            {"text": number_text(v, c["format"], locale), "value": plain(v)}
            for c, v in zip(columns, items)
        ]

    return {
        "groups": [pick(g["label"], locale) for g in groups],
        "columns": [pick(c["label"], locale) for c in columns],
        "rows": [
            {
                "keys": [
                    key_text(g, report["entity"], k, None, locale)
                    for g, k in zip(groups, row.keys)
                ],
                "values": values(row.values),
            }
            for row in result.rows
        ],
        "totals": values(result.totals),
    }


async def report_page(request: Request) -> Response:
    user, report, refusal = await _opened(request, "reports")
    if refusal is not None:
        return refusal
    assert report is not None
    name = request.path_params["name"]
    result = await run_in_threadpool(analytics.report, request.app.state.db, user, name)
    locale = locale_of(request)
    context = {
        "name": name,
        "heading": pick(report["label"], locale),
        "available": result.available,
        "table": _table(report, result, locale),
    }
    return render(request, "report.html", context, user=user)


async def report_csv(request: Request) -> Response:
    """The report as CSV: group labels, then plain numbers; the last row holds the totals."""
    user, report, refusal = await _opened(request, "reports")
    if refusal is not None:
        return refusal
    assert report is not None
    name = request.path_params["name"]
    result = await run_in_threadpool(analytics.report, request.app.state.db, user, name)
    locale = locale_of(request)
    table = _table(report, result, locale)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table["groups"] + table["columns"])
    for row in table["rows"]:
        writer.writerow(row["keys"] + [v["value"] for v in row["values"]])
    if result.available:
        blanks = [""] * max(len(table["groups"]) - 1, 0)
        label = [translator(locale)("dash_total")] if table["groups"] else []
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
