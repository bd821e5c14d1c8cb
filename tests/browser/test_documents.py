"""Documents in real headless Chromium: a seller downloads an invoice as PDF and XLSX with the
browser's session and finds its total inside; another seller's browser gets a 404."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from pypdf import PdfReader

from tests.browser.test_browser import page, sign_in  # noqa: F401
from tests.e2e.conftest import Server

CLICK = """url => {
  const link = document.createElement("a");
  link.href = url;
  link.download = "";
  document.body.append(link);
  link.click();
}"""


def _invoice(live: Server) -> int:
    """seller1's order of two lines (3 x 1 250.50 + 1 x 99.00) and its invoice of 3 850.50."""
    admin, seller = live.client(live.token("admin")), live.client(live.token("seller1"))
    with admin, seller:

        def post(client: Any, path: str, **values: Any) -> dict[str, Any]:
            response = client.post(f"/api/{path}", json=values)
            assert response.status_code == 201, response.text
            return dict(response.json())

        company = post(seller, "companies", name="Browser Docs Ltd")
        widget = post(admin, "products", name="Widget", sku="BD-W", price="1250.50")
        cable = post(admin, "products", name="Cable", sku="BD-C", price="99.00")
        order = post(seller, "orders", number="BD-1", company=company["id"])
        for product, quantity in ((widget, 3), (cable, 1)):
            post(
                seller,
                "order_lines",
                sales_order=order["id"],
                product=product["id"],
                quantity=quantity,
                price=product["price"],
            )
        invoice = post(
            seller,
            "invoices",
            number="INV-2025-77",
            company=company["id"],
            sales_order=order["id"],
            total="3850.50",
        )
    return int(invoice["id"])


def test_download_an_invoice_as_pdf_and_xlsx_and_find_its_total(
    page: Any,  # noqa: F811
    live: Server,
    tmp_path: Path,
) -> None:
    invoice = _invoice(live)
    page.context.add_cookies([{"name": "locale", "value": "en", "url": live.base}])
    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/invoices/{invoice}")
    assert "INV-2025-77" in page.content()
    base = f"{live.base}/invoices/{invoice}/documents/invoice"

    with page.expect_download() as pdf_download:
        page.evaluate(CLICK, f"{base}.pdf")
    download = pdf_download.value
    assert download.suggested_filename == "invoice-INV-2025-77.pdf"
    target = tmp_path / download.suggested_filename
    download.save_as(str(target))
    text = PdfReader(str(target)).pages[0].extract_text()
    assert "Invoice INV-2025-77" in text
    assert "Widget 3" in text and "Cable 1" in text
    assert "Total: RUB 3,850.50" in text.replace("\u00a0", " ")  # CLDR currency spacing

    response = page.context.request.get(f"{base}.xlsx")  # the browser's session cookie
    assert response.status == 200
    sheet = load_workbook(io.BytesIO(response.body())).active
    values = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert 3850.5 in values and "Total" in values


def test_another_sellers_browser_gets_404(browser: Any, live: Server) -> None:
    invoice = _invoice_of_seller1(live)
    context = browser.new_context()
    try:
        other = context.new_page()
        sign_in(other, live, "seller2")
        response = other.context.request.get(
            f"{live.base}/invoices/{invoice}/documents/invoice.pdf"
        )
        assert response.status == 404
        assert not response.body().startswith(b"%PDF")
    finally:
        context.close()


def _invoice_of_seller1(live: Server) -> int:
    with live.client(live.token("seller1")) as seller:
        response = seller.get("/api/invoices", params={"number": "INV-2025-77"})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
    return int(items[0]["id"]) if items else _invoice(live)
