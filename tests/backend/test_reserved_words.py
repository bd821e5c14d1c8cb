"""Names SQL, the app and the list query also use work end to end (tests/backend/reserved_words.yaml).

Entities ``Order``, ``Group``, ``Select``, ``Job``, ``Session``...; fields ``order``, ``group``,
``user`` (a reference to User), ``select``, ``desc``, ``table``, ``where``; and fields named like
list parameters (``limit``, ``sort``, ``q``, ``format``...), filtered with an explicit operator.
On SQLite and PostgreSQL, one app and database per kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.backend.conftest import Backend, make_backend


@pytest.fixture(scope="module")
def words(dialect: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    backend = make_backend("reserved_words", dialect, tmp_path_factory)
    yield from backend


@pytest.fixture(scope="module")
def filled(words: Backend) -> dict[str, Any]:
    words.reset()
    sales = words.as_user("sales")
    post = words.client.post

    def made(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = post(f"/api/{path}", json=body, headers=sales)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    group = made("groups", {"name": "G1", "select": True, "table": "t1"})
    other = made("groups", {"name": "G2", "select": False})
    tag = made("selects", {"name": "S", "check": 2})
    user_id = words.users["sales"].id
    orders = [
        made(
            "orders",
            {
                "order": n,
                "group": group["id"] if n % 2 else other["id"],
                "user": user_id,
                "select": ["all", "distinct", "where"][n % 3],
                "table": f"table {n}",
                "where": f"{n}.50",
                "limit": n * 10,
                "sort": f"sort{n}",
                "q": f"q{n}",
                "format": "pdf" if n % 2 else "csv",
                "count": n,
                "offset": n % 2 == 0,
                "cursor": "c",
                "fields": "f",
                "match": "m",
                "type": "t",
                "tags": [tag["id"]],
            },
        )
        for n in range(1, 6)
    ]
    return {"group": group, "other": other, "tag": tag, "orders": orders}


def _list(words: Backend, query: str) -> dict[str, Any]:
    response = words.client.get(f"/api/orders?{query}", headers=words.as_user("sales"))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _orders(words: Backend, query: str) -> list[int]:
    return [item["order"] for item in _list(words, query)["items"]]


def test_crud_with_reserved_words(words: Backend, filled: dict[str, Any]) -> None:
    first = filled["orders"][0]
    assert first["desc"] == "from table 1"  # the process step set it
    assert first["select"] == "distinct" and first["where"] == "1.50"
    sales = words.as_user("sales")
    patched = words.client.patch(
        f"/api/orders/{first['id']}",
        json={"version": first["version"], "order": 100, "table": "renamed"},
        headers=sales,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["order"] == 100
    group = words.client.get(f"/api/groups/{filled['group']['id']}", headers=sales).json()
    assert group["table"] == "renamed"  # the update step reached Group.table
    back = words.client.patch(
        f"/api/orders/{first['id']}",
        json={"version": patched.json()["version"], "order": 1},
        headers=sales,
    )
    assert back.status_code == 200, back.text
    for path in ("jobs", "sessions", "roles", "audits", "outboxes", "login_attempts"):
        body = {"email": "a@b.example"} if path == "login_attempts" else {"name": path}
        created = words.client.post(f"/api/{path}", json=body, headers=words.as_user("admin"))
        assert created.status_code == 201, (path, created.text)
        listed = words.client.get(f"/api/{path}", headers=words.as_user("admin")).json()
        assert listed["total"] == 1, path
    bad = words.client.post("/api/selects", json={"name": "x", "check": 0}, headers=sales)
    assert bad.status_code == 422 and "check" in bad.json()["error"]["fields"], bad.text


def test_filters_and_sort_on_reserved_words(words: Backend, filled: dict[str, Any]) -> None:
    assert _orders(words, "sort=-order") == [5, 4, 3, 2, 1]
    assert _orders(words, "sort=order&select=all") == [3]
    assert _orders(words, "sort=order&order__gte=4") == [4, 5]
    assert _orders(words, f"sort=order&group={filled['other']['id']}") == [2, 4]
    assert _orders(words, "sort=-where&where__lt=3") == [2, 1]
    assert _orders(words, "sort=table&q=table+3") == [3]
    assert _orders(words, "sort=order&table__contains=able 5") == [5]
    assert _orders(words, f"sort=order&tags={filled['tag']['id']}&limit=2") == [1, 2]


def test_fields_named_like_list_parameters_take_an_explicit_operator(
    words: Backend, filled: dict[str, Any]
) -> None:
    # the parameters keep their meaning ...
    assert _orders(words, "sort=-limit&limit=2") == [5, 4]
    assert _orders(words, "sort=order&offset=3") == [4, 5]
    assert _orders(words, "sort=order&q=sort2") == [2]  # searches sort, a search field
    # ... and the fields are filtered with an operator
    assert _orders(words, "sort=order&limit__eq=30") == [3]
    assert _orders(words, "sort=order&limit__gte=40") == [4, 5]
    assert _orders(words, "sort=order&sort__eq=sort4") == [4]
    assert _orders(words, "sort=order&sort__in=sort1,sort5") == [1, 5]
    assert _orders(words, "sort=order&q__contains=q3") == [3]
    assert _orders(words, "sort=order&format__eq=csv") == [2, 4]
    assert _orders(words, "sort=order&format__in=pdf") == [1, 3, 5]
    assert _orders(words, "sort=order&offset__eq=true") == [2, 4]
    assert _orders(words, "sort=order&count__lte=2") == [1, 2]
    assert _orders(words, "sort=order&cursor__eq=c&fields__eq=f")[:1] == [1]
    assert _orders(words, "sort=-count&count__ne=5&limit=1") == [4]
    assert _orders(words, "sort=order&match__eq=m&type__eq=t") == [1, 2, 3, 4, 5]
    for name in ("format", "count", "fields"):  # given bare, a reserved parameter name is refused
        response = words.client.get(f"/api/orders?{name}=1", headers=words.as_user("sales"))
        assert response.status_code == 400, response.text
        assert f"{name}__eq" in response.json()["error"]["message"], response.text
    # count= is the list parameter: how to count the total (the field keeps count__eq)
    counted = _list(words, "sort=order&count=exact&count__gte=4")
    assert [item["order"] for item in counted["items"]] == [4, 5]
    assert (counted["total"], counted["total_kind"]) == (2, "exact")
    assert _list(words, "count=none")["total"] is None
    response = words.client.get("/api/orders?count=2", headers=words.as_user("sales"))
    assert "must be exact, estimate or none" in response.json()["error"]["message"].lower()


def test_dashboard_over_reserved_words(words: Backend, filled: dict[str, Any]) -> None:
    response = words.client.get("/api/dashboards/orders", headers=words.as_user("sales"))
    assert response.status_code == 200, response.text
    text = response.text
    assert "order_sum" in text and "by_select" in text and "by_group" in text
    body = response.json()
    kpis = (
        {k["name"]: k for k in body["kpis"]} if isinstance(body.get("kpis"), list) else body["kpis"]
    )
    assert float(kpis["order_sum"]["value"]) == 1 + 3 + 4  # select in (all, distinct)


def test_openapi_documents_the_explicit_operators(words: Backend) -> None:
    document = words.client.get("/openapi.json").json()
    shared = document["components"]["parameters"]
    params = {
        (shared[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p)["name"]
        for p in document["paths"]["/api/orders"]["get"]["parameters"]
    }
    assert {"limit", "sort", "q", "format__eq", "limit__eq", "sort__eq", "q__eq"} <= params
    assert {"order", "select", "group", "table"} <= params
