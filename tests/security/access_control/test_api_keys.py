"""API keys (issue 15 item 2), over HTTP on both databases.

A user manager creates a key at ``/api/api_keys``: the answer shows it once, the database keeps
its SHA-256. The key signs in as ``X-API-Key`` or as a bearer token, acting as its own service
user: what it creates is owned by that user and audited as it. A revoked or expired key gets
401; a manager cannot make a superuser-role key; keys never sign in a web page or the session
paths, and a request with a key needs no CSRF token because the cookie is never looked at.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from tests.security.crm import Crm

KEYS = "/api/api_keys"


@pytest.fixture(scope="module")
def manager(crm: Crm) -> str:
    return crm.token("manager")


def make_key(crm: Crm, token: str, **body: Any) -> Any:
    with crm.client(token) as client:
        response = client.post(KEYS, json={"name": "Website", "role": "sales", **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_the_key_is_shown_once_and_stored_hashed(crm: Crm, manager: str) -> None:
    made = make_key(crm, manager, name="Telephony")
    key = made["key"]
    assert key.startswith("crm_") and len(key) > 40
    assert made["prefix"] == key[:12] and made["status"] == "active"
    stored = crm.sql("SELECT key_hash, prefix FROM crm_api_keys WHERE id = :id", id=made["id"])
    assert stored[0][0] == hashlib.sha256(key.encode()).hexdigest()
    with crm.client(manager) as client:
        listed = client.get(KEYS).json()["items"]
    mine = next(item for item in listed if item["id"] == made["id"])
    assert "key" not in mine and key not in str(listed)
    user = crm.sql(
        "SELECT email, active, password_hash FROM users WHERE id = :id", id=made["user_id"]
    )
    assert tuple(user[0]) == (f"key-{made['id']}@api-keys.invalid", False, None)
    audit = crm.sql(
        "SELECT action, user_id FROM crm_audit_log WHERE entity = 'ApiKey' AND record_id = :id",
        id=made["id"],
    )
    assert [tuple(row) for row in audit] == [("create", crm.user_id("manager"))]


def test_a_keys_records_are_owned_and_audited_as_its_service_user(crm: Crm, manager: str) -> None:
    made = make_key(crm, manager)
    name = f"Key group {uuid.uuid4().hex[:6]}"
    with crm.client(headers={"X-API-Key": made["key"]}) as client:
        response = client.post("/api/client_groups", json={"name": name})
        assert response.status_code == 201, response.text
        group = response.json()
        assert group["owner"] == {"id": made["user_id"], "display": "Website"}
        me = client.get("/api/auth/me").json()
        assert me["id"] == made["user_id"] and me["roles"] == ["sales"]
        # sales reads its own client groups only: the key sees its group, not the seed's
        seen = {item["id"] for item in client.get("/api/client_groups?limit=500").json()["items"]}
    assert seen == {group["id"]}
    audit = crm.sql(
        "SELECT user_id, user_email FROM crm_audit_log WHERE entity = 'ClientGroup' "
        "AND record_id = :id AND action = 'create'",
        id=group["id"],
    )
    assert tuple(audit[0]) == (made["user_id"], f"key-{made['id']}@api-keys.invalid")
    used = crm.sql("SELECT last_used_at FROM crm_api_keys WHERE id = :id", id=made["id"])
    assert used[0][0] is not None


def test_x_api_key_and_bearer_both_work_without_csrf(crm: Crm, manager: str) -> None:
    key = make_key(crm, manager)["key"]
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        with crm.client(headers=headers) as client:
            assert client.get("/api/client_groups").status_code == 200
            # a write with a key needs no CSRF token, and sets no cookie
            name = f"Bearer group {uuid.uuid4().hex[:6]}"
            response = client.post("/api/client_groups", json={"name": name})
            assert response.status_code == 201, response.text
            assert "set-cookie" not in response.headers


def test_revoked_and_expired_keys_get_401(crm: Crm, manager: str) -> None:
    revoked = make_key(crm, manager)
    with crm.client(manager) as client:
        assert client.delete(f"{KEYS}/{revoked['id']}").status_code == 204
    expiring = make_key(crm, manager, expires_at="2999-01-01T00:00:00Z")
    crm.sql(
        "UPDATE crm_api_keys SET expires_at = :at WHERE id = :id",
        at="2001-01-01 00:00:00",
        id=expiring["id"],
    )
    for made in (revoked, expiring):
        with crm.client(headers={"X-API-Key": made["key"]}) as client:
            assert client.get("/api/client_groups").status_code == 401
    with crm.client(manager) as client:
        statuses = {item["id"]: item["status"] for item in client.get(KEYS).json()["items"]}
    assert statuses[revoked["id"]] == "revoked" and statuses[expiring["id"]] == "expired"
    audit = crm.sql(
        "SELECT action FROM crm_audit_log WHERE entity = 'ApiKey' AND record_id = :id ORDER BY id",
        id=revoked["id"],
    )
    assert [row[0] for row in audit] == ["create", "update"]
    with crm.client(headers={"X-API-Key": "crm_" + "x" * 43}) as client:
        assert client.get("/api/client_groups").status_code == 401


def test_who_may_make_which_key(crm: Crm, manager: str) -> None:
    with crm.client(manager) as client:
        refused = client.post(KEYS, json={"name": "Root", "role": "admin"})
        assert refused.status_code == 403, refused.text
        assert client.post(KEYS, json={"name": "X", "role": "nobody"}).status_code == 422
        past = client.post(KEYS, json={"name": "X", "role": "sales", "expires_at": "2001-01-01"})
        assert past.status_code == 422
    with crm.client(crm.token("admin")) as client:
        assert client.post(KEYS, json={"name": "Root", "role": "admin"}).status_code == 201
    with crm.client(crm.token("sales")) as client:
        assert client.get(KEYS).status_code == 403
        assert client.post(KEYS, json={"name": "X", "role": "sales"}).status_code == 403
    with crm.client() as client:
        assert client.get(KEYS).status_code == 401
    # keys are not managed with a key, even a manager's
    key = make_key(crm, manager, role="manager")["key"]
    with crm.client(headers={"X-API-Key": key}) as client:
        assert client.post(KEYS, json={"name": "X", "role": "sales"}).status_code == 403


def test_keys_do_not_open_web_pages_or_session_paths(crm: Crm, manager: str) -> None:
    key = make_key(crm, manager, role="manager")["key"]
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        with crm.client(headers=headers) as client:
            page = client.get("/client_groups/", follow_redirects=False)
            assert page.status_code in (302, 303, 401), page.status_code
            assert "/login" in page.headers.get("location", "/login"), page.headers
            assert client.get("/api/auth/me").status_code == 200  # who it is: yes
            assert client.get("/api/auth/sessions").status_code == 401  # sessions: no
            assert client.get("/api/auth/two-factor").status_code == 401
            assert client.post("/api/auth/name", json={"name": "X"}).status_code == 401
    # a key beside a session cookie: the key alone decides (the cookie is not looked at)
    cookie = crm.login("manager").cookies
    with crm.client(headers={"X-API-Key": "crm_" + "y" * 43}, cookies=cookie) as client:
        assert client.get("/api/client_groups").status_code == 401
