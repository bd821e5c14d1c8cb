"""Personal data (``crmgen_runtime.gdpr``) on the small CRM, on SQLite and PostgreSQL: a company
stands for a person (its ``name`` replaced, its ``secret`` blanked). Erasure scrubs the audit
log and the outbox, keeps its deals and is idempotent; the export holds the linked deals;
retention deletes old deals; the pure helpers make stable pseudonyms and scrub JSON."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import WebClient, site_routes
from crmgen_runtime import gdpr
from crmgen_runtime.gdpr import ERASED, Personal, Retention
from crmgen_runtime.web import gdpr_pages, records
from crmgen_runtime.web.site import Site


def test_a_pseudonym_is_stable_and_made_from_the_place_not_the_value() -> None:
    first = gdpr.pseudonym("Contact", 7, "full_name")
    assert first == gdpr.pseudonym("Contact", 7, "full_name")
    assert first.startswith("erased-") and len(first) == len("erased-") + 10
    assert first != gdpr.pseudonym("Contact", 8, "full_name")


def test_scrubbing_replaces_in_every_string_of_json_whatever_the_case() -> None:
    pattern = gdpr._pattern({"Jane Roe", "jane@example.org", "Жанна"})
    assert pattern is not None
    value = {"to": "JANE@example.org", "body": ["Dear Jane Roe,", 5, {"sig": "Жанна"}]}
    assert gdpr._scrub_value(value, pattern) == {
        "to": ERASED,
        "body": [f"Dear {ERASED},", 5, {"sig": ERASED}],
    }
    escaped = json.dumps({"sig": "Жанна"})  # JSON text with \\u escapes
    assert "Жанна" not in gdpr._scrub_value(escaped, pattern)
    assert gdpr._pattern(set()) is None


def test_personal_of_reads_modes_and_replacements() -> None:
    personal = Personal.of({"a": "blank", "b": ("replace", "-")}, roles=["manager"])
    assert personal.fields == {"a": ("blank", None), "b": ("replace", "-")}
    assert personal.roles == frozenset({"manager"})


@pytest.fixture
def people(crm_web: rt_crm.Crm) -> Iterator[rt_crm.Crm]:
    """Companies hold personal data (managers may handle it); deals have a retention rule."""
    companies, deals = crm_web.companies, crm_web.deals
    personal = Personal.of({"name": ("replace", "Gone"), "secret": "blank"}, roles=["manager"])
    object.__setattr__(companies, "personal", personal)
    rule = Retention(30, "delete", where=lambda: rt_crm.Deal.stage == "new")
    object.__setattr__(deals, "retention", rule)
    try:
        yield crm_web
    finally:
        object.__setattr__(companies, "personal", None)
        object.__setattr__(deals, "retention", None)


def test_erasure_scrubs_the_copies_and_keeps_the_deals(people: rt_crm.Crm) -> None:
    database = people.database
    assert database is not None
    audit = rt_crm.AuditEntry.__table__
    outbox = rt_crm.OutboxMessage.__table__
    with database.session() as session:
        session.execute(
            sa.insert(audit).values(
                entity="Company", record_id=1, action="create", changes={"name": [None, "Acme"]}
            )
        )
        session.execute(
            sa.insert(outbox).values(
                kind="email",
                payload={"to": "x@example.org", "text": "About acme"},
                idempotency_key="k1",
            )
        )
    assert gdpr.may_handle(people.companies, people.person(9, "manager"))
    assert not gdpr.may_handle(people.companies, people.ann)
    with database.session() as session:
        done = gdpr.erase_records(
            session, people.companies, [1], user=people.admin, ip=None, reason="asked by Acme"
        )
    assert done.fields == {1: ["name", "secret"]} and done.scrubbed >= 2
    with database.engine.connect() as connection:
        names = dict(connection.execute(sa.select(rt_crm.Company.id, rt_crm.Company.name)).all())
        assert names == {1: "Gone", 2: "Beta", 3: "Apex", 4: "Alpha"}
        changes = connection.scalars(
            sa.select(audit.c.changes).where(audit.c.record_id == 1).order_by(audit.c.id)
        ).all()
        assert changes[0] == {"name": [ERASED, ERASED]}
        assert changes[-1] == {"name": [ERASED, "Gone"], "secret": [ERASED, None]}
        payload, status = connection.execute(sa.select(outbox.c.payload, outbox.c.status)).one()
        assert payload["text"] == f"About {ERASED}" and status == "dead"
        assert connection.scalar(sa.select(rt_crm.Deal.company_id).where(rt_crm.Deal.id == 1)) == 1
    with database.session() as session:
        again = gdpr.erase_records(session, people.companies, [1], user=None, ip=None, reason="x")
    assert again.fields == {} and again.scrubbed == 0


def test_the_export_holds_the_record_and_what_links_to_it(people: rt_crm.Crm) -> None:
    assert people.database is not None
    out = io.BytesIO()
    counts = gdpr.build_export(people.database, people.companies, 1, None, out)
    assert counts["companies"] == 1 and counts["deals.company"] == 1
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert [d["title"] for d in json.loads(archive.read("deals.company.json"))] == ["Big"]
    assert archive.read("companies.csv").decode().splitlines()[1].startswith("1,")
    partners = gdpr.sources(people.companies, 2)
    assert "deals.partners" in {s.name for s in partners}


def test_retention_deletes_the_old_deals_it_names(people: rt_crm.Crm) -> None:
    database = people.database
    assert database is not None
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with database.session() as session:
        session.execute(
            sa.update(rt_crm.Deal)
            .where(rt_crm.Deal.id.in_([2, 3]))
            .values(updated_at=now - dt.timedelta(days=31))
        )
        session.execute(sa.update(rt_crm.Deal).where(rt_crm.Deal.id == 3).values(stage="won"))
    assert gdpr.run_retention(database, people.catalog, now) == {"Deal": 1}
    with database.engine.connect() as connection:
        assert connection.scalars(sa.select(rt_crm.Deal.id).order_by(rt_crm.Deal.id)).all() == [
            1,
            3,
        ]
    assert gdpr.run_retention(database, people.catalog, now) == {"Deal": 0}


def test_a_consent_change_is_stamped_with_its_time_and_source() -> None:
    from types import SimpleNamespace

    from crmgen_runtime import consent
    from crmgen_runtime.resources import FieldInfo

    fields = {"ok": FieldInfo("ok", "boolean", options={"consent": True})}
    resource: Any = SimpleNamespace(fields=fields)
    made: dict[str, Any] = {"ok": True}
    consent.stamp(resource, made, None)
    assert made["ok_source"] == "api" and made["ok_at"] is not None
    same: dict[str, Any] = {"ok": True}
    consent.stamp(resource, same, {"ok": True})
    assert same == {"ok": True}
    with consent.source("form"):
        changed: dict[str, Any] = {"ok": False}
        consent.stamp(resource, changed, {"ok": True})
    assert changed["ok_source"] == "form" and consent.current() == "api"
    assert consent.within("import", consent.current) == "import"
    empty: dict[str, Any] = {"ok": None}
    consent.stamp(resource, empty, None)
    assert empty == {"ok": None}


def test_an_export_streams_its_rows_in_bounded_memory(people: rt_crm.Crm) -> None:
    """6,000 deals of one company (about 1.4 MB of JSON): rows are read in batches and written
    as they come (the zip spills to disk past ``SPOOL_BYTES``), so the export never holds them all
    in memory."""
    import os
    import tempfile
    import tracemalloc

    database = people.database
    assert database is not None
    rows = [
        {"id": 1000 + i, "title": os.urandom(40).hex(), "owner_id": 1, "company_id": 2}
        for i in range(6000)
    ]
    with database.session() as session:
        session.execute(sa.insert(rt_crm.Deal), rows)
    del rows
    with tempfile.TemporaryFile() as out:  # the spool once past SPOOL_BYTES
        tracemalloc.start()
        try:
            counts = gdpr.build_export(database, people.companies, 2, None, out)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        size = out.tell()
        out.seek(0)
        with zipfile.ZipFile(out) as archive:
            listed = archive.getinfo("deals.company.json").file_size
    assert counts["deals.company"] == 6001
    assert listed > 1_400_000 and size > 0
    assert peak < 1_000_000, f"peak {peak} bytes"  # about one batch of rows


@pytest.fixture
def erase_pages(crm_web: rt_crm.Crm, site: Site, web_client: WebClient) -> Iterator[WebClient]:
    """The detail and erasure pages of companies, whose personal data the admin handles."""
    companies = crm_web.companies
    personal = Personal.of({"name": ("replace", "Gone"), "secret": "blank"}, roles=["admin"])
    object.__setattr__(companies, "personal", personal)
    try:
        yield web_client(site_routes(site, records, gdpr_pages), site=site)
    finally:
        object.__setattr__(companies, "personal", None)


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[-2000:]
    return found.group(1)


def test_the_erasure_page_asks_a_reason_and_a_confirmation(erase_pages: WebClient) -> None:
    admin, ann = {"X-User": "admin"}, {"X-User": "ann"}
    detail = erase_pages.get("/companies/1", headers=admin)
    assert 'href="/companies/1/erase"' in detail.text
    assert 'href="/api/companies/1/personal-data"' in detail.text
    assert 'href="/companies/1/erase"' not in erase_pages.get("/companies/1", headers=ann).text
    assert erase_pages.get("/companies/1/erase", headers=ann).status_code == 403
    assert erase_pages.get("/companies/999/erase", headers=admin).status_code == 404
    page = erase_pages.get("/companies/1/erase", headers=admin)
    assert page.status_code == 200
    token = _token(page.text)
    forged = erase_pages.post("/companies/1/erase", data={"reason": "x"}, headers=admin)
    assert forged.status_code == 403
    empty = erase_pages.post("/companies/1/erase", data={"csrf_token": token}, headers=admin)
    assert empty.status_code == 422
    long = {"csrf_token": token, "reason": "x" * (gdpr.REASON_MAX + 1), "confirm": "yes"}
    assert erase_pages.post("/companies/1/erase", data=long, headers=admin).status_code == 422
    asked = {"csrf_token": token, "reason": "Asked by letter", "confirm": "yes"}
    done = erase_pages.post("/companies/1/erase", data=asked, headers=admin)
    assert (done.status_code, done.headers["location"]) == (303, "/companies/1?gdpr=erased")
    shown = erase_pages.get(done.headers["location"], headers=admin)
    assert "Gone" in shown.text
    again = erase_pages.post("/companies/1/erase", data=asked, headers=admin)
    assert again.headers["location"] == "/companies/1?gdpr=nothing"
    assert erase_pages.get(again.headers["location"], headers=admin).status_code == 200
