"""What a browser gets for a page that is not there or not allowed, and the favicon (real HTTP).

A request for a page (not ``/api``) that accepts HTML gets the UI's error page in the user's
language; API clients keep the JSON error shape everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.crm import Crm, start_crm

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    with start_crm("sqlite", tmp_path_factory) as running:
        yield running


def _is_error_page(response, status: int) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text and f"{status}" in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert '"error"' not in response.text  # not the JSON shape


def test_an_unknown_page_is_the_html_error_page(web: Crm) -> None:
    with web.client(headers=BROWSER, cookies={"locale": "en"}) as browser:
        response = browser.get("/no/such/page")
    _is_error_page(response, 404)
    assert 'href="/"' in response.text


def test_a_method_not_allowed_on_a_page_is_the_html_error_page(web: Crm) -> None:
    with web.client(headers=BROWSER) as browser:
        _is_error_page(browser.get("/logout"), 405)


def test_a_signed_in_user_gets_the_error_page_in_their_language(web: Crm) -> None:
    with web.client(headers=BROWSER, cookies={"locale": "ru"}) as browser:
        page = browser.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed = browser.post(
            "/login",
            data={"csrf_token": token, "email": "sales@demo.example", "password": "demo-password"},
        )
        assert signed.status_code in (200, 303), signed.text
        response = browser.get("/no-such-page")
    _is_error_page(response, 404)
    assert 'lang="ru"' in response.text


def test_api_clients_keep_json_errors(web: Crm) -> None:
    with web.client(headers=BROWSER) as client:
        response = client.get("/api/no-such-collection")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    with web.client() as client:
        response = client.get("/no/such/page")  # no Accept: text/html
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_the_favicon_is_served_from_the_apps_own_files(web: Crm) -> None:
    with web.client() as client:
        icon = client.get("/favicon.ico")
        assert icon.status_code == 200
        assert icon.headers["content-type"] in ("image/svg+xml", "image/x-icon")
        page = client.get("/login")
    assert 'rel="icon"' in page.text
