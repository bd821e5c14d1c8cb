"""``crmgen_runtime.links``: the records a link reaches, as the user who follows it sees them.

Against real tables (``crm_db``: SQLite, then PostgreSQL): companies Acme (1, ann's), Beta
(2, bob's), Apex (3, deleted), Alpha (4, ann's); deals Big (1, ann's, at Acme, partners Beta
and Alpha), Small (2), Mid (3).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import links, reads
from crmgen_runtime.errors import ApiError
from sqlalchemy.orm import Session, aliased


@pytest.fixture
def session(crm_db: Any) -> Iterator[Session]:
    with Session(crm_db.engine) as opened:
        yield opened


def problems(call: Any) -> dict[str, str]:
    with pytest.raises(ApiError) as caught:
        call()
    error = caught.value
    assert (error.status, error.code) == (422, "validation_error")
    assert error.message == "Some linked records do not exist."
    return error.fields


def test_live_leaves_out_soft_deleted_records(crm_db: Any) -> None:
    crm = crm_db
    assert links.live(crm.deals) == []  # no soft delete
    (gone,) = links.live(crm.companies)
    other = aliased(crm.Company)
    (aliased_gone,) = links.live(crm.companies, other)
    with crm.engine.connect() as db:
        found = db.scalars(sa.select(crm.Company.id).where(gone).order_by(crm.Company.id))
        assert list(found) == [1, 2, 4]
        assert len(list(db.scalars(sa.select(other.id).where(aliased_gone)))) == 3


def test_read_rule(crm: Any) -> None:
    assert links.read_rule(crm.companies, crm.admin) is None
    assert links.read_rule(crm.companies, crm.ann) is not None
    refused = links.read_rule(crm.companies, crm.clerk)  # no read permission: nothing
    assert refused is not None and str(refused.compile()) == "false"


def test_condition_is_the_read_rule_on_the_alias(crm_db: Any) -> None:
    crm = crm_db
    Deal, Company = crm.Deal, crm.Company
    assert links.condition(crm.companies, None, aliased(Company)) is None
    assert links.condition(crm.companies, crm.admin, aliased(Company)) is None

    def shown(user: Any) -> list[tuple[int, str | None]]:
        target = aliased(Company)
        rule = links.condition(crm.companies, user, target)
        on = Deal.company_id == target.id
        stmt = sa.select(Deal.id, target.name).outerjoin(
            target, sa.and_(on, rule) if rule is not None else on
        )
        with crm.engine.connect() as db:
            return [tuple(row) for row in db.execute(stmt.order_by(Deal.id))]

    assert shown(crm.ann) == [(1, "Acme"), (2, None), (3, "Alpha")]
    assert shown(crm.vic) == [(1, "Acme"), (2, None), (3, "Alpha")]
    assert shown(crm.bob) == [(1, None), (2, "Beta"), (3, None)]
    assert shown(crm.clerk) == [(1, None), (2, None), (3, None)]


def test_shows_display(crm: Any) -> None:
    assert links.shows_display(crm.deals, crm.ann)
    assert not links.shows_display(crm.deals, crm.vic)  # title hidden from viewers
    assert links.shows_display(crm.deals, None)
    assert links.shows_display(crm.deals, crm.person(3, "viewer", "sales"))


def test_reachable_needs_live_records_within_the_read_rule(crm_db: Any, session: Any) -> None:
    crm = crm_db
    everything = [1, 2, 3, 4, 99]
    assert links.reachable(session, crm.companies, everything, None) == {1, 2, 4}
    assert links.reachable(session, crm.companies, everything, crm.ann) == {1, 4}
    assert links.reachable(session, crm.companies, everything, crm.clerk) == set()
    assert links.reachable(session, crm.companies, everything, crm.admin) == {1, 2, 4}
    assert links.reachable(session, crm.companies, [], crm.ann) == set()


def test_remember_keeps_what_reachable_found_for_the_transaction(crm_db: Any, session: Any) -> None:
    crm = crm_db
    Company = crm.Company
    assert links.MEMO not in session.info
    links.remember(session)
    assert links.reachable(session, crm.companies, [1, 2], crm.ann) == {1}
    session.execute(sa.update(Company).where(Company.id == 1).values(owner_id=2))
    # remembered: asked no more (ann's rule would now refuse it)
    assert links.reachable(session, crm.companies, [1], crm.ann) == {1}
    assert links.reachable(session, crm.companies, [1, 4], crm.ann) == {1, 4}
    # by reader: bob's view was never asked, and is asked now
    assert links.reachable(session, crm.companies, [1, 2], crm.bob) == {1, 2}
    session.info.pop(links.MEMO)
    assert links.reachable(session, crm.companies, [1], crm.ann) == set()


def test_ids_of_names_every_link(crm: Any) -> None:
    values = {"company": 2, "partners": [2, 4, 2], "owner": None, "title": "x", "nothing": 1}
    assert links.ids_of(crm.deals, values) == {"company": {2}, "partners": {2, 4}}
    assert links.ids_of(crm.deals, {}) == {}


def test_check_refuses_missing_and_unreadable_links_alike(crm_db: Any, session: Any) -> None:
    crm = crm_db

    def check(values: dict[str, Any], **kw: Any) -> None:
        links.check(
            session, crm.deals, values, reader=crm.ann, asked=links.ids_of(crm.deals, values), **kw
        )

    check({"company": 1, "partners": [1, 4], "title": "x"})
    assert problems(lambda: check({"company": 99})) == {"company": "No Company with id 99."}
    assert problems(lambda: check({"company": 2})) == {"company": "No Company with id 2."}
    assert problems(lambda: check({"company": 3})) == {"company": "No Company with id 3."}
    assert problems(lambda: check({"company": 2, "partners": [99, 1, 2, 3]})) == {
        "company": "No Company with id 2.",
        "partners": "No Company with id 2, 3, 99.",
    }


def test_check_leaves_links_set_by_the_server_to_existence(crm_db: Any, session: Any) -> None:
    crm = crm_db
    values = {"company": 2, "partners": [2]}
    links.check(session, crm.deals, values, reader=crm.ann)  # asked nothing: only exist
    links.check(session, crm.deals, values, reader=crm.ann, asked={})
    links.check(session, crm.deals, values)  # no reader at all
    assert problems(lambda: links.check(session, crm.deals, {"company": 3})) == {
        "company": "No Company with id 3."
    }
    assert problems(
        lambda: links.check(session, crm.deals, values, reader=crm.ann, asked={"partners": {2}})
    ) == {"partners": "No Company with id 2."}


def test_check_does_not_check_stored_links_again(crm_db: Any, session: Any) -> None:
    crm = crm_db
    asked = {"company": {2}, "partners": {2, 3, 4}}
    stored = {"company": 2, "partners": [2, 3]}
    values = {"company": 2, "partners": [2, 3, 4]}
    # Beta (2) and the deleted Apex (3) are kept as they were; only Alpha (4) is new
    links.check(session, crm.deals, values, reader=crm.ann, asked=asked, stored=stored)
    values = {"company": 2, "partners": [2, 3, 1, 99]}
    assert problems(
        lambda: links.check(session, crm.deals, values, reader=crm.ann, asked=asked, stored=stored)
    ) == {"partners": "No Company with id 99."}
    assert problems(
        lambda: links.check(
            session, crm.deals, {"company": 3}, reader=crm.ann, asked={}, stored={"company": 2}
        )
    ) == {"company": "No Company with id 3."}


def test_names_are_display_texts_within_reach(crm_db: Any) -> None:
    crm = crm_db
    with crm.engine.connect() as db:
        wanted = [1, 2, 3, 4, 99, -1, 0, True, "2"]
        assert links.names(db, crm.companies, crm.admin, wanted) == {
            1: "Acme",
            2: "Beta",
            4: "Alpha",
        }
        assert links.names(db, crm.companies, crm.ann, wanted) == {1: "Acme", 4: "Alpha"}
        assert links.names(db, crm.companies, crm.clerk, wanted) == {}
        assert links.names(db, crm.deals, crm.vic, [1, 2, 3]) == {1: "", 3: ""}  # title hidden
        assert links.names(db, crm.deals, crm.ann, [1, 2, 3]) == {1: "Big"}
        assert links.names(db, crm.companies, crm.ann, [True, -3, "x"]) == {}
        assert links.names(db, crm.companies, crm.ann, []) == {}
        assert links.names(db, crm.users, crm.admin, [1]) == {1: "#1"}  # no name: its id


def test_names_show_the_field_a_link_names_within_the_readers_rules(crm_db: Any) -> None:
    crm = crm_db
    with crm.engine.connect() as db:
        # an empty value shows the record's id
        shown = links.names(db, crm.companies, crm.admin, [1, 2, 4], "secret")
        assert shown == {1: "s1", 2: "#2", 4: "#4"}
        # ann may reach Acme and Alpha but not see their secret: no text, however the link asks
        assert links.names(db, crm.companies, crm.ann, [1, 2, 4], "secret") == {1: "", 4: ""}
        assert links.shows_display(crm.companies, crm.ann) is True
        assert links.shows_display(crm.companies, crm.ann, "secret") is False


def _deals_showing(crm: Any, field: str) -> Any:
    """The CRM's deals with their company link showing the company's ``field``."""
    company = dataclasses.replace(crm.deals.fields["company"], display=field)
    deals = dataclasses.replace(crm.deals, fields={**crm.deals.fields, "company": company})
    object.__setattr__(deals, "_catalog", crm.catalog)  # follows links in the CRM's catalog
    assert deals.shown_by(company) == field
    assert crm.deals.shown_by(crm.deals.fields["company"]) == "name"  # the target's display
    return deals


def _companies(crm: Any, deals: Any, user: Any) -> dict[int, Any]:
    """Each deal ``user`` may read, by id: its company link as the API gives it."""
    shape = reads.projection(deals, user)
    with crm.engine.connect() as db:
        rows = db.execute(shape.reading(user).where(deals.model.id.in_([1, 2, 3]))).all()
        return {item["id"]: item["company"] for item in shape.items(db, rows)}


def test_a_link_shows_its_display_field_and_an_empty_value_as_the_id(crm_db: Any) -> None:
    crm = crm_db
    deals = _deals_showing(crm, "secret")
    assert _companies(crm, deals, crm.admin) == {
        1: {"id": 1, "display": "s1"},
        2: {"id": 2, "display": "#2"},  # Beta has no secret
        3: {"id": 4, "display": "#4"},
    }
    # the secret is hidden from sales: a link shows none of it (not even the id as text)
    assert {item["display"] for item in _companies(crm, deals, crm.ann).values()} == {""}
    # vic reads the companies named A... only: Beta is out of reach and shows nothing
    assert _companies(crm, _deals_showing(crm, "name"), crm.vic) == {
        1: {"id": 1, "display": "Acme"},
        2: {"id": 2, "display": ""},
        3: {"id": 4, "display": "Alpha"},
    }
