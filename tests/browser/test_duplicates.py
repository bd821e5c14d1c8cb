"""Likely duplicates in real headless Chromium against a real uvicorn process: the create form
warns with the candidates and creates the record on "Create anyway"; the possible-duplicates
page lists a pair, and its merge page keeps the chosen value and moves the links."""
# ruff: noqa: F811  (the tests take fixtures imported from test_browser)

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.test_browser import page, shots, sign_in  # noqa: F401  (fixtures)
from tests.e2e.conftest import Server


def post(live: Server, path: str, body: dict[str, Any], confirm: bool = True) -> dict[str, Any]:
    query = "?confirm_duplicate=true" if confirm else ""
    with live.client(live.token("admin")) as client:
        response = client.post(f"/api/{path}{query}", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def get(live: Server, path: str) -> Any:
    with live.client(live.token("admin")) as client:
        return client.get(f"/api/{path}")


def test_the_form_warns_of_a_likely_duplicate_and_creates_it_anyway(
    page: Any, live: Server, shots: Path
) -> None:
    first = post(live, "contacts", {"full_name": "Grace Hopper", "email": "grace@navy.example"})
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/contacts/new")
    page.fill("#f_full_name", "Grace M. Hopper")
    page.fill("#f_email", "GRACE@navy.example")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    warning = page.locator("[data-duplicates]")
    assert warning.is_visible()
    link = warning.locator(f"a[href='/contacts/{first['id']}']")
    assert link.inner_text().strip() == "Grace Hopper"
    assert page.input_value("#f_full_name") == "Grace M. Hopper"  # nothing typed is lost
    page.screenshot(path=str(shots / "duplicate-warning-desktop.png"))
    page.click("button[name=_confirm_duplicate]")
    page.wait_for_load_state()
    assert "/contacts/new" not in page.url and "Grace M. Hopper" in page.content()
    found = get(live, "contacts?q=Hopper").json()["items"]
    assert sorted(c["full_name"] for c in found) == ["Grace Hopper", "Grace M. Hopper"]


def test_the_pairs_page_and_the_merge_page(page: Any, live: Server, shots: Path) -> None:
    kept = post(live, "contacts", {"full_name": "Linus Torvalds", "phone": "+7 912 000-11-22"})
    gone = post(live, "contacts", {"full_name": "Linus B. Torvalds", "phone": "89120001122"})
    call = post(live, "interactions", {"gist": "Kernel call", "contact": gone["id"]})
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/contacts/")
    page.click("a[href='/contacts/duplicates']")
    page.wait_for_load_state()
    row = page.locator(f"tr[data-pair='{kept['id']}-{gone['id']}']")
    assert row.is_visible() and "Linus B. Torvalds" in row.inner_text()
    page.screenshot(path=str(shots / "duplicates-desktop.png"))
    row.locator("a.button").click()
    page.wait_for_load_state()
    assert f"/contacts/{kept['id']}/merge?other={gone['id']}" in page.url
    page.check("tr[data-field=full_name] input[value=other]")
    page.screenshot(path=str(shots / "merge-desktop.png"))
    page.on("dialog", lambda dialog: dialog.accept())  # "Merge these records?"
    page.click("form.merge-form button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith(f"/contacts/{kept['id']}?merged={gone['id']}"), page.url
    assert "Linus B. Torvalds" in page.locator("h1").inner_text()
    assert get(live, f"contacts/{gone['id']}").status_code == 404
    moved = get(live, f"interactions/{call['id']}").json()
    assert moved["contact"]["id"] == kept["id"]
