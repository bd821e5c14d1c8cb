"""The per-entity REST API of ``crmgen_runtime.crud.routes``, through real HTTP requests on
SQLite and PostgreSQL: lists with every filter, sorts, cursors and search; reads with link
displays; create, update and delete with the rules of each role."""

from __future__ import annotations

from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import Serve
from crmgen_runtime import crud
from starlette.testclient import TestClient


@pytest.fixture
def api(crm_web: rt_crm.Crm, serve: Serve, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """A client of the CRM's API (``X-User`` names who asks); sellers list their own deals
    and companies too."""
    for resource in (crm_web.deals, crm_web.companies):
        monkeypatch.setitem(resource.rules["sales"].actions, "list", rt_crm.Access("own"))
    routes = [
        route for resource in crm_web.catalog.resources.values() for route in crud.routes(resource)
    ]
    return serve(routes)


def get(api: TestClient, path: str, user: str = "admin", **query: Any) -> Any:
    response = api.get(path, params=query, headers={"X-User": user})
    assert response.status_code == 200, response.text
    return response.json()


def titles(api: TestClient, user: str = "admin", **query: Any) -> list[str]:
    return [item["title"] for item in get(api, "/api/deals", user, **query)["items"]]


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    found: dict[str, Any] = response.json()["error"]
    return found


def test_the_routes_serve_the_actions_the_api_enables(crm: rt_crm.Crm) -> None:
    routes = crud.routes(crm.deals)
    assert [(r.path, sorted(r.methods or ())) for r in routes] == [  # type: ignore[attr-defined]
        ("/deals", ["GET", "HEAD", "POST"]),
        ("/deals/{id}", ["DELETE", "GET", "HEAD", "PATCH"]),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"title": "Big"}, ["Big"]),
        ({"amount__gt": "100"}, ["Big", "Mid"]),
        ({"amount__gte": "150"}, ["Big", "Mid"]),
        ({"amount__lt": "150"}, ["Small"]),
        ({"amount__lte": "150"}, ["Small", "Mid"]),
        ({"title__ne": "Big"}, ["Small", "Mid"]),
        ({"title__in": "Big,Mid"}, ["Big", "Mid"]),
        ({"title__in": ""}, []),
        ({"title__contains": "i"}, ["Big", "Mid"]),
        ({"title__contains": "%"}, []),
        ({"company__isnull": "false"}, ["Big", "Small", "Mid"]),
        ({"company": "4"}, ["Mid"]),
        ({"partners": "2"}, ["Big"]),
        ({"partners__in": "4,9"}, ["Big"]),
        ({"partners__isnull": "true"}, ["Small", "Mid"]),
        ({"partners__isnull": "false"}, ["Big"]),
        ({"stage": "new", "amount__gt": "60"}, ["Big", "Mid"]),
        ({"q": "sm"}, ["Small"]),
        ({"q": "  "}, ["Big", "Small", "Mid"]),
    ],
)
def test_lists_filter_with_every_operator(
    api: TestClient, query: dict[str, str], expected: list[str]
) -> None:
    assert titles(api, **query) == expected


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({"nope": "1"}, "Unknown parameter or field 'nope'."),
        ({"amount__gt": "lots"}, None),
        ({"stage__in": ",".join(["new"] * 501)}, "At most 500 values."),
        ({"amount__contains": "5"}, "__contains works on text fields only."),
        ({"title__contains": "x" * 1001}, "Must be at most 1000 characters of text."),
        ({"partners__gt": "1"}, "__gt does not apply to lists; use =, __in or __isnull."),
        ({"partners__in": ",".join(["1"] * 501)}, "At most 500 values."),
        ({"limit": "0"}, "Must be a whole number from 1 to 500."),
        ({"offset": "-1"}, "Must be a whole number of at least 0."),
        ({"count": "all"}, "Must be exact, estimate or none."),
        ({"sort": "partners"}, "Cannot sort by 'partners'."),
        ({"sort": "title,-title"}, "'title' is named twice."),
        (
            {"cursor": "nonsense"},
            "Invalid cursor: use the next_cursor or prev_cursor of the same list query.",
        ),
        ({"q": "a\x00"}, "Must be at most 1000 characters of text."),
    ],
)
def test_a_bad_list_parameter_is_a_400_naming_it(
    api: TestClient, query: dict[str, str], problem: str | None
) -> None:
    found = error(api.get("/api/deals", params=query, headers={"X-User": "admin"}), 400)
    assert found["code"] == "bad_query"
    [(name, message)] = found["fields"].items()
    assert name == next(iter(query))
    assert problem is None or message == problem


