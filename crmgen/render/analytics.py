"""Dashboards and reports as aggregate queries: what the generated ``analytics.py`` is made of.

Every KPI, chart and report of the spec becomes one ``Aggregate`` of the generated module:
the entity (by API path), its measures (``count``, ``sum`` ...; ``weighted_by`` carries the
weights of the enum's values), the fields it groups by, the date period and its where-conditions.
The conditions are compiled to SQLAlchemy source by ``where.Conditions``, the compiler of
process steps and record rules too, so ``stage__in: [...]`` or ``assignee: '= user'`` mean on
a dashboard exactly what they mean in a process; both call the runtime's
``crmgen_runtime.where``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crmgen.language.model import Condition, Entity, Measure, Spec
from crmgen.render.environment import py_literal
from crmgen.render.errors import GenerateError
from crmgen.render.where_compiler import RUNTIME as WHERE_MODULE
from crmgen.render.where_compiler import Conditions


def _entity(spec: Spec, name: str, owner: str) -> Entity:
    entity = spec.entity(name)
    if entity is None:
        raise GenerateError(f"{owner}: unknown entity {name}")
    return entity


def measure_source(spec: Spec, entity: Entity, measure: Measure) -> str:
    """``Measure(...)`` of the generated module; a weighted measure lists its weights."""
    args = [py_literal(measure.fn)]
    if measure.field:
        args.append(f"field={py_literal(measure.field)}")
    if measure.weighted_by:
        f = entity.field(measure.weighted_by)
        values = f.values if f is not None else ()
        weights = ", ".join(
            f"{py_literal(v.name)}: Decimal({py_literal(str(Decimal(str(v.weight or 0))))})"
            for v in values
        )
        args.append(f"weighted_by={py_literal(measure.weighted_by)}")
        args.append(f"weights={{{weights}}}")
    return f"Measure({', '.join(args)})"


FILTERED_TYPES = frozenset({"enum", "boolean"})


def is_filter(entity: Entity, condition: Condition) -> bool:
    """Whether ``condition`` compares a field of few values (an enum or a boolean) with
    constants by ``eq``, ``in`` or ``ne``: a ``Filter`` the runtime can also apply to groups,
    so that aggregates differing only in such conditions share one query."""
    f = entity.field(condition.field)
    if f is None or f.type not in FILTERED_TYPES or condition.op not in ("eq", "in", "ne"):
        return False
    if condition.value.is_expr:
        return False
    value = condition.value.literal
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if condition.op != "in" and len(values) != 1:
        return False
    return bool(values) and None not in values


def filter_source(condition: Condition) -> str:
    """``Filter(...)`` of the generated module."""
    value = condition.value.literal
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    return (
        f"Filter({py_literal(condition.field)}, {py_literal(condition.op)}, {py_literal(values)})"
    )


def where_source(spec: Spec, entity: Entity, where: tuple[Condition, ...], owner: str) -> str:
    """``lambda user: [conditions]`` (``user`` is the ``processes.Actor``), or ``None``."""
    if not where:
        return "None"
    parts = ", ".join(Conditions(spec, owner).all(entity.name, where))
    return f"lambda user: [{parts}]"


def aggregate_source(
    spec: Spec,
    entity_name: str,
    measures: tuple[Measure, ...],
    where: tuple[Condition, ...],
    owner: str,
    group_by: tuple[str, ...] = (),
    period: str | None = None,
) -> str:
    entity = _entity(spec, entity_name, owner)
    args = [
        py_literal(entity.api_path),
        "(" + "".join(measure_source(spec, entity, m) + ", " for m in measures) + ")",
    ]
    if group_by:
        args.append(f"group_by={py_literal(tuple(group_by))}")
    if period:
        args.append(f"period={py_literal(period)}")
    filters = tuple(c for c in where if is_filter(entity, c))
    rest = tuple(c for c in where if c not in filters)
    if rest:
        args.append(f"where={where_source(spec, entity, rest, owner)}")
    if filters:
        args.append(f"filters=({''.join(filter_source(c) + ', ' for c in filters)})")
    return f"Aggregate({', '.join(args)})"


def analytics_context(spec: Spec) -> dict[str, Any]:
    """The dashboards and reports of ``spec`` as source of the generated ``analytics.py``."""
    dashboards = []
    for d in spec.ui.dashboards:
        kpis = [
            (
                k.name,
                aggregate_source(
                    spec, k.entity, (k.measure,), k.where, f"dashboard {d.name}, KPI {k.name}"
                ),
            )
            for k in d.kpis
        ]
        charts = [
            (
                c.name,
                aggregate_source(
                    spec,
                    c.entity,
                    (c.measure,),
                    c.where,
                    f"dashboard {d.name}, chart {c.name}",
                    (c.group_by,),
                    c.period,
                ),
            )
            for c in d.charts
        ]
        dashboards.append({"name": d.name, "roles": d.roles, "kpis": kpis, "charts": charts})
    reports = [
        {
            "name": r.name,
            "roles": r.roles,
            "columns": tuple(c.name for c in r.columns),
            "aggregate": aggregate_source(
                spec,
                r.entity,
                tuple(c.measure for c in r.columns),
                r.where,
                f"report {r.name}",
                r.group_by,
            ),
        }
        for r in spec.ui.reports
    ]
    sources = " ".join(
        [s for d in dashboards for _, s in d["kpis"] + d["charts"]]
        + [r["aggregate"] for r in reports]
    )
    return {
        "analytics_dashboards": dashboards,
        "analytics_reports": reports,
        "analytics_uses_where": f"{WHERE_MODULE}." in sources,
        "analytics_uses_fn": "fn." in sources,
        "analytics_uses_models": "models." in sources,
    }
