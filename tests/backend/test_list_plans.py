"""Every list query the reference CRM's UI makes uses an index on PostgreSQL.

On the big schema of ``plan_data`` (100,000 contacts, deals and tasks, planner settings
untouched). Each list page the UI offers is
planned through the runtime's own query builder (``reads.plan_list``), as each role with its
record rules: the default order, every sortable column both ways, every list filter, and the
back side lists of a record. ``EXPLAIN`` must show no sort over a big part of a big table, and
no sequential scan of one feeding a sort (an Incremental Sort, or a sort of a few rows after an
index scan, is fine). PostgreSQL only: skips without it, except under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crmgen_runtime import backs, crud, reads
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser

from crmgen.language import load_spec
from tests.backend.plan_data import BIG, ROLES, Planner, faults_of, plan_of
from tests.generated_apps import EXAMPLES


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
                found = faults_of(plan_of(planner, plan.page), planner.sizes)
                faults += [f"{entity.name} {role} {params}: {f}" for f in found]
    for owner in planner.resources.values():
        for back in backs.backs(owner).values():
            if planner.sizes.get(back.source.model.__tablename__, 0) < BIG:
                continue
            user = CurrentUser(1, "u1@example.com", "User 1", frozenset({"manager"}))
            plan = reads.plan_list(back.source, user, [], within=[back.linked_to(5)])
            planned += 1
            found = faults_of(plan_of(planner, plan.page), planner.sizes)
            faults += [f"{owner.name}.{back.name}: {f}" for f in found]
    assert planned > 50
    assert faults == [], "\n".join(faults)


def _index_conditions(plan: dict[str, Any], table: str) -> list[str]:
    found = (
        [plan["Index Cond"]] if plan.get("Relation Name") == table and "Index Cond" in plan else []
    )
    for child in plan.get("Plans", []):
        found += _index_conditions(child, table)
    return found


def test_a_cursor_page_starts_reading_at_the_cursor(planner: Planner) -> None:
    """The page after a cursor reads its index from the cursor on (an index condition on the
    first sort key), not from the start filtering out every row before it: a page deep in a
    list, and an export that walks it, cost what the first page does. (A nullable column going
    up has no such bound: its empty values come last, after every value.)"""
    database = Database(planner.engine.url.render_as_string(hide_password=False))
    user = CurrentUser(1, "u1@example.com", "User 1", frozenset({"manager"}))
    checked = 0
    required = {"Contact": "full_name", "Company": "name", "Deal": "name", "Task": "title"}
    for name, key in required.items():
        resource = planner.resources[name]
        for sort in (key, f"-{key}"):
            params = [("sort", sort), ("limit", "500"), ("count", "none")]
            page = crud.list_records(database, resource, user, params, count=False)
            after = [("sort", sort), ("cursor", page["next_cursor"])]
            plan = plan_of(planner, reads.plan_list(resource, user, after).page)
            column = resource.attribute(sort.lstrip("-")).key
            conditions = _index_conditions(plan, resource.model.__tablename__)
            assert any(column in c for c in conditions), (name, sort, conditions)
            checked += 1
    database.dispose()
    assert checked >= 8


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
                found = faults_of(plan_of(planner, plan.page), planner.sizes, under_sort=True)
                faults += [f"{resource.name} {role} {params}: {f}" for f in found]
    assert planned >= 12
    assert faults == [], "\n".join(faults)
