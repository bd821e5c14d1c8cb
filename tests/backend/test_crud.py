"""Create, read, update and delete every entity of the reference CRM through the API."""

from __future__ import annotations

import pytest

from tests.backend.conftest import Backend
from tests.backend.payloads import create, payload

CRM_PATHS = [
    "positions",
    "users",
    "companies",
    "contacts",
    "leads",
    "deals",
    "tasks",
    "interactions",
    "products",
    "orders",
    "order_lines",
    "invoices",
    "client_groups",
]


@pytest.mark.parametrize("path", CRM_PATHS)
def test_crud_round_trip(crm: Backend, path: str) -> None:
    client, admin = crm.client, crm.as_user("admin")
    resource = crm.gen.resources.RESOURCES[path]
    record = create(crm, path)
    assert record["version"] == 1
    got = client.get(f"/api/{path}/{record['id']}", headers=admin)
    assert got.status_code == 200 and got.json() == record
    listed = client.get(f"/api/{path}", headers=admin).json()
    assert record["id"] in [item["id"] for item in listed["items"]]
    for info in resource.fields.values():
        if info.is_ref and record[info.name] is not None:
            assert set(record[info.name]) == {"id", "display"}
        if info.is_list:
            assert isinstance(record[info.name], list)
    if "update" in resource.actions:
        change = {
            k: v
            for k, v in payload(crm, path, full=False).items()
            if not resource.fields[k].relation
        }
        changed = client.patch(
            f"/api/{path}/{record['id']}", json={"version": 1, **change}, headers=admin
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["version"] == 2
    else:
        assert (
            client.patch(f"/api/{path}/{record['id']}", json={}, headers=admin).status_code == 405
        )
    if "delete" in resource.actions:
        gone = client.delete(f"/api/{path}/{record['id']}", headers=admin)
        assert gone.status_code == 204, gone.text
        assert client.get(f"/api/{path}/{record['id']}", headers=admin).status_code == 404
        assert client.delete(f"/api/{path}/{record['id']}", headers=admin).status_code == 404
    else:
        assert client.delete(f"/api/{path}/{record['id']}", headers=admin).status_code == 405


def test_create_answers_201_with_location_and_values(crm: Backend) -> None:
    created = crm.client.post(
        "/api/companies",
        json={
            "name": "Acme",
            "annual_revenue": 1234.5,
            "employees": 10,
            "industry": "it",
            "extra": {"a": [1, 2]},
        },
        headers=crm.as_user("manager"),
    )
    assert created.status_code == 201
    body = created.json()
    assert created.headers["location"] == f"/api/companies/{body['id']}"
    assert body["annual_revenue"] == "1234.50"
    assert body["extra"] == {"a": [1, 2]}
    assert body["owner"] == {"id": crm.users["manager"].id, "display": "Manager"}  # = user default
    assert body["created_at"].endswith("+00:00")


def test_many_to_many_and_reference_display(crm: Backend) -> None:
    a = create(crm, "contacts", full_name="Ann")
    b = create(crm, "contacts", full_name="Bob")
    group = create(crm, "client_groups", name="VIP", members=[b["id"], a["id"], a["id"]])
    assert group["members"] == sorted([a["id"], b["id"]])
    patched = crm.client.patch(
        f"/api/client_groups/{group['id']}",
        json={"members": [b["id"]]},
        headers=crm.as_user("admin"),
    )
    assert patched.json()["members"] == [b["id"]]
    listed = crm.client.get(
        "/api/client_groups?members=" + str(b["id"]), headers=crm.as_user("admin")
    )
    assert [g["id"] for g in listed.json()["items"]] == [group["id"]]


def test_unknown_id_is_404(crm: Backend) -> None:
    admin = crm.as_user("admin")
    for path in ("/api/companies/999999", "/api/companies/abc", "/api/companies/99999999999999"):
        response = crm.client.get(path, headers=admin)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert (
        crm.client.patch("/api/companies/424242", json={"name": "x"}, headers=admin).status_code
        == 404
    )


def test_unique_violation_is_409_naming_the_field(crm: Backend) -> None:
    create(crm, "products", sku="SKU-1")
    response = crm.client.post(
        "/api/products",
        json=payload(crm, "products") | {"sku": "SKU-1"},
        headers=crm.as_user("admin"),
    )
    assert response.status_code == 409
    assert list(response.json()["error"]["fields"]) == ["sku"]
    # unique together (company, email) on contacts
    company = create(crm, "companies")
    create(crm, "contacts", company=company["id"], email="same@example.com")
    again = crm.client.post(
        "/api/contacts?confirm_duplicate=true",  # a likely duplicate too: past the warning
        json={"full_name": "X", "company": company["id"], "email": "same@example.com"},
        headers=crm.as_user("admin"),
    )
    assert again.status_code == 409
    assert set(again.json()["error"]["fields"]) == {"company", "email"}


def test_stale_version_is_409(crm: Backend) -> None:
    record = create(crm, "leads")
    admin = crm.as_user("admin")
    first = crm.client.patch(
        f"/api/leads/{record['id']}", json={"version": 1, "name": "A"}, headers=admin
    )
    assert first.status_code == 200
    stale = crm.client.patch(
        f"/api/leads/{record['id']}", json={"version": 1, "name": "B"}, headers=admin
    )
    assert stale.status_code == 409
    assert "version" in stale.json()["error"]["fields"]


def test_bad_foreign_key_is_422_naming_the_field(crm: Backend) -> None:
    response = crm.client.post(
        "/api/contacts", json={"full_name": "X", "company": 987654}, headers=crm.as_user("admin")
    )
    assert response.status_code == 422
    assert list(response.json()["error"]["fields"]) == ["company"]
    bad_list = crm.client.post(
        "/api/client_groups", json={"name": "GG", "members": [987654]}, headers=crm.as_user("admin")
    )
    assert bad_list.status_code == 422 and "members" in bad_list.json()["error"]["fields"]


def test_restrict_on_delete_is_409(crm: Backend) -> None:
    line = create(crm, "order_lines")
    product = line["product"]["id"]
    response = crm.client.delete(f"/api/products/{product}", headers=crm.as_user("admin"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "in_use"


def test_soft_delete_hides_the_record(crm: Backend) -> None:
    company = create(crm, "companies")
    admin = crm.as_user("admin")
    assert crm.client.delete(f"/api/companies/{company['id']}", headers=admin).status_code == 204
    assert crm.client.get("/api/companies", headers=admin).json()["total"] == 0
    with crm.database.engine.connect() as connection:
        table = crm.gen.models.Company.__table__
        assert connection.execute(table.select()).first() is not None


def test_healthz_and_openapi(crm: Backend) -> None:
    assert crm.client.get("/healthz").json() == {"status": "ok"}
    document = crm.client.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert "/api/contacts/{id}" in document["paths"]
    assert "patch" not in document["paths"]["/api/interactions/{id}"]


def test_unknown_path_and_method_are_json(crm: Backend) -> None:
    missing = crm.client.get("/api/nothing_here", headers=crm.as_user("admin"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = crm.client.put("/api/companies/1", json={}, headers=crm.as_user("admin"))
    assert wrong.status_code == 405 and "error" in wrong.json()


def test_computed_fields_are_stored_and_follow_their_inputs(crm: Backend) -> None:
    """Deal.vat = round(record.amount * 0.2, 2): set on create, recomputed on update, empty without input."""
    client, manager = crm.client, crm.as_user("manager")
    deal = create(crm, "deals", amount="100.00")
    assert deal["vat"] == "20.00"
    changed = client.patch(
        f"/api/deals/{deal['id']}",
        json={"version": deal["version"], "amount": "12.35"},
        headers=manager,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["vat"] == "2.47"
    emptied = client.patch(f"/api/deals/{deal['id']}", json={"amount": None}, headers=manager)
    assert emptied.status_code == 200, emptied.text
    assert emptied.json()["vat"] is None
    refused = client.patch(f"/api/deals/{deal['id']}", json={"vat": "1.00"}, headers=manager)
    assert refused.status_code in (403, 422) and "vat" in refused.json()["error"]["fields"]
    sorted_by_vat = client.get("/api/deals?sort=-vat&vat__isnull=false", headers=manager).json()
    assert all(item["vat"] is not None for item in sorted_by_vat["items"])
