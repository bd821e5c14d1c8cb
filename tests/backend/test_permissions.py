"""Record rules and field limits: own records, where-rules compiled to SQL, hidden and
read-only fields, 401/403."""

from __future__ import annotations

from tests.backend.conftest import Backend
from tests.backend.payloads import create, deal_in


def test_a_seller_sees_only_own_records(crm: Backend) -> None:
    mine = create(crm, "companies", user="sales", name="mine")
    theirs = create(crm, "companies", user="sales2", name="theirs")
    assert mine["owner"]["id"] == crm.users["sales"].id
    sales = crm.as_user("sales")
    listed = crm.client.get("/api/companies", headers=sales).json()
    assert [c["name"] for c in listed["items"]] == ["mine"] and listed["total"] == 1
    assert crm.client.get(f"/api/companies/{theirs['id']}", headers=sales).status_code == 404
    assert (
        crm.client.patch(
            f"/api/companies/{theirs['id']}", json={"name": "x"}, headers=sales
        ).status_code
        == 404
    )
    assert crm.client.delete(f"/api/companies/{theirs['id']}", headers=sales).status_code == 404
    manager = crm.client.get("/api/companies", headers=crm.as_user("manager")).json()
    assert manager["total"] == 2


def test_where_rule_through_a_reference(crm: Backend) -> None:
    order = create(crm, "orders", user="sales")
    other = create(crm, "orders", user="sales2")
    mine = create(crm, "order_lines", sales_order=order["id"])
    create(crm, "order_lines", sales_order=other["id"])
    listed = crm.client.get("/api/order_lines", headers=crm.as_user("sales")).json()
    assert [line["id"] for line in listed["items"]] == [mine["id"]]


def test_where_rule_on_a_value_and_hidden_fields(crm: Backend) -> None:
    won = deal_in(crm, "won", full=True, name="won", amount="10")
    lost = deal_in(crm, "lost", full=True, name="lost")
    support = crm.as_user("support")
    listed = crm.client.get("/api/deals", headers=support).json()
    assert [d["name"] for d in listed["items"]] == ["won"]
    assert "amount" not in listed["items"][0] and "vat" not in listed["items"][0]
    assert crm.client.get(f"/api/deals/{lost['id']}", headers=support).status_code == 404
    one = crm.client.get(f"/api/deals/{won['id']}", headers=support).json()
    assert "amount" not in one and one["name"] == "won"
    assert crm.client.get("/api/deals?amount__gt=1", headers=support).status_code == 400
    assert crm.client.get("/api/deals?sort=amount", headers=support).status_code == 400


def test_read_only_field_for_a_role_is_refused(crm: Backend) -> None:
    contact = create(crm, "contacts", is_key=False)
    key = create(crm, "contacts", is_key=True)
    support = crm.as_user("support")
    refused = crm.client.patch(
        f"/api/contacts/{contact['id']}", json={"full_name": "New"}, headers=support
    )
    assert refused.status_code == 403 and list(refused.json()["error"]["fields"]) == ["full_name"]
    hidden = crm.client.patch(
        f"/api/contacts/{contact['id']}", json={"discount": 5}, headers=support
    )
    assert hidden.status_code == 403
    fine = crm.client.patch(
        f"/api/contacts/{contact['id']}", json={"notes": "called"}, headers=support
    )
    assert fine.status_code == 200 and "birthday" not in fine.json()
    # update rule "not record.is_key": the key contact is out of reach
    assert (
        crm.client.patch(
            f"/api/contacts/{key['id']}", json={"notes": "x"}, headers=support
        ).status_code
        == 404
    )


def test_roles_without_the_action_get_403_and_anonymous_401(crm: Backend) -> None:
    assert (
        crm.client.post("/api/products", json={}, headers=crm.as_user("sales")).status_code == 403
    )
    assert crm.client.delete("/api/tasks/1", headers=crm.as_user("sales")).status_code == 403
    for method, path in (
        ("get", "/api/contacts"),
        ("get", "/api/contacts/1"),
        ("post", "/api/contacts"),
    ):
        response = getattr(crm.client, method)(path, headers=crm.as_user(None))
        assert response.status_code == 401, (method, path)
