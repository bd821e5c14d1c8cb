"""GDPR erasure in real headless Chromium against a real uvicorn process: the administrator
exports a contact's data from its page, erases it with a reason and a confirmation (the form's
dialog accepted), and the page then shows the pseudonym; a seller sees neither button."""
# ruff: noqa: F811  (the tests take fixtures imported from test_browser)

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.test_browser import page, shots, sign_in  # noqa: F401  (fixtures)
from tests.browser.test_records import created
from tests.e2e.conftest import Server


def test_erase_a_contact_from_its_page(page: Any, live: Server, shots: Path) -> None:
    contact = created(
        live,
        "seller1",
        "contacts",
        {"full_name": "Gerda Forgetme", "email": "gerda@forget.example"},
    )
    url = f"{live.base}/contacts/{contact['id']}"
    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/locale?set=en")
    page.goto(url)
    assert page.locator("a[data-action=erase-personal-data]").count() == 0
    page.context.clear_cookies()

    sign_in(page, live, "admin")
    page.goto(f"{live.base}/locale?set=en")
    page.goto(url)
    export = page.locator("a[data-action=export-personal-data]")
    assert export.inner_text() == "Export personal data"
    with page.expect_download() as download:
        export.click()
    assert download.value.suggested_filename == f"contacts-{contact['id']}-personal-data.zip"

    page.click("a[data-action=erase-personal-data]")
    assert page.url.endswith(f"/contacts/{contact['id']}/erase")
    page.fill("#f_reason", "Asked by e-mail on 3 May")
    page.check("input[name=confirm]")
    page.screenshot(path=str(shots / "gdpr-erase.png"), full_page=True)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("button[data-action=erase]")
    page.wait_for_load_state()
    assert dialogs == ["I understand that this erases the person's data for good."]
    assert page.url.endswith(f"/contacts/{contact['id']}?gdpr=erased")
    assert page.locator("p.alert.notice").inner_text() == "The personal data was erased."
    assert page.locator("h1").inner_text().startswith("erased-")
    assert "Gerda" not in page.content()
