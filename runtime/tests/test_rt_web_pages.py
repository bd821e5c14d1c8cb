"""``crmgen_runtime.web.auth_pages`` and ``error_pages``: signing in and out, the password
reset, the locale switch, the home page and errors for browsers, through real requests on the
small CRM (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from argon2 import PasswordHasher
from conftest import PUBLIC_URL, WebClient, site_routes
from crmgen_runtime import auth, auth_routes, tables
from crmgen_runtime.errors import ApiError
from crmgen_runtime.web import account, auth_pages, error_pages
from crmgen_runtime.web.site import Site
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
PAGE = {"Accept": "text/html"}


async def broken(request: Request) -> Response:
    raise ApiError(400, "bad", "Bad.")


async def crash(request: Request) -> Response:
    raise RuntimeError("boom")


@pytest.fixture
def web(
    site: Site, crm_web: rt_crm.Crm, web_client: WebClient, cheap_hashes: PasswordHasher
) -> Callable[..., TestClient]:
    """``web(**environ)``: a TestClient of the small CRM's sign-in pages, as an app serves them."""
    assert auth_pages.entity_routes("deals", rt_crm.deals) == []
    assert error_pages.entity_routes("deals", rt_crm.deals) == []
    routes = [
        Mount("/api", routes=[Mount("/auth", routes=auth_routes.routes(crm_web.catalog))]),
        Route("/broken", broken),
        Route("/crash", crash),
        *site_routes(site, auth_pages, account, error_pages),
    ]
    return lambda **environ: web_client(
        routes,
        site=site,
        sessions=True,
        html_errors=True,
        base_url="https://testserver",
        **{"PUBLIC_URL": PUBLIC_URL, **environ},
    )


def add_user(crm: rt_crm.Crm, email: str) -> None:
    with crm.database.session() as session:
        auth.create_user(crm.catalog, session, email=email, password=PASSWORD, roles=("sales",))


def csrf_of(client: TestClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, "the form carries its CSRF token"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, **extra: str) -> Any:
    form = {"csrf_token": csrf_of(client), "email": email, "password": password, **extra}
    return client.post("/login", data=form)


def mails(crm: rt_crm.Crm) -> list[dict[str, Any]]:
    model = crm.catalog.table(tables.OutboxMessageTable)
    with crm.database.session() as session:
        return list(session.scalars(sa.select(model.payload).order_by(model.id)))