def test_a_parameter_named_twice_and_cursor_with_offset_are_refused(api: TestClient) -> None:
    admin = {"X-User": "admin"}
    twice = error(api.get("/api/deals?limit=1&limit=2", headers=admin), 400)
    assert twice["fields"] == {"limit": "Given more than once."}
    cursor = get(api, "/api/deals", limit=1)["next_cursor"]
    both = error(api.get("/api/deals", params={"cursor": cursor, "offset": 1}, headers=admin), 400)
    assert both["fields"] == {"cursor": "Use either cursor or offset, not both."}
    other = error(
        api.get("/api/deals", params={"cursor": cursor, "sort": "title"}, headers=admin), 400
    )
    assert other["fields"]["cursor"].startswith("Invalid cursor")


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-amount", ["Big", "Mid", "Small"]),
        ("title", ["Big", "Mid", "Small"]),
        ("-title", ["Small", "Mid", "Big"]),
        ("stage,-id", ["Mid", "Small", "Big"]),
        ("-company", ["Mid", "Small", "Big"]),
    ],
)
def test_cursors_walk_every_sort_page_by_page(
    api: TestClient, sort: str, expected: list[str]
) -> None:
    assert titles(api, sort=sort) == expected
    walked, cursor = [], None
    while True:
        query = {"sort": sort, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = get(api, "/api/deals", **query)
        walked += [item["title"] for item in page["items"]]
        assert (page["total"], page["total_kind"]) == (3, "exact")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == expected
    back = []  # and back from the last page, by each page's prev_cursor
    cursor = page["prev_cursor"]
    while cursor is not None:
        page = get(api, "/api/deals", sort=sort, limit=1, cursor=cursor)
        back += [item["title"] for item in page["items"]]
        cursor = page["prev_cursor"]
    assert back == expected[-2::-1]
    assert titles(api, sort=sort, offset=1, limit=1) == expected[1:2]


def test_a_cursor_over_nullable_and_typed_columns(api: TestClient, crm_web: rt_crm.Crm) -> None:
    with crm_web.database.session() as session:  # type: ignore[union-attr]
        session.execute(sa.update(rt_crm.Deal).where(rt_crm.Deal.id == 2).values(amount=None))
    for sort in ("amount", "-amount", "title,amount", "-id"):
        walked, cursor = [], None
        while True:
            query = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = get(api, "/api/deals", **query)
            walked += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(walked) == [1, 2, 3], sort
    # an empty value is the greatest: last going up, first going down (one index serves both)
    assert titles(api, sort="amount") == ["Mid", "Big", "Small"]
    assert titles(api, sort="-amount") == ["Small", "Big", "Mid"]
    for sort, expected in (("amount", [3, 1, 2]), ("-amount", [2, 1, 3])):
        forward, cursor, page = [], None, {}
        while True:  # one row a page, so every cursor sits on an empty or a filled value
            query = {"sort": sort, "limit": 1, **({"cursor": cursor} if cursor else {})}
            page = get(api, "/api/deals", **query)
            forward += [item["id"] for item in page["items"]]
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
        backward, cursor = [], page["prev_cursor"]
        while cursor is not None:
            page = get(api, "/api/deals", sort=sort, limit=1, cursor=cursor)
            backward = [item["id"] for item in page["items"]] + backward
            cursor = page["prev_cursor"]
        assert forward == expected and backward == expected[:-1], sort


def test_a_reader_sees_their_records_and_fields_only(api: TestClient) -> None:
    [big] = get(api, "/api/deals", "ann")["items"]
    assert big["title"] == "Big" and "amount" not in big
    assert big["company"] == {"id": 1, "display": "Acme"}
    assert big["partners"] == [2, 4]
    refused = error(api.get("/api/deals?amount__gt=1", headers={"X-User": "ann"}), 400)
    assert refused["fields"] == {"amount__gt": "Unknown parameter or field 'amount'."}
    assert titles(api, "ann", q="big") == ["Big"]
    # a link outside the reader's read rule keeps its id and shows no display
    [beta_deal] = [d for d in get(api, "/api/deals", "bob")["items"] if d["id"] == 2]
    assert beta_deal["company"] == {"id": 2, "display": "Beta"}
    companies = get(api, "/api/companies", "ann")["items"]
    assert [c["name"] for c in companies] == ["Acme", "Alpha"] and "secret" not in companies[0]


def test_a_role_without_a_rule_is_refused_and_nobody_anonymous(api: TestClient) -> None:
    assert error(api.get("/api/deals", headers={"X-User": "clerk"}), 403)["code"] == "forbidden"
    assert error(api.get("/api/deals"), 401)["code"] == "not_authenticated"
    assert error(api.get("/api/deals/1"), 401)["code"] == "not_authenticated"
    assert error(api.post("/api/deals", json={}), 401)["code"] == "not_authenticated"


def test_read_gives_one_record_within_the_read_rule(api: TestClient) -> None:
    deal = get(api, "/api/deals/1")
    assert deal["company"] == {"id": 1, "display": "Acme"} and deal["amount"] == "500.00"
    assert get(api, "/api/deals/3", "vic")["amount"] == "150.00"
    assert "title" not in get(api, "/api/deals/3", "vic")
    for path, user in [
        ("/api/deals/2", "ann"),
        ("/api/deals/99", "admin"),
        ("/api/deals/x", "admin"),
    ]:
        assert error(api.get(path, headers={"X-User": user}), 404)["code"] == "not_found"
    assert error(api.get("/api/companies/3", headers={"X-User": "admin"}), 404)  # deleted


def test_create_checks_and_answers_the_new_record(api: TestClient, crm_web: rt_crm.Crm) -> None:
    ann = {"X-User": "ann"}
    created = api.post("/api/deals", json={"title": "New", "company": 4}, headers=ann)
    assert created.status_code == 201, created.text
    deal = created.json()
    assert created.headers["location"] == f"/api/deals/{deal['id']}"
    assert deal["owner"]["id"] == 1 and deal["company"]["display"] == "Alpha"
    assert deal["version"] == 1
    with crm_web.database.session() as session:  # type: ignore[union-attr]
        label = session.scalar(sa.select(rt_crm.Deal.label).where(rt_crm.Deal.id == deal["id"]))
        entry = session.scalars(sa.select(rt_crm.AuditEntry)).one()
    assert label == "New"  # computed
    assert (entry.action, entry.user_id, entry.changes["title"]) == ("create", 1, [None, "New"])
    assert entry.ip == "testclient"
    read_only = error(api.post("/api/deals", json={"title": "X", "stage": "won"}, headers=ann), 403)
    assert read_only == {
        "code": "forbidden_fields",
        "message": "Your role may not change some of these fields.",
        "fields": {"stage": "Your role may not change this field."},
    }
    hidden = error(api.post("/api/deals", json={"title": "X", "amount": "1"}, headers=ann), 403)
    assert hidden["fields"] == {"amount": "Your role may not change this field."}
    beyond = error(api.post("/api/deals", json={"title": "X", "company": 2}, headers=ann), 422)
    assert beyond["fields"] == {"company": "No Company with id 2."}  # Beta is bob's
    gone = error(api.post("/api/deals", json={"title": "X", "partners": [3]}, headers=ann), 422)
    assert gone["fields"] == {"partners": "No Company with id 3."}  # Apex is deleted
    missing = error(api.post("/api/deals", json={"amount": "5"}, headers={"X-User": "admin"}), 422)
    assert missing["fields"]["title"]
    assert error(api.post("/api/deals", content=b"", headers=ann), 400)["code"] == "invalid_json"
    assert error(api.post("/api/deals", content=b"{", headers=ann), 400)["code"] == "invalid_json"
    not_object = error(api.post("/api/deals", json=[1], headers=ann), 422)
    assert not_object["message"] == "The request body must be a JSON object."
    assert error(api.post("/api/deals", json={"title": "X"}, headers={"X-User": "vic"}), 403)


def test_a_record_outside_the_create_rule_is_refused(
    crm_web: rt_crm.Crm, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = rt_crm.Rule({"create": rt_crm.Access("where", rt_crm.starts_with_a)})
    monkeypatch.setitem(crm_web.companies.rules, "clerk", rule)
    api = serve(crud.routes(crm_web.companies))
    clerk = {"X-User": "clerk"}
    assert api.post("/api/companies", json={"name": "Axe"}, headers=clerk).status_code == 201
    refused = error(api.post("/api/companies", json={"name": "Bee"}, headers=clerk), 403)
    assert refused["message"] == "Your role may not create such a record."


def test_update_keeps_versions_and_rules(api: TestClient, crm_web: rt_crm.Crm) -> None:
    ann = {"X-User": "ann"}
    changed = api.patch("/api/deals/1", json={"title": "Bigger", "version": 1}, headers=ann)
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2 and changed.json()["title"] == "Bigger"
    stale = error(api.patch("/api/deals/1", json={"title": "B", "version": 1}, headers=ann), 409)
    assert stale == {
        "code": "stale",
        "message": "The record was changed by someone else (it is now version 2): "
        "reload it and try again.",
        "fields": {"version": "Stale: the current version is 2."},
    }
    bad = error(api.patch("/api/deals/1", json={"version": "2"}, headers=ann), 422)
    assert bad["fields"] == {"version": "Must be the record's version (a whole number)."}
    assert error(api.patch("/api/deals/2", json={"title": "x"}, headers=ann), 404)
    partners = api.patch("/api/deals/1", json={"partners": [4, 1]}, headers=ann).json()
    assert partners["partners"] == [1, 4]
    same = api.patch("/api/deals/1", json={"title": "Bigger"}, headers=ann).json()
    assert same["version"] == 4
    with crm_web.database.session() as session:  # type: ignore[union-attr]
        changes = session.scalars(
            sa.select(rt_crm.AuditEntry.changes).order_by(rt_crm.AuditEntry.id)
        ).all()
        label = session.scalar(sa.select(rt_crm.Deal.label).where(rt_crm.Deal.id == 1))
    assert changes == [
        {"label": [None, "Bigger"], "title": ["Big", "Bigger"]},  # the seed left it empty
        {"partners": [[2, 4], [4, 1]]},  # as given; read back sorted
        {},
    ]
    assert label == "Bigger"


def test_delete_soft_deletes_or_removes_within_the_rule(
    api: TestClient, crm_web: rt_crm.Crm
) -> None:
    admin, ann = {"X-User": "admin"}, {"X-User": "ann"}
    assert error(api.delete("/api/deals/1", headers=ann), 403)["code"] == "forbidden"
    assert api.delete("/api/deals/2", headers=admin).status_code == 204
    assert error(api.delete("/api/deals/2", headers=admin), 404)
    assert error(api.delete("/api/companies/4", headers=ann), 403)
    assert api.delete("/api/companies/4", headers=admin).status_code == 204
    assert [c["name"] for c in get(api, "/api/companies", "ann")["items"]] == ["Acme"]
    with crm_web.database.session() as session:  # type: ignore[union-attr]
        version = session.scalar(sa.select(rt_crm.Company.version).where(rt_crm.Company.id == 4))
        actions = session.scalars(sa.select(rt_crm.AuditEntry.action)).all()
    assert version == 2 and actions == ["delete", "delete"]
    # the deal at Alpha keeps its link, now to a record out of reach: no display
    assert get(api, "/api/deals/3")["company"] == {"id": 4, "display": ""}
    in_use = error(api.delete("/api/users/1", headers=admin), 409)  # ann owns records
    assert in_use["message"] == "Other records refer to this record: change or delete them first."


def test_users_carry_their_roles_and_the_account_rules(api: TestClient) -> None:
    admin = {"X-User": "admin"}
    made = api.post(
        "/api/users", json={"email": "new@example.com", "roles": ["sales"]}, headers=admin
    )
    assert made.status_code == 201, made.text
    user = made.json()
    assert user["roles"] == ["sales"]
    assert [u["roles"] for u in get(api, "/api/users")["items"]][-1] == ["sales"]
    taken = error(api.post("/api/users", json={"email": "U1@example.com"}, headers=admin), 409)
    assert taken["fields"] == {"email": "Another user has this e-mail."}
    refused = error(
        api.post("/api/users", json={"email": "x@example.com"}, headers={"X-User": "ann"}), 403
    )
    assert refused["code"] == "forbidden"
    changed = api.patch(f"/api/users/{user['id']}", json={"roles": ["viewer"]}, headers=admin)
    assert changed.json()["roles"] == ["viewer"]
    own = error(api.patch("/api/users/1", json={"active": False}, headers={"X-User": "ann"}), 403)
    assert own["fields"] == {"active": "Nobody changes their own roles or active flag."}
    assert api.delete(f"/api/users/{user['id']}", headers=admin).status_code == 204
