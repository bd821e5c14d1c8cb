"""The back sides of relations (``crmgen_runtime.backs``, ``reads.list_related``): the records on
a back side of one record (``GET /api/companies/1/deals``) and the list filters over back sides
(``deals__title=Big``), through real requests on SQLite and PostgreSQL, within each reader's
rules.

The small CRM's back sides: Company ``deals`` (``Deal.company``) and ``partner_deals``
(``Deal.partners``, many-to-many); User ``companies`` and ``deals`` (the owners). Seeded: Acme
(1, ann's) with Big (ann's, 500, partners Beta and Alpha), Beta (2, bob's) with Small (bob's,
50), Apex (3, bob's, deleted), Alpha (4, ann's) with Mid (bob's, 150).
"""

from __future__ import annotations

from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import Serve
from crmgen_runtime import backs, crud
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import Access, Rule
from crmgen_runtime.web import boards
from starlette.testclient import TestClient


@pytest.fixture
def api(crm_web: rt_crm.Crm, serve: Serve, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """A client of the CRM's API (``X-User`` names who asks); sellers list their own deals
    and companies too."""
    for resource in (crm_web.deals, crm_web.companies):
        monkeypatch.setitem(resource.rules["sales"].actions, "list", Access("own"))
    routes = [
        route for resource in crm_web.catalog.resources.values() for route in crud.routes(resource)
    ]
    return serve(routes)


def answer(api: TestClient, path: str, user: str = "admin", **query: Any) -> Any:
    response = api.get(path, params=query, headers={"X-User": user})
    assert response.status_code == 200, response.text
    return response.json()


def shown(api: TestClient, path: str, user: str = "admin", **query: Any) -> list[Any]:
    """The titles (deals) or names (companies) of a list's page."""
    items = answer(api, path, user, **query)["items"]
    return [item["title"] if "title" in item else item["name"] for item in items]


def refused(api: TestClient, path: str, status: int, user: str = "admin", **query: Any) -> Any:
    response = api.get(path, params=query, headers={"X-User": user})
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_each_back_side_is_a_route_of_its_target(crm: rt_crm.Crm) -> None:
    assert sorted(backs.backs(crm.companies)) == ["deals", "partner_deals"]
    assert backs.backs(crm.companies)["partner_deals"].kind == "many_to_many"
    assert sorted(backs.backs(crm.users)) == ["companies", "deals"]
    assert backs.backs(crm.deals) == {}
    paths = [route.path for route in crud.routes(crm.companies)]  # type: ignore[attr-defined]
    assert paths == [
        "/companies",
        "/companies/{id}",
        "/companies/{id}/deals",
        "/companies/{id}/partner_deals",
    ]


def test_a_back_side_lists_the_related_records(api: TestClient) -> None:
    page = answer(api, "/api/companies/1/deals")
    assert [item["title"] for item in page["items"]] == ["Big"]
    assert page["total"] == 1 and page["next_cursor"] is None
    assert page["items"][0]["company"] == {"id": 1, "display": "Acme"}  # as the deals list
    assert shown(api, "/api/companies/4/deals") == ["Mid"]
    assert shown(api, "/api/companies/2/partner_deals") == ["Big"]  # many-to-many
    assert shown(api, "/api/companies/1/partner_deals") == []
    assert shown(api, "/api/users/2/deals", sort="title") == ["Mid", "Small"]
    assert shown(api, "/api/users/1/companies", sort="name") == ["Acme", "Alpha"]


def test_a_back_side_pages_sorts_filters_and_searches(api: TestClient) -> None:
    first = answer(api, "/api/users/2/deals", sort="-title", limit=1)
    assert [item["title"] for item in first["items"]] == ["Small"] and first["total"] == 2
    second = answer(api, "/api/users/2/deals", sort="-title", limit=1, cursor=first["next_cursor"])
    assert [item["title"] for item in second["items"]] == ["Mid"]
    assert second["next_cursor"] is None
    assert shown(api, "/api/users/2/deals", sort="title", offset=1) == ["Small"]
    assert shown(api, "/api/users/2/deals", amount__gte="100") == ["Mid"]
    assert shown(api, "/api/users/2/deals", q="sma") == ["Small"]
    # the list contract, errors included
    error = refused(api, "/api/users/2/deals", 400, amount__gte="lots")
    assert list(error["fields"]) == ["amount__gte"]
    assert list(refused(api, "/api/users/2/deals", 400, nosuch="1")["fields"]) == ["nosuch"]


def test_the_record_must_be_one_the_reader_may_read(api: TestClient) -> None:
    # deleted, missing, or outside ann's read rule (Beta is bob's): 404, as GET of it says
    for path in ("/api/companies/3", "/api/companies/99", "/api/companies/x"):
        assert refused(api, f"{path}/deals", 404) == refused(api, path, 404)
    assert refused(api, "/api/companies/2/deals", 404, "ann") == refused(
        api, "/api/companies/2", 404, "ann"
    )
    # a role that may not read companies at all: 403, as GET of one says
    assert refused(api, "/api/companies/1/deals", 403, "clerk") == refused(
        api, "/api/companies/1", 403, "clerk"
    )
    assert refused(api, "/api/companies/1/deals", 401, "")["code"] == "not_authenticated"


def test_the_related_records_are_those_the_reader_may_list(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Alpha is ann's, its deal Mid bob's: ann sees the company and none of its deals
    assert answer(api, "/api/companies/4/deals", "ann") == {
        "items": [],
        "next_cursor": None,
        "prev_cursor": None,
        "total": 0,
        "total_kind": "exact",
    }
    assert shown(api, "/api/companies/1/deals", "ann") == ["Big"]
    # Beta is bob's, its partner deal Big ann's
    assert shown(api, "/api/companies/2/partner_deals", "bob") == []
    # hidden fields stay hidden: sellers do not see amounts
    assert "amount" not in answer(api, "/api/companies/1/deals", "ann")["items"][0]
    # vic reads companies named A... but may not list deals: 403, as the deals list says
    assert refused(api, "/api/companies/4/deals", 403, "vic") == refused(
        api, "/api/deals", 403, "vic"
    )
    # a role that may not see the relation itself may not list by it
    hiding = Rule({"list": Access("own"), "read": Access("own")}, hidden=frozenset({"company"}))
    monkeypatch.setitem(rt_crm.deals.rules, "sales", hiding)
    assert refused(api, "/api/companies/1/deals", 403, "ann")["code"] == "forbidden"


def test_lists_filter_on_back_sides(api: TestClient, crm_web: rt_crm.Crm) -> None:
    with crm_web.database.engine.begin() as connection:
        connection.execute(sa.update(rt_crm.Deal).where(rt_crm.Deal.id == 1).values(stage="won"))
    companies = "/api/companies"
    assert shown(api, companies, deals__stage="won") == ["Acme"]
    assert shown(api, companies, deals__amount__gte="100", sort="name") == ["Acme", "Alpha"]
    assert shown(api, companies, deals__title__in="Small,Mid", sort="name") == ["Alpha", "Beta"]
    assert shown(api, companies, deals__title__contains="ig") == ["Acme"]
    assert shown(api, companies, deals="3") == ["Alpha"]
    assert shown(api, companies, deals__eq="3") == ["Alpha"]
    assert shown(api, companies, deals__in="1,2", sort="name") == ["Acme", "Beta"]
    assert shown(api, companies, partner_deals__isnull="true") == ["Acme"]
    assert shown(api, companies, partner_deals__isnull="false", sort="name") == ["Alpha", "Beta"]
    assert shown(api, companies, partner_deals__title="Big", sort="name") == ["Alpha", "Beta"]
    # the filters on one back side hold for the same related record
    assert shown(api, companies, deals__stage="won", deals__amount__lt="100") == []
    assert shown(api, companies, deals__stage="won", deals__amount__gt="100") == ["Acme"]
    # no row twice, and the total counts companies
    page = answer(api, companies, deals__isnull="false", partner_deals__isnull="false", sort="id")
    assert [item["name"] for item in page["items"]] == ["Beta", "Alpha"] and page["total"] == 2
    users = answer(api, "/api/users", deals__title__in="Mid,Small")
    assert [item["id"] for item in users["items"]] == [2] and users["total"] == 1


def test_a_back_side_filter_never_tells_of_records_the_reader_may_not_list(
    api: TestClient,
) -> None:
    companies = "/api/companies"
    # ann's companies: Acme (her deal Big) and Alpha (bob's deal Mid)
    assert shown(api, companies, "admin", deals__isnull="true") == []
    assert shown(api, companies, "ann", deals__isnull="true") == ["Alpha"]
    assert shown(api, companies, "ann", deals__title="Mid") == []
    assert shown(api, companies, "ann", deals="3") == []
    assert shown(api, companies, "ann", deals__isnull="false") == ["Acme"]
    # bob's company Beta is a partner of ann's deal Big
    assert shown(api, companies, "admin", partner_deals="1", sort="name") == ["Alpha", "Beta"]
    assert shown(api, companies, "bob", partner_deals="1") == []
    assert shown(api, companies, "bob", partner_deals__isnull="false") == []
    # a field hidden from the role cannot filter: sellers do not see amounts
    error = refused(api, companies, 400, "ann", deals__amount__gte="1")
    assert list(error["fields"]) == ["deals__amount__gte"]


def test_a_role_that_may_not_list_the_related_records_may_not_filter_by_them(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = rt_crm.companies.rules["viewer"]
    monkeypatch.setitem(viewer.actions, "list", Access("all"))
    assert shown(api, "/api/companies", "vic", sort="name") == ["Acme", "Alpha", "Beta"]
    error = refused(api, "/api/companies", 400, "vic", deals="1")
    assert error["fields"] == {"deals": "Your role may not list Deal records."}


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"deals__nosuch": "1"}, "deals__nosuch"),
        ({"dealz__title": "x"}, "dealz__title"),
        ({"deals__title__near": "x"}, "deals__title__near"),
        ({"deals__isnull": "maybe"}, "deals__isnull"),
        ({"deals": "many"}, "deals"),
        ({"deals__in": "1,x"}, "deals__in"),
        ({"deals__amount__gte": "lots"}, "deals__amount__gte"),
    ],
)
def test_a_bad_back_side_filter_is_a_400_naming_it(
    api: TestClient, query: dict[str, str], named: str
) -> None:
    error = refused(api, "/api/companies", 400, **query)
    assert error["code"] == "bad_query" and list(error["fields"]) == [named]
    assert named in error["message"]


