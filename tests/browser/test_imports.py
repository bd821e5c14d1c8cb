"""Importing a CSV file through the pages, in real headless Chromium against uvicorn."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from tests.browser.test_browser import PHONE, page, shots, sign_in  # noqa: F401
from tests.e2e.conftest import Server

ROWS = [
    ("Browser Import One", "Retail", "12"),
    ("Browser Import Two", "it", "a dozen"),  # the bad row: not a whole number
    ("Browser Import Three", "Services", "40"),
    ("Browser Import Four", "Other", ""),
]


def companies_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Name", "Industry", "Employees"])
    writer.writerows(ROWS)
    return out.getvalue().encode("utf-8-sig")


def imported_names(live: Server) -> set[str]:
    with live.client(live.token("admin")) as client:
        response = client.get(
            "/api/companies", params={"name__contains": "Browser Import", "limit": "100"}
        )
    assert response.status_code == 200, response.text
    return {item["name"] for item in response.json()["items"]}


def test_import_a_csv_with_one_bad_row(page: Any, live: Server, shots: Path) -> None:  # noqa: F811
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/companies/import")
    page.screenshot(path=str(shots / "import-upload-desktop.png"), full_page=True)
    page.set_input_files(
        "#import-file",
        files=[{"name": "companies.csv", "mimeType": "text/csv", "buffer": companies_csv()}],
    )
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    # Mapping: the headers are the fields' labels, so each column is matched already.
    assert page.input_value("#c0") == "name"
    assert page.input_value("#c1") == "industry"
    assert page.input_value("#c2") == "employees"
    page.screenshot(path=str(shots / "import-map-desktop.png"), full_page=True)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    # Preview: the bad row (file line 3) is marked with its error; nothing is written yet.
    assert page.inner_text("#import-total") == "4" and page.inner_text("#import-bad") == "1"
    bad = page.locator("tr.bad")
    assert bad.count() == 1 and bad.get_attribute("data-line") == "3"
    assert "Must be a whole number." in bad.inner_text()
    assert page.locator("tr.ok").count() == 3
    assert imported_names(live) == set()
    page.screenshot(path=str(shots / "import-preview-desktop.png"), full_page=True)
    page.click("form.import-run button[type=submit]")
    page.wait_for_load_state()
    # Result: three imported, the bad row reported with its line and problem.
    assert page.inner_text("#import-created") == "3"
    assert page.inner_text("#import-failed") == "1"
    failure = page.locator("table.import-failures tbody tr")
    assert failure.count() == 1 and failure.get_attribute("data-line") == "3"
    assert "Employees" in failure.inner_text() and "whole number" in failure.inner_text()
    page.screenshot(path=str(shots / "import-result-desktop.png"), full_page=True)
    assert imported_names(live) == {name for name, _, count in ROWS if count != "a dozen"}
    with page.expect_download() as info:
        page.click("a[href$='/failed.csv']")
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8-sig"))))
    assert rows[0][:3] == ["Name", "Industry", "Employees"]
    assert [row[:3] for row in rows[1:]] == [list(ROWS[1])]


def test_the_import_pages_fit_a_phone(
    browser: Any,
    live: Server,
    shots: Path,  # noqa: F811
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        page = context.new_page()
        sign_in(page, live, "seller1")
        page.goto(f"{live.base}/contacts/import")
        page.set_input_files(
            "#import-file",
            files=[
                {
                    "name": "contacts.csv",
                    "mimeType": "text/csv",
                    "buffer": b"Full name,Phone,E-mail\nPhone Import,+7 900 000-00-00,x@example.com\n",
                }
            ],
        )
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        assert page.input_value("#c1") == "phone"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the page scrolls sideways ({width}px)"
        page.screenshot(path=str(shots / "import-map-phone.png"), full_page=True)
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        assert page.inner_text("#import-bad") == "0"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the page scrolls sideways ({width}px)"
        page.screenshot(path=str(shots / "import-preview-phone.png"), full_page=True)
    finally:
        context.close()


def upsert_csv(rows: list[tuple[str, str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Name", "Tax ID", "Employees"])
    writer.writerows(rows)
    return out.getvalue().encode()


def companies_by_tax_id(live: Server) -> dict[str, dict[str, Any]]:
    with live.client(live.token("admin")) as client:
        response = client.get(
            "/api/companies", params={"name__contains": "Browser Upsert", "limit": "100"}
        )
    assert response.status_code == 200, response.text
    return {item["tax_id"]: item for item in response.json()["items"]}


def import_file(page: Any, live: Server, data: bytes, match: str = "") -> None:  # noqa: F811
    """Upload ``data`` to the companies' import, keep the guessed mapping, choose ``match``
    and open the preview."""
    page.goto(f"{live.base}/companies/import")
    page.set_input_files(
        "#import-file", files=[{"name": "upsert.csv", "mimeType": "text/csv", "buffer": data}]
    )
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert page.input_value("#c1") == "tax_id"
    assert page.input_value("#import-match") == ""  # "don't match" unless chosen
    if match:
        page.select_option("#import-match", match)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


def test_reimport_a_corrected_file_updates_the_records(
    page: Any,  # noqa: F811
    live: Server,
    shots: Path,  # noqa: F811
) -> None:
    sign_in(page, live, "admin")
    import_file(
        page,
        live,
        upsert_csv(
            [
                ("Browser Upsert Typo", "7800000001", "10"),
                ("Browser Upsert Two", "7800000002", "20"),
            ]
        ),
    )
    page.click("form.import-run button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("#import-created") == "2"
    before = companies_by_tax_id(live)
    # The corrected file: a name fixed, an empty cell (kept), a new company.
    corrected = upsert_csv(
        [
            ("Browser Upsert One", "7800000001", ""),
            ("Browser Upsert Two", "7800000002", "25"),
            ("Browser Upsert Three", "7800000003", "30"),
        ]
    )
    import_file(page, live, corrected, match="tax_id")
    assert page.inner_text("#import-to-update") == "2"
    assert page.inner_text("#import-to-create") == "1"
    first = page.locator('tr[data-line="2"] td.action')
    assert f"#{before['7800000001']['id']}" in first.inner_text()
    assert "Browser Upsert Typo" in first.inner_text()  # the record it will change
    assert "Update" in first.inner_text()
    assert "New record" in page.locator('tr[data-line="4"] td.action').inner_text()
    page.screenshot(path=str(shots / "import-preview-update-desktop.png"), full_page=True)
    page.click("form.import-run button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("#import-updated") == "2"
    assert page.inner_text("#import-created") == "1"
    assert page.inner_text("#import-failed") == "0"
    page.screenshot(path=str(shots / "import-result-update-desktop.png"), full_page=True)
    after = companies_by_tax_id(live)
    assert set(after) == {"7800000001", "7800000002", "7800000003"}
    assert after["7800000001"]["id"] == before["7800000001"]["id"]
    assert after["7800000001"]["name"] == "Browser Upsert One"
    assert after["7800000001"]["employees"] == 10  # the empty cell kept the value
    assert after["7800000002"]["employees"] == 25
    assert after["7800000003"]["name"] == "Browser Upsert Three"
    # The record page shows the corrected values.
    page.goto(f"{live.base}/companies/{before['7800000001']['id']}")
    assert "Browser Upsert One" in page.inner_text("main")
