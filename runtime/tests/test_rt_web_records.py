"""``crmgen_runtime.web.records``: a record's detail page (its fields by section, links to what
the reader may open, related lists, the activity and audit timeline), its action buttons and
its delete confirmation, through real requests on the small CRM (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import WebClient, site_routes
from crmgen_runtime import crud
from crmgen_runtime.errors import ApiError
from crmgen_runtime.events import Events
from crmgen_runtime.resources import Access, Catalog
from crmgen_runtime.web import records
from crmgen_runtime.web.site import Site
from rt_web import ui_data
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

ADMIN = {"X-User": "admin"}
ANN = {"X-User": "ann"}
BOB = {"X-User": "bob"}
VIC = {"X-User": "vic"}
CREATED = dt.datetime(2024, 6, 3, 9, 30, tzinfo=dt.UTC)
DEALS_OF_COMPANY = {
    "path": "deals",
    "field": "company",
    "label": {"en": "Deals here"},
    "columns": ["stage", "amount"],
    "sort": "-title",
    "activity": {
        "time": "created_at",
        "title": "title",
        "kind": "stage",
        "text": "title",
        "who": "owner",
    },
}
ACTIONS = [
    {"name": "win", "label": {"en": "Win it"}, "roles": ["sales"]},
    {"name": "stuck", "label": {"en": "Push"}, "roles": []},
    {"name": "locked", "label": {"en": "Lock"}, "roles": []},
    {"name": "gone", "label": {"en": "Vanish"}, "roles": []},
    {"name": "ghost", "label": {"en": "Ghost"}, "roles": []},  # no such endpoint: no button
]


def records_ui() -> dict[str, Any]:
    """The small CRM's ``ui.json`` with deals by section, their companies' related deals (an
    activity), deals' action buttons and a user's sections."""
    data = ui_data()
    entities = data["entities"]
    deal = entities["deals"]["records"]
    deal["sections"] = [
        {"fields": ["title", "amount", "stage"], "label": {"en": "Main"}},
        {"fields": ["company", "partners", "owner"], "label": {"en": "Links"}},
    ]
    deal["actions"] = ACTIONS
    entities["deals"]["boards"] = {"kanban": {"by": "stage"}, "calendar": None}
    company = entities["companies"]["records"]
    company["sections"] = [{"fields": ["name", "owner"], "label": {"en": "About"}}]
    # a relation the list query refuses (no such field) shows nothing
    company["related"] = [DEALS_OF_COMPANY, {**DEALS_OF_COMPANY, "field": "nosuch"}]
    entities["users"]["records"]["sections"] = []
    return data


@dataclass
class Act:
    """A record action as the app registers one: it wins the deal, or fails with ``fails``."""

    name: str
    fails: ApiError | None = None
    method: str = "POST"
    path: str = "/deals/{id}/actions/act"

    async def endpoint(self, request: Request) -> Response:
        raise NotImplementedError  # the API's route: not served here

    def run(
        self,
        database: Any,
        user: Any,
        record_id: int | None,
        body: bytes = b"",
        params: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        if self.fails is not None:
            raise self.fails
        assert record_id is not None
        won = {"stage": "won"}  # with system rights, as processes act
        return crud.update_record(database, rt_crm.deals, rt_crm.Crm.admin, record_id, won, None)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Events:
    """The CRM's actions for this test alone (``ghost`` is not one)."""
    fresh = Events()
    fresh.endpoint(Act("win"))
    fresh.endpoint(Act("stuck", ApiError(409, "conflict", "Not now.")))
    fresh.endpoint(Act("locked", ApiError(403, "forbidden", "Locked away.")))
    fresh.endpoint(Act("gone", ApiError(404, "not_found", "Gone.")))
    monkeypatch.setattr(Catalog, "events", property(lambda catalog: fresh))
    return fresh


@pytest.fixture
def site(tmp_path: Path) -> Site:
    (tmp_path / "ui.json").write_text(json.dumps(records_ui()), encoding="utf-8")
    return Site(rt_crm.catalog, tmp_path)


@pytest.fixture
def client(site: Site, web_client: WebClient, events: Events) -> TestClient:
    return web_client(site_routes(site, records), site=site)


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def links(html: str) -> list[str]:
    return re.findall(r'href="(/(?:companies|deals|users)/[^"]*)"', html)