def test_boards_take_back_side_filters_within_the_rules(
    crm_web: rt_crm.Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A board's counts and sums select as the list does (``boards._conditions``)."""
    monkeypatch.setitem(rt_crm.companies.rules["sales"].actions, "list", Access("own"))
    monkeypatch.setitem(rt_crm.deals.rules["sales"].actions, "list", Access("own"))

    def ids(user: Any, filters: list[tuple[str, str]]) -> list[int]:
        conditions = boards._conditions(rt_crm.companies, user, filters)
        select = sa.select(rt_crm.Company.id).where(*conditions).order_by(rt_crm.Company.id)
        with crm_web.database.engine.connect() as connection:
            return list(connection.execute(select).scalars())

    assert ids(rt_crm.Crm.admin, [("deals__title__in", "Big,Mid")]) == [1, 4]
    assert ids(rt_crm.Crm.ann, [("deals__title__in", "Big,Mid")]) == [1]  # Mid is bob's
    assert ids(rt_crm.Crm.ann, [("deals__isnull", "true")]) == [4]
    with pytest.raises(ApiError) as refused:
        boards._conditions(rt_crm.companies, rt_crm.Crm.ann, [("deals__amount", "1")])
    assert refused.value.status == 400 and list(refused.value.fields) == ["deals__amount"]
