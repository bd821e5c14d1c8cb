"""The indexes an entity's dashboards and reports need, derived from their aggregates.

Each KPI, chart and report is one ``SELECT ... GROUP BY`` (``analytics.py``). Its index holds,
in order: the columns its conditions compare for equality (``eq``, ``in``, ``isnull``); the
owner column when a role that may open it lists only its own records (the record rule adds
``owner = me``); the columns it groups by (a weighted measure groups by its enum too); the
columns of its other conditions (ranges, ``ne``); the columns its measures read; and for an
entity with ``soft_delete``, ``deleted_at`` (every aggregate skips deleted rows). The leading
equalities narrow the scan to the rows the aggregate counts, and as every column it reads is
in the index, PostgreSQL answers from the index alone (an Index Only Scan) without reading the
table, however wide its rows.

An index whose columns begin another's (of the aggregates, the lists' or the spec's own) is
left out; so is an aggregate that reads no column (``count`` of every row).
"""

from __future__ import annotations

from collections.abc import Iterator

from crmgen.language.model import Condition, Entity, Measure, Spec
from crmgen.render.environment import db_name
from crmgen.render.list_indexes import ListIndex, column_of, list_indexes

EQUALITY = frozenset({"eq", "in", "isnull"})
RANGE = frozenset({"gt", "gte", "lt", "lte", "ne"})  # ``contains`` is a pattern: no btree


def _columns(entity: Entity, names: Iterator[str]) -> list[str]:
    """The columns of ``names`` that an index can hold (a dotted path or a JSON field: none)."""
    found = (column_of(entity, name) for name in names if "." not in name)
    return [column for column in found if column is not None]


def _owner(spec: Spec, entity: Entity, roles: tuple[str, ...]) -> list[str]:
    """The owner field when one of ``roles`` (none: every role) lists only its own records."""
    owns = any(
        access.mode == "own" and (not roles or permission.role in roles)
        for permission in entity.permissions
        for action, access in permission.actions
        if action == "list"
    )
    return [entity.owner] if owns and entity.owner else []


def _index(
    spec: Spec,
    entity: Entity,
    where: tuple[Condition, ...],
    group_by: tuple[str, ...],
    measures: tuple[Measure, ...],
    roles: tuple[str, ...],
) -> tuple[str, ...]:
    names = [
        *(c.field for c in where if c.op in EQUALITY),
        *_owner(spec, entity, roles),
        *group_by,
        *(m.weighted_by for m in measures if m.weighted_by),
        *(c.field for c in where if c.op in RANGE),
        *(m.field for m in measures if m.field),
    ]
    columns = _columns(entity, iter(names))
    if columns and entity.soft_delete:  # every aggregate skips deleted rows: read from here too
        columns.append("deleted_at")
    return tuple(dict.fromkeys(columns))


def _aggregates(spec: Spec, entity: Entity) -> Iterator[tuple[str, ...]]:
    """The index columns of every KPI, chart and report over ``entity``."""
    for dashboard in spec.ui.dashboards:
        for kpi in dashboard.kpis:
            if kpi.entity == entity.name:
                yield _index(spec, entity, kpi.where, (), (kpi.measure,), dashboard.roles)
        for chart in dashboard.charts:
            if chart.entity == entity.name:
                group = (chart.group_by,)
                yield _index(spec, entity, chart.where, group, (chart.measure,), dashboard.roles)
    for report in spec.ui.reports:
        if report.entity == entity.name:
            measures = tuple(column.measure for column in report.columns)
            yield _index(spec, entity, report.where, report.group_by, measures, report.roles)


def analytics_indexes(spec: Spec, entity: Entity) -> tuple[ListIndex, ...]:
    """The indexes of the dashboards and reports over ``entity``."""
    candidates = [columns for columns in _aggregates(spec, entity) if columns]
    others = [
        *(index.columns for index in list_indexes(entity)),
        *(
            tuple(f.column for f in map(entity.field, index.fields) if f is not None)
            for index in entity.indexes
        ),
    ]
    kept: list[tuple[str, ...]] = []
    for columns in dict.fromkeys(candidates):
        longer = [other for other in (*candidates, *others) if other != columns]
        if any(other[: len(columns)] == columns for other in longer):
            continue
        kept.append(columns)
    return tuple(
        ListIndex(db_name(f"ix_{entity.table}_stats_{'_'.join(columns)}"), columns)
        for columns in kept
    )
