"""Documents (print formats): the `documents:` key of an entity, its model, defaults and checks,
its data for the generated app, and the writer's byte-for-byte copy of the fonts it ships."""

from __future__ import annotations

from pathlib import Path

from crmgen_runtime import assets

import crmgen
from crmgen.language.model import DocumentLines, DocumentTotal
from crmgen.language.text import Text
from crmgen.render.document_routes import openapi_paths
from crmgen.render.plan import build_plan
from crmgen.render.web.print_formats import entity_data
from tests.language.sample_specs import write

ROOT = Path(__file__).resolve().parents[2]

SHOP = """
app: {name: shop, locales: [en, ru]}
roles:
  admin: {superuser: true}
  seller: Seller
  clerk: Clerk
entities:
  Customer:
    fields:
      name: string
  Order:
    fields:
      number: string
      customer: {type: ref, to: Customer}
      issued: date
      total: money
    permissions:
      seller: all
      clerk: read
    ui:
      list: {columns: [number, customer, total]}
    documents:
      DOCUMENTS
  OrderLine:
    fields:
      sales_order: {type: ref, to: Order, back: lines}
      item: string
      amount: {type: money, currency: EUR}
"""


def shop(tmp_path: Path, documents: str) -> tuple[crmgen.Spec | None, list[str]]:
    spec, diagnostics = crmgen.check_spec(write(tmp_path, SHOP.replace("DOCUMENTS", documents)))
    return spec, [f"{d.position.line}:{d.position.column}: {d.message}" for d in diagnostics]


def test_the_reference_crm_declares_an_invoice_and_an_offer() -> None:
    spec = crmgen.load(ROOT / "examples" / "crm")
    invoice = spec.entity("Invoice").documents[0]
    assert invoice.name == "invoice" and invoice.formats == ("pdf", "xlsx")
    assert invoice.lines == DocumentLines(
        "sales_order.lines",
        "OrderLine",
        "sales_order",
        ("product", "quantity", "price", "line_total"),
    )
    assert invoice.total == DocumentTotal(field="total")
    assert invoice.roles == ()
    assert invoice.title.get("ru") == "Счёт № {{ number }} от {{ issued_on }}"
    offer = spec.entity("Order").documents[0]
    assert offer.total == DocumentTotal(sum="line_total")
    assert offer.roles == ("manager", "sales")
    assert offer.label.get("zh") == "商业报价"


def test_an_empty_document_takes_its_defaults(tmp_path: Path) -> None:
    spec, problems = shop(tmp_path, "receipt: {}")
    assert problems == [] and spec is not None
    doc = spec.entity("Order").documents[0]
    assert doc.label == Text.of("Receipt")
    assert doc.fields == ("number", "customer", "total")  # the list columns
    assert doc.formats == ("pdf", "xlsx")
    assert (doc.lines, doc.total, doc.title, doc.footer, doc.roles) == (
        None,
        None,
        Text(()),
        Text(()),
        (),
    )


def test_formats_keep_a_fixed_order_and_roles_must_read_the_record(tmp_path: Path) -> None:
    spec, problems = shop(tmp_path, "slip: {formats: [xlsx, pdf], roles: [clerk, admin]}")
    assert problems == [] and spec is not None
    assert spec.entity("Order").documents[0].formats == ("pdf", "xlsx")
    _, problems = shop(tmp_path, "slip: {roles: [seller, nobody]}")
    assert problems == ["23:30: unknown role 'nobody'"]


def test_each_locale_of_a_title_is_checked_where_it_is_written(tmp_path: Path) -> None:
    _, problems = shop(
        tmp_path,
        "offer: {title: {en: 'Offer {{ number }}', ru: 'Заказ {{ numbr }} {{ today }} {{ id }}'}}",
    )
    assert problems == ["23:63: the template uses unknown name 'numbr'; did you mean 'number'?"]


def test_lines_follow_references_and_a_sum_reads_a_number_column(tmp_path: Path) -> None:
    spec, problems = shop(
        tmp_path,
        "offer: {lines: {from: lines, columns: [item, amount]}, total: {sum: amount}}",
    )
    assert problems == [] and spec is not None
    lines = spec.entity("Order").documents[0].lines
    assert lines == DocumentLines("lines", "OrderLine", "sales_order", ("item", "amount"))
    _, problems = shop(tmp_path, "offer: {lines: {from: customer.lines, columns: [item]}}")
    assert problems == [
        "23:29: Customer has no reverse relation 'lines' (its reverse relations: orders)"
    ]
    _, problems = shop(
        tmp_path, "offer: {lines: {from: lines, columns: [item]}, total: {sum: item}}"
    )
    assert problems == [
        (
            "23:67: the sum 'item' is a string column; only numbers add up "
            "(integer, bigint, float, decimal, money)"
        )
    ]


def test_the_app_gets_every_label_and_currency_it_prints(tmp_path: Path) -> None:
    spec, _ = shop(
        tmp_path,
        "offer: {title: 'Offer {{ number }} for {{ customer }}', lines: {from: lines, columns: [item, amount]}, total: {sum: amount}}",
    )
    assert spec is not None
    (data,) = entity_data(spec, spec.entity("Order"))
    assert data["lines"]["refs"] == [] and data["lines"]["entity"] == "OrderLine"
    assert [c["currency"] for c in data["lines"]["columns"]] == [None, "EUR"]
    assert data["total"]["sum"] is True and data["total"]["currency"] == "EUR"
    assert [f["name"] for f in data["template_fields"]] == ["customer", "number"]
    assert data["label"] == {"en": "Offer", "ru": "Offer"}
    assert entity_data(spec, spec.entity("OrderLine")) == []
    paths = openapi_paths(spec)
    assert set(paths) == {
        "/api/orders/{id}/documents/offer.pdf",
        "/api/orders/{id}/documents/offer.xlsx",
    }


def test_documents_of_an_entity_without_a_read_api_are_not_served(tmp_path: Path) -> None:
    text = SHOP.replace("DOCUMENTS", "offer: {}").replace(
        "    permissions:\n      seller: all",
        "    api: [create]\n    permissions:\n      seller: all",
    )
    spec = crmgen.load(write(tmp_path, text))
    assert entity_data(spec, spec.entity("Order")) == [] and openapi_paths(spec) == {}


def test_the_fonts_come_with_the_runtime_not_the_app() -> None:
    spec = crmgen.load(ROOT / "examples" / "crm")
    assert not [f for f in build_plan(spec) if "/fonts/" in f.path]
    names = {p.name for p in assets.FONTS.iterdir()}
    assert {"DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE.txt"} <= names