def test_the_detail_page_shows_fields_by_section_with_links(client: TestClient) -> None:
    page = client.get("/deals/1", headers=ADMIN)
    assert page.status_code == 200
    html = page.text
    assert "<h1>Big</h1>" in html and "Main" in html and "Links" in html
    assert "$500.00" in html  # the cell of a money field
    # the company and both partners are within reach: names and links
    assert "Acme" in html and "Beta" in html and "Alpha" in html
    assert {"/companies/1", "/companies/2", "/companies/4"} <= set(links(html))
    assert "/deals/1/edit" in html and "/deals/1/delete" in html
    assert client.get("/deals/99", headers=ADMIN).status_code == 404
    assert client.get(f"/deals/{2**63}", headers=ADMIN).status_code == 404
    assert client.get("/deals/1", headers={"X-User": "clerk"}).status_code == 403
    assert client.get("/deals/1").headers["location"].startswith("/login")


def test_a_linked_record_out_of_reach_shows_no_name_and_no_link(client: TestClient) -> None:
    # ann reads her deal; its partner Beta is bob's: its id, no name, no link
    html = client.get("/deals/1", headers=ANN).text
    assert "Acme" in html and "/companies/1" in links(html)
    assert "Beta" not in html and "#2" in html and "/companies/2" not in links(html)
    assert "/deals/1/delete" not in html  # sales may not delete deals
    # bob reads his deal at Alpha, which is ann's: #4 in place of its name
    html = client.get("/deals/3", headers=BOB).text
    assert "Alpha" not in html and "#4" in html and "/companies/4" not in links(html)
    # vic (viewer) reads deals over 100 without their titles and companies named A...
    html = client.get("/deals/1", headers=VIC).text
    assert "<h1>#1</h1>" in html and "Beta" not in html and "Alpha" in html
    assert client.get("/deals/2", headers=VIC).status_code == 404


def test_related_lists_and_activities(client: TestClient, crm_web: rt_crm.Crm) -> None:
    with crm_web.database.engine.begin() as connection:
        connection.execute(sa.update(rt_crm.Deal).values(created_at=CREATED))
        connection.execute(sa.update(rt_crm.Company).values(secret=None))
    html = client.get("/companies/1", headers=ADMIN).text
    assert "Deals here" in html and "/deals/1" in links(html)
    assert "/deals/?company=1" in html and "/deals/new?company=1" in html
    assert html.count('class="related"') == 1 and html.count('class="entry activity"') == 1
    assert "Jun 3, 2024" in html and "u1@example.com" not in html  # the owner, by name
    # those who may not list deals see neither their list nor their activities
    for who in (ANN, VIC):
        html = client.get("/companies/1", headers=who).text
        assert "Deals here" not in html and 'class="entry activity"' not in html


