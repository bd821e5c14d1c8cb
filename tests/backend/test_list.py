"""List endpoints: paging by cursor and offset, multi-field sort, every filter operator,
search, and a fixed number of SQL statements whatever the page size."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from crmgen_runtime.counts import ListLimits

from tests.backend.conftest import Backend
from tests.backend.payloads import create

# (name, employees, revenue, industry): lower-case ASCII names sort the same everywhere.
ROWS = [
    ("alpha", 10, "100.00", "it"),
    ("bravo", 20, None, "retail"),
    ("charlie", 10, "300.50", None),
    ("delta", None, "50.00", "it"),
    ("echo", 30, "100.00", "services"),
    ("foxtrot", 20, "75.25", "it"),
    ("golf", 10, None, "retail"),
]


def seed(crm: Backend) -> dict[str, int]:
    ids = {}
    for name, employees, revenue, industry in ROWS:
        ids[name] = create(
            crm,
            "companies",
            full=False,
            name=name,
            employees=employees,
            annual_revenue=revenue,
            industry=industry,
        )["id"]
    return ids


def names(crm: Backend, query: str) -> list[str]:
    response = crm.client.get(f"/api/companies?{query}", headers=crm.as_user("admin"))
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def test_multi_sort_with_empty_values_greatest(crm: Backend) -> None:
    seed(crm)  # delta has no employees: last going up, first going down
    assert names(crm, "sort=employees,-name") == [
        "golf",
        "charlie",
        "alpha",
        "foxtrot",
        "bravo",
        "echo",
        "delta",
    ]
    assert names(crm, "sort=-employees,name") == [
        "delta",
        "echo",
        "bravo",
        "foxtrot",
        "alpha",
        "charlie",
        "golf",
    ]
    assert names(crm, "sort=-name&limit=2") == ["golf", "foxtrot"]


def test_cursor_and_offset_paging_walk_the_same_order(crm: Backend) -> None:
    seed(crm)
    admin = crm.as_user("admin")
    for sort in ("employees,-name", "-annual_revenue", "industry,-employees", "-created_at"):
        expected = names(crm, f"sort={sort}&limit=500")
        seen, cursor = [], None
        while True:
            query = f"/api/companies?sort={sort}&limit=3" + (f"&cursor={cursor}" if cursor else "")
            page = crm.client.get(query, headers=admin).json()
            assert page["total"] == 7
            seen += [item["name"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == expected, sort
        back, cursor = [], page["prev_cursor"]  # and back again by each prev_cursor
        while cursor is not None:
            query = f"/api/companies?sort={sort}&limit=3&cursor={cursor}"
            page = crm.client.get(query, headers=admin).json()
            back = [item["name"] for item in page["items"]] + back
            cursor = page["prev_cursor"]
        assert back == expected[:6], sort
        by_offset = names(crm, f"sort={sort}&limit=3&offset=3")
        assert by_offset == expected[3:6]


def test_totals_say_how_they_were_counted_and_offsets_are_capped(crm: Backend) -> None:
    seed(crm)
    app: Any = crm.client.app
    settings = app.state.settings
    app.state.settings = dataclasses.replace(
        settings, lists=ListLimits(exact_count=5, max_offset=3)
    )
    try:
        admin = crm.as_user("admin")

        def total(query: str) -> tuple[Any, Any]:
            response = crm.client.get(f"/api/companies?{query}", headers=admin)
            assert response.status_code == 200, response.text
            return response.json()["total"], response.json()["total_kind"]

        assert total("employees=10") == (3, "exact")
        assert total("count=exact") == (7, "exact")
        assert total("count=none") == (None, None)
        assert total("") == (7, "exact")  # the first page holds all 7: they are the total
        counted, kind = total("limit=2")  # 7 companies, over the threshold of 5
        assert kind == ("estimate" if crm.dialect == "postgresql" else "at_least"), kind
        assert counted >= 6
        assert names(crm, "sort=name&offset=3&limit=1") == ["delta"]
        deep = crm.client.get("/api/companies?offset=4", headers=admin)
        assert deep.status_code == 400 and deep.json()["error"]["code"] == "offset_too_large"
        assert "cursor" in deep.json()["error"]["message"]
    finally:
        app.state.settings = settings


def test_every_filter_operator(crm: Backend) -> None:
    seed(crm)
    assert names(crm, "employees=10&sort=name") == ["alpha", "charlie", "golf"]
    assert names(crm, "employees__ne=10&sort=name") == ["bravo", "delta", "echo", "foxtrot"]
    assert names(crm, "employees__gt=10&sort=name") == ["bravo", "echo", "foxtrot"]
    assert names(crm, "employees__gte=20&employees__lt=30&sort=name") == ["bravo", "foxtrot"]
    assert names(crm, "employees__lte=10&sort=name") == ["alpha", "charlie", "golf"]
    assert names(crm, "industry__in=retail,services&sort=name") == ["bravo", "echo", "golf"]
    assert names(crm, "name__contains=LF&sort=name") == ["golf"]
    assert names(crm, "industry__isnull=true") == ["charlie"]
    assert names(crm, "annual_revenue__isnull=false&annual_revenue__gte=100&sort=name") == [
        "alpha",
        "charlie",
        "echo",
    ]
    assert names(crm, "annual_revenue=100.00&sort=name") == ["alpha", "echo"]
    assert names(crm, "name__contains=%25") == []  # LIKE wildcards are literal
    assert names(crm, "extra__isnull=true&limit=1") == ["alpha"]
    owner = crm.users["admin"].id
    assert len(names(crm, f"owner={owner}")) == 7


def test_search_over_searchable_fields(crm: Backend) -> None:
    seed(crm)
    create(crm, "companies", full=False, name="Zulu Trading", email="info@zulu.example")
    assert names(crm, "q=zulu") == ["Zulu Trading"]
    assert names(crm, "q=ZULU+trading") == ["Zulu Trading"]
    assert names(crm, "q=info@") == ["Zulu Trading"]
    assert names(crm, "q=_") == []
    assert names(crm, "q=lph") == ["alpha"]


def test_bad_list_parameters_are_400(crm: Backend) -> None:
    admin = crm.as_user("admin")
    for query in (
        "limit=0",
        "limit=501",
        "limit=x",
        "offset=-1",
        "sort=nothing",
        "sort=extra",
        "cursor=!!!",
        "cursor=abc&offset=1",
        "nothing=1",
        "employees__gt=abc",
        "employees__between=1",
        "annual_revenue=1e999",
        "created_at__gt=yesterday",
    ):
        response = crm.client.get(f"/api/companies?{query}", headers=admin)
        assert response.status_code == 400, (query, response.text)
        assert response.json()["error"]["fields"], query


def counted_get(crm: Backend, url: str, user: str) -> tuple[Any, int]:
    """``GET url`` as ``user``: its JSON and the number of SQL statements it issued."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = crm.database.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = crm.client.get(url, headers=crm.as_user(user))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.text
    return response.json(), len(statements)


