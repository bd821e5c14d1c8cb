"""The engine of an app's dashboards (KPIs, charts) and reports: aggregate queries.

Each KPI, chart and report is one ``Aggregate``: one
``SELECT ... GROUP BY`` over its entity, limited like the entity's list in the API (the record
rule of the user's roles for ``list``, soft-deleted records left out) and by its own where-
conditions (compiled from the spec like the conditions of process steps). Dates group by period
(day, week from Monday, month, year; datetimes in the app's time zone) on SQLite and PostgreSQL alike.

Every number is exact on both databases: sums are ``decimals.exact_sum`` (no float, no
overflow; a float column's sum and average are floats), averages are computed from the group's sum and count (so report totals are exact),
and a weighted measure (``weighted_by`` an enum field, e.g. the pipeline forecast) is measured
per value of that field and multiplied by its weight here, in Python: ``SUM(amount * weight)``
is ``sum over stages of weight x SUM(amount)``. Sums, averages and weighted values of decimal
fields are rounded half-up to the field's scale once, at the end.
A measure over an entity the user may not list, or over a field their role may not read,
is unavailable (``None``) rather than an error: the rest of the dashboard still shows.

The app lists its dashboards and reports (``Dashboard``, ``Report``) and binds them to its
catalog with ``Analytics``, which computes them and serves them below ``/api``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import links, permissions
from crmgen_runtime.db import Database
from crmgen_runtime.decimals import WIDE, add, average, column_sum
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.principal import CurrentUser, user_of
from crmgen_runtime.processes import Actor
from crmgen_runtime.resources import Catalog, Resource
from crmgen_runtime.responses import JSONResponse, json_ready

Where = Callable[[Any], list[sa.ColumnElement[bool]]]
PERIODS = ("day", "week", "month", "year")
# SQLite's date() modifiers for the first day of a period ("weekday 0" is the next Sunday).
_SQLITE_PERIOD = {
    "day": (),
    "week": ("weekday 0", "-6 days"),
    "month": ("start of month",),
    "year": ("start of year",),
}


@dataclass(frozen=True)
class Measure:
    """An aggregate of one field (``count`` needs none); ``weights`` by value of ``weighted_by``."""

    fn: str  # count, sum, avg, min, max
    field: str | None = None
    weighted_by: str | None = None
    weights: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)

    @property
    def reads(self) -> tuple[str, ...]:
        """The fields whose values the measure reveals."""
        return tuple(n for n in (self.field, self.weighted_by) if n)


@dataclass(frozen=True)
class Aggregate:
    """One query: ``measures`` of ``entity`` (an API path) grouped by ``group_by``."""

    entity: str
    measures: tuple[Measure, ...]
    group_by: tuple[str, ...] = ()
    period: str | None = None  # groups a date or datetime by day, week, month or year
    where: Where | None = None


@dataclass(frozen=True)
class Dashboard:
    roles: tuple[str, ...]
    kpis: dict[str, Aggregate]
    charts: dict[str, Aggregate]


@dataclass(frozen=True)
class Report:
    roles: tuple[str, ...]
    columns: tuple[str, ...]  # one per measure of the aggregate
    aggregate: Aggregate


@dataclass(frozen=True)
class Row:
    """One group: its keys (a reference is ``{"id", "display"}``) and a value per measure."""

    keys: tuple[Any, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Result:
    """The groups of an aggregate in display order, and the totals over all of them."""

    available: bool
    rows: tuple[Row, ...] = ()
    totals: tuple[Any, ...] = ()

    @property
    def value(self) -> Any:
        """The single value of an ungrouped aggregate (a KPI)."""
        return self.totals[0] if self.available and self.totals else None


# --- the query -------------------------------------------------------------------------------


def period_start(column: Any, period: str, datetime: bool, dialect: str, timezone: str) -> Any:
    """The first day of the period holding ``column``'s value, as text ``YYYY-MM-DD``
    (a datetime's period in ``timezone``, the app's)."""
    if dialect == "sqlite":
        if datetime:  # stored in UTC: its period in the app's time zone
            column = sa.func.app_local_time(column, timezone)
        return sa.func.date(column, *_SQLITE_PERIOD[period])
    if datetime:  # a timestamp with time zone: its period in the app's time zone
        column = sa.func.timezone(timezone, column)
    return sa.func.to_char(sa.func.date_trunc(period, column), "YYYY-MM-DD")


def _places(column: Any) -> Decimal:
    scale = getattr(column.type, "scale", None)
    return Decimal(1).scaleb(-(scale if scale is not None else 2))


def _rounded(value: Any, places: Decimal) -> Any:
    """A decimal rounded half-up to ``places``; other values as they are."""
    return (
        value.quantize(places, ROUND_HALF_UP, context=WIDE) if isinstance(value, Decimal) else value
    )


def _weighted(parts: tuple[Any, ...], weight: Decimal) -> tuple[Any, ...]:
    """A measure's parts over records of one weight, its value times that weight.

    An average's count stays; weights are never negative, so a minimum stays the minimum.
    """
    if isinstance(parts[0], float):  # a float measure stays a float
        return (parts[0] * float(weight), *parts[1:])
    scaled = None if parts[0] is None else WIDE.multiply(Decimal(parts[0]), weight)
    return (scaled, *parts[1:])


class Query:
    """The SELECT of one aggregate, and how its rows become ``Row`` values."""

    def __init__(
        self, catalog: Catalog, aggregate: Aggregate, user: Actor, dialect: str, reader: CurrentUser
    ) -> None:
        self.catalog = catalog
        self.aggregate = aggregate
        self.reader = reader  # whose read rules limit the display values of references
        self.resource = catalog.resources[aggregate.entity]
        self.dialect = dialect
        self.keys: list[Any] = []  # the GROUP BY columns
        self.selected: list[Any] = []  # every selected column: keys, then measure parts
        self.joins: list[tuple[Any, Any]] = []
        # key readers of a row
        self.readers: list[Callable[[tuple[Any, ...]], Any]] = []
        for name in aggregate.group_by:
            self.group(name)
        # the fields measures are weighted by: grouped by too, and where their values are
        self.weights_at: dict[str, int] = {}
        for name in sorted({m.weighted_by for m in aggregate.measures if m.weighted_by}):
            self.weights_at[name] = len(self.selected)
            column = self.resource.attribute(name)
            self.keys.append(column)
            self.selected.append(column)
        # (measure, first part, parts)
        self.measured: list[tuple[Measure, int, int]] = []
        for measure in aggregate.measures:
            self.measure(measure)
        self.where = aggregate.where(user) if aggregate.where is not None else []

    def group(self, name: str) -> None:
        resource, at = self.resource, len(self.selected)
        info = resource.fields.get(name)
        column = resource.attribute(name)
        if info is not None and info.is_ref:
            shown = self.display(resource.target(info), resource.shown_by(info), column)
            self.keys += [column, *shown]
            self.selected += [column, *(shown or [sa.null(), sa.null()])]
            self.readers.append(
                lambda row: (
                    None
                    if row[at] is None
                    else {
                        "id": row[at],
                        "display": "" if row[at + 2] is None else links.text(row[at], row[at + 1]),
                    }
                )
            )
            return
        type_ = resource.type_of(name)
        if self.aggregate.period in PERIODS and type_ in ("date", "datetime"):
            datetime = type_ == "datetime"
            timezone = self.catalog.config.timezone
            column = period_start(column, self.aggregate.period, datetime, self.dialect, timezone)
            self.readers.append(
                lambda row: None if row[at] is None else dt.date.fromisoformat(row[at])
            )
        else:
            self.readers.append(lambda row: row[at])
        self.keys.append(column)
        self.selected.append(column)

    def display(self, target: Resource, name: str, column: Any) -> list[Any]:
        """The value of field ``name`` (the one a link shows) of the record of ``target`` a
        reference ``column`` names, and that record's id, through an outer join that finds
        it only within the reader's reach (``links``); none when the reader may not see the
        field."""
        if not links.shows_display(target, self.reader, name):
            return []
        alias = aliased(target.model)
        onclause = sa.and_(alias.id == column, *links.live(target, alias))
        rule = links.condition(target, self.reader, alias)
        self.joins.append((alias, onclause if rule is None else sa.and_(onclause, rule)))
        shown = target.fields.get(name)
        return [getattr(alias, shown.column if shown is not None else name), alias.id]

    def measure(self, measure: Measure) -> None:
        """Select what ``measure`` needs: one aggregate, or a sum and a count for ``avg``."""
        column = self.resource.attribute(measure.field) if measure.field else None
        first = len(self.selected)
        parts: list[Any]
        if measure.fn == "count":
            parts = [sa.func.count(column) if column is not None else sa.func.count()]
        elif measure.fn in ("sum", "avg"):
            total = column_sum(column)
            parts = [total] if measure.fn == "sum" else [total, sa.func.count(column)]
        else:
            parts = [getattr(sa.func, measure.fn)(column)]
        self.selected += parts
        self.measured.append((measure, first, len(parts)))

    def statement(self, rule: sa.ColumnElement[bool] | None) -> sa.Select[Any]:
        stmt = sa.select(*self.selected).select_from(self.resource.model)
        for alias, onclause in self.joins:
            stmt = stmt.outerjoin(alias, onclause)
        stmt = stmt.where(*self.where, *links.live(self.resource))
        if rule is not None:
            stmt = stmt.where(rule)
        return stmt.group_by(*self.keys) if self.keys else stmt

    def row(self, raw: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """The keys of a result row and its measure parts, one tuple per measure (a weighted
        measure's values already times the weight of the row's value)."""
        keys = tuple(read(raw) for read in self.readers)
        parts = []
        for measure, i, n in self.measured:
            part = tuple(raw[i : i + n])
            if measure.weighted_by:
                value = raw[self.weights_at[measure.weighted_by]]
                part = _weighted(part, measure.weights.get(value, Decimal(0)))
            parts.append(part)
        return keys, tuple(parts)

    def groups(self, raw_rows: list[Any]) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]]:
        """The rows by their keys: the rows of one group that differ only in a weighted
        field's value are combined into one."""
        rows = [self.row(tuple(raw)) for raw in raw_rows]
        if not self.weights_at:
            return rows
        merged: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        for keys, parts in rows:
            merged.setdefault(_hashable(keys), []).append((keys, parts))
        return [
            (
                same[0][0],
                tuple(
                    _combine(measure, [parts[i] for _, parts in same])
                    for i, (measure, _, _) in enumerate(self.measured)
                ),
            )
            for same in merged.values()
        ]


