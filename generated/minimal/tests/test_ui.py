"""The web UI: sign-in through the form, every page a superuser may open, CSRF and the
Content-Security-Policy. (crmgen's own browser tests drive these pages in Chromium.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from minimal.web.core import SITE
from tests.conftest import PASSWORD, Api, email_of

PAGES = SITE.pages  # the entities with pages

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# Every script tag of a page loads a file shipped in the app: labels and values are escaped text.
SCRIPT = re.compile(r"<script(?![^>]*\bsrc=\"/static/[\w.-]+\.js\")", re.IGNORECASE)


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, html
    return match.group(1)


@pytest.fixture
def browser(client: TestClient) -> Iterator[TestClient]:
    """The app's client with a cookie jar of its own for this test (English pages)."""
    client.cookies.clear()
    client.cookies.set("locale", "en")
    yield client
    client.cookies.clear()


def sign_in(client: TestClient, user: str) -> None:
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_of(form.text),
            "email": email_of(user),
            "password": PASSWORD,
            "next": "/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_the_login_page_has_a_strict_content_security_policy(
    browser: TestClient,
) -> None:
    response = browser.get("/login")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert csrf_of(response.text)


def test_anonymous_pages_send_to_the_login_page(browser: TestClient) -> None:
    for path in PAGES:
        response = browser.get(f"/{path}/", follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login")


def test_a_post_without_the_csrf_token_is_refused(browser: TestClient) -> None:
    response = browser.post(
        "/login", data={"email": "x@tests.example", "password": PASSWORD}
    )
    assert response.status_code == 403


def test_a_superuser_opens_every_list_and_new_page(
    api: Api, browser: TestClient
) -> None:
    sign_in(browser, api.admin)
    home = browser.get("/")
    assert home.status_code == 200
    assert not SCRIPT.search(home.text)
    for path, resource in PAGES.items():
        listing = browser.get(f"/{path}/")
        assert listing.status_code == 200, (path, listing.text[:500])
        assert not SCRIPT.search(listing.text), (path, SCRIPT.search(listing.text))
        if "create" in resource.actions:
            form = browser.get(f"/{path}/new")
            assert form.status_code == 200, (path, form.text[:500])
            assert csrf_of(form.text)
            assert not SCRIPT.search(form.text), path


def test_a_cookie_signed_api_write_needs_the_csrf_header(
    api: Api, browser: TestClient
) -> None:
    response = browser.post(
        "/api/auth/login", json={"email": email_of(api.admin), "password": PASSWORD}
    )
    assert response.status_code == 200
    token = response.json()["csrf_token"]
    refused = browser.post("/api/auth/logout")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf"
    assert (
        browser.post("/api/auth/logout", headers={"X-CSRF-Token": token}).status_code
        == 204
    )
