"""``crmgen_runtime.profile``: one's own password and e-mail over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import PUBLIC_URL, WebClient
from crmgen_runtime import auth, auth_routes, profile, tables
from starlette.routing import Mount
from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def client(crm_web: rt_crm.Crm, web_client: WebClient, cheap_hashes: Any) -> TestClient:
    catalog = crm_web.catalog
    routes = [*auth_routes.routes(catalog), *profile.routes(catalog)]
    with crm_web.database.session() as session:
        auth.create_user(catalog, session, email="ann@example.com", password=PASSWORD)
        auth.create_user(catalog, session, email="bob@example.com", password=PASSWORD)
    return web_client(
        [Mount("/api", routes=[Mount("/auth", routes=routes)])],
        sessions=True,
        PUBLIC_URL=PUBLIC_URL,
        RESET_MAIL_PER_ACCOUNT="2",
    )


def sign_in(
    client: TestClient, email: str = "ann@example.com", password: str = PASSWORD
) -> dict[str, str]:
    answer = client.post("/api/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def mails(crm: rt_crm.Crm) -> list[dict[str, Any]]:
    model = crm.catalog.table(tables.OutboxMessageTable)
    with crm.database.session() as session:
        return list(session.scalars(sa.select(model.payload).order_by(model.id)))


def code(answer: Any) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


def test_a_password_change_needs_the_current_one_and_ends_other_sessions(
    client: TestClient,
) -> None:
    mine, other = sign_in(client), sign_in(client)
    change = {"current_password": "wrong", "password": NEW_PASSWORD}
    assert code(client.post("/api/auth/password", json=change, headers=mine)) == (
        403,
        "wrong_password",
    )
    short = {"current_password": PASSWORD, "password": "short"}
    assert code(client.post("/api/auth/password", json=short, headers=mine))[0] == 422
    change["current_password"] = PASSWORD
    assert client.post("/api/auth/password", json=change, headers=mine).status_code == 204
    assert client.get("/api/auth/me", headers=mine).status_code == 200  # this session goes on
    assert client.get("/api/auth/me", headers=other).status_code == 401  # the others end
    sign_in(client, password=NEW_PASSWORD)
    assert client.post("/api/auth/password", json=change).status_code == 401


def test_an_email_change_is_confirmed_by_the_link_mailed_to_the_new_address(
    client: TestClient, crm_web: rt_crm.Crm
) -> None:
    me = sign_in(client)
    ask = {"email": "Ann.New@Example.com", "password": PASSWORD}
    answer = client.post("/api/auth/email", json=ask, headers=me)
    assert answer.status_code == 202, answer.text
    (mail,) = mails(crm_web)
    assert mail["to"] == "ann.new@example.com"
    assert mail["subject"] == "Confirm your new e-mail: Small CRM"
    token = mail["link"].rsplit("/", 1)[1]
    assert mail["link"] == f"{PUBLIC_URL}/email-change/{token}"
    done = client.post("/api/auth/email/confirm", json={"token": token})
    assert done.status_code == 200 and done.json()["email"] == "ann.new@example.com"
    assert code(client.post("/api/auth/email/confirm", json={"token": token})) == (
        400,
        "invalid_token",
    )
    told = mails(crm_web)[-1]
    assert told["to"] == "ann@example.com"  # the old address is told
    audit = crm_web.catalog.table(tables.AuditEntryTable)
    with crm_web.database.session() as session:
        entry = session.scalars(sa.select(audit)).one()
        assert entry.changes == {"email": ["ann@example.com", "ann.new@example.com"]}
    assert client.get("/api/auth/me", headers=me).status_code == 401
    sign_in(client, "ann.new@example.com")


def test_email_change_refusals(client: TestClient, crm_web: rt_crm.Crm) -> None:
    me = sign_in(client)
    cases = [
        ({"email": "ann@example.com", "password": PASSWORD}, (422, "validation_error")),
        ({"email": "not an address", "password": PASSWORD}, (422, "validation_error")),
        ({"email": "bob@example.com", "password": PASSWORD}, (409, "conflict")),
        ({"email": "new@example.com", "password": "wrong"}, (403, "wrong_password")),
        ({"email": "new@example.com"}, (422, "validation_error")),
    ]
    for body, expected in cases:
        assert code(client.post("/api/auth/email", json=body, headers=me)) == expected
    ask = {"email": "new@example.com", "password": PASSWORD}
    for _ in range(2):
        assert client.post("/api/auth/email", json=ask, headers=me).status_code == 202
    too_many = client.post("/api/auth/email", json=ask, headers=me)
    assert code(too_many) == (429, "too_many_requests") and "retry-after" in too_many.headers
    assert len(mails(crm_web)) == 2


def test_the_endpoints_take_json_objects_only(client: TestClient) -> None:
    me = sign_in(client)
    form = client.post("/api/auth/email/confirm", data={"token": "x"})
    assert form.status_code == 415
    broken = client.post(
        "/api/auth/email/confirm", content=b"{", headers={"content-type": "application/json"}
    )
    assert code(broken) == (400, "invalid_json")
    assert code(client.post("/api/auth/email/confirm", json=["x"])) == (400, "invalid_json")
    assert code(client.post("/api/auth/password", json={}, headers=me))[0] == 422
    stale = client.post("/api/auth/email/confirm", json={"token": "no-such-link"})
    assert code(stale) == (400, "invalid_token")
