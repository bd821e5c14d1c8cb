"""The API's docs (issue 17 item 4) over real HTTP and in real Chromium, on the browser tests'
uvicorn server (no server of their own).

Over HTTP: ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) are public like ``/openapi.json``, load
only the app's own files, which are cached for a year, and carry their own
Content-Security-Policy while every other page keeps the UI's. In Chromium: both render the
operations of the app's own ``/openapi.json``, every request they make stays on the app's origin
(the viewers are shipped with the runtime, no CDN), and their policy blocks nothing they need (no
violation reported). Screenshots: ``api-docs-swagger.png``, ``api-docs-redoc.png``. The links to
them and ``API_DOCS=0``: ``tests/ui/test_api_docs.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from crmgen_runtime import assets
from crmgen_runtime.web import api_docs
from crmgen_runtime.web.site import SECURITY_HEADERS

from tests.browser.test_browser import shots  # noqa: F401
from tests.e2e.conftest import PASSWORD, Server

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
UI_POLICY = SECURITY_HEADERS["Content-Security-Policy"]
# Reports every CSP violation of the page into window.__csp (runs before the page's scripts).
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture(scope="module")
def operations(live: Server) -> list[tuple[str, str, str]]:
    """(method, path, summary) of a few operations of the app's document."""
    document = httpx.get(f"{live.base}/openapi.json").json()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path.startswith("/api/companies") and isinstance(operation, dict):
                found.append((method.upper(), path, str(operation.get("summary", ""))))
    assert found, sorted(document["paths"])[:20]
    return found


@pytest.fixture
def watched(browser: Any, live: Server) -> Iterator[tuple[Any, list[str]]]:
    """A page whose every request URL is recorded, with CSP violations collected."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        yield page, requests
    finally:
        context.close()


def _own_origin_only(live: Server, requests: list[str]) -> None:
    outside = [
        url
        for url in requests
        if not url.startswith((live.base + "/", f"blob:{live.base}/", "data:"))
    ]
    assert not outside, outside
    assert any(url.endswith("/openapi.json") for url in requests), requests


def test_swagger_ui_renders_the_apps_operations_from_its_own_files(
    watched: tuple[Any, list[str]],
    live: Server,
    operations: list[tuple[str, str, str]],
    shots: Path,  # noqa: F811
) -> None:
    page, requests = watched
    signed_in = page.request.post(  # the session cookie lands in the page's context
        f"{live.base}/api/auth/login",
        data={"email": live.users["admin"], "password": PASSWORD},
    )
    assert signed_in.ok, signed_in.text()
    page.goto(f"{live.base}/docs#/auth/auth_me")  # opened at one operation (deep linking)
    # "Try it out" calls the API with the signed-in browser's session (the policy lets it)
    me = page.locator(".opblock-get:has([data-path='/api/auth/me'])")
    me.locator(".opblock-summary").first.wait_for(timeout=20_000)
    if not me.locator(".try-out__btn").count():
        me.locator(".opblock-summary-control").click()
    me.locator(".try-out__btn").click()
    me.locator(".execute").click()
    status = me.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=10_000)
    assert status.inner_text() == "200"
    assert live.users["admin"] in me.locator(".live-responses-table").inner_text()
    # Swagger UI renders the operations near the viewport: filter to one tag first
    page.fill(".operation-filter-input", "companies")
    page.wait_for_selector("[data-path='/api/companies']", timeout=10_000)
    for method, path, _ in operations:  # each operation's block: its method and its path
        block = page.locator(f".opblock-{method.lower()}:has([data-path='{path}'])")
        assert block.count() >= 1, (method, path)
    methods = page.locator(".opblock-summary-method").all_inner_texts()
    assert "GET" in methods and "POST" in methods
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "api-docs-swagger.png"))
    assert page.evaluate("window.__csp") == []
    _own_origin_only(live, requests)


def test_redoc_renders_the_apps_operations_from_its_own_files(
    watched: tuple[Any, list[str]],
    live: Server,
    operations: list[tuple[str, str, str]],
    shots: Path,  # noqa: F811
) -> None:
    page, requests = watched
    page.goto(f"{live.base}/redoc")
    page.wait_for_selector("[data-item-id*='/operation/']", state="attached", timeout=20_000)
    text = page.inner_text("body")
    summaries = [summary for _, _, summary in operations if summary]
    assert summaries and all(summary in text for summary in summaries), summaries
    # ReDoc's search runs in a worker made from a blob: URL: it finds an operation
    page.fill("input.search-input", summaries[0])
    found = page.locator("[data-role='search:results'] li")
    found.first.wait_for(timeout=10_000)
    assert any(summaries[0] in item for item in found.all_inner_texts())
    page.screenshot(path=str(shots / "api-docs-redoc.png"))
    assert page.evaluate("window.__csp") == []
    _own_origin_only(live, requests)


# --- over HTTP ------------------------------------------------------------------------------


def _local_files(html: str) -> list[str]:
    """The scripts and stylesheets a page loads."""
    found = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', html)
    assert found, html
    return found


@pytest.mark.parametrize(("path", "viewer"), [("/docs", "swagger"), ("/redoc", "redoc")])
def test_each_docs_page_is_public_and_loads_only_the_apps_own_files(
    live: Server, path: str, viewer: str
) -> None:
    with live.client() as client:
        page = client.get(path, headers=BROWSER)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == api_docs.policy(viewer)
        for name, value in SECURITY_HEADERS.items():  # the UI's other headers stay
            if name != "Content-Security-Policy":
                assert page.headers[name] == value, name
        assert "/openapi.json" in page.text
        files = _local_files(page.text)
        assert all(url.startswith("/static/") for url in files), files
        vendored = [url for url in files if url.startswith("/static/vendor/")]
        assert vendored, files
        for url in files:
            asset = client.get(url)
            assert asset.status_code == 200, url
            if url in vendored:
                assert asset.headers["cache-control"] == assets.IMMUTABLE, url
                size = (assets.WEB / url.removeprefix("/")).stat().st_size
                assert int(asset.headers["content-length"]) == size
        assert client.post(path).status_code == 405


def test_the_document_they_read_is_served_to_anyone(live: Server) -> None:
    with live.client() as client:
        document = client.get("/openapi.json")
        assert document.status_code == 200
        assert any(path.startswith("/api/companies") for path in document.json()["paths"])


def test_every_other_page_keeps_the_uis_policy(live: Server) -> None:
    with live.client() as client:
        for path in ("/login", "/password-reset", "/", "/docs/x", "/redoc/x", "/no-such-page"):
            response = client.get(path, headers=BROWSER)
            assert response.headers["content-security-policy"] == UI_POLICY, path
        assert "unsafe" not in UI_POLICY and "blob:" not in UI_POLICY
