"""``crmgen_runtime.auth_routes``: ``/api/auth`` over HTTP (sign-in, sign-out, who am I,
password reset), each answer's status, body and headers, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import auth, auth_routes, credentials, tables
from starlette.requests import Request
from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
LOGIN = "/api/auth/login"


def add_user(crm: Any, email: str, *roles: str) -> int:
    with crm.database.session() as session:
        user_id: int = auth.create_user(
            crm.catalog, session, email=email, password=PASSWORD, roles=roles
        ).id
    return user_id


def error(response: Any) -> tuple[int, str, str, dict[str, str]]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"], body["fields"]


def mails(crm: Any) -> list[dict[str, Any]]:
    model = crm.catalog.table(tables.OutboxMessageTable)
    with crm.database.session() as session:
        return list(session.scalars(sa.select(model.payload).order_by(model.id)))


def test_login_gives_a_token_a_cookie_and_its_csrf_token(auth_client: Any, crm_web: Any) -> None:
    client: TestClient = auth_client(base_url="https://testserver")
    add_user(crm_web, "ann@example.com", "sales")
    response = client.post(LOGIN, json={"email": "Ann@Example.com", "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "csrf_token"}
    assert body["token_type"] == "bearer"
    assert body["csrf_token"] == credentials.session_csrf_token(client.app, body["access_token"])
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"]
    signed = credentials.sign_token(credentials.secret_key(client.app), body["access_token"])
    assert cookie.startswith(f"session={signed};")
    for part in ("HttpOnly", "Max-Age=43200", "Path=/", "SameSite=lax", "Secure"):
        assert part in cookie


def test_wrong_credentials_locked_and_deactivated_accounts(auth_client: Any, crm_web: Any) -> None:
    client: TestClient = auth_client()
    user_id = add_user(crm_web, "bob@example.com")
    wrong = {"email": "bob@example.com", "password": "not the password"}
    for _ in range(4):
        assert error(client.post(LOGIN, json=wrong)) == (
            401,
            "invalid_credentials",
            "The e-mail or the password is wrong.",
            {},
        )
    locked = client.post(LOGIN, json=wrong)
    assert locked.status_code == 423 and int(locked.headers["retry-after"]) > 1700
    assert "the account is locked until" in locked.json()["error"]["message"]
    with crm_web.database.session() as session:
        session.execute(
            sa.update(crm_web.User)
            .where(crm_web.User.id == user_id)
            .values(locked_until=None, active=False)
        )
    inactive = client.post(LOGIN, json={"email": "bob@example.com", "password": PASSWORD})
    assert error(inactive) == (403, "account_inactive", "This account is deactivated.", {})


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code", "message"),
    [
        (
            "email=a&password=b",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
            "Send the body as JSON, with the header Content-Type: application/json.",
        ),
        (
            "{not json",
            "application/json",
            400,
            "invalid_json",
            "The request body is not valid JSON.",
        ),
        (
            "[1, 2]",
            "application/json; charset=utf-8",
            400,
            "invalid_json",
            "The request body must be a JSON object.",
        ),
        (
            "[" * 100_000,
            "application/json",
            400,
            "invalid_json",
            "The request body is not valid JSON.",
        ),
    ],
)
def test_login_takes_a_json_object_only(
    auth_client: Any, content: str, content_type: str, status: int, code: str, message: str
) -> None:
    client: TestClient = auth_client()
    response = client.post(LOGIN, content=content, headers={"Content-Type": content_type})
    assert error(response) == (status, code, message, {})


def test_login_needs_both_fields_as_strings(auth_client: Any) -> None:
    client: TestClient = auth_client()
    response = client.post(LOGIN, json={"email": "  ", "password": 5})
    required = "This field is required (a string)."
    assert error(response) == (
        422,
        "validation_error",
        "Some fields are invalid.",
        {"email": required, "password": required},
    )


def test_me_and_logout(auth_client: Any, crm_web: Any) -> None:
    client: TestClient = auth_client()
    user_id = add_user(crm_web, "cy@example.com", "sales", "admin")
    with crm_web.database.session() as session:
        session.execute(sa.update(crm_web.User).values(hired_on=dt.date(2024, 2, 29)))
    assert error(client.get("/api/auth/me")) == (401, "not_authenticated", "Sign in first.", {})
    token = client.post(LOGIN, json={"email": "cy@example.com", "password": PASSWORD}).json()[
        "access_token"
    ]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/auth/me", headers=bearer).json() == {
        "hired_on": "2024-02-29",
        "id": user_id,
        "locale": None,
        "email": "cy@example.com",
        "name": "cy",
        "roles": ["admin", "sales"],
        "superuser": True,
    }
    out = client.post("/api/auth/logout", headers=bearer)
    assert out.status_code == 204
    assert (
        out.headers["set-cookie"].startswith('session=""; ')
        and "Max-Age=0" in out.headers["set-cookie"]
    )
    assert client.get("/api/auth/me", headers=bearer).status_code == 401
    assert client.post("/api/auth/logout").status_code == 204  # nobody: nothing to revoke


def test_password_reset_always_answers_202_and_mails_a_link(auth_client: Any, crm_web: Any) -> None:
    client: TestClient = auth_client(RESET_MAIL_PER_ACCOUNT="1")
    add_user(crm_web, "di@example.com")
    for email in ("di@example.com", "di@example.com", "nobody@example.com"):
        response = client.post("/api/auth/password-reset", json={"email": email})
        assert (response.status_code, response.json()) == (
            202,
            {"status": "accepted", "message": "If the account exists, an e-mail is on its way."},
        )
    (mail,) = mails(crm_web)  # one per account (the settings' limit)
    assert mail["link"].startswith("https://crm.example.com/password-reset/")


def test_a_mailed_token_sets_a_new_password(auth_client: Any, crm_web: Any) -> None:
    client: TestClient = auth_client()
    add_user(crm_web, "ed@example.com")
    client.post("/api/auth/password-reset", json={"email": "ed@example.com"})
    token = mails(crm_web)[0]["link"].rpartition("/")[2]
    confirm = "/api/auth/password-reset/confirm"
    short = client.post(confirm, json={"token": token, "password": "short"})
    problem = "The password must have at least 8 characters."
    assert error(short) == (422, "validation_error", problem, {"password": problem})
    assert (
        client.post(confirm, json={"token": token, "password": "a new password"}).status_code == 204
    )
    bad = "The reset link is invalid, used or expired: ask for a new one."
    again = client.post(confirm, json={"token": token, "password": "a new password"})
    assert error(again) == (400, "invalid_token", bad, {"token": bad})
    login = client.post(LOGIN, json={"email": "ed@example.com", "password": "a new password"})
    assert login.status_code == 200


def test_links_start_at_the_request_only_in_local_development(
    auth_client: Any, crm_web: Any
) -> None:
    client: TestClient = auth_client(APP_ENV="development", PUBLIC_URL="")
    add_user(crm_web, "fa@example.com")
    client.post("/api/auth/password-reset", json={"email": "fa@example.com"})
    assert mails(crm_web)[0]["link"].startswith("http://testserver/password-reset/")
    settings = SimpleNamespace(public_url=None, development=False)
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    production = Request({"type": "http", "app": app, "headers": []})
    with pytest.raises(RuntimeError, match="PUBLIC_URL is not set"):
        auth_routes.public_url(production)


def test_client_of_keeps_at_most_an_ipv6_address() -> None:
    request = Request(
        {
            "type": "http",
            "client": ("f" * 60, 1234),
            "headers": [(b"user-agent", b"agent/1")],
        }
    )
    assert auth_routes.client_of(request) == ("f" * 45, "agent/1")
    assert auth_routes.client_of(Request({"type": "http", "headers": []})) == (None, None)
