"""The back sides of relations in the reference CRM, on SQLite and PostgreSQL: the records on a
back side of a record (``GET /api/companies/{id}/deals``, a self-reference, many-to-many and
one-to-one back sides) and the list filters over back sides (``deals__stage=won``), within each
role's rules."""

from __future__ import annotations

from typing import Any

from crmgen_runtime import backs
from crmgen_runtime.principal import CurrentUser

from tests.backend.conftest import Backend
from tests.backend.payloads import create, deal_in, payload


def seed(crm: Backend) -> dict[str, int]:
    """Companies acme (sales's) with deals big (sales's, won, 5000) and small (sales2's, lead,
    100), beta (sales2's) with deal far (sales2's, won, 300) and lost (lost, 50), and acme's
    subsidiary sub (no deals)."""
    sales, sales2 = crm.users["sales"].id, crm.users["sales2"].id
    ids = {
        "acme": create(crm, "companies", full=False, name="acme", owner=sales)["id"],
        "beta": create(crm, "companies", full=False, name="beta", owner=sales2)["id"],
    }
    ids["sub"] = create(crm, "companies", full=False, name="sub", parent=ids["acme"])["id"]
    for name, company, owner, stage, amount in (
        ("big", "acme", sales, "won", "5000"),
        ("small", "acme", sales2, "lead", "100"),
        ("far", "beta", sales2, "won", "300"),
        ("lost", "beta", sales2, "lost", "50"),
    ):
        ids[name] = deal_in(
            crm, stage, name=name, company=ids[company], owner=owner, amount=amount
        )["id"]
    return ids


def get(crm: Backend, path: str, user: str = "admin", status: int = 200) -> Any:
    """The answer's JSON; an error's without its request id (each request has its own)."""
    response = crm.client.get(path, headers=crm.as_user(user))
    assert response.status_code == status, response.text
    body = response.json()
    if "error" in body:
        assert body["error"].pop("request_id") == response.headers["x-request-id"]
    return body


def names(crm: Backend, path: str, user: str = "admin") -> list[str]:
    return [item["name"] for item in get(crm, path, user)["items"]]


def test_a_back_side_lists_its_records_as_their_list_does(crm: Backend) -> None:
    ids = seed(crm)
    acme = f"/api/companies/{ids['acme']}"
    page = get(crm, f"{acme}/deals?sort=-amount")
    assert [item["name"] for item in page["items"]] == ["big", "small"] and page["total"] == 2
    assert page["items"][0]["company"] == {"id": ids["acme"], "display": "acme"}
    first = get(crm, f"{acme}/deals?sort=name&limit=1")
    assert [item["name"] for item in first["items"]] == ["big"] and first["total"] == 2
    second = get(crm, f"{acme}/deals?sort=name&limit=1&cursor={first['next_cursor']}")
    assert [item["name"] for item in second["items"]] == ["small"]
    assert second["next_cursor"] is None
    assert names(crm, f"{acme}/deals?stage=won") == ["big"]
    assert names(crm, f"{acme}/deals?amount__lt=1000&q=sma") == ["small"]
    assert names(crm, f"{acme}/subsidiaries") == ["sub"]  # an entity's relation to itself
    sales = crm.users["sales"].id
    assert names(crm, f"/api/users/{sales}/owned_deals") == ["big"]
    error = get(crm, f"{acme}/deals?nosuch=1", status=400)["error"]
    assert error["fields"] == {"nosuch": "Unknown parameter or field 'nosuch'."}