def _hashable(keys: tuple[Any, ...]) -> tuple[Any, ...]:
    """Group keys as a dict key (a reference is its id)."""
    return tuple(k["id"] if isinstance(k, dict) else k for k in keys)


def _combine(measure: Measure, parts: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The parts of several groups combined into those of their union (for the totals)."""
    if measure.fn == "avg":
        return (add(p[0] for p in parts), sum(p[1] or 0 for p in parts))
    if measure.fn in ("min", "max"):
        present = [p[0] for p in parts if p[0] is not None]
        chosen = min if measure.fn == "min" else max
        return (chosen(present) if present else None,)
    if measure.fn == "count" and not measure.weighted_by:
        return (sum(p[0] or 0 for p in parts),)
    return (add(p[0] for p in parts),)


def _final(measure: Measure, parts: tuple[Any, ...], places: Decimal) -> Any:
    """The value of a measure from its parts: an average divides, decimals are rounded."""
    if measure.fn == "count" and not measure.weighted_by:
        return int(parts[0] or 0)
    if measure.fn == "avg":
        return average(parts[0], parts[1], places)
    if measure.fn in ("count", "sum") and parts[0] is None:
        return 0
    return _rounded(parts[0], places)


def _order(resource: Resource, name: str) -> Callable[[Any], Any]:
    """A sort key for the values of group ``name``: an enum in the order of its values,
    references by what they show, others by value; empty last."""
    info = resource.fields.get(name)
    values = (
        list(info.options.get("values", ())) if info is not None and info.type == "enum" else []
    )

    def key(value: Any) -> tuple[Any, ...]:
        if value is None:
            return (1, 0, "")
        if values:
            return (0, values.index(value) if value in values else len(values), str(value))
        if isinstance(value, dict):
            return (0, 0, str(value["display"] or ""), value["id"])
        return (0, 0, value)

    return key


T = TypeVar("T", "Dashboard", "Report")


class Analytics:
    """The dashboards and reports of one app (``catalog``), by name: who may open them, what
    they compute, and the API that serves them."""

    def __init__(
        self,
        catalog: Catalog,
        dashboards: Mapping[str, Dashboard],
        reports: Mapping[str, Report],
    ) -> None:
        self.catalog = catalog
        self.dashboards = dashboards
        self.reports = reports

    # --- access ------------------------------------------------------------------------------

    def may_open(self, roles: tuple[str, ...], user: CurrentUser) -> bool:
        """Whether ``user`` may open a dashboard or report meant for ``roles`` (none: everyone)."""
        return not roles or self.catalog.is_superuser(user) or user.has_role(*roles)

    def opened(self, kind: Mapping[str, T], name: str, user: CurrentUser | None) -> T:
        """The dashboard or report ``name`` of ``kind``: 401 anonymous, 404 unknown, 403 not for
        the role."""
        if user is None:
            raise ApiError(401, "not_authenticated", "Sign in first.")
        item = kind.get(name)
        if item is None:
            raise not_found()
        if not self.may_open(item.roles, user):
            raise ApiError(403, "forbidden", "Your role may not open this page.")
        return item

    # --- the results -------------------------------------------------------------------------

    def plan(
        self, session: Session, aggregate: Aggregate, user: CurrentUser
    ) -> tuple[Query, sa.Select[Any]] | None:
        """The query of ``aggregate`` as ``user`` may run it, and its statement (not run); None
        when the user may not list the entity or read a field it measures or groups by."""
        resource = self.catalog.resources[aggregate.entity]
        readable = permissions.readable(resource, user)
        needed = {n for m in aggregate.measures for n in m.reads} | set(aggregate.group_by)
        try:
            rule = permissions.condition(resource, user, "list")
        except ApiError:
            return None
        if not needed <= readable:
            return None
        actor = Actor(session, user, self.catalog)
        dialect = session.get_bind().dialect.name
        query = Query(self.catalog, aggregate, actor, dialect, user)
        return query, query.statement(rule)

    def compute(self, database: Database, aggregate: Aggregate, user: CurrentUser) -> Result:
        """The groups and totals of ``aggregate`` as ``user`` may see them."""
        with database.session() as session:
            planned = self.plan(session, aggregate, user)
            if planned is None:
                return Result(available=False)
            query, statement = planned
            raw_rows = list(session.execute(statement).all())
        resource = self.catalog.resources[aggregate.entity]
        return result_of(resource, aggregate, query.groups(raw_rows))

    def dashboard(
        self, database: Database, user: CurrentUser | None, name: str
    ) -> dict[str, dict[str, Result]]:
        """Every KPI and chart of dashboard ``name`` (401, 403, 404 as ``opened`` says)."""
        board = self.opened(self.dashboards, name, user)
        assert user is not None
        return {
            "kpis": {k: self.compute(database, a, user) for k, a in board.kpis.items()},
            "charts": {c: self.compute(database, a, user) for c, a in board.charts.items()},
        }

    def report(self, database: Database, user: CurrentUser | None, name: str) -> Result:
        """The rows and totals of report ``name`` (401, 403, 404 as ``opened`` says)."""
        item = self.opened(self.reports, name, user)
        assert user is not None
        return self.compute(database, item.aggregate, user)

    # --- the API -----------------------------------------------------------------------------

    def dashboard_json(
        self, database: Database, user: CurrentUser | None, name: str
    ) -> dict[str, Any]:
        """``{"kpis": {name: {available, value}}, "charts": {name: {available, points}}}``."""
        board = self.dashboard(database, user, name)
        return {
            "name": name,
            "kpis": {
                k: {"available": r.available, "value": plain(r.value)}
                for k, r in board["kpis"].items()
            },
            "charts": {
                c: {
                    "available": r.available,
                    "points": [
                        {"key": plain(row.keys[0]), "value": plain(row.values[0])} for row in r.rows
                    ],
                }
                for c, r in board["charts"].items()
            },
        }

    def report_json(
        self, database: Database, user: CurrentUser | None, name: str
    ) -> dict[str, Any]:
        """``{"group_by", "columns", "available", "rows": [{keys, values}], "totals"}``."""
        result = self.report(database, user, name)
        item = self.reports[name]
        return {
            "name": name,
            "group_by": list(item.aggregate.group_by),
            "columns": list(item.columns),
            "available": result.available,
            "rows": [
                {
                    "keys": [plain(k) for k in row.keys],
                    "values": dict(zip(item.columns, map(plain, row.values), strict=False)),
                }
                for row in result.rows
            ],
            "totals": dict(zip(item.columns, map(plain, result.totals), strict=False)),
        }

    async def dashboard_endpoint(self, request: Request) -> Response:
        name = request.path_params["name"]
        user = user_of(request)
        data = await run_in_threadpool(self.dashboard_json, request.app.state.db, user, name)
        return JSONResponse(data)

    async def report_endpoint(self, request: Request) -> Response:
        name = request.path_params["name"]
        user = user_of(request)
        data = await run_in_threadpool(self.report_json, request.app.state.db, user, name)
        return JSONResponse(data)

    def routes(self) -> list[BaseRoute]:
        """``GET /api/dashboards/{name}`` and ``GET /api/reports/{name}`` (below ``/api``)."""
        return [
            Route(
                "/dashboards/{name}",
                self.dashboard_endpoint,
                methods=["GET"],
                name="dashboard_data",
            ),
            Route("/reports/{name}", self.report_endpoint, methods=["GET"], name="report_data"),
        ]


def result_of(
    resource: Resource,
    aggregate: Aggregate,
    grouped: list[tuple[tuple[Any, ...], tuple[Any, ...]]],
) -> Result:
    """The rows (in display order) and totals of ``aggregate`` from its groups' parts."""
    columns = [resource.attribute(m.field) if m.field else None for m in aggregate.measures]
    places = [_places(c) if c is not None else Decimal("0.01") for c in columns]
    orders = [_order(resource, n) for n in aggregate.group_by]
    grouped.sort(key=lambda kv: tuple(order(k) for order, k in zip(orders, kv[0], strict=False)))
    measures = aggregate.measures
    rows = tuple(
        Row(keys, tuple(_final(m, p, q) for m, p, q in zip(measures, parts, places, strict=False)))
        for keys, parts in grouped
    )
    totals = tuple(
        _final(m, _combine(m, [parts[i] for _, parts in grouped]), q)
        for i, (m, q) in enumerate(zip(measures, places, strict=False))
    )
    return Result(available=True, rows=rows, totals=totals)


def plain(value: Any) -> Any:
    """A result value as JSON carries it."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return json_ready(value)
