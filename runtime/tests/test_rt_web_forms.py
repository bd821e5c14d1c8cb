"""``crmgen_runtime.web.forms``: the create and edit pages of an entity (widgets per field
type, the API's errors by each field, stale edits, references offered by picker), through real
requests on the small CRM (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import rt_crm
from conftest import WebClient, site_routes
from crmgen_runtime.web import forms
from crmgen_runtime.web.site import Site
from starlette.testclient import TestClient

ADMIN = {"X-User": "admin"}


@pytest.fixture
def client(site: Site, web_client: WebClient) -> TestClient:
    return web_client(site_routes(site, forms), site=site)


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_the_new_form_shows_sections_and_initial_values(client: TestClient) -> None:
    page = client.get("/deals/new?title=Hello&partners=2&partners=4&nothing=1", headers=ADMIN)
    assert page.status_code == 200
    assert 'value="Hello"' in page.text
    assert "Main" in page.text  # the spec's section
    assert "Acme" in page.text  # a reference offers the records one may link to
    assert client.get("/deals/new", headers={"X-User": "clerk"}).status_code == 403


def test_creating_a_record(client: TestClient, crm_web: rt_crm.Crm) -> None:
    csrf = token(client.get("/deals/new", headers=ADMIN).text)
    form = {
        "csrf_token": csrf,
        "title": "Fresh",
        "amount": "12.50",
        "stage": "won",
        "company": "1",
        "partners": ["2", "4"],
    }
    done = client.post("/deals/new", data=form, headers=ADMIN)
    assert done.status_code == 303
    new_id = done.headers["location"].rpartition("/")[2]
    with crm_web.database.session() as session:
        deal = session.get(rt_crm.Deal, int(new_id))
        assert deal is not None and deal.title == "Fresh" and deal.company_id == 1
    missing = client.post("/deals/new", data={**form, "title": ""}, headers=ADMIN)
    assert missing.status_code == 422
    wrong = client.post("/deals/new", data={**form, "company": "x"}, headers=ADMIN)
    assert wrong.status_code == 422
    assert client.post("/deals/new", data={"title": "x"}, headers=ADMIN).status_code == 403


def test_editing_a_record_and_a_stale_edit(client: TestClient, crm_web: rt_crm.Crm) -> None:
    page = client.get("/deals/1/edit", headers=ADMIN)
    assert page.status_code == 200
    assert 'value="Big"' in page.text
    csrf = token(page.text)
    form = {
        "csrf_token": csrf,
        "title": "Bigger",
        "amount": "500",
        "stage": "new",
        "company": "1",
        "version": "1",
        "partners": "2, 4",
    }
    saved = client.post("/deals/1/edit", data=form, headers=ADMIN)
    assert saved.status_code == 303, re.findall(
        r"class=\"(?:error|message)[^>]*>([^<]*)", saved.text
    )
    assert saved.headers["location"] == "/deals/1"
    stale = client.post("/deals/1/edit", data={**form, "title": "Again"}, headers=ADMIN)
    assert stale.status_code == 409
    assert 'value="Again"' in stale.text  # nothing typed is lost
    bad = client.post("/deals/1/edit", data={**form, "title": "", "version": "2"}, headers=ADMIN)
    assert bad.status_code == 422
    assert client.get("/deals/99/edit", headers=ADMIN).status_code == 404
    gone = client.post("/deals/99/edit", data=form, headers=ADMIN)
    assert gone.status_code == 404
    assert client.post("/deals/1/edit", data={"title": "x"}, headers=ADMIN).status_code == 403


def test_form_values_and_payloads(site: Site) -> None:
    zone = dt.timezone(dt.timedelta(hours=3))
    assert forms.moment_of("2024-05-01T10:00", zone) == "2024-05-01T10:00:00+03:00"
    assert forms.moment_of("soon", zone) == "soon"
    multi = {"name": "partners", "widget": "multi", "type": "refs"}
    assert forms.value_of(site, multi, [1, 2]) == ["1", "2"]
    data = {"name": "extra", "widget": "json", "type": "json"}
    assert forms.value_of(site, data, {"a": 1}) == '{\n  "a": 1\n}'
    assert forms.value_of(site, data, None) == ""
    metas = [
        {"name": "flag", "widget": "checkbox", "type": "boolean"},
        multi,
        data,
        {"name": "n", "widget": "number", "type": "integer"},
        {"name": "f", "widget": "number", "type": "float"},
        {"name": "at", "widget": "datetime-local", "type": "datetime"},
        {"name": "s", "widget": "text", "type": "string"},
    ]
    values = forms.submitted(
        metas, [("flag", "on"), ("partners", "1, 2"), ("extra", "{"), ("n", "5"), ("f", "x")]
    )
    payload, errors = forms.payload_of(site, metas, values, partial=True, locale="en")
    assert payload["flag"] is True and payload["partners"] == [1, 2]
    assert payload["n"] == 5 and payload["f"] == "x" and payload["s"] is None
    assert "extra" in errors
    values = forms.submitted(metas, [("extra", '{"a": 1}'), ("at", "2024-05-01T10:00")])
    payload, errors = forms.payload_of(site, metas, values, partial=False, locale="en")
    assert payload["extra"] == {"a": 1} and payload["at"].startswith("2024-05-01T10:00:00")
    assert "partners" not in payload and not errors


def test_the_new_form_starts_with_the_specs_defaults(site: Site, client: TestClient) -> None:
    """A constant default (ui.json's ``default``) is the new form's first value, so saving the
    form keeps it; the query string still wins, and a box defaulting to true starts ticked."""
    stage = site.entities["deals"]["fields"]["stage"]
    stage["default"] = stage["choices"][-1][0]
    page = client.get("/deals/new", headers=ADMIN)
    assert f'<option value="{stage["default"]}" selected>' in page.text
    first = stage["choices"][0][0]
    page = client.get(f"/deals/new?stage={first}", headers=ADMIN)
    assert f'<option value="{first}" selected>' in page.text
    metas = [
        {"name": "open", "widget": "checkbox", "default": True},
        {"name": "closed", "widget": "checkbox", "default": False},
        {"name": "count", "widget": "number", "default": 3},
        {"name": "tags", "widget": "multi", "default": "x"},
        {"name": "plain", "widget": "text"},
    ]
    assert forms.defaults(metas) == {"open": "on", "count": "3"}
