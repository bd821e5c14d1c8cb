"""Cross-site requests: login CSRF and the CSRF check of cookie sessions (issue 10 items 6, 7).

A cross-site form can POST ``text/plain``, ``application/x-www-form-urlencoded`` or
``multipart/form-data`` with the victim's cookies, but can set neither ``Content-Type:
application/json`` nor any header of its own. So the JSON endpoints that need no session (the
sign-in and the password reset) take JSON only, and a request signed in by the session cookie
must carry the session's CSRF token whatever ``Authorization`` header it also has: only a bearer
token that is really used (and then alone decides who is asking) stands in for it.
"""

from __future__ import annotations

import json
import re
import uuid

import httpx2 as httpx
import pytest

from tests.security.crm import PASSWORD, Crm, email

LOGIN = "/api/auth/login"
NOT_JSON = [
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonp",
    "text/plain; application/json",
    None,
]


def credentials(name: str = "sales") -> bytes:
    return json.dumps({"email": email(name), "password": PASSWORD}).encode()


def post(crm: Crm, path: str, body: bytes, content_type: str | None) -> httpx.Response:
    headers = {} if content_type is None else {"Content-Type": content_type}
    with crm.client() as client:
        return client.post(path, content=body, headers=headers)


def outbox_size(crm: Crm) -> int:
    return int(crm.sql("SELECT count(*) FROM crm_outbox")[0][0])


# --- item 6: JSON only where no session is needed ------------------------------------------------


@pytest.mark.parametrize("content_type", NOT_JSON)
def test_login_takes_json_only(crm: Crm, content_type: str | None) -> None:
    response = post(crm, LOGIN, credentials(), content_type)
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "set-cookie" not in response.headers and "access_token" not in response.text


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_with_parameters_signs_in(crm: Crm, content_type: str) -> None:
    response = post(crm, LOGIN, credentials(), content_type)
    assert response.status_code == 200, response.text
    assert response.headers["set-cookie"].startswith("session=")


def test_no_auth_endpoint_takes_a_form_body(crm: Crm) -> None:
    """Every POST under /api/auth with a body (from openapi.json: new ones are covered too)."""
    with crm.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    posts = [
        path
        for path, operations in paths.items()
        if path.startswith("/api/auth/") and "requestBody" in operations.get("post", {})
    ]
    assert {LOGIN, "/api/auth/password-reset", "/api/auth/password-reset/confirm"} <= set(posts)
    body = json.dumps(
        {"email": email("sales"), "password": PASSWORD + "!", "token": "x" * 43}
    ).encode()
    before = outbox_size(crm)
    for path in posts:
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            response = post(crm, path, body, content_type)
            assert response.status_code in (401, 403, 415), (path, response.text)
            assert "set-cookie" not in response.headers
    assert outbox_size(crm) == before


def test_a_reset_link_cannot_be_used_by_a_cross_site_form(crm: Crm) -> None:
    with crm.client() as client:
        asked = client.post("/api/auth/password-reset", json={"email": email("sales2")})
    assert asked.status_code == 202
    [(payload,)] = crm.sql(
        "SELECT payload FROM crm_outbox WHERE idempotency_key LIKE 'password-reset:%' "
        "ORDER BY id DESC LIMIT 1"
    )
    message = payload if isinstance(payload, dict) else json.loads(payload)
    token = message["link"].rpartition("/")[2]
    new = json.dumps({"token": token, "password": "chosen by the attacker"}).encode()
    forged = post(crm, "/api/auth/password-reset/confirm", new, "text/plain")
    assert forged.status_code == 415
    assert crm.login("sales2").status_code == 200  # the password is unchanged


def test_the_html_login_form_keeps_its_csrf_token(crm: Crm) -> None:
    with crm.client() as client:
        page = client.get("/login")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, page.text
        form = {"email": email("support"), "password": PASSWORD, "next": "/"}
        signed_in = client.post("/login", data={**form, "csrf_token": match.group(1)})
        assert signed_in.status_code == 303
        assert signed_in.headers["set-cookie"].startswith("session=")
    with crm.client() as stranger:
        refused = stranger.post("/login", data=form)
        assert refused.status_code == 403
        assert "session=" not in refused.headers.get("set-cookie", "")


# --- item 7: a cookie session needs the CSRF token, whatever Authorization says -----------------


def cookie_session(crm: Crm, name: str = "admin") -> tuple[str, str]:
    """A fresh session of ``name``: the session cookie's value and its CSRF token."""
    response = crm.login(name)
    assert response.status_code == 200
    return response.cookies["session"], response.json()["csrf_token"]


def company_names(crm: Crm) -> set[str]:
    return {row[0] for row in crm.sql("SELECT name FROM companies")}


AUTHORIZATIONS = [
    pytest.param([("Authorization", "Bearer")], id="empty-bearer"),
    pytest.param([("Authorization", "bearer")], id="lowercase-empty-bearer"),
    pytest.param(
        [("Authorization", "Bearer"), ("Authorization", "Bearer")],
        id="two-empty-bearers",
    ),
    pytest.param(
        [("Authorization", "Bearer"), ("Authorization", "Basic YWRtaW46eA==")],
        id="empty-bearer-then-basic",
    ),
    pytest.param(
        [("Authorization", "Basic YWRtaW46eA=="), ("Authorization", "Bearer")],
        id="basic-then-empty-bearer",
    ),
    pytest.param([("Authorization", "")], id="empty-header"),
    pytest.param([("Authorization", "Basic YWRtaW46eA==")], id="basic"),
    pytest.param([("Authorization", "Token abc")], id="other-scheme"),
    pytest.param([("Authorization", "Bearer not-a-session")], id="invalid-bearer"),
    pytest.param([], id="no-authorization"),
]


@pytest.fixture(scope="module")
def admin_cookie(crm: Crm) -> str:
    """One admin session's cookie for the attempts below (none of them may end it)."""
    return cookie_session(crm)[0]


@pytest.mark.parametrize("authorization", AUTHORIZATIONS)
def test_a_cookie_never_signs_in_a_request_without_its_csrf_token(
    crm: Crm, admin_cookie: str, authorization: list[tuple[str, str]]
) -> None:
    cookie = admin_cookie
    name = f"csrf-{uuid.uuid4().hex[:8]}"
    with crm.client(cookies={"session": cookie}) as client:
        created = client.post("/api/companies", json={"name": name}, headers=authorization)
        logout = client.post("/api/auth/logout", headers=authorization)
        me = client.get("/api/auth/me")
    assert created.status_code in (401, 403), created.text
    assert name not in company_names(crm)
    assert logout.status_code in (204, 401, 403), logout.text  # 204: an unknown bearer's
    assert me.status_code == 200  # whatever the answer, the session was not ended


def test_the_csrf_token_or_a_real_bearer_token_lets_the_request_through(crm: Crm) -> None:
    cookie, csrf = cookie_session(crm)
    names = [f"csrf-ok-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with crm.client(cookies={"session": cookie}) as client:
        with_token = client.post(
            "/api/companies",
            json={"name": names[0]},
            headers=[("Authorization", "Bearer"), ("X-CSRF-Token", csrf)],
        )
    with crm.client(crm.token("admin")) as bearer:
        by_bearer = bearer.post("/api/companies", json={"name": names[1]})
    assert with_token.status_code == by_bearer.status_code == 201
    assert set(names) <= company_names(crm)
