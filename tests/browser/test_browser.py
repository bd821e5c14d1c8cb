"""The generated web UI in real headless Chromium against a real uvicorn process.

Screenshots of the pages land in ``CRMGEN_SCREENSHOTS`` (default: the test's temporary folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD, Server

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CRMGEN_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Any, live: Server, name: str) -> None:
    page.goto(f"{live.base}/")
    assert "/login" in page.url  # anonymous: sent to the sign-in page
    page.fill("#email", live.users[name])
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()


def test_sign_in_create_a_contact_and_fix_a_validation_error(
    page: Any, live: Server, shots: Path
) -> None:
    sign_in(page, live, "admin")
    page.screenshot(path=str(shots / "home-desktop.png"))
    page.goto(f"{live.base}/contacts/new")
    page.fill("#f_full_name", "Ada Lovelace")
    page.fill("#f_email", "not an e-mail")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    error = page.locator("#f_email_error")
    assert error.is_visible() and error.inner_text().strip()
    assert page.input_value("#f_full_name") == "Ada Lovelace"  # nothing the user typed is lost
    assert page.get_attribute("#f_email", "aria-invalid") == "true"
    page.screenshot(path=str(shots / "form-error-desktop.png"))
    page.fill("#f_email", "ada@example.com")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "Ada Lovelace" in page.content()
    page.goto(f"{live.base}/contacts/?q=Lovelace")
    assert page.locator("table").inner_text().count("Ada Lovelace") == 1
    page.screenshot(path=str(shots / "list-desktop.png"))


def test_a_script_in_a_value_stays_text(page: Any, live: Server) -> None:
    sign_in(page, live, "admin")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live.base}/contacts/new")
    page.fill("#f_full_name", "<img src=x onerror=alert(1)><script>alert(2)</script>")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live.base}/contacts/?q=onerror")
    assert "<script>alert(2)</script>" in page.locator("table").inner_text()
    assert dialogs == []  # nothing ran


def test_the_list_is_usable_on_a_phone(browser: Any, live: Server, shots: Path) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        page = context.new_page()
        sign_in(page, live, "seller1")
        page.goto(f"{live.base}/contacts/")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the page scrolls sideways ({width}px)"
        assert page.locator("main input[name=q]").is_visible()
        page.screenshot(path=str(shots / "list-phone.png"), full_page=True)
    finally:
        context.close()