def test_statement_count_does_not_grow_with_the_page(crm: Backend) -> None:
    """limit=5 and limit=10 issue the same number of statements (refs are joined, lists
    batched); a first page that holds every record needs no count."""
    members = [create(crm, "contacts", full=False)["id"] for _ in range(3)]
    for i in range(12):
        create(crm, "client_groups", full=False, name=f"group {i:02d}", members=members)
    for i in range(12):
        create(crm, "deals", full=False)
    counts = {}
    for path in ("client_groups", "deals", "contacts", "order_lines"):
        for limit in (5, 10, 200):
            counts[(path, limit)] = counted_get(crm, f"/api/{path}?limit={limit}", "admin")[1]
        assert counts[(path, 5)] == counts[(path, 10)], (path, counts)
    # the total (and on PostgreSQL the planner's estimate first), the page, the members
    assert counts[("client_groups", 10)] == (4 if crm.dialect == "postgresql" else 3)
    assert counts[("client_groups", 200)] == 2  # all 12 on the page: no count


def test_a_sellers_list_is_one_statement_whatever_the_links(crm: Backend) -> None:
    """A seller's page of deals and of companies (a self-reference), with links to records
    of another seller, costs the total and the page: the read rules of the linked entities
    are part of the page's joins, not extra queries."""
    seller = crm.users["sales"].id
    others = [create(crm, "companies", full=False, user="sales2")["id"] for _ in range(3)]
    for i in range(12):
        owner = "sales" if i % 2 else "admin"
        values = {"owner": seller} if owner == "admin" else {}
        company = others[i % 3] if owner == "admin" else None
        create(crm, "deals", full=False, user=owner, company=company, **values)
        create(crm, "companies", full=False, user=owner, parent=company, **values)
    for path in ("deals", "companies"):
        counts = {}
        for limit in (5, 10, 200):
            page, counts[limit] = counted_get(crm, f"/api/{path}?limit={limit}", "sales")
            links = [item.get(name) for item in page["items"] for name in ("company", "parent")]
            foreign = [link for link in links if link and link["id"] in others]
            assert foreign and all(link["display"] == "" for link in foreign)
        counted = 3 if crm.dialect == "postgresql" else 2  # (the estimate,) the total, the page
        assert counts == {5: counted, 10: counted, 200: 1}, (path, counts)
