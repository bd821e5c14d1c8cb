"""Documents (print formats) of the generated crm, in process: PDF and XLSX downloads from the
UI and the API, with the reader's rights, labels in the reader's locale, stable bytes."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.web import print_formats
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.ui.test_pages import PASSWORD, UI, fresh, ui  # noqa: F401

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def pdf_text(body: bytes) -> str:
    """The PDF's text with the locale's non-breaking spaces made plain."""
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def cells(body: bytes) -> list[Any]:
    sheet = load_workbook(io.BytesIO(body)).active
    return [c for row in sheet.iter_rows() for c in row if c.value is not None]


class Sales:
    """Two sellers and a support agent; seller1 has an order with two lines and its invoice."""

    def __init__(self, state: UI) -> None:
        self.ui = state
        for name, role in (("seller1", "sales"), ("seller2", "sales"), ("agent", "support")):
            state.user(f"{name}@example.com", role)
        admin, seller = self.token("admin"), self.token("seller1")
        company = self.post(seller, "companies", name="ООО «Ромашка»")
        widget = self.post(admin, "products", name="Виджет", sku="W-1", price="1500.50")
        gadget = self.post(admin, "products", name="Gadget", sku="G-1", price="99.00")
        self.order = self.post(seller, "orders", number='SO/1 "Ромашка"', company=company["id"])
        for product, quantity in ((widget, 2), (gadget, 3)):
            self.post(
                seller,
                "order_lines",
                sales_order=self.order["id"],
                product=product["id"],
                quantity=quantity,
                price=product["price"],
            )
        self.invoice = self.post(
            seller,
            "invoices",
            number="INV-2024-7",
            company=company["id"],
            sales_order=self.order["id"],
            total="3298.00",
        )
        fresh(state)

    def token(self, name: str) -> str:
        email = "admin@example.com" if name == "admin" else f"{name}@example.com"
        response = self.ui.client.post(
            "/api/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        self.ui.client.cookies.clear()
        return str(response.json()["access_token"])

    def post(self, token: str, path: str, **values: Any) -> dict[str, Any]:
        response = self.ui.client.post(
            f"/api/{path}", json=values, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def get(self, url: str, name: str | None = None, **params: str) -> Any:
        headers = {"Authorization": f"Bearer {self.token(name)}"} if name else {}
        return self.ui.client.get(url, headers=headers, params=params, follow_redirects=False)


@pytest.fixture(scope="module")
def sales(ui: UI) -> Sales:  # noqa: F811
    return Sales(ui)


def as_seller(sales: Sales, name: str = "seller1", locale: str = "en") -> None:
    fresh(sales.ui)
    sales.ui.client.cookies.set("locale", locale)
    sales.ui.login(f"{name}@example.com")


def test_the_invoice_pdf_speaks_russian_and_shows_lines_and_total(sales: Sales) -> None:
    as_seller(sales, locale="ru")
    url = f"/invoices/{sales.invoice['id']}/documents/invoice.pdf"
    response = sales.ui.client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="invoice-INV-2024-7.pdf"'
    )
    text = pdf_text(response.content)
    assert "Счёт № INV-2024-7 от" in text  # the Russian title template
    assert "Компания ООО «Ромашка»" in text  # a header field: label and value
    assert "Статус Черновик" in text  # an enum shows its label in the locale
    assert "Товар Количество Цена Сумма" in text  # the lines' column labels
    assert "Виджет 2 1 500,50 ₽ 3 001,00 ₽" in text
    assert "Сумма: 3 298,00 ₽" in text  # the invoice's total field
    assert "Оплатить до:" in text  # the footer


def test_the_xlsx_has_numbers_money_formats_and_the_same_bytes_each_time(sales: Sales) -> None:
    as_seller(sales)
    url = f"/invoices/{sales.invoice['id']}/documents/invoice.xlsx"
    first, second = sales.ui.client.get(url), sales.ui.client.get(url)
    assert first.status_code == 200 and first.headers["content-type"] == XLSX
    assert first.content == second.content  # no clock in the file
    title = cells(first.content)[0]
    assert title.value.startswith("Invoice INV-2024-7 of") and title.font.b
    quantity = next(c for c in cells(first.content) if c.value == 3)
    assert quantity.number_format == "#,##0"
    total = [c for c in cells(first.content) if c.value == Decimal(3298) or c.value == 3298]
    assert total and total[-1].number_format == '#,##0.00 "RUB"' and total[-1].font.b
    assert isinstance(total[-1].value, (int, float))  # a number, not text
    assert not any(
        isinstance(c.value, str) and c.value.startswith("=") for c in cells(first.content)
    )


def test_the_offer_sums_its_lines_and_gets_a_safe_file_name(sales: Sales) -> None:
    as_seller(sales)
    response = sales.ui.client.get(f"/orders/{sales.order['id']}/documents/offer.pdf")
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    # An ASCII name without the slash and quotes, and the exact name percent-encoded.
    assert disposition.startswith('attachment; filename="offer-SO-1.pdf"; ')
    assert disposition.endswith(
        "filename*=UTF-8''offer-SO%2F1%20%22%D0%A0%D0%BE%D0%BC%D0%B0%D1%88%D0%BA%D0%B0%22.pdf"
    )
    text = pdf_text(response.content)
    assert "Commercial offer SO/1" in text
    assert "Line total: RUB 3,298.00" in text  # 2 x 1500.50 + 3 x 99.00


def test_another_seller_gets_404_and_the_anonymous_are_sent_to_sign_in(sales: Sales) -> None:
    url = f"/invoices/{sales.invoice['id']}/documents/invoice.pdf"
    as_seller(sales, "seller2")
    response = sales.ui.client.get(url)
    assert response.status_code == 404 and "%PDF" not in response.text
    fresh(sales.ui)
    response = sales.ui.client.get(url, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_role_the_document_does_not_name_gets_403(sales: Sales) -> None:
    as_seller(sales, "agent")  # support may read orders, but the offer is for managers and sellers
    assert sales.ui.client.get(f"/orders/{sales.order['id']}").status_code == 200
    response = sales.ui.client.get(f"/orders/{sales.order['id']}/documents/offer.pdf")
    assert response.status_code == 403
    invoice = sales.ui.client.get(f"/invoices/{sales.invoice['id']}/documents/invoice.pdf")
    assert invoice.status_code == 200  # the invoice names no roles: every reader may print it


def test_unknown_documents_formats_and_ids_are_404(sales: Sales) -> None:
    as_seller(sales)
    base = f"/invoices/{sales.invoice['id']}/documents"
    for url in (
        f"{base}/invoice.docx",
        f"{base}/offer.pdf",
        f"{base}/invoice",
        f"/invoices/{sales.invoice['id'] + 1000}/documents/invoice.pdf",
        f"/invoices/{2**64}/documents/invoice.pdf",
        "/companies/1/documents/invoice.pdf",
    ):
        assert sales.ui.client.get(url).status_code == 404, url


def test_the_api_serves_documents_with_a_bearer_token_and_the_same_rules(sales: Sales) -> None:
    url = f"/api/invoices/{sales.invoice['id']}/documents/invoice.xlsx"
    response = sales.get(url, "seller1", locale="ru")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    labels = {c.value for c in cells(response.content)}
    assert {"Компания", "Товар", "Сумма"} <= labels  # ?locale=ru
    pdf = sales.get(url.replace(".xlsx", ".pdf"), "seller1")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    other = sales.get(url, "seller2")
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    fresh(sales.ui)
    anonymous = sales.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"
    assert sales.get(url.replace("invoice.xlsx", "nope.xlsx"), "seller1").status_code == 404
    assert sales.get("/api/invoices/x1/documents/invoice.pdf", "seller1").status_code == 404
    offer = sales.get(f"/api/orders/{sales.order['id']}/documents/offer.xlsx", "agent")
    assert offer.status_code == 403


def test_the_openapi_document_lists_the_document_routes(sales: Sales) -> None:
    paths = sales.ui.client.get("/openapi.json").json()["paths"]
    operation = paths["/api/invoices/{id}/documents/invoice.pdf"]["get"]
    assert "application/pdf" in operation["responses"]["200"]["content"]
    assert "/api/orders/{id}/documents/offer.xlsx" in paths


def test_the_detail_page_gets_links_to_what_the_reader_may_print(sales: Sales) -> None:
    site = sales.ui.gen.app.web.SITE
    principal = CurrentUser
    agent = principal(id=99, email="a@example.com", name=None, roles=frozenset({"support"}))
    seller1 = principal(id=98, email="s@example.com", name=None, roles=frozenset({"sales"}))
    order = sales.order["id"]
    assert print_formats.links(site, "orders", order, agent, "en") == []
    assert print_formats.links(site, "orders", order, seller1, "ru") == [
        {
            "label": "Коммерческое предложение",
            "files": [
                {"format": "pdf", "url": f"/orders/{order}/documents/offer.pdf"},
                {"format": "xlsx", "url": f"/orders/{order}/documents/offer.xlsx"},
            ],
        }
    ]
    assert print_formats.links(site, "companies", 1, seller1, "en") == []


def test_the_detail_page_shows_the_download_links(sales: Sales) -> None:
    as_seller(sales)
    page = sales.ui.client.get(f"/invoices/{sales.invoice['id']}")
    assert page.status_code == 200, page.text
    for fmt in ("pdf", "xlsx"):
        assert f'href="/invoices/{sales.invoice["id"]}/documents/invoice.{fmt}"' in page.text
    download = sales.ui.client.get(f"/invoices/{sales.invoice['id']}/documents/invoice.pdf")
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
