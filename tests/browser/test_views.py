"""Saved views and cells edited in place in real headless Chromium against a real uvicorn of
examples/crm: save the list's filters, sort and columns under a name, reopen the view from the
menu, and change a cell in place by keyboard, with the version check saying when the record
changed meanwhile."""

# ruff: noqa: F811  (the tests take fixtures imported from test_browser)
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.browser.pipeline import deal_in
from tests.browser.test_browser import page, shots, sign_in  # noqa: F401  (fixtures)
from tests.e2e.conftest import Server


def test_save_and_reopen_a_view_then_edit_a_cell_in_place(
    page: Any, live: Server, shots: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    deal = deal_in(live, "seller1", "proposal", name=f"Deal {tag}", amount="1200.00")
    deal_in(live, "seller1", "won", name=f"Other {tag}", amount="50.00")
    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/deals/?q={tag}&stage__in=proposal&sort=-amount")
    page.locator("details.views-columns summary").click()
    page.get_by_label("Expected close").uncheck()
    with page.expect_navigation():
        page.get_by_role("button", name="Show these columns").click()
    assert "columns=" in page.url and "Expected close" not in page.locator("thead").inner_text()

    page.locator("details.views-save summary").click()
    page.get_by_label("View name").fill(f"My proposals {tag}")
    page.get_by_label("Sales manager").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save view").click()
    assert "view=" in page.url and "stage__in=proposal" in page.url
    assert f"My proposals {tag}" in page.locator(".views-menu summary").inner_text()

    page.goto(f"{live.base}/deals/")  # away, then back through the menu
    page.locator(".views-menu summary").click()
    with page.expect_navigation():
        page.get_by_role("link", name=f"My proposals {tag}").click()
    shown = page.locator("table.records tbody").inner_text()
    assert f"Deal {tag}" in shown and f"Other {tag}" not in shown
    assert "Expected close" not in page.locator("thead").inner_text()

    # inline edit: focus the stage cell by keyboard, Enter, choose, Enter
    cell = page.locator(f'tr[data-id="{deal["id"]}"] td[data-field="stage"]')
    cell.focus()
    cell.press("Enter")
    cell.locator("select").select_option("negotiation")
    cell.locator("select").press("Enter")
    page.wait_for_selector(f'tr[data-id="{deal["id"]}"] td[data-field="stage"] .cell-note')
    assert "Negotiation" in cell.inner_text()
    with live.client(live.token("seller1")) as client:
        stored = client.get(f"/api/deals/{deal['id']}").json()
        assert stored["stage"] == "negotiation"
        # someone else changes the deal meanwhile: the next edit on the page is refused
        client.patch(f"/api/deals/{deal['id']}", json={"amount": "1300.00"})
    name = page.locator(f'tr[data-id="{deal["id"]}"] td[data-field="amount"]')
    name.click()
    name.locator("input").fill("999")
    name.locator("input").press("Enter")
    page.wait_for_selector(f'tr[data-id="{deal["id"]}"] td[data-field="amount"] .cell-note.error')
    assert "Someone else changed this record" in name.inner_text()
    with live.client(live.token("seller1")) as client:
        assert client.get(f"/api/deals/{deal['id']}").json()["amount"] == "1300.00"
    page.screenshot(path=str(shots / "saved-views.png"), full_page=True)