def test_a_related_list_is_the_back_side_of_its_relation(
    site: Site, web_client: WebClient, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A many-to-many relation's list too, within the reader's list rule (``crud.list_related``,
    as ``GET /api/companies/2/partner_deals``)."""
    partner_deals = {**DEALS_OF_COMPANY, "field": "partners", "label": {"en": "Partner in"}}
    site.entities["companies"]["records"]["related"] = [{**partner_deals, "activity": None}]
    client = web_client(site_routes(site, records), site=site)
    html = client.get("/companies/2", headers=ADMIN).text
    assert "Partner in" in html and "/deals/1" in links(html)
    # bob lists his own deals: Beta is his, its partner deal Big is ann's
    monkeypatch.setitem(rt_crm.deals.rules["sales"].actions, "list", Access("own"))
    html = client.get("/companies/2", headers=BOB).text
    assert "Partner in" in html and "/deals/1" not in links(html)


def test_the_audit_timeline_is_for_audit_roles(client: TestClient, crm_web: rt_crm.Crm) -> None:
    change = {"title": "Bigger", "company": 4, "partners": [2]}
    crud.update_record(crm_web.database, rt_crm.deals, rt_crm.Crm.admin, 1, change, None)
    html = client.get("/deals/1", headers=ADMIN).text
    assert 'class="entry audit"' in html and "Changed" in html and "u4@example.com" in html
    assert "<del>Acme</del> → <ins>Alpha</ins>" in html  # linked records by name
    assert "<del>Big</del> → <ins>Bigger</ins>" in html
    # ann owns the deal but her role does not read the audit log
    html = client.get("/deals/1", headers=ANN).text
    assert "Bigger" in html and 'class="entry audit"' not in html


def test_the_audit_timeline_names_only_what_the_reader_may_see(
    client: TestClient, crm_web: rt_crm.Crm
) -> None:
    entry = rt_crm.catalog.table(records.AuditEntryTable)
    changes = {"partners": [[2], [2, 4]], "secret": ["a", "b"], "vanished": [1, 2], "name": "x"}
    with crm_web.database.session() as session:
        session.add(entry(entity="Company", record_id=1, action="update", changes={}))
        session.add(entry(entity="Deal", record_id=1, action="update", changes=changes))
    html = client.get("/deals/1", headers=ADMIN).text
    assert "<del>Beta</del> → <ins>Beta, Alpha</ins>" in html and "System" in html
    assert "Secret" not in html and "Vanished" not in html  # not a field of the page


def timeline_of(html: str) -> str:
    return html.split('class="timeline"')[1].split("</aside>")[0]


def test_a_reader_without_audit_rights_sees_the_creation_and_the_milestones(
    client: TestClient, crm_web: rt_crm.Crm
) -> None:
    """ann (sales) reads her deal's creation and its stage (the kanban's field), not the changes
    of a field hidden from her (amount) nor of a field that is no milestone (title)."""
    html = client.get("/deals/1", headers=ANN).text
    assert "Nothing has happened yet." in timeline_of(html)  # the seeded deal has no history
    db = crm_web.database
    deal = crud.create_record(db, rt_crm.deals, rt_crm.Crm.ann, {"title": "Fresh"}, None)
    admin = rt_crm.Crm.admin
    crud.update_record(db, rt_crm.deals, admin, deal["id"], {"amount": "70.00"}, None)
    crud.update_record(db, rt_crm.deals, admin, deal["id"], {"stage": "won"}, None)
    crud.update_record(db, rt_crm.deals, admin, deal["id"], {"title": "Renamed"}, None)
    timeline = timeline_of(client.get(f"/deals/{deal['id']}", headers=ANN).text)
    assert timeline.count('class="entry milestone"') == 2 and "entry audit" not in timeline
    assert "Created" in timeline and "u1@example.com" in timeline  # who created it
    assert "<del>New</del> → <ins>Won</ins>" in timeline and "u4@example.com" in timeline
    assert timeline.index("Won") < timeline.index("Created")  # newest first
    assert "Amount" not in timeline and "70.00" not in timeline  # hidden from sales
    assert "Renamed" not in timeline and "Title" not in timeline  # no milestone
    # an audit role sees every change, field by field
    timeline = timeline_of(client.get(f"/deals/{deal['id']}", headers=ADMIN).text)
    assert timeline.count('class="entry audit"') == 4 and "milestone" not in timeline
    assert "$70.00" in timeline and "<del>Fresh</del> → <ins>Renamed</ins>" in timeline


def test_the_spec_may_name_the_milestones(
    site: Site, web_client: WebClient, events: Events, crm_web: rt_crm.Crm
) -> None:
    site.entities["deals"]["records"]["milestones"] = [
        "title",
        "amount",
    ]  # amount: hidden from sales
    client = web_client(site_routes(site, records), site=site)
    db, admin = crm_web.database, rt_crm.Crm.admin
    crud.update_record(db, rt_crm.deals, admin, 1, {"stage": "won", "amount": "9.00"}, None)
    crud.update_record(db, rt_crm.deals, admin, 1, {"title": "Huge"}, None)
    timeline = timeline_of(client.get("/deals/1", headers=ANN).text)
    assert timeline.count('class="entry milestone"') == 1
    assert "<del>Big</del> → <ins>Huge</ins>" in timeline
    assert "Won" not in timeline and "$9.00" not in timeline and "Amount" not in timeline
    assert records.milestones({"records": {}, "boards": {"kanban": None}}) == []


def test_activities_show_to_every_reader_of_them(
    client: TestClient, crm_web: rt_crm.Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ann lists her own deals: her company's deal is on its timeline; vic may not list deals."""
    monkeypatch.setitem(rt_crm.deals.rules["sales"].actions, "list", Access("own"))
    with crm_web.database.engine.begin() as connection:
        connection.execute(sa.update(rt_crm.Deal).values(created_at=CREATED))
    timeline = timeline_of(client.get("/companies/1", headers=ANN).text)
    assert timeline.count('class="entry activity"') == 1 and 'href="/deals/1"' in timeline
    timeline = timeline_of(client.get("/companies/1", headers=VIC).text)
    assert "entry activity" not in timeline and "Nothing has happened yet." in timeline


