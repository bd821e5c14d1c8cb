"""Signing in: a token for the right password, 401 for a wrong one, and the lockout.

After 5 wrong passwords in a row the account is locked for
30 minutes (the spec's ``app.auth``): the API answers 423 or 429 with
a message that says so, even to the right password. The sign-in takes JSON only, a session
cookie needs its CSRF token, and password-reset mail is limited per account.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from crmgen_runtime import auth
from starlette.testclient import TestClient

from reference_crm import models
from reference_crm.resources import CATALOG
from tests.conftest import LOCKOUT_USER, PASSWORD, Api, email_of, login
from tests.spec_data import LOCKOUT_ATTEMPTS


def test_login_gives_a_bearer_token(api: Api, client: TestClient) -> None:
    response = login(client, email_of(api.admin))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["access_token"]
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    me = client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == email_of(api.admin)


def test_wrong_password_is_refused(api: Api, client: TestClient) -> None:
    response = login(client, email_of(api.admin), "not the password")
    assert response.status_code == 401, response.text
    assert response.json()["error"]["message"]


def test_unknown_email_is_refused(client: TestClient) -> None:
    response = login(client, "nobody@tests.example")
    assert response.status_code == 401, response.text


def test_bad_token_is_refused(client: TestClient) -> None:
    response = client.get("/api/auth/me", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401, response.text


def test_lockout_after_too_many_wrong_passwords(
    client: TestClient, user_ids: dict[str, int]
) -> None:
    email = email_of(LOCKOUT_USER)
    answers = [
        login(client, email, "wrong password").status_code
        for _ in range(LOCKOUT_ATTEMPTS)
    ]
    assert answers[:-1] == [401] * (LOCKOUT_ATTEMPTS - 1)
    assert answers[-1] in (401, 423, 429)

    locked = login(client, email, PASSWORD)  # even the right password now
    assert locked.status_code in (423, 429), locked.text
    assert "lock" in locked.json()["error"]["message"].lower()


def test_sign_in_takes_json_only(client: TestClient, user_ids: dict[str, int]) -> None:
    name = next(user for user in user_ids if user != LOCKOUT_USER)
    body = json.dumps({"email": email_of(name), "password": PASSWORD})
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = client.post(
            "/api/auth/login", content=body, headers={"Content-Type": content_type}
        )
        assert response.status_code == 415, response.text
        assert "set-cookie" not in response.headers


def test_a_cookie_session_needs_its_csrf_token_whatever_authorization_says(
    client: TestClient, user_ids: dict[str, int]
) -> None:
    name = next(user for user in user_ids if user != LOCKOUT_USER)
    signed_in = client.post(  # the client keeps the session cookie
        "/api/auth/login", json={"email": email_of(name), "password": PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    try:
        for authorization in ("Bearer", "Basic eDp5", "Token x"):
            refused = client.post(
                "/api/auth/logout", headers={"Authorization": authorization}
            )
            assert refused.status_code == 403, refused.text
        assert client.get("/api/auth/me").status_code == 200  # still signed in
        csrf = {"X-CSRF-Token": signed_in.json()["csrf_token"]}
        assert client.post("/api/auth/logout", headers=csrf).status_code == 204
    finally:
        client.cookies.clear()


def test_reset_mail_is_limited_per_account(
    client: TestClient, user_ids: dict[str, int]
) -> None:
    database = client.app.state.db
    with database.session() as session:
        session.execute(sa.delete(models.CrmRateLimit))
    to = email_of(next(iter(user_ids)))
    limit = auth.reset_limits(CATALOG, client.app).per_account
    for _ in range(limit + 2):
        response = client.post("/api/auth/password-reset", json={"email": to})
        assert response.status_code == 202, response.text
    with database.session() as session:
        payloads = session.scalars(sa.select(models.CrmOutboxMessage.payload)).all()
    mails = [
        p
        for p in payloads
        if p.get("to") == to and p.get("template") == "password_reset"
    ]
    assert len(mails) == limit