def test_many_to_many_and_one_to_one_back_sides(crm: Backend) -> None:
    contact = create(crm, "contacts", full=False)
    other = create(crm, "contacts", full=False)
    group = create(crm, "client_groups", full=False, name="vip", members=[contact["id"]])
    assert names(crm, f"/api/contacts/{contact['id']}/client_groups") == ["vip"]
    assert names(crm, f"/api/contacts/{other['id']}/client_groups") == []
    assert [c["id"] for c in get(crm, f"/api/contacts?client_groups={group['id']}")["items"]] == [
        contact["id"]
    ]
    # one-to-one: a list of at most one record
    order = create(crm, "orders", full=False)
    lone = create(crm, "orders", full=False)
    invoice = create(crm, "invoices", full=False, sales_order=order["id"])
    page = get(crm, f"/api/orders/{order['id']}/invoice")
    assert [i["id"] for i in page["items"]] == [invoice["id"]] and page["total"] == 1
    assert get(crm, f"/api/orders/{lone['id']}/invoice")["total"] == 0
    assert [o["id"] for o in get(crm, "/api/orders?invoice__isnull=true")["items"]] == [lone["id"]]


def test_a_back_side_is_read_within_the_readers_rules(crm: Backend) -> None:
    ids = seed(crm)
    acme, beta = f"/api/companies/{ids['acme']}", f"/api/companies/{ids['beta']}"
    # a seller reads their company and only their deals at it
    assert names(crm, f"{acme}/deals", "sales") == ["big"]
    # a company they may not read: 404, exactly as reading it
    assert get(crm, f"{beta}/deals", "sales", 404) == get(crm, beta, "sales", 404)
    # support lists deals that are not lost, without their amounts
    items = get(crm, f"{beta}/deals", "support")["items"]
    assert [d["name"] for d in items] == ["far"] and "amount" not in items[0]
    # a deleted company is gone
    crm.client.delete(f"/api/companies/{ids['sub']}", headers=crm.as_user("admin"))
    sub = f"/api/companies/{ids['sub']}"
    assert get(crm, f"{sub}/deals", status=404) == get(crm, sub, status=404)
    assert get(crm, "/api/companies/999999/deals", status=404)["error"]["code"] == "not_found"
    # a role without any right on companies: 403, as reading one
    crm.users["nobody"] = CurrentUser(crm.users["sales"].id, "n@example.com", "N", frozenset())
    assert get(crm, f"{acme}/deals", "nobody", 403) == get(crm, acme, "nobody", 403)


def test_lists_filter_on_back_sides(crm: Backend) -> None:
    ids = seed(crm)
    by_name = "/api/companies?sort=name&"
    assert names(crm, by_name + "deals__stage=won") == ["acme", "beta"]
    assert names(crm, by_name + "deals__amount__gte=1000") == ["acme"]
    assert names(crm, by_name + "deals__stage__in=lead,lost") == ["acme", "beta"]
    assert names(crm, by_name + "deals__name__contains=AR") == ["beta"]
    assert names(crm, by_name + f"deals={ids['small']}") == ["acme"]
    assert names(crm, by_name + f"deals__in={ids['far']},{ids['big']}") == ["acme", "beta"]
    assert names(crm, by_name + "deals__isnull=true") == ["sub"]
    assert names(crm, by_name + "deals__isnull=false") == ["acme", "beta"]
    assert names(crm, by_name + "subsidiaries__isnull=false") == ["acme"]
    assert names(crm, by_name + "subsidiaries__name=sub") == ["acme"]
    # the filters on one back side hold for the same deal; each company once
    assert names(crm, by_name + "deals__stage=won&deals__amount__lt=1000") == ["beta"]
    page = get(crm, "/api/companies?deals__amount__gte=1")
    assert page["total"] == 2 and len(page["items"]) == 2
    sales = crm.users["sales"].id
    assert [u["id"] for u in get(crm, "/api/users?owned_deals__stage=won")["items"]] == [
        sales,
        crm.users["sales2"].id,
    ]


