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
from crmgen_runtime.where import eq, in_, ne

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
class Filter:
    """A condition on a field of few values (an enum or a boolean) against constants: applied
    in SQL when its aggregate is computed alone, to the groups when it shares a query.

    ``op`` is ``eq``, ``in`` or ``ne`` and means what ``crmgen_runtime.where`` makes of it: a
    record without a value is different from every value (``ne`` keeps it, ``eq`` and ``in``
    do not).
    """

    field: str
    op: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if self.op not in ("eq", "in", "ne") or None in self.values or not self.values:
            raise ValueError(f"not a filter: {self.field} {self.op} {self.values!r}")
        if self.op != "in" and len(self.values) != 1:
            raise ValueError(f"{self.op} takes one value: {self.field} {self.values!r}")

    def holds(self, value: Any) -> bool:
        """Whether a record (or a group) whose field holds ``value`` passes."""
        if self.op == "ne":
            return bool(value != self.values[0])
        return value is not None and value in self.values

    def clause(self, column: Any) -> sa.ColumnElement[bool]:
        if self.op == "ne":
            return ne(column, self.values[0])
        if self.op == "eq":
            return eq(column, self.values[0])
        return in_(column, list(self.values))


@dataclass(frozen=True)
class Aggregate:
    """One query: ``measures`` of ``entity`` (an API path) grouped by ``group_by``, over the
    records that pass ``filters`` and ``where``."""

    entity: str
    measures: tuple[Measure, ...]
    group_by: tuple[str, ...] = ()
    period: str | None = None  # groups a date or datetime by day, week, month or year
    where: Where | None = None
    filters: tuple[Filter, ...] = ()


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
    """The first day of the period holding ``column``'s value: text ``YYYY-MM-DD`` on SQLite, a
    timestamp on PostgreSQL (``period_day`` reads either; a datetime's period in ``timezone``,
    the app's). PostgreSQL groups by ``date_trunc`` itself: formatting every row's value as text
    before grouping costs a third of a million-row aggregate."""
    if dialect == "sqlite":
        if datetime:  # stored in UTC: its period in the app's time zone
            column = sa.func.app_local_time(column, timezone)
        return sa.func.date(column, *_SQLITE_PERIOD[period])
    if datetime:  # a timestamp with time zone: its period in the app's time zone
        column = sa.func.timezone(timezone, column)
    if period not in PERIODS:
        raise ValueError(f"not a period: {period!r}")
    return sa.func.date_trunc(sa.literal_column(f"'{period}'"), column)


