"""The list pages in real headless Chromium against a real uvicorn of examples/crm: search and
filters, record rules, the phone layout, bulk delete by keyboard and the CSV/XLSX export."""

# ruff: noqa: F811  (the tests take fixtures imported from test_pages / test_browser)
from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.browser.test_browser import PHONE, page, shots, sign_in  # noqa: F401  (fixtures)
from tests.e2e.conftest import Server


def add(live: Server, who: str, path: str, **values: Any) -> dict[str, Any]:
    """A record created through the REST API by ``who`` (look-alikes too: the tests' names
    differ by a number)."""
    with live.client(live.token(who)) as client:
        response = client.post(f"/api/{path}?confirm_duplicate=true", json=values)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def tag() -> str:
    """A word no other test's records contain."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def table_text(page: Any) -> str:
    return str(page.locator("table.records tbody").inner_text())


def test_search_and_filter_the_contacts_list(
    page: Any, live: Server, shots: Path, tag: str
) -> None:
    add(live, "admin", "contacts", full_name=f"Key {tag}", is_key=True)
    add(live, "admin", "contacts", full_name=f"Plain {tag}", is_key=False)
    add(live, "admin", "contacts", full_name="Someone Else", is_key=True)
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/contacts/")
    page.get_by_label("Search", exact=True).fill(tag)  # a labelled control
    with page.expect_navigation():
        page.get_by_label("Search", exact=True).press("Enter")
    shown = table_text(page)
    assert f"Key {tag}" in shown and f"Plain {tag}" in shown and "Someone Else" not in shown
    page.locator("details.filters summary").click()
    page.locator("#filter-is_key").select_option("true")  # (also a column to pick)
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    shown = table_text(page)
    assert f"Key {tag}" in shown and f"Plain {tag}" not in shown
    assert f"q={tag}" in page.url and "is_key=true" in page.url
    assert page.get_by_label("Search", exact=True).input_value() == tag  # both kept
    page.screenshot(path=str(shots / "list-filtered-desktop.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("link", name="Clear filters").click()
    assert "is_key" not in page.url
    assert f"Plain {tag}" in table_text(page)


def test_a_seller_cannot_see_another_sellers_contact(page: Any, live: Server, tag: str) -> None:
    mine = add(live, "seller1", "contacts", full_name=f"Private {tag}")
    sign_in(page, live, "seller2")
    page.goto(f"{live.base}/contacts/?q={tag}")
    assert f"Private {tag}" not in page.content()
    assert page.locator("table.records tbody tr").count() == 0
    response = page.goto(f"{live.base}/contacts/{mine['id']}")
    assert response is not None and response.status == 404
    assert f"Private {tag}" not in page.content()


def test_the_phone_viewport_shows_a_usable_list(
    phone: Any, live: Server, shots: Path, tag: str
) -> None:
    long = "Longname" * 12
    add(
        live,
        "seller1",
        "contacts",
        full_name=f"{long} {tag}",
        email=f"{tag}@example.com",
        phone="+7 900 000-00-00",
    )
    sign_in(phone, live, "seller1")
    phone.goto(f"{live.base}/contacts/?q={tag}")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the page scrolls sideways ({width}px)"
    row = phone.locator("table.records tbody tr").first
    box = row.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1
    link = row.get_by_role("link")
    assert link.is_visible() and tag in link.inner_text()
    # a card: each value under its column's name (the table's header is hidden)
    cell = row.locator("td[data-label]").nth(2)
    label = cell.evaluate("el => getComputedStyle(el, '::before').content")
    assert label.strip('"') == cell.get_attribute("data-label") and label.strip('"')
    assert (
        not phone.locator("table.records thead").is_visible()
        or phone.locator("table.records thead").bounding_box()["width"] <= 1
    )
    assert phone.locator("#list-q").is_visible()
    phone.screenshot(path=str(shots / "list-cards-phone.png"), full_page=True)


def test_bulk_delete_by_keyboard(page: Any, live: Server, shots: Path, tag: str) -> None:
    for n in range(3):
        add(live, "seller1", "contacts", full_name=f"Bulk {n} {tag}")
    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/contacts/?q={tag}")
    select_all = page.get_by_label("Select all on this page")
    assert select_all.is_visible()  # shown by lists.js
    delete = page.get_by_role("button", name="Delete selected")
    assert not delete.is_visible()  # bulk actions only with a selection
    select_all.focus()
    page.keyboard.press("Space")
    assert delete.is_visible() and page.locator(".bulk-count").inner_text() == "3 selected"
    boxes = page.locator("input[form=bulk-delete]")
    assert boxes.count() == 3 and all(boxes.nth(i).is_checked() for i in range(3))
    page.get_by_label(f"Select: Bulk 1 {tag}").focus()
    page.keyboard.press("Space")  # keep this one
    page.get_by_role("button", name="Delete selected").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/contacts/bulk-delete?" in page.url
    listed = page.locator(".bulk-list").inner_text()
    assert f"Bulk 0 {tag}" in listed and f"Bulk 2 {tag}" in listed and f"Bulk 1 {tag}" not in listed
    page.screenshot(path=str(shots / "bulk-delete-desktop.png"))
    with page.expect_navigation():
        page.get_by_role("button", name="Delete (2)").click()
    assert "2 deleted" in page.locator("main").inner_text()
    with page.expect_navigation():
        page.get_by_role("link", name="Back to the list").click()
    shown = table_text(page)
    assert f"Bulk 1 {tag}" in shown and f"Bulk 0 {tag}" not in shown


def test_export_csv_and_xlsx_of_the_current_filter(page: Any, live: Server, tag: str) -> None:
    add(
        live,
        "admin",
        "contacts",
        full_name=f"Export {tag}",
        email=f"export-{tag}@example.com",
        is_key=True,
    )
    add(live, "admin", "contacts", full_name=f"Other {tag}", is_key=False)
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/contacts/?q={tag}&is_key=true")
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Export CSV").click()
    content = Path(csv_download.value.path()).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["ID", "Full name"]
    assert [row[1] for row in rows[1:]] == [f"Export {tag}"]  # the filter applies
    assert f"export-{tag}@example.com" in rows[1]
    with page.expect_download() as xlsx_download:
        page.get_by_role("link", name="Export XLSX").click()
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(Path(xlsx_download.value.path()).read_bytes())).active
    values = [row for row in sheet.iter_rows(values_only=True)]
    assert values[0][1] == "Full name"
    assert [row[1] for row in values[1:]] == [f"Export {tag}"]


def test_pages_go_next_and_back_by_cursor(page: Any, live: Server, tag: str) -> None:
    for n in range(27):  # companies list 25 a page
        add(live, "admin", "companies", name=f"Paged {tag} {n:02d}")
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/companies/?q={tag}&sort=name")
    first = table_text(page)
    assert f"Paged {tag} 00" in first and f"Paged {tag} 25" not in first
    with page.expect_navigation():
        page.get_by_role("link", name="Next").click()
    assert "cursor=" in page.url and f"q={tag}" in page.url and "sort=name" in page.url
    second = table_text(page)
    assert f"Paged {tag} 25" in second and f"Paged {tag} 00" not in second
    shared = page.url
    with page.expect_navigation():
        page.get_by_role("link", name="Previous").click()
    assert table_text(page) == first
    assert page.get_by_role("link", name="Previous").count() == 0
    page.goto(shared)  # a page's address opens the same page again
    assert table_text(page) == second
    with page.expect_navigation():
        page.get_by_role("link", name="First page").click()
    assert table_text(page) == first and "cursor" not in page.url
