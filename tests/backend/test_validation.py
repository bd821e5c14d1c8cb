"""Payload validation: a 422 with one message per bad field, for every constraint kind;
malformed JSON is a 400; fuzzed query strings and payloads never give a 500."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.backend.conftest import Backend
from tests.backend.payloads import create

CASES = [  # (path, field, bad value, words of the message)
    ("companies", "name", None, "required"),
    ("companies", "name", 12, "text"),
    ("companies", "name", "x" * 201, "at most 200"),
    ("companies", "tax_id", "12345", "at least 10"),
    ("companies", "tax_id", "12345678AB", "pattern"),
    ("companies", "employees", -1, "at least 0"),
    ("companies", "employees", 1.5, "whole number"),
    ("companies", "employees", 2**40, "at most"),
    ("companies", "annual_revenue", "1.234", "decimal places"),
    ("companies", "annual_revenue", "abc", "decimal"),
    ("companies", "annual_revenue", "NaN", "finite"),
    ("companies", "annual_revenue", "1e20", "less than"),
    ("companies", "industry", "mining", "one of"),
    ("companies", "email", "not-an-email", "e-mail"),
    ("companies", "phone", "call me", "phone"),
    ("companies", "website", "ftp://x", "web address"),
    ("companies", "parent", "one", "id"),
    ("companies", "unknown_field", 1, "Unknown"),
    ("companies", "id", 5, "set by the server"),
    ("contacts", "is_key", "yes", "true or false"),
    ("contacts", "birthday", "31.12.2024", "date"),
    ("contacts", "birthday", "2024-02-30", "date"),
    ("contacts", "discount", 101, "at most 100"),
    ("deals", "vat", "1.00", "read-only"),
    ("tasks", "done_at", "2024-01-01T00:00:00Z", "read-only"),
    ("invoices", "paid_at", "yesterday", "date and time"),
    ("client_groups", "members", "1,2", "list"),
    ("leads", "utm", {"a": "nul\x00"}, "NUL"),
]


@pytest.mark.parametrize(("path", "field", "bad", "words"), CASES)
def test_each_constraint_gives_a_422_naming_the_field(
    crm: Backend, path: str, field: str, bad: object, words: str
) -> None:
    body = {"name": "ok", "full_name": "ok", "title": "ok", "number": "INV-2024-1"} | {field: bad}
    resource = crm.gen.resources.RESOURCES[path]
    body = {k: v for k, v in body.items() if k in resource.fields or k == field}
    response = crm.client.post(f"/api/{path}", json=body, headers=crm.as_user("admin"))
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    assert field in fields and words.lower() in fields[field].lower(), fields


def test_required_on_create_only(crm: Backend) -> None:
    missing = crm.client.post("/api/products", json={}, headers=crm.as_user("admin"))
    assert set(missing.json()["error"]["fields"]) == {"name", "price", "sku"}
    product = create(crm, "products")
    patched = crm.client.patch(
        f"/api/products/{product['id']}", json={"price": 5}, headers=crm.as_user("admin")
    )
    assert patched.status_code == 200 and patched.json()["price"] == "5.00"
    nulled = crm.client.patch(
        f"/api/products/{product['id']}", json={"name": None}, headers=crm.as_user("admin")
    )
    assert nulled.status_code == 422 and "name" in nulled.json()["error"]["fields"]


def test_coercion_of_dates_decimals_and_datetimes(crm: Backend) -> None:
    invoice = create(crm, "invoices", total=12, paid_at="2024-03-01T12:00:00+03:00")
    assert invoice["total"] == "12.00"
    assert invoice["paid_at"] == "2024-03-01T09:00:00+00:00"
    naive = create(crm, "invoices", total="0.5", paid_at="2024-03-01T12:00:00")
    assert naive["paid_at"] == "2024-03-01T12:00:00+00:00" and naive["total"] == "0.50"


@pytest.mark.parametrize("body", [b"{bad", b"", b"[1, 2", b"\xff\xfe", b'{"a": 1}{'])
def test_malformed_json_is_400(crm: Backend, body: bytes) -> None:
    response = crm.client.post("/api/companies", content=body, headers=crm.as_user("admin"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_not_an_object_is_422(crm: Backend) -> None:
    response = crm.client.post("/api/companies", json=[1, 2], headers=crm.as_user("admin"))
    assert response.status_code == 422


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "name",
    "employees",
    "annual_revenue",
    "industry",
    "tax_id",
    "parent",
    "extra",
    "email",
    "website",
    "owner",
    "version",
    "id",
    "zz",
]
QUERY_KEYS = [
    "limit",
    "offset",
    "cursor",
    "sort",
    "q",
    "name",
    "employees__gt",
    "industry__in",
    "annual_revenue__lte",
    "parent__isnull",
    "created_at__gte",
    "name__contains",
    "owner",
    "x__y",
]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    payload=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=5),
    query=st.lists(
        st.tuples(st.sampled_from(QUERY_KEYS), st.text(string.printable, max_size=12)), max_size=4
    ),
)
def test_fuzzed_input_never_gives_a_500(crm_backend: Backend, payload: dict, query: list) -> None:
    client, admin = crm_backend.client, crm_backend.as_user("admin")
    if not crm_backend.users:
        crm_backend.reset()
    for response in (
        client.post("/api/companies", json=payload, headers=admin),
        client.patch("/api/companies/1", json=payload, headers=admin),
        client.get("/api/companies", params=query, headers=admin),
    ):
        assert response.status_code < 500, (payload, query, response.text)
        assert response.headers["content-type"].startswith("application/json")
