"""Likely duplicates and merging (``crmgen_runtime.duplicates``, ``merging``) on the small CRM's
companies, on SQLite (rapidfuzz within blocking keys) and PostgreSQL (pg_trgm when present):
the rules' keys, candidates, pairs, the 409 that hides what the user may not read, and a merge
that moves references and many-to-many rows and keeps the removed values in the audit log."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import WebClient, site_routes
from crmgen_runtime import duplicates, merging
from crmgen_runtime.duplicates import Rule
from crmgen_runtime.errors import ApiError
from crmgen_runtime.web import duplicate_pages, records
from crmgen_runtime.web.site import Site
from crmgen_runtime.workflows import Workflow
from sqlalchemy.orm import Session


def test_a_rule_knows_its_kinds() -> None:
    with pytest.raises(ValueError, match="unknown duplicate rule"):
        Rule("soundex", ("name",))
    with pytest.raises(ValueError, match="at least one field"):
        Rule("fuzzy", ())
    assert Rule("fuzzy", ("first", "last"), 0.7).name == "fuzzy:first+last"


def test_keys_normalise_what_they_compare(crm: rt_crm.Crm) -> None:
    companies = crm.companies
    assert (
        duplicates.key_of(companies, Rule("email", ("name",)), {"name": " A@B.org "}) == "a@b.org"
    )
    assert duplicates.key_of(companies, Rule("email", ("name",)), {"name": " "}) is None
    assert duplicates.key_of(companies, Rule("phone", ("name",)), {"name": "+7 912 345-67-89"}) == (
        "+79123456789"
    )
    fuzzy = Rule("fuzzy", ("name", "secret"), 0.5)
    assert duplicates.key_of(companies, fuzzy, {"name": "Acme", "secret": "Ltd"}) == "acme ltd"
    assert duplicates.key_of(companies, fuzzy, {"name": "A"}) is None  # too short to compare
    assert duplicates.blocks("Ivan  Petrov-Vodkin, X") == {"iva", "pet", "vod"}
    assert duplicates.score("Ivan Petrov", "Petrov Ivan") == 1.0
    assert "lower(coalesce(\"name\", '') || ' ' || coalesce(\"secret\", ''))" in (
        duplicates.index_sql("companies", ["name", "secret"], "public")
    )


@pytest.fixture
def fuzzy(crm_db: rt_crm.Crm) -> Iterator[rt_crm.Crm]:
    """Companies are likely duplicates by a similar name; Acme Corp (ann's) and Acme
    Corporation (bob's) are added."""
    companies = crm_db.companies
    object.__setattr__(companies, "duplicates", (Rule("fuzzy", ("name",), 0.5),))
    assert crm_db.engine is not None
    with crm_db.engine.begin() as db:
        db.execute(
            sa.insert(rt_crm.Company),
            [
                {"id": 10, "name": "Acme Corp", "owner_id": 1},
                {"id": 11, "name": "Acme Corporation", "owner_id": 2},
                {"id": 12, "name": "Ромашка Торг", "owner_id": 1},
            ],
        )
    try:
        yield crm_db
    finally:
        object.__setattr__(companies, "duplicates", ())


def test_candidates_and_pairs(fuzzy: rt_crm.Crm) -> None:
    companies = fuzzy.companies
    with Session(fuzzy.engine) as session:
        found = duplicates.matches(session, companies, {"name": "Acme Corp."})
        assert [m.id for m in found][:1] == [10] and {10, 11} <= {m.id for m in found}
        assert all(m.rule == "fuzzy:name" and 0.5 <= m.score <= 1 for m in found)
        assert duplicates.matches(session, companies, {"name": "Zebra Works"}) == []
        # SQLite folds ASCII letters only: a Cyrillic name is found as people write it
        assert [m.id for m in duplicates.matches(session, companies, {"name": "ромашка торг"})] == [
            12
        ]
        pairs = duplicates.pairs(session, companies)
        assert (10, 11) in {(p.a, p.b) for p in pairs}
        assert not any(3 in (p.a, p.b) for p in pairs)  # Apex is deleted


def test_a_create_names_only_what_the_user_may_read(fuzzy: rt_crm.Crm) -> None:
    companies = fuzzy.companies
    with Session(fuzzy.engine) as session, pytest.raises(ApiError) as caught:
        duplicates.check_create(session, companies, fuzzy.ann, {"name": "Acme Corporatio"})
    error = caught.value
    assert (error.status, error.code) == (409, "possible_duplicate")
    shown = {c["id"] for c in error.extra["candidates"]}
    assert 11 not in shown and 10 in shown  # bob's is only counted
    assert error.extra["others"] >= 1
    assert "Acme Corporation" not in str(error.body())


def test_a_merge_moves_links_and_keeps_the_removed_values(fuzzy: rt_crm.Crm) -> None:
    companies = fuzzy.companies
    assert fuzzy.engine is not None
    with fuzzy.engine.begin() as db:  # a file attached to Alpha
        db.execute(
            sa.insert(rt_crm.StoredFile),
            {
                "id": "f" * 32,
                "name": "a.pdf",
                "content_type": "application/pdf",
                "size": 1,
                "sha256": "0" * 64,
                "kind": "attachment",
                "entity": "Company",
                "record_id": 4,
            },
        )
    with Session(fuzzy.engine) as session, session.begin():
        merging.merge(session, companies, fuzzy.admin, None, 1, 4, take=["secret"])
    with Session(fuzzy.engine) as session:
        deal_companies = {
            i: c for i, c in session.execute(sa.select(rt_crm.Deal.id, rt_crm.Deal.company_id))
        }
        assert deal_companies == {1: 1, 2: 2, 3: 1}  # Mid was at Alpha
        partners = rt_crm.deal_partners
        rows = session.execute(sa.select(partners.c.deal_id, partners.c.company_id)).all()
        assert sorted(rows) == [(1, 1), (1, 2)]  # Alpha's row moved to Acme
        assert session.get(rt_crm.Company, 4) is None
        attached = session.get(rt_crm.StoredFile, "f" * 32)
        assert attached is not None and attached.record_id == 1  # the file moved
        acme = session.get(rt_crm.Company, 1)
        assert acme is not None and acme.secret is None  # Alpha's empty secret was taken
        audit = rt_crm.AuditEntry
        merged = [
            entry.changes
            for entry in session.scalars(sa.select(audit).where(audit.record_id == 1))
            if "@merged_from" in (entry.changes or {})
        ]
        assert merged and merged[0]["@merged_from"] == [4, 1]
        assert merged[0]["name"] == ["Alpha", "Acme"]
    with Session(fuzzy.engine) as session, pytest.raises(ApiError) as caught:
        merging.merge(session, companies, fuzzy.ann, None, 1, 2)  # ann may not delete Beta
    assert caught.value.status in (403, 404)


def test_a_role_that_may_not_create_pg_trgm_is_told_what_to_do(
    postgres_schema: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A database without pg_trgm and a role without CREATE on it: ``ensure_indexes`` logs and
    returns the hint, and fuzzy rules compare the SQLite way."""
    from conftest import PG_URL

    name = f"rt_noext_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    url = sa.make_url(PG_URL).set(database=name, username=name)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE ROLE "{name}" LOGIN'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            connection.execute(sa.text(f'REVOKE CREATE ON DATABASE "{name}" FROM PUBLIC'))
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(sa.text("CREATE TEMP TABLE people (id int, name text)"))
                hint = duplicates.ensure_indexes(connection, {"people": [["name"]]})
            assert hint == duplicates.EXTENSION_HINT
            assert "CREATE EXTENSION pg_trgm" in caplog.text
            with Session(engine) as session:
                assert duplicates.trigrams(session) == ""
        finally:
            engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'DROP ROLE IF EXISTS "{name}"'))
        admin.dispose()


def test_a_merge_keeps_to_the_workflow(crm_db: rt_crm.Crm) -> None:
    """Taking the removed deal's stage is a move of the kept one: a move the workflow does not
    allow refuses the whole merge (409), and nothing is written."""
    deals = crm_db.deals
    workflow = Workflow.of("stage", {"won": {"from": ["qualified"]}}, initial="new")
    object.__setattr__(deals, "workflow", workflow)
    assert crm_db.engine is not None
    try:
        with crm_db.engine.begin() as db:
            db.execute(sa.update(rt_crm.Deal).where(rt_crm.Deal.id == 2).values(stage="won"))
        session = Session(crm_db.engine)
        with session, pytest.raises(ApiError) as caught, session.begin():
            merging.merge(session, deals, crm_db.admin, None, 1, 2, take=["stage"])
        assert (caught.value.status, caught.value.code) == (409, "transition_not_allowed")
        with Session(crm_db.engine) as session:
            assert session.get(rt_crm.Deal, 2) is not None  # rolled back
            assert session.get(rt_crm.Deal, 1).stage == "new"  # type: ignore[union-attr]
    finally:
        object.__setattr__(deals, "workflow", None)


@pytest.fixture
def pages(crm_web: rt_crm.Crm, site: Site, web_client: WebClient) -> Iterator[WebClient]:
    """The detail, pairs and merge pages of companies that are likely duplicates by a
    similar name: Acme Corp (ann's) and Acme Corporation (bob's)."""
    companies = crm_web.companies
    object.__setattr__(companies, "duplicates", (Rule("fuzzy", ("name",), 0.5),))
    assert crm_web.engine is not None
    with crm_web.engine.begin() as db:
        db.execute(
            sa.insert(rt_crm.Company),
            [
                {"id": 10, "name": "Acme Corp", "owner_id": 1},
                {"id": 11, "name": "Acme Corporation", "owner_id": 2},
            ],
        )
    try:
        yield web_client(site_routes(site, records, duplicate_pages), site=site)
    finally:
        object.__setattr__(companies, "duplicates", ())


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[-2000:]
    return found.group(1)


def test_the_pages_warn_list_pairs_and_merge(pages: WebClient, crm_web: rt_crm.Crm) -> None:
    admin = {"X-User": "admin"}
    listed = pages.get("/companies/duplicates", headers=admin)
    assert listed.status_code == 200 and "/companies/10/merge?other=11" in listed.text
    assert pages.get("/companies/10/merge?other=x", headers=admin).status_code == 404
    assert pages.get("/companies/10/merge?other=10", headers=admin).status_code == 404
    compare = pages.get("/companies/10/merge?other=11", headers=admin)
    assert compare.status_code == 200 and "Acme Corporation" in compare.text
    forged = pages.post("/companies/10/merge?other=11", data={}, headers=admin)
    assert forged.status_code == 403
    data = {"csrf_token": _token(compare.text), "take_name": "other"}
    merged = pages.post("/companies/10/merge?other=11", data=data, headers=admin)
    assert (merged.status_code, merged.headers["location"]) == (303, "/companies/10?merged=11")
    assert crm_web.engine is not None
    with crm_web.engine.connect() as connection:
        table = rt_crm.Company.__table__
        names = dict(connection.execute(sa.select(table.c.id, table.c.name)).all())
    assert names[10] == "Acme Corporation" and 11 not in names
    gone = pages.post("/companies/10/merge?other=11", data=data, headers=admin)
    assert gone.status_code == 404
