"""The row writers processes call, their hooks, and database errors as answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from crmgen_runtime import writes
from crmgen_runtime.errors import ApiError
from crmgen_runtime.events import Event, Events
from crmgen_runtime.resources import Catalog
from sqlalchemy.orm import Session


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Events:
    """Hooks of this test alone, in place of the CRM's."""
    fresh = Events()
    monkeypatch.setattr(Catalog, "events", property(lambda catalog: fresh))
    return fresh


@pytest.fixture
def session(crm_db: rt_crm.Crm) -> Iterator[Session]:
    with Session(crm_db.engine) as opened, opened.begin():
        yield opened


def test_hooks_see_and_change_each_write(session: Session, events: Events) -> None:
    deals = rt_crm.deals
    seen: list[tuple[str, Any]] = []

    @events.hook("before_create", "Deal")
    def name_it(event: Event) -> None:
        event.values["title"] = event.values["title"].upper()

    events.on("after_create", "Deal", lambda e: seen.append(("created", e.record_id)))
    events.on("before_update", "Deal", lambda e: seen.append(("changing", sorted(e.changed))))
    events.on("after_update", "Deal", lambda e: seen.append(("changed", sorted(e.changed))))
    events.on("after_delete", "Deal", lambda e: seen.append(("deleted", e.stored["title"])))
    new_id = writes.insert_row(session, deals, {"title": "late"}, None, None)
    row = session.execute(sa.select(rt_crm.Deal).where(rt_crm.Deal.id == new_id)).scalar_one()
    assert (row.title, row.owner_id, row.label) == ("LATE", None, "LATE")  # nobody's record
    writes.update_row(session, deals, new_id, {"title": "LATE", "stage": "won"}, None, None)
    writes.delete_row(session, deals, new_id, None, None)
    assert seen == [
        ("created", new_id),
        ("changing", ["stage"]),
        ("changed", ["stage"]),
        ("deleted", "LATE"),
    ]


def test_a_before_hook_refuses_a_write(session: Session, events: Events) -> None:
    def refuse(event: Event) -> None:
        raise ApiError(422, "validation_error", "Not on Fridays.")

    events.on("before_delete", "Deal", refuse)
    with pytest.raises(ApiError, match="Not on Fridays"):
        writes.delete_row(session, rt_crm.deals, 1, None, None)


def test_required_fields_and_rules_of_the_row_writers(session: Session) -> None:
    with pytest.raises(ApiError) as missing:
        writes.insert_row(session, rt_crm.companies, {}, None, None)
    assert missing.value.fields == {"name": "This field is required."}
    hidden = rt_crm.Deal.owner_id == 99
    with pytest.raises(ApiError) as gone:
        writes.update_row(session, rt_crm.deals, 1, {"title": "x"}, None, None, rule=hidden)
    assert (gone.value.status, gone.value.code) == (404, "not_found")
    assert writes.current_lists(session, rt_crm.deals, 1, ["partners"]) == {"partners": [2, 4]}


def test_a_write_raced_by_another_is_stale(session: Session, crm_db: rt_crm.Crm) -> None:
    stored = writes.stored_row(session, rt_crm.deals, 1, None)
    with crm_db.engine.begin() as other:  # another writer lands between the read and the write
        other.execute(sa.update(rt_crm.Deal).where(rt_crm.Deal.id == 2).values(version=5))
    assert stored["version"] == 1
    with pytest.raises(ApiError) as stale:
        writes.update_row(session, rt_crm.deals, 2, {"title": "x"}, None, None, version=1)
    assert stale.value.fields == {"version": "Stale: the current version is 5."}


def answer(crm: rt_crm.Crm, action: str, statement: Any, values: Any) -> ApiError:
    """The answer ``integrity`` gives to the constraint error of ``statement``."""
    with pytest.raises(ApiError) as raised:
        resource = crm.deals if "deal" in str(statement).lower() else crm.companies
        with writes.integrity(resource, action), Session(crm.engine) as session, session.begin():
            session.execute(statement, values)
    return raised.value


def test_constraint_errors_are_answers_naming_fields(crm_web: rt_crm.Crm) -> None:
    crm_db = crm_web  # foreign keys enforced on SQLite too
    duplicate = answer(crm_db, "create", sa.insert(rt_crm.Deal), {"id": 1, "title": "x"})
    assert (duplicate.status, duplicate.code, duplicate.fields) == (
        409,
        "duplicate",
        {"id": "Another record already has this value."},
    )
    linked = answer(crm_db, "create", sa.insert(rt_crm.Deal), {"title": "x", "company_id": 99})
    assert (linked.status, linked.message) == (422, "A linked record does not exist.")
    used = answer(crm_db, "delete", sa.delete(rt_crm.Company).where(rt_crm.Company.id == 1), {})
    assert (used.status, used.code) == (409, "in_use")
    empty = answer(crm_db, "create", sa.insert(rt_crm.Company), {"name": None})
    assert (empty.status, empty.fields) == (422, {"name": "This field is required."})


def test_other_database_errors_are_422s(crm_db: rt_crm.Crm) -> None:
    error = sa.exc.IntegrityError("INSERT", {}, Exception("CHECK constraint failed: x"))
    found = writes.integrity_error(crm_db.deals, "create", error)
    assert (found.status, found.message) == (422, "A value breaks a rule of its field.")
    with pytest.raises(ApiError) as raised, writes.integrity(crm_db.deals, "update"):
        raise sa.exc.DataError("UPDATE", {}, Exception("value too long"))
    assert raised.value.message == "A value does not fit its field."
