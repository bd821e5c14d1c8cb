"""Dashboards and reports on the small CRM: exact aggregates, groups, weights, periods and the
roles' rules, computed on SQLite and PostgreSQL and served over HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import Serve
from crmgen_runtime import where
from crmgen_runtime.analytics import (
    Aggregate,
    Analytics,
    Dashboard,
    Filter,
    Measure,
    Report,
    Result,
    sharing,
)
from crmgen_runtime.errors import ApiError
from crmgen_runtime.processes import Actor

WEIGHTS = {"new": Decimal("0.1"), "won": Decimal(1)}

DASHBOARDS = {
    "sales": Dashboard(
        roles=("sales", "viewer"),
        kpis={
            "deals": Aggregate("deals", (Measure("count"),)),
            "total": Aggregate("deals", (Measure("sum", field="amount"),)),
            "big": Aggregate(
                "deals", (Measure("count"),), where=lambda user: [where.gt(rt_crm.Deal.amount, 100)]
            ),
        },
        charts={
            "by_company": Aggregate("deals", (Measure("count"),), group_by=("company",)),
            "by_title": Aggregate("deals", (Measure("count"),), group_by=("title",)),
        },
    ),
    "admins": Dashboard(roles=("admin",), kpis={}, charts={}),
}
REPORTS = {
    "pipeline": Report(
        roles=(),
        columns=("deals", "amount", "forecast", "average", "least", "weighted"),
        aggregate=Aggregate(
            "deals",
            (
                Measure("count"),
                Measure("sum", field="amount"),
                Measure("sum", field="amount", weighted_by="stage", weights=WEIGHTS),
                Measure("avg", field="amount"),
                Measure("min", field="amount"),
                Measure("count", weighted_by="stage", weights=WEIGHTS),
            ),
            group_by=("owner",),
        ),
    ),
    "hired": Report(
        roles=(),
        columns=("people",),
        aggregate=Aggregate("users", (Measure("count"),), group_by=("hired_on",), period="month"),
    ),
    "by_stage": Report(
        roles=(),
        columns=("deals", "top"),
        aggregate=Aggregate(
            "deals", (Measure("count"), Measure("max", field="amount")), group_by=("stage",)
        ),
    ),
}
ANALYTICS = Analytics(rt_crm.catalog, DASHBOARDS, REPORTS)


def test_a_report_is_exact_grouped_and_weighted(crm_web: rt_crm.Crm) -> None:
    with crm_web.database.session() as session:
        session.execute(sa.update(rt_crm.Deal).where(rt_crm.Deal.id == 3).values(stage="won"))
    result = ANALYTICS.report(crm_web.database, rt_crm.Crm.admin, "pipeline")
    assert result.available
    rows = [(row.keys[0]["id"], row.values) for row in result.rows]
    assert rows == [
        (
            1,
            (
                1,
                Decimal("500.00"),
                Decimal("50.00"),
                Decimal("500.00"),
                Decimal("500.00"),
                Decimal("0.10"),
            ),
        ),
        (
            2,
            (
                2,
                Decimal("200.00"),
                Decimal("155.00"),
                Decimal("100.00"),
                Decimal("50.00"),
                Decimal("1.10"),
            ),
        ),
    ]
    assert result.totals == (
        3,
        Decimal("700.00"),
        Decimal("205.00"),
        Decimal("233.33"),
        Decimal("50.00"),
        Decimal("1.20"),
    )
    stages = ANALYTICS.report(crm_web.database, rt_crm.Crm.admin, "by_stage")
    assert [(row.keys, row.values) for row in stages.rows] == [
        (("new",), (2, Decimal("500.00"))),
        (("won",), (1, Decimal("150.00"))),
    ]


def test_dates_group_by_period(crm_web: rt_crm.Crm) -> None:
    with crm_web.database.session() as session:
        for user_id, day in (
            (1, dt.date(2024, 3, 5)),
            (2, dt.date(2024, 3, 30)),
            (3, dt.date(2024, 5, 1)),
        ):
            session.execute(
                sa.update(rt_crm.User).where(rt_crm.User.id == user_id).values(hired_on=day)
            )
    result = ANALYTICS.report(crm_web.database, rt_crm.Crm.admin, "hired")
    assert [(row.keys[0], row.values[0]) for row in result.rows] == [
        (dt.date(2024, 3, 1), 2),
        (dt.date(2024, 5, 1), 1),
        (None, 2),
    ]


def test_a_dashboard_follows_the_readers_rules(crm_web: rt_crm.Crm) -> None:
    board = ANALYTICS.dashboard(crm_web.database, rt_crm.Crm.admin, "sales")
    assert (board["kpis"]["deals"].value, board["kpis"]["big"].value) == (3, 2)
    assert board["kpis"]["total"].value == Decimal("700.00")
    companies = board["charts"]["by_company"].rows
    assert [row.keys[0] for row in companies] == [
        {"id": 1, "display": "Acme"},
        {"id": 4, "display": "Alpha"},
        {"id": 2, "display": "Beta"},
    ]
    # sales may not list deals (their rule reads their own): unavailable, not an error
    sales = ANALYTICS.dashboard(crm_web.database, rt_crm.Crm.ann, "sales")
    assert sales["kpis"]["deals"] == Result(available=False)
    assert sales["kpis"]["deals"].value is None
    hidden = Analytics(
        rt_crm.catalog,
        {},
        {
            "secrets": Report(
                (), ("n",), Aggregate("companies", (Measure("count", field="secret"),))
            )
        },
    )
    assert hidden.report(crm_web.database, rt_crm.Crm.vic, "secrets").available is False


def test_who_may_open_what(crm_web: rt_crm.Crm) -> None:
    assert ANALYTICS.may_open((), rt_crm.Crm.clerk)
    assert ANALYTICS.may_open(("admin",), rt_crm.Crm.admin)
    assert not ANALYTICS.may_open(("admin",), rt_crm.Crm.ann)
    for user, name, status in (
        (None, "sales", 401),
        (rt_crm.Crm.ann, "nothing", 404),
        (rt_crm.Crm.ann, "admins", 403),
    ):
        with pytest.raises(ApiError) as raised:
            ANALYTICS.dashboard(crm_web.database, user, name)
        assert raised.value.status == status


def test_the_api_serves_dashboards_and_reports(serve: Serve) -> None:
    client = serve(ANALYTICS.routes())
    board: dict[str, Any] = client.get("/api/dashboards/sales", headers={"X-User": "admin"}).json()
    assert board["kpis"]["big"] == {"available": True, "value": 2}
    assert board["kpis"]["total"] == {"available": True, "value": "700.00"}
    first = board["charts"]["by_company"]["points"][0]
    assert first == {"key": {"id": 1, "display": "Acme"}, "value": 1}
    report = client.get("/api/reports/pipeline", headers={"X-User": "admin"}).json()
    assert report["group_by"] == ["owner"] and report["columns"][0] == "deals"
    assert report["rows"][0]["values"]["amount"] == "500.00"
    assert report["totals"]["deals"] == 3
    assert client.get("/api/reports/pipeline").status_code == 401
    assert client.get("/api/dashboards/admins", headers={"X-User": "ann"}).status_code == 403


SHARING = {
    # stage-filtered counts and sums, grouped by stage, by owner and stage, weighted, averaged:
    # one query over every deal grouped by owner and stage serves them all
    "open": Aggregate("deals", (Measure("count"),), filters=(Filter("stage", "ne", ("won",)),)),
    "won_total": Aggregate(
        "deals", (Measure("sum", field="amount"),), filters=(Filter("stage", "eq", ("won",)),)
    ),
    "average": Aggregate(
        "deals", (Measure("avg", field="amount"),), filters=(Filter("stage", "in", ("new",)),)
    ),
    "forecast": Aggregate(
        "deals",
        (Measure("sum", field="amount", weighted_by="stage", weights=WEIGHTS),),
    ),
    "by_stage": Aggregate(
        "deals", (Measure("count"), Measure("max", field="amount")), group_by=("stage",)
    ),
    "by_owner_stage": Aggregate(
        "deals", (Measure("sum", field="amount"),), group_by=("owner", "stage")
    ),
    # other conditions: a query of its own
    "big": Aggregate(
        "deals", (Measure("count"),), where=lambda user: [where.gt(rt_crm.Deal.amount, 100)]
    ),
    "won_count": Aggregate(
        "deals", (Measure("count"),), filters=(Filter("stage", "eq", ("won",)),)
    ),
    "new_count": Aggregate(
        "deals", (Measure("count"),), filters=(Filter("stage", "in", ("new", "lost")),)
    ),
}


@pytest.mark.parametrize("who", ["admin", "ann"])
def test_aggregates_that_share_a_query_equal_those_computed_alone(
    crm_web: rt_crm.Crm, who: str
) -> None:
    with crm_web.database.session() as session:
        session.execute(sa.update(rt_crm.Deal).where(rt_crm.Deal.id == 3).values(stage="won"))
        session.add(rt_crm.Deal(title="Empty", amount=None, stage="lost", owner_id=2))
    user = getattr(rt_crm.Crm, who)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM deals" in statement:
            statements.append(statement)

    sa.event.listen(crm_web.database.engine, "before_cursor_execute", count)
    try:
        together = ANALYTICS.compute_all(crm_web.database, SHARING, user)
    finally:
        sa.event.remove(crm_web.database.engine, "before_cursor_execute", count)
    alone = {name: ANALYTICS.compute(crm_web.database, a, user) for name, a in SHARING.items()}
    assert together == alone
    if who == "admin":
        assert together["open"].value == 3 and together["won_total"].value == Decimal("150.00")
        assert [row.keys for row in together["by_stage"].rows] == [("new",), ("won",), ("lost",)]
        assert len(statements) == 2  # every aggregate but big shares one query
        # aggregates that all filter read only the records one of them counts
        statements.clear()
        sa.event.listen(crm_web.database.engine, "before_cursor_execute", count)
        try:
            filtered = {name: SHARING[name] for name in ("won_count", "new_count")}
            counts = ANALYTICS.compute_all(crm_web.database, filtered, user)
        finally:
            sa.event.remove(crm_web.database.engine, "before_cursor_execute", count)
        assert (counts["won_count"].value, counts["new_count"].value) == (1, 3)
        assert len(statements) == 1 and "WHERE" in statements[0]
    else:  # ann may not list deals
        assert not any(result.available for result in together.values())


def test_sharing_batches_only_what_nests(crm_web: rt_crm.Crm) -> None:
    def batch(**aggregates: Aggregate) -> list[list[str]]:
        reachable = {name: (a, None) for name, a in aggregates.items()}
        with crm_web.database.session() as session:
            actor = Actor(session, rt_crm.Crm.admin, rt_crm.catalog)
            return sharing(rt_crm.catalog, reachable, actor, session.get_bind().dialect)

    count = (Measure("count"),)
    assert batch(
        a=Aggregate("deals", count, group_by=("stage",)),
        b=Aggregate("deals", count, group_by=("owner",)),
        c=Aggregate("deals", count),
        d=Aggregate("companies", count),
    ) == [["a", "c"], ["b"], ["d"]]
    # a chart by owner of the open deals splits them by stage too: a chart by stage reads it
    open_by_owner = Aggregate(
        "deals", count, group_by=("owner",), filters=(Filter("stage", "ne", ("won",)),)
    )
    by_stage = Aggregate("deals", count, group_by=("stage",))
    assert batch(s=by_stage, o=open_by_owner) == [["o", "s"]]
    monthly = Aggregate("users", count, group_by=("hired_on",), period="month")
    yearly = Aggregate("users", count, group_by=("hired_on",), period="year")
    assert batch(m=monthly, y=yearly, all=Aggregate("users", count)) == [["m", "all"], ["y"]]