def test_signing_in_and_out(web: Callable[..., TestClient], crm_web: rt_crm.Crm) -> None:
    client = web()
    add_user(crm_web, "ann@example.com")
    assert client.get("/").headers["location"] == "/login?next=%2F"
    assert client.get("/login").status_code == 200
    wrong = sign_in(client, "ann@example.com", "not it")
    assert wrong.status_code == 401
    assert 'value="ann@example.com"' in wrong.text
    assert sign_in(client, " ", "").status_code == 401
    signed = sign_in(client, "ann@example.com", next="//evil.example")
    assert (signed.status_code, signed.headers["location"]) == (303, "/")
    assert client.get("/").status_code == 200
    assert client.get("/login?next=/deals/").headers["location"] == "/deals/"
    refused = client.post("/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    token = csrf_of(client, "/")
    out = client.post("/logout", data={"csrf_token": token})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert client.get("/").status_code == 303


def test_a_form_without_its_token_is_refused(web: Callable[..., TestClient]) -> None:
    client = web()
    for path in ("/login", "/password-reset", "/password-reset/x"):
        assert client.post(path, data={"email": "a@example.com"}).status_code == 403


def test_the_password_reset_mails_a_link_then_sets_the_password(
    web: Callable[..., TestClient], crm_web: rt_crm.Crm
) -> None:
    client = web()
    add_user(crm_web, "bea@example.com")
    token = csrf_of(client, "/password-reset")
    assert client.post("/password-reset", data={"csrf_token": token}).status_code == 422
    long = "a" * 330 + "@example.com"
    assert (
        client.post("/password-reset", data={"csrf_token": token, "email": long}).status_code == 422
    )
    for email in ("bea@example.com", "nobody@example.com"):
        sent = client.post("/password-reset", data={"csrf_token": token, "email": email})
        assert sent.status_code == 200
    (mail,) = mails(crm_web)
    link = "/password-reset/" + mail["link"].rpartition("/")[2]
    assert client.get(link).status_code == 200
    form = {"csrf_token": token, "password": "a new password", "password_again": "a new password"}
    for problem in ("", "short", "x" * 2000):
        again = {**form, "password": problem, "password_again": problem}
        assert client.post(link, data=again).status_code == 422
    assert client.post(link, data={**form, "password_again": "other"}).status_code == 422
    done = client.post(link, data=form)
    assert (done.status_code, done.headers["location"]) == (303, "/login?reset=done")
    assert client.post(link, data=form).status_code == 400  # used
    assert client.get("/login?reset=done").status_code == 200
    assert sign_in(client, "bea@example.com", "a new password").status_code == 303


def test_the_locale_is_kept_in_a_cookie(web: Callable[..., TestClient]) -> None:
    client = web()
    chosen = client.get("/locale?set=ru&next=/login")
    assert (chosen.status_code, chosen.headers["location"]) == (303, "/login")
    assert chosen.cookies["locale"] == "ru"
    assert "locale" not in client.get("/locale?set=xx").cookies


def test_browsers_get_error_pages_and_api_clients_json(web: Callable[..., TestClient]) -> None:
    client = web()
    page = client.get("/broken", headers=PAGE)
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["Content-Security-Policy"].startswith("default-src")
    assert client.get("/broken").json()["error"]["code"] == "bad"
    assert client.get("/nowhere", headers=PAGE).status_code == 404
    assert client.get("/api/nowhere", headers=PAGE).headers["content-type"] == "application/json"
    wrong_method = client.delete("/login", headers=PAGE)
    assert wrong_method.status_code == 405
    assert "allow" in wrong_method.headers
    assert client.get("/crash", headers=PAGE).status_code == 500
    anonymous = client.get("/api/auth/me", headers=PAGE)
    assert anonymous.status_code == 401  # the API's own answer
    assert error_pages.wants_page(
        Request({"type": "http", "path": "/x", "headers": [(b"accept", b"text/html")]})
    )


def test_a_page_that_needs_a_user_sends_strangers_to_sign_in(
    web: Callable[..., TestClient],
) -> None:
    async def private(request: Request) -> Response:
        raise ApiError(401, "unauthenticated", "Sign in.")

    client = web()
    client.app.router.routes.append(Route("/private", private))  # type: ignore[attr-defined]
    answer = client.get("/private", headers=PAGE)
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?next=%2Fprivate")


def test_the_favicon(web: Callable[..., TestClient]) -> None:
    icon = web().get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.lstrip().startswith(b"<")


def test_ones_own_account(web: Callable[..., TestClient], crm_web: rt_crm.Crm) -> None:
    client = web()
    assert account.entity_routes("deals", rt_crm.deals) == []
    assert client.get("/account").headers["location"] == "/login?next=%2Faccount"
    add_user(crm_web, "cy@example.com")
    sign_in(client, "cy@example.com")
    page = client.get("/account")
    assert page.status_code == 200 and "cy@example.com" in page.text
    csrf = csrf_of(client, "/account")
    assert client.post("/account/password", data={"password": "x"}).status_code == 403
    new = {"csrf_token": csrf, "password": "another password", "password_again": "another password"}
    assert client.post("/account/password", data={**new, "password_again": "x"}).status_code == 422
    wrong = client.post("/account/password", data={**new, "current_password": "nope"})
    assert wrong.status_code in (403, 422)
    changed = client.post("/account/password", data={**new, "current_password": PASSWORD})
    assert (changed.status_code, changed.headers["location"]) == (303, "/account?done=password")
    assert client.get("/account?done=password").status_code == 200
    csrf = csrf_of(client, "/account")
    assert client.post("/account/email", data={"email": "x"}).status_code == 403
    empty = client.post("/account/email", data={"csrf_token": csrf, "email": " "})
    assert empty.status_code == 422
    email = {"csrf_token": csrf, "email": "cy.new@example.com", "password": "another password"}
    sent = client.post("/account/email", data=email)
    assert sent.status_code == 200 and "cy.new@example.com" in sent.text
    link = [m["link"] for m in mails(crm_web) if "email-change" in m.get("link", "")]
    assert link
    path = "/email-change/" + link[-1].rpartition("/")[2]
    assert client.get(path).status_code == 200
    assert client.post(path, data={"csrf_token": "x"}).status_code == 403
    done = client.post(path, data={"csrf_token": csrf_of(client, path)})
    assert done.status_code == 200 and "cy.new@example.com" in done.text
    again = client.post(path, data={"csrf_token": csrf_of(client, path)})
    assert again.status_code == 400