def test_a_user_page_lists_the_roles(client: TestClient, crm_web: rt_crm.Crm) -> None:
    with crm_web.database.session() as session:
        user = session.get(rt_crm.User, 1)
        assert user is not None
        user.roles = ["admin", "sales"]
    html = client.get("/users/1", headers=ADMIN).text
    assert "Administrator, sales" in html
    client.cookies.set("locale", "ru")
    assert "Администратор, sales" in client.get("/users/1", headers=ADMIN).text


def test_action_buttons_run_the_process(client: TestClient, crm_web: rt_crm.Crm) -> None:
    html = client.get("/deals/1", headers=ANN).text
    assert 'data-action="win"' in html and 'data-action="stuck"' not in html
    admin = client.get("/deals/1", headers=ADMIN).text
    assert 'data-action="stuck"' in admin and 'data-action="ghost"' not in admin
    form = {"csrf_token": token(html)}
    done = client.post("/deals/1/actions/win", data=form, headers=ANN)
    assert done.status_code == 303 and done.headers["location"] == "/deals/1?done=win"
    with crm_web.database.session() as session:
        deal = session.get(rt_crm.Deal, 1)
        assert deal is not None and deal.stage == "won"
    assert "Done: Win it." in client.get("/deals/1?done=win", headers=ANN).text
    assert client.post("/deals/1/actions/win", data={}, headers=ANN).status_code == 403
    assert client.post("/deals/1/actions/ghost", data=form, headers=ANN).status_code == 404
    assert client.post("/deals/1/actions/stuck", data=form, headers=ANN).status_code == 403
    assert client.post("/deals/2/actions/win", data=form, headers=VIC).status_code == 403


def test_a_refused_action_says_why(client: TestClient) -> None:
    form = {"csrf_token": token(client.get("/deals/1", headers=ADMIN).text)}
    stuck = client.post("/deals/1/actions/stuck", data=form, headers=ADMIN)
    assert stuck.status_code == 409 and "Not now." in stuck.text and "<h1>Big</h1>" in stuck.text
    locked = client.post("/deals/1/actions/locked", data=form, headers=ADMIN)
    assert locked.status_code == 403 and "Locked away." in locked.text
    assert client.post("/deals/1/actions/gone", data=form, headers=ADMIN).status_code == 404
    assert client.post("/deals/99/actions/stuck", data=form, headers=ADMIN).status_code == 404


def test_deleting_a_record_after_confirming(client: TestClient, crm_web: rt_crm.Crm) -> None:
    page = client.get("/deals/2/delete", headers=ADMIN)
    assert page.status_code == 200 and "Small" in page.text
    assert client.get("/deals/99/delete", headers=ADMIN).status_code == 404
    assert client.get("/deals/1/delete", headers=ANN).status_code == 403
    form = {"csrf_token": token(page.text)}
    assert client.post("/deals/2/delete", data={}, headers=ADMIN).status_code == 403
    done = client.post("/deals/2/delete", data=form, headers=ADMIN)
    assert done.status_code == 303 and done.headers["location"] == "/deals/"
    assert client.get("/deals/2", headers=ADMIN).status_code == 404
    assert client.post("/deals/2/delete", data=form, headers=ADMIN).status_code == 404
    # a deletion the API refuses (a user whom records link to) is an error page
    refused = client.post("/users/1/delete", data=form, headers=ADMIN)
    assert refused.status_code == 409 and "delete them first" in refused.text


def test_values_as_the_page_shows_them(site: Site) -> None:
    viewer = records.Viewer(site, None, rt_crm.Crm.admin, "en")
    notes = viewer.show_value({"type": "json", "target": None}, {"a": [1]}, {})
    assert notes == {"kind": "json", "text": '{\n  "a": [\n    1\n  ]\n}'}
    file = viewer.show_value({"type": "file", "target": None}, "https://x.example/a/b.pdf", {})
    assert file["links"] == [
        {"text": "b.pdf", "url": "https://x.example/a/b.pdf", "external": True}
    ]
    assert viewer.show_value({"type": "string"}, "plain", {}) == {
        "kind": "text",
        "text": "plain",
        "tone": None,
    }
    assert viewer.record_url("login", 1) is None  # a path the UI keeps: no pages
    assert viewer.display_names({"target": "nowhere"}, {1}) == {}
    assert records.moment("2024-06-03T09:30:00") == dt.datetime(2024, 6, 3, 9, 30, tzinfo=dt.UTC)
    assert records.moment("soon") is None and records.moment(None) is None
