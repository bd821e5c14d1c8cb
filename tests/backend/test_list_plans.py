"""Every list query the reference CRM's UI makes uses an index on PostgreSQL.

One schema per module with 100,000 contacts, deals and tasks and 10,000 companies (filled by
``generate_series``, analysed, planner settings untouched). Each list page the UI offers is
planned through the runtime's own query builder (``reads.plan_list``), as each role with its
record rules: the default order, every sortable column both ways, every list filter, and the
back side lists of a record. ``EXPLAIN`` must show no sort over a big part of a big table, and
no sequential scan of one feeding a sort (an Incremental Sort, or a sort of a few rows after an
index scan, is fine). PostgreSQL only: skips without it, except under ``CI=true``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import backs, reads
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser

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


def _fill(connection: sa.Connection, choices: dict[str, list[str]]) -> None:
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
            f"INSERT INTO deals (name, stage, amount, expected_close, company_id, contact_id, owner_id)"
            f" SELECT 'Deal ' || md5(n::text), {pick('deals.stage')},"
            f" CASE WHEN n % 10 = 0 THEN NULL ELSE (n % 1000) * 10 END,"
            f" CASE WHEN n % 7 = 0 THEN NULL ELSE date '2026-01-01' + n % 700 END,"
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


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planner]:
    admin = postgres_admin()
    gen = generated("crm", tmp_path_factory)
    modules = gen.import_modules("models", "resources")
    spec = load_spec(EXAMPLES["crm"])
    choices = {
        f"{e.table}.{f.name}": [v.name for v in f.values]
        for e in spec.entities
        for f in e.fields
        if f.values
    }
    schema = f"plans_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = sa.create_engine(
        POSTGRES_URL, connect_args={"options": f"-csearch_path={schema},public"}
    )
    try:
        tables = modules["models"].Base.metadata.sorted_tables
        with engine.begin() as connection:  # the indexes after the rows: faster so
            for table in tables:
                connection.execute(sa.schema.CreateTable(table))
            _fill(connection, choices)
            for table in tables:
                for index in table.indexes:
                    connection.execute(sa.schema.CreateIndex(index))
            modules["models"].ensure_search_indexes(connection)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))
            sizes = dict(
                connection.execute(
                    sa.text(
                        "SELECT c.relname, c.reltuples::bigint FROM pg_class c JOIN pg_namespace s"
                        " ON s.oid = c.relnamespace WHERE s.nspname = :schema AND c.relkind = 'r'"
                    ),
                    {"schema": schema},
                ).all()
            )
        yield Planner(engine, modules["resources"].BY_NAME, sizes)
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _plan(planner: Planner, page: sa.Select[Any]) -> dict[str, Any]:
    compiled = page.compile(dialect=planner.engine.dialect)
    params = compiled.construct_params({"page_limit": 51})
    with planner.engine.connect() as connection:
        [[found]] = connection.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) " + str(compiled), params
        ).all()
    plan: dict[str, Any] = found[0]["Plan"]
    return plan


def _faults(plan: dict[str, Any], sizes: dict[str, int], under_sort: bool = False) -> list[str]:
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
        faults += _faults(child, sizes, under_sort)
    return faults


def _queries(entity: Any) -> Iterator[list[tuple[str, str]]]:
    """The list queries the UI makes: the default order, each column's sort both ways, each
    list filter."""
    yield []
    for column in entity.ui.list.columns:
        field = entity.field(column)
        if field is None or field.type in ("json", "refs"):
            continue
        yield [("sort", column)]
        yield [("sort", f"-{column}")]
    for name in entity.ui.list.filters:
        field = entity.field(name)
        if field.values:
            yield [(name, field.values[0].name)]
        elif field.type in ("ref", "boolean"):
            yield [(name, "5" if field.type == "ref" else "true")]


def test_every_list_the_ui_offers_reads_by_index(planner: Planner) -> None:
    spec = load_spec(EXAMPLES["crm"])
    faults: list[str] = []
    planned = 0
    for entity in spec.entities:
        resource = planner.resources[entity.name]
        if planner.sizes.get(entity.table, 0) < BIG or "list" not in entity.api:
            continue
        for role in ROLES:
            user = CurrentUser(1, "u1@example.com", "User 1", frozenset({role}))
            for params in _queries(entity):
                try:
                    plan = reads.plan_list(resource, user, params)
                except ApiError:  # a field this role may not read: the UI does not offer it
                    continue
                planned += 1
                found = _faults(_plan(planner, plan.page), planner.sizes)
                faults += [f"{entity.name} {role} {params}: {f}" for f in found]
    for owner in planner.resources.values():
        for back in backs.backs(owner).values():
            if planner.sizes.get(back.source.model.__tablename__, 0) < BIG:
                continue
            user = CurrentUser(1, "u1@example.com", "User 1", frozenset({"manager"}))
            plan = reads.plan_list(back.source, user, [], within=[back.linked_to(5)])
            planned += 1
            found = _faults(_plan(planner, plan.page), planner.sizes)
            faults += [f"{owner.name}.{back.name}: {f}" for f in found]
    assert planned > 50
    assert faults == [], "\n".join(faults)


def test_a_search_for_a_rare_term_reads_by_index(planner: Planner) -> None:
    """``q=`` with a word few records hold (a full word, a part of one, an e-mail), ranked or
    sorted: the search indexes find the rows, no sequential scan of a big table."""
    faults: list[str] = []
    planned = 0
    rare = "c4ca4238a0b923820dcc509a6f75849b"  # md5('1'): in one name of each table
    for resource in planner.resources.values():
        table = resource.model.__tablename__
        if planner.sizes.get(table, 0) < BIG or not resource.search:
            continue
        for role in ROLES:
            user = CurrentUser(1, "u1@example.com", "User 1", frozenset({role}))
            for params in (
                [("q", rare)],
                [("q", rare[4:14])],
                [("q", "p12345@example")],
                [("q", rare), ("sort", "-id")],
            ):
                try:
                    plan = reads.plan_list(resource, user, params)
                except ApiError:
                    continue
                planned += 1
                found = _faults(_plan(planner, plan.page), planner.sizes, under_sort=True)
                faults += [f"{resource.name} {role} {params}: {f}" for f in found]
    assert planned >= 12
    assert faults == [], "\n".join(faults)
