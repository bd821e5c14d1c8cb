"""Every KPI, chart and report of the reference CRM reads its big table by index on PostgreSQL.

On the big schema of ``plan_data`` (100,000 deals and tasks, vacuumed and analysed as
autovacuum leaves a bulk load, planner settings untouched). Each aggregate is planned through
the runtime's own query builder (``Analytics.plan``) as each role that may open it, with its
record rules. Whatever part of a big table an aggregate reads, ``EXPLAIN`` must show it read
from an index alone (an Index Only Scan), the index the generator derived for it
(``crmgen/render/analytics_indexes.py``). An aggregate of most of a table (a manager's chart of
every deal) reads it sequentially, once, as PostgreSQL prefers. PostgreSQL only: skips without
it, except under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crmgen_runtime.analytics import Shared, sharing
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.processes import Actor
from sqlalchemy.orm import Session

from tests.backend.plan_data import BIG, ROLES, Planner, plan_of


def _aggregates(analytics: Any) -> Iterator[tuple[str, tuple[str, ...], Any]]:
    """(what, roles, aggregate) of every KPI, chart and report."""
    for name, dashboard in analytics.dashboards.items():
        for kind in ("kpis", "charts"):
            for item, aggregate in getattr(dashboard, kind).items():
                yield f"dashboard {name}, {item}", dashboard.roles, aggregate
    for name, report in analytics.reports.items():
        yield f"report {name}", report.roles, report.aggregate


def _table_reads(plan: dict[str, Any], big: dict[str, int]) -> list[str]:
    """The reads of a part of a big table (less than half its rows) that are not answered by an
    index alone: a sequential scan, or an index or bitmap scan that visits the table's rows
    (reading most of a table, such as a chart of every deal, is a sequential scan by design)."""
    found = []
    table = plan.get("Relation Name", "")
    kind = plan["Node Type"]
    if kind != "Index Only Scan" and table in big and plan["Plan Rows"] < big[table] / 2:
        found.append(f"{kind} of {table} for {plan['Plan Rows']} rows")
    for child in plan.get("Plans", []):
        found += _table_reads(child, big)
    return found


def test_every_dashboard_and_report_reads_by_index(planner: Planner) -> None:
    analytics = planner.analytics
    big = {name: rows for name, rows in planner.sizes.items() if rows >= BIG}
    faults: list[str] = []
    planned = 0
    for what, roles, aggregate in _aggregates(analytics):
        table = analytics.catalog.resources[aggregate.entity].model.__tablename__
        if table not in big:
            continue
        for role in ROLES:
            user = CurrentUser(2, "u2@example.com", "User 2", frozenset({role}))
            if not analytics.may_open(roles, user):
                continue
            with Session(planner.engine) as session:
                found = analytics.plan(session, aggregate, user)
            if found is None:  # a field this role may not read: the page shows a dash
                continue
            planned += 1
            faults += [
                f"{what} as {role}: {f}" for f in _table_reads(plan_of(planner, found[1]), big)
            ]
    assert planned >= 15
    assert faults == [], "\n".join(faults)


def test_the_queries_dashboards_share_read_by_index(planner: Planner) -> None:
    """A dashboard's KPIs and charts that differ only in their filters are one query
    (``analytics.sharing``): planned as each role, it reads by index as its members do."""
    analytics = planner.analytics
    big = {name: rows for name, rows in planner.sizes.items() if rows >= BIG}
    faults: list[str] = []
    shared = 0
    for name, dashboard in analytics.dashboards.items():
        aggregates = {**dashboard.kpis, **dashboard.charts}
        for role in ROLES:
            user = CurrentUser(2, "u2@example.com", "User 2", frozenset({role}))
            if not analytics.may_open(dashboard.roles, user):
                continue
            with Session(planner.engine) as session:
                actor = Actor(session, user, analytics.catalog)
                reachable = {}
                for item, aggregate in aggregates.items():
                    allowed, rule = analytics.reach(aggregate, user)
                    if allowed:
                        reachable[item] = (aggregate, rule)
                dialect = session.get_bind().dialect
                for batch in sharing(analytics.catalog, reachable, actor, dialect):
                    if len(batch) < 2:
                        continue  # planned on its own above
                    shared += 1
                    members = {item: reachable[item][0] for item in batch}
                    _, statement = Shared(analytics.catalog, members).plan(
                        session, actor, user, reachable[batch[0]][1]
                    )
                    faults += [
                        f"dashboard {name}, {'+'.join(batch)} as {role}: {f}"
                        for f in _table_reads(plan_of(planner, statement), big)
                    ]
    assert shared >= 2
    assert faults == [], "\n".join(faults)
