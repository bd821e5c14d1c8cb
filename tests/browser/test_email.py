"""E-mail from a record in real headless Chromium against a real uvicorn process: a seller
opens their contact, writes an e-mail from the spec's template and finds it on the contact's
timeline."""
# ruff: noqa: F811  (the tests take fixtures imported from test_browser)

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.test_browser import page, shots, sign_in  # noqa: F401  (fixtures)
from tests.browser.test_records import created
from tests.e2e.conftest import Server


def test_send_an_email_from_a_contact(page: Any, live: Server, shots: Path) -> None:
    contact = created(
        live,
        "seller1",
        "contacts",
        {"full_name": "Marta Client", "email": "marta@client.example", "phone": "+7 900 123-45-67"},
    )
    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/locale?set=en")
    page.goto(f"{live.base}/contacts/{contact['id']}")
    page.click("a[data-action=write-email]")
    assert page.url.endswith(f"/contacts/{contact['id']}/emails/new")
    page.select_option("#f_template_choice", "contact_follow_up")
    page.click("button[data-action=use-template]")
    page.wait_for_load_state()
    assert page.input_value("#f_to") == "marta@client.example"
    assert page.input_value("#f_subject") == "Following up, Marta Client"
    body = page.input_value("#f_body")
    assert body.startswith("Dear Marta Client,")
    page.fill("#f_body", body.replace("Shall we continue", "Shall we meet on Monday and continue"))
    page.screenshot(path=str(shots / "email-from-contact.png"), full_page=True)

    page.click("button[data-action=send-email]")
    page.wait_for_load_state()
    assert page.url.endswith(f"/contacts/{contact['id']}?sent=email")
    assert page.locator("p.alert.notice").inner_text() == "The e-mail is on its way."
    entry = page.locator("aside.timeline li.entry.email")
    assert entry.count() == 1
    text = entry.inner_text()
    assert "Following up, Marta Client" in text and "meet on Monday" in text
    assert "e-mail sent" in text.lower() and "→ marta@client.example" in text