def period_day(value: Any) -> dt.date | None:
    """The first day of a period as ``period_start`` selects it."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


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
        self.where += [f.clause(self.resource.attribute(f.field)) for f in aggregate.filters]

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
            self.readers.append(lambda row: period_day(row[at]))
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

    def reach(self, aggregate: Aggregate, user: CurrentUser) -> tuple[bool, Any]:
        """Whether ``user`` may compute ``aggregate`` (list its entity, read every field it
        measures or groups by), and the record rule that then limits it (None: every record)."""
        resource = self.catalog.resources[aggregate.entity]
        readable = permissions.readable(resource, user)
        needed = {n for m in aggregate.measures for n in m.reads} | set(aggregate.group_by)
        try:
            rule = permissions.condition(resource, user, "list")
        except ApiError:
            return False, None
        return needed <= readable, rule

    def plan(
        self, session: Session, aggregate: Aggregate, user: CurrentUser
    ) -> tuple[Query, sa.Select[Any]] | None:
        """The query of ``aggregate`` as ``user`` may run it, and its statement (not run); None
        when the user may not list the entity or read a field it measures or groups by."""
        allowed, rule = self.reach(aggregate, user)
        if not allowed:
            return None
        actor = Actor(session, user, self.catalog)
        dialect = session.get_bind().dialect.name
        query = Query(self.catalog, aggregate, actor, dialect, user)
        return query, query.statement(rule)

    def compute(self, database: Database, aggregate: Aggregate, user: CurrentUser) -> Result:
        """The groups and totals of ``aggregate`` as ``user`` may see them."""
        return self.compute_all(database, {"": aggregate}, user)[""]

    def compute_all(
        self, database: Database, aggregates: Mapping[str, Aggregate], user: CurrentUser
    ) -> dict[str, Result]:
        """Several aggregates (a dashboard's) as ``user`` may see them, by name, in as few
        queries as they allow: each batch ``sharing`` finds is one query."""
        results: dict[str, Result] = {}
        with database.session() as session:
            actor = Actor(session, user, self.catalog)
            dialect = session.get_bind().dialect
            reachable: dict[str, tuple[Aggregate, Any]] = {}
            for name, aggregate in aggregates.items():
                allowed, rule = self.reach(aggregate, user)
                if allowed:
                    reachable[name] = (aggregate, rule)
                else:
                    results[name] = Result(available=False)
            for names in sharing(self.catalog, reachable, actor, dialect):
                members = {name: reachable[name][0] for name in names}
                shared = Shared(self.catalog, members)
                results.update(shared.compute(session, actor, user, reachable[names[0]][1]))
        return {name: results[name] for name in aggregates}

    def dashboard(
        self, database: Database, user: CurrentUser | None, name: str
    ) -> dict[str, dict[str, Result]]:
        """Every KPI and chart of dashboard ``name`` (401, 403, 404 as ``opened`` says)."""
        board = self.opened(self.dashboards, name, user)
        assert user is not None
        found = self.compute_all(
            database,
            {f"kpi {k}": a for k, a in board.kpis.items()}
            | {f"chart {c}": a for c, a in board.charts.items()},
            user,
        )
        return {
            "kpis": {k: found[f"kpi {k}"] for k in board.kpis},
            "charts": {c: found[f"chart {c}"] for c in board.charts},
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


# --- several aggregates from one query -------------------------------------------------------


def _conditions_key(clauses: list[Any], dialect: sa.Dialect) -> str:
    """The SQL of ``clauses`` with their values: equal keys select the same records."""
    compiled = [clause.compile(dialect=dialect) for clause in clauses]
    return repr([(str(c), sorted(c.params.items())) for c in compiled])


def _dated(catalog: Catalog, aggregate: Aggregate) -> bool:
    """Whether ``aggregate`` groups by a date or datetime (by its ``period`` when it has one)."""
    resource = catalog.resources[aggregate.entity]
    return any(resource.type_of(n) in ("date", "datetime") for n in aggregate.group_by)


def sharing(
    catalog: Catalog,
    aggregates: Mapping[str, tuple[Aggregate, Any]],
    actor: Actor,
    dialect: sa.Dialect,
) -> list[list[str]]:
    """The aggregates (by name, with the record rule each runs under) in batches that can each
    be one query: over the same entity, under the same rule, with the same conditions apart
    from their filters, and grouped by fields that nest: each member groups by some of the
    fields the batch's first member's query groups by (its own, its filters' and its weights'),
    and by the same period when it groups by a date. A member is then read from the first
    member's groups, split further by the members' filter fields (an enum's or a boolean's few
    values).
    An aggregate that shares with none is a batch of its own."""
    by_records: dict[tuple[str, str, str], list[str]] = {}
    for name, (aggregate, rule) in aggregates.items():
        clauses = aggregate.where(actor) if aggregate.where is not None else []
        key = (
            aggregate.entity,
            "" if rule is None else _conditions_key([rule], dialect),
            _conditions_key(clauses, dialect),
        )
        by_records.setdefault(key, []).append(name)
    batches: list[list[str]] = []
    for names in by_records.values():
        left = sorted(names, key=lambda n: -len(_spans(aggregates[n][0])))
        while left:
            leader = aggregates[left[0]][0]
            batch = [
                name
                for name in left
                if set(aggregates[name][0].group_by) <= _spans(leader)
                and (
                    not _dated(catalog, aggregates[name][0])
                    or aggregates[name][0].period == leader.period
                )
            ]
            batches.append(batch)
            left = [n for n in left if n not in batch]
    return batches


def _spans(aggregate: Aggregate) -> set[str]:
    """The fields an aggregate's query groups by: its own, its filters' and its weights'."""
    return {
        *aggregate.group_by,
        *(f.field for f in aggregate.filters),
        *(m.weighted_by for m in aggregate.measures if m.weighted_by),
    }


class Shared:
    """One query for a batch of aggregates of an entity (``sharing``): grouped by every field
    they group or filter by, selecting each distinct measure once. A batch of one is its own
    aggregate's query, filters applied in SQL."""

    def __init__(self, catalog: Catalog, members: Mapping[str, Aggregate]) -> None:
        self.catalog = catalog
        self.members = members
        first = next(iter(members.values()))
        self.resource = catalog.resources[first.entity]
        if len(members) == 1:
            self.aggregate = first
            return
        group_by: list[str] = []
        measures: list[Measure] = []
        period = None
        for aggregate in members.values():
            for name in (*aggregate.group_by, *(f.field for f in aggregate.filters)):
                if name not in group_by:
                    group_by.append(name)
            for measure in aggregate.measures:
                if measure not in measures:
                    measures.append(measure)
            if period is None and _dated(catalog, aggregate):
                period = aggregate.period
        self.aggregate = Aggregate(
            first.entity, tuple(measures), tuple(group_by), period, first.where
        )

    def plan(
        self, session: Session, actor: Actor, user: CurrentUser, rule: Any
    ) -> tuple[Query, sa.Select[Any]]:
        """The batch's query under record rule ``rule``, and its statement (not run)."""
        dialect = session.get_bind().dialect.name
        query = Query(self.catalog, self.aggregate, actor, dialect, user)
        if len(self.members) > 1 and all(a.filters for a in self.members.values()):
            # only the records some member reads
            query.where.append(
                sa.or_(
                    *(
                        sa.and_(*(f.clause(self.resource.attribute(f.field)) for f in a.filters))
                        for a in self.members.values()
                    )
                )
            )
        return query, query.statement(rule)

    def compute(
        self, session: Session, actor: Actor, user: CurrentUser, rule: Any
    ) -> dict[str, Result]:
        """Each member's result, by name."""
        query, statement = self.plan(session, actor, user, rule)
        raw_rows = list(session.execute(statement).all())
        if len(self.members) == 1:
            name, aggregate = next(iter(self.members.items()))
            return {name: result_of(self.resource, aggregate, query.groups(raw_rows))}
        rows = [query.row(tuple(raw)) for raw in raw_rows]
        return {name: self.result(aggregate, rows) for name, aggregate in self.members.items()}

    def result(
        self, aggregate: Aggregate, rows: list[tuple[tuple[Any, ...], tuple[Any, ...]]]
    ) -> Result:
        """A member's result from the shared groups: those its filters pass, combined by its own
        group fields."""
        group_by = list(self.aggregate.group_by)
        keys_at = [group_by.index(n) for n in aggregate.group_by]
        filters_at = [(f, group_by.index(f.field)) for f in aggregate.filters]
        measures_at = [self.aggregate.measures.index(m) for m in aggregate.measures]
        merged: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], tuple[Any, ...]]]] = {}
        for keys, parts in rows:
            if all(f.holds(keys[at]) for f, at in filters_at):
                own = tuple(keys[at] for at in keys_at)
                merged.setdefault(_hashable(own), []).append(
                    (own, tuple(parts[i] for i in measures_at))
                )
        grouped = [
            (
                same[0][0],
                tuple(
                    _combine(measure, [parts[i] for _, parts in same])
                    for i, measure in enumerate(aggregate.measures)
                ),
            )
            for same in merged.values()
        ]
        return result_of(self.resource, aggregate, grouped)


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