def test_a_back_side_filter_never_tells_of_records_the_reader_may_not_list(
    crm: Backend,
) -> None:
    seed(crm)
    # acme holds small, a lead of sales2's: the admin finds it, its seller sales does not
    assert names(crm, "/api/companies?deals__stage=lead") == ["acme"]
    assert names(crm, "/api/companies?deals__stage=lead", "sales") == []
    assert names(crm, "/api/companies?deals__amount__lt=1000", "sales") == []
    assert names(crm, "/api/companies?deals__isnull=false", "sales") == ["acme"]
    # support does not list lost deals, nor see amounts
    assert names(crm, "/api/companies?deals__stage=lost") == ["beta"]
    assert names(crm, "/api/companies?deals__stage=lost", "support") == []
    error = get(crm, "/api/companies?deals__amount__gte=1", "support", 400)["error"]
    assert list(error["fields"]) == ["deals__amount__gte"]


def test_a_bad_back_side_filter_is_a_400_naming_it(crm: Backend) -> None:
    for query, message in (
        ("deals__nosuch=1", "Unknown parameter or field 'nosuch'."),
        ("deals__stage=maybe", "is not one of"),
        ("deals__isnull=perhaps", ""),
        ("deals=x", ""),
        ("dealz__stage=won", "Unknown parameter or field 'dealz__stage'."),
    ):
        key = query.split("=")[0]
        error = get(crm, f"/api/companies?{query}", status=400)["error"]
        assert error["code"] == "bad_query" and list(error["fields"]) == [key]
        assert message in error["fields"][key]


ROLES = ("admin", "sales", "support")  # manager: as admin here
PARENTS = 3  # records of each entity whose back sides are compared


def ids_of(crm: Backend, path: str, user: str) -> tuple[int, Any]:
    """The status of ``GET path`` as ``user`` and the ids it lists (its error, or the record
    it reads)."""
    response = crm.client.get(path, headers=crm.as_user(user))
    body = response.json()
    if "error" in body:
        body["error"].pop("request_id")  # each request has its own
    if response.status_code != 200 or "items" not in body:
        return response.status_code, body
    return 200, sorted(item["id"] for item in body["items"])


def test_every_back_side_answers_what_its_forward_filter_answers(crm: Backend) -> None:
    """Security by class: for every back side of the reference CRM and every role, the records
    on it are exactly those the role's own list finds by the forward filter
    (``/api/deals?company=5``), the record is found exactly as reading it, and
    ``back__isnull=false`` keeps exactly the records with some of them."""
    resources = crm.gen.resources.RESOURCES
    for user in ("admin", "sales", "sales2"):  # records of everyone's, linked on the way
        for path, resource in resources.items():
            if path != "users" and "create" in resource.actions:
                data = payload(crm, path, user=user)
                url = f"/api/{path}?confirm_duplicate=true"  # sample values look alike
                crm.client.post(url, json=data, headers=crm.as_user(user))
    compared = 0
    for path, resource in resources.items():
        sides = backs.backs(resource)
        if not sides:
            continue
        parents = ids_of(crm, f"/api/{path}?limit={PARENTS}", "admin")[1]
        for back in sides.values():
            source, field = back.source.path, back.field.name
            for user in ROLES:
                having = []
                for parent in parents:
                    own = ids_of(crm, f"/api/{path}/{parent}", user)
                    side = ids_of(crm, f"/api/{path}/{parent}/{back.name}?limit=500", user)
                    forward = ids_of(crm, f"/api/{source}?{field}={parent}&limit=500", user)
                    if own[0] != 200:
                        assert side == own, (path, back.name, user, parent)
                    elif forward[0] == 200:
                        assert side == forward, (path, back.name, user, parent)
                        having += [parent] if forward[1] else []
                        compared += 1
                    else:  # the role may not list the source or see the relation
                        assert side[0] == 403, (path, back.name, user, parent, side)
                listed = ids_of(crm, f"/api/{path}?id__in={','.join(map(str, parents))}", user)
                filtered = ids_of(
                    crm,
                    f"/api/{path}?id__in={','.join(map(str, parents))}&{back.name}__isnull=false",
                    user,
                )
                if listed[0] == 200 and filtered[0] == 200:
                    assert filtered[1] == sorted(set(having) & set(listed[1])), (back.name, user)
    assert compared > 50
