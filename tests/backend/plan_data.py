"""The big PostgreSQL schema the plan tests read: 100,000 contacts, deals and tasks, 10,000
companies and 20 users in a database of its own (filled by ``generate_series``, then ``VACUUM
ANALYZE`` as autovacuum would after a bulk load; planner settings untouched), made once per
test process, and how to
plan a statement on it and find what in a plan reads a big table without an index."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from crmgen.language import load_spec
from tests.backend.conftest import POSTGRES_URL, generated, postgres_admin
from tests.generated_apps import EXAMPLES

ROWS = 100_000
COMPANIES = 10_000
USERS = 20
BIG = 10_000  # a table with at least this many rows must be read by index
ROLES = ("manager", "sales", "support")


@dataclass
class Planner:
    engine: sa.Engine
    resources: dict[str, Any]
    sizes: dict[str, int]
    analytics: Any  # the app's ``analytics.ANALYTICS``


def fill(connection: sa.Connection, choices: dict[str, list[str]]) -> None:
    def pick(name: str) -> str:  # one of an enum's values, in turn by n
        values = ", ".join(f"'{v}'" for v in choices[name])
        return f"(ARRAY[{values}])[1 + n % {len(choices[name])}]"

    statements = [
        (
            f"INSERT INTO users (email, name, active) SELECT 'u' || n || '@example.com',"
            f" 'User ' || n, true FROM generate_series(1, {USERS}) n"
        ),
        (
            f"INSERT INTO companies (name, industry, owner_id, phone, email)"
            f" SELECT 'Company ' || md5(n::text), {pick('companies.industry')}, 1 + n % {USERS},"
            f" CASE WHEN n % 10 = 0 THEN NULL ELSE '+1 555 ' || n END, 'c' || n || '@example.com'"
            f" FROM generate_series(1, {COMPANIES}) n"
        ),
        (
            f"INSERT INTO contacts (full_name, company_id, owner_id, is_key, phone, email)"
            f" SELECT 'Contact ' || md5(n::text), 1 + n % {COMPANIES}, 1 + n % {USERS},"
            f" n % 10 = 0, CASE WHEN n % 10 = 1 THEN NULL ELSE '+1 555 ' || n END,"
            f" 'p' || n || '@example.com' FROM generate_series(1, {ROWS}) n"
        ),
        (
            f"INSERT INTO deals (name, stage, amount, expected_close, closed_on, company_id,"
            f" contact_id, owner_id)"
            f" SELECT 'Deal ' || md5(n::text), {pick('deals.stage')},"
            f" CASE WHEN n % 10 = 0 THEN NULL ELSE (n % 1000) * 10 END,"
            f" CASE WHEN n % 7 = 0 THEN NULL ELSE date '2026-01-01' + n % 700 END,"
            f" CASE WHEN n % 3 = 0 THEN current_date - n % 700 END,"
            f" 1 + n % {COMPANIES}, 1 + n % {ROWS}, 1 + n % {USERS} FROM generate_series(1, {ROWS}) n"
        ),
        (
            f"INSERT INTO tasks (title, assignee_id, deadline, priority, status, deal_id, contact_id)"
            f" SELECT 'Task ' || md5(n::text), 1 + n % {USERS},"
            f" CASE WHEN n % 9 = 0 THEN NULL ELSE date '2026-01-01' + n % 500 END,"
            f" {pick('tasks.priority')}, {pick('tasks.status')}, 1 + n % {ROWS}, 1 + (n * 7) % {ROWS}"
            f" FROM generate_series(1, {ROWS}) n"
        ),
    ]
    for statement in statements:
        connection.execute(sa.text(statement))


def big_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planner]:
    admin = postgres_admin()
    gen = generated("crm", tmp_path_factory)
    modules = gen.import_modules("models", "resources", "analytics")
    spec = load_spec(EXAMPLES["crm"])
    choices = {
        f"{e.table}.{f.name}": [v.name for v in f.values]
        for e in spec.entities
        for f in e.fields
        if f.values
    }
    # a database of its own: a long transaction of another test in the shared database would
    # keep VACUUM from marking the pages all-visible, and the planner from reading an index alone
    name = f"plans_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(sa.make_url(POSTGRES_URL).set(database=name))
    try:
        tables = modules["models"].Base.metadata.sorted_tables
        with engine.begin() as connection:  # the indexes after the rows: faster so
            connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            for table in tables:
                connection.execute(sa.schema.CreateTable(table))
            fill(connection, choices)
            for table in tables:
                for index in table.indexes:
                    connection.execute(sa.schema.CreateIndex(index))
            modules["models"].ensure_search_indexes(connection)  # the full-text indexes
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
            sizes = dict(
                connection.execute(
                    sa.text(
                        "SELECT c.relname, c.reltuples::bigint FROM pg_class c JOIN pg_namespace s"
                        " ON s.oid = c.relnamespace WHERE s.nspname = 'public' AND c.relkind = 'r'"
                    ),
                ).all()
            )
        yield Planner(engine, modules["resources"].BY_NAME, sizes, modules["analytics"].ANALYTICS)
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def plan_of(planner: Planner, statement: sa.Select[Any]) -> dict[str, Any]:
    """The plan PostgreSQL makes for ``statement`` (a list page: of 50 records)."""
    compiled = statement.compile(dialect=planner.engine.dialect)
    expanded = compiled.construct_expanded_state({"page_limit": 51})  # IN (...) lists too
    with planner.engine.connect() as connection:
        [[found]] = connection.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) " + expanded.statement, expanded.parameters
        ).all()
    plan: dict[str, Any] = found[0]["Plan"]
    return plan


def faults_of(plan: dict[str, Any], sizes: dict[str, int], under_sort: bool = False) -> list[str]:
    """What in ``plan`` reads a big table without its index: a sort over a tenth of one or
    more, or a sequential scan of one feeding a sort (a seller's own rows, a twentieth here,
    may be sorted after an index scan)."""
    faults = []
    kind = plan["Node Type"]
    table = plan.get("Relation Name", "")
    big = {name: rows for name, rows in sizes.items() if rows >= BIG}
    if kind == "Sort":
        child = plan["Plans"][0]
        if child["Plan Rows"] >= ROWS // 10:
            faults.append(f"Sort over {child['Plan Rows']} rows of {child['Node Type']}")
        under_sort = True
    if kind == "Seq Scan" and table in big and under_sort:
        faults.append(f"Seq Scan of {table} feeding a Sort")
    for child in plan.get("Plans", []):
        faults += faults_of(child, sizes, under_sort)
    return faults
