"""``crmgen_runtime.web.print_formats``: a deal's quote downloaded as PDF or XLSX from the web UI
and from the API, with the reader's rights (404 outside their rules, 403 for a role the format
does not name), and the links the detail page shows, through real requests on the small CRM
(SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import rt_crm
from conftest import WebClient, site_routes
from crmgen_runtime.web import print_formats
from crmgen_runtime.web.site import Site
from openpyxl import load_workbook  # type: ignore[import-untyped]
from rt_web import ui_data
from starlette.routing import Mount
from starlette.testclient import TestClient

ADMIN = {"X-User": "admin"}
ANN = {"X-User": "ann"}
VIC = {"X-User": "vic"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def meta(name: str, kind: str, **more: Any) -> dict[str, Any]:
    label = {"en": name.title(), "ru": name.title() + "-ru"}
    return {"name": name, "label": label, "type": kind, "choices": [], "currency": None, **more}


QUOTE: dict[str, Any] = {
    "name": "quote",
    "label": {"en": "Quote", "ru": "Смета"},
    "entity_label": {"en": "Deal", "ru": "Сделка"},
    "display": "title",
    "roles": ["admin", "viewer"],
    "fields": [meta("title", "string"), meta("amount", "money", currency="USD")],
    "lines": None,
    "total": None,
    "title": None,
    "footer": None,
    "template_fields": [meta("title", "string")],
    "formats": ["pdf", "xlsx"],
}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    data = ui_data()
    data["entities"]["deals"]["documents"] = [QUOTE]
    data["entities"]["login"]["documents"] = [QUOTE]  # not an entity of the API: not served
    (tmp_path / "ui.json").write_text(json.dumps(data), encoding="utf-8")
    return Site(rt_crm.catalog, tmp_path)


@pytest.fixture
def client(site: Site, web_client: WebClient) -> TestClient:
    routes = [
        *site_routes(site, print_formats),
        Mount("/api", routes=print_formats.api_routes(site)),
    ]
    return web_client(routes, site=site)


def sheet_values(body: bytes) -> list[Any]:
    book = load_workbook(io.BytesIO(body))
    return [cell.value for row in book.active.iter_rows() for cell in row if cell.value]


def test_the_ui_serves_a_document_with_the_readers_rights(client: TestClient) -> None:
    pdf = client.get("/deals/1/documents/quote.pdf", headers=ADMIN)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store"
    assert 'filename="quote-Big.pdf"' in pdf.headers["content-disposition"]
    xlsx = client.get("/deals/1/documents/quote.xlsx?locale=ru", headers=ADMIN)
    assert xlsx.headers["content-type"] == XLSX and sheet_values(xlsx.content) == [
        "Сделка Big",
        "Title-ru",
        "Big",
        "Amount-ru",
        500,
    ]
    # vic (viewer) may print deals over 100, without their titles
    values = sheet_values(client.get("/deals/1/documents/quote.xlsx", headers=VIC).content)
    assert "Big" not in values and "Amount" in values


def test_the_ui_refuses_what_the_reader_may_not_print(client: TestClient) -> None:
    url = "/deals/{}/documents/{}"
    assert client.get(url.format(2, "quote.pdf"), headers=VIC).status_code == 404  # not over 100
    assert client.get(url.format(99, "quote.pdf"), headers=ADMIN).status_code == 404
    assert client.get(url.format(1, "quote.pdf"), headers=ANN).status_code == 403  # not named
    assert client.get(url.format(1, "quote.doc"), headers=ADMIN).status_code == 404
    assert client.get(url.format(1, "other.pdf"), headers=ADMIN).status_code == 404
    assert client.get(url.format(1, "quote.pdf"), headers={"X-User": "clerk"}).status_code == 403
    assert client.get(url.format(1, "quote.pdf")).headers["location"].startswith("/login")
    # companies have no print formats: the route matches nothing
    assert client.get("/companies/1/documents/quote.pdf", headers=ADMIN).status_code == 404


def test_the_api_serves_the_same_with_json_errors(client: TestClient) -> None:
    url = "/api/deals/{}/documents/{}"
    xlsx = client.get(url.format(1, "quote.xlsx"), headers=ADMIN)
    assert xlsx.status_code == 200 and xlsx.headers["content-type"] == XLSX
    unsigned = client.get(url.format(1, "quote.pdf"))
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "not_authenticated"
    assert client.get(url.format(1, "quote.pdf"), headers=ANN).status_code == 403
    for record, file in [(2, "quote.pdf"), ("x1", "quote.pdf"), (0, "quote.pdf"), (1, "x.pdf")]:
        response = client.get(url.format(record, file), headers=VIC)
        assert response.status_code == 404, (record, file)
        assert response.json()["error"]["code"] == "not_found"
    assert client.get(url.format(2**64, "quote.pdf"), headers=ADMIN).status_code == 404
    assert client.get("/api/login/1/documents/quote.pdf", headers=ADMIN).status_code == 404


def test_the_detail_page_links_what_its_reader_may_print(site: Site) -> None:
    files = [
        {"format": "pdf", "url": "/deals/7/documents/quote.pdf"},
        {"format": "xlsx", "url": "/deals/7/documents/quote.xlsx"},
    ]
    assert print_formats.links(site, "deals", 7, rt_crm.Crm.vic, "ru") == [
        {"label": "Смета", "files": files}
    ]
    assert print_formats.links(site, "deals", 7, rt_crm.Crm.ann, "en") == []
    assert print_formats.links(site, "deals", 7, None, "en") == []
    assert print_formats.links(site, "companies", 7, rt_crm.Crm.admin, "en") == []
    assert print_formats.links(site, "nowhere", 7, rt_crm.Crm.admin, "en") == []
