"""Print formats: a company's sheet with its deals as lines, built with the reader's rights and
written as PDF and XLSX, both parsed back."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
import rt_crm
from crmgen_runtime import documents
from crmgen_runtime.errors import ApiError
from openpyxl import load_workbook  # type: ignore[import-untyped]
from pypdf import PdfReader

WORDS = {"yes": "Yes", "no": "No"}


def label(text: str) -> dict[str, str]:
    return {"en": text}


def meta(name: str, kind: str, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "label": label(name.title()),
        "type": kind,
        "choices": [],
        "currency": None,
        **more,
    }


SHEET: dict[str, Any] = {
    "name": "sheet",
    "label": label("Company sheet"),
    "entity_label": label("Company"),
    "display": "name",
    "roles": ["admin", "sales"],
    "fields": [meta("name", "string"), meta("secret", "text"), meta("owner", "ref")],
    "lines": {
        "entity": "Deal",
        "link": "company",
        "refs": [],
        "relation": "deals",
        "columns": [
            meta("title", "string"),
            meta("amount", "money", currency="EUR"),
            meta("stage", "enum", choices=[["new", label("New")], ["won", label("Won")]]),
        ],
    },
    "total": {**meta("amount", "money", currency="EUR"), "label": label("Total"), "sum": True},
    "title": label("Sheet of {{ name }}"),
    "footer": label("Printed {{ today }} for #{{ id }}"),
    "template_fields": [meta("name", "string")],
    "formats": ["pdf", "xlsx"],
}


def reader(user: Any) -> documents.Reader:
    return documents.Reader(user, "en", lambda text: (text or {}).get("en", ""), WORDS.__getitem__)


def test_a_document_shows_what_its_reader_may_see(crm_web: rt_crm.Crm) -> None:
    doc = documents.build(crm_web.database, rt_crm.companies, SHEET, 1, reader(rt_crm.Crm.admin))
    assert (doc.title, doc.label, doc.filename) == ("Sheet of Acme", "Company sheet", "sheet-Acme")
    assert [(name, cell.text) for name, cell in doc.fields] == [
        ("Name", "Acme"),
        ("Secret", "s1"),
        ("Owner", "#1"),
    ]
    assert doc.columns is not None and [c.label for c in doc.columns] == [
        "Title",
        "Amount",
        "Stage",
    ]
    assert [[cell.text for cell in row] for row in doc.rows] == [["Big", "€500.00", "New"]]
    assert doc.total is not None and (doc.total[0], doc.total[1].value) == (
        "Total",
        Decimal("500.00"),
    )
    assert doc.footer.startswith("Printed ") and doc.footer.endswith("for #1")
    assert doc.stamp == documents.EPOCH  # companies have no timestamps
    # ann (sales) reads her company, not its secret, and may not list deals: no lines
    own = documents.build(crm_web.database, rt_crm.companies, SHEET, 1, reader(rt_crm.Crm.ann))
    assert [name for name, _ in own.fields] == ["Name", "Owner"]
    assert (own.columns, own.rows, own.total) == (None, (), None)


def test_who_may_print(crm_web: rt_crm.Crm) -> None:
    assert documents.may_print(SHEET, rt_crm.Crm.admin, rt_crm.catalog)
    assert not documents.may_print(SHEET, None, rt_crm.catalog)
    assert not documents.may_print(SHEET, rt_crm.Crm.vic, rt_crm.catalog)
    assert documents.may_print({**SHEET, "roles": []}, rt_crm.Crm.vic, rt_crm.catalog)
    for user, record_id, status in (
        (rt_crm.Crm.vic, 1, 403),
        (rt_crm.Crm.ann, 2, 404),
        (None, 1, 401),
    ):
        with pytest.raises(ApiError) as raised:
            documents.build(crm_web.database, rt_crm.companies, SHEET, record_id, reader(user))
        assert raised.value.status == status


def test_values_read_in_the_locale() -> None:
    formats = rt_crm.catalog.config.formats
    who = reader(None)
    assert documents.cell(meta("n", "integer"), 1234, who, formats).text == "1,234"
    assert documents.cell(meta("b", "boolean"), True, who, formats).text == "Yes"
    assert documents.cell(meta("m", "money"), "2.5", who, formats).text == "2.50"
    day = documents.cell(meta("d", "date"), dt.date(2024, 3, 5), who, formats)
    assert (day.value, day.type) == (dt.date(2024, 3, 5), "date")
    moment = dt.datetime(2024, 3, 5, 12, 30, tzinfo=dt.UTC)
    stamp = documents.cell(meta("t", "datetime"), moment, who, formats)
    assert stamp.value == dt.datetime(2024, 3, 5, 12, 30) and stamp.type == "datetime"
    assert documents.cell(meta("s", "string"), None, who, formats).text == ""


def test_pdf_and_xlsx_files_parse_back(crm_web: rt_crm.Crm) -> None:
    doc = documents.build(crm_web.database, rt_crm.companies, SHEET, 1, reader(rt_crm.Crm.admin))
    pdf = documents.RENDERERS["pdf"](doc)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Sheet of Acme" in text and "Big" in text and "€500.00" in text
    assert pdf == documents.to_pdf(doc)  # no clock in the file
    xlsx = documents.RENDERERS["xlsx"](doc)
    sheet = load_workbook(io.BytesIO(xlsx)).active
    cells = [
        value for row in sheet.iter_rows(values_only=True) for value in row if value is not None
    ]
    assert "Sheet of Acme" in cells and "Big" in cells and 500 in cells
    assert xlsx == documents.to_xlsx(doc)
    assert documents.MEDIA_TYPES["pdf"] == "application/pdf"
    disposition = documents.disposition(doc, "xlsx")
    assert disposition.startswith("attachment;") and "sheet-Acme.xlsx" in disposition
