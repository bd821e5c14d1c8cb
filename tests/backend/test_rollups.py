"""Rollup fields of the reference CRM over its API, on SQLite and PostgreSQL:
``Company.won_total`` (the sum of its won deals' amounts) and ``Contact.last_contacted_at``
(the time of its latest call or meeting) stay exact on every create, update, re-link and delete
of a related record, 50 concurrent deal inserts on PostgreSQL end exact, ``recompute``
repairs a tampered value, and no one writes a rollup through the API."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import rollups, writes
from crmgen_runtime.db import Database

from tests.backend.conftest import POSTGRES_URL, Backend
from tests.backend.payloads import create, move


def company(crm: Backend, company_id: int, user: str = "admin") -> dict[str, Any]:
    response = crm.client.get(f"/api/companies/{company_id}", headers=crm.as_user(user))
    assert response.status_code == 200, response.text
    return dict(response.json())


def won_total(crm: Backend, company_id: int) -> Decimal:
    return Decimal(str(company(crm, company_id)["won_total"]))


def deal(crm: Backend, company_id: int | None, stage: str, amount: str) -> int:
    """A deal of the company in ``stage``: a won one gets there the pipeline's way (created as
    a lead, then moved to a proposal and won by the admin)."""
    made = create(crm, "deals", full=False, company=company_id, amount=amount)
    if stage != "lead":
        move(crm, "deals", made["id"], *(["proposal", stage] if stage == "won" else [stage]))
    return int(made["id"])


def patch(crm: Backend, path: str, **values: Any) -> Any:
    response = crm.client.patch(path, json=values, headers=crm.as_user("admin"))
    return response


def test_won_total_follows_every_deal_change(crm: Backend) -> None:
    acme = create(crm, "companies", full=False, name="acme")["id"]
    beta = create(crm, "companies", full=False, name="beta")["id"]
    assert won_total(crm, acme) == 0
    big = deal(crm, acme, "won", "1000.10")
    deal(crm, acme, "won", "0.05")
    small = deal(crm, acme, "lead", "7.00")
    assert won_total(crm, acme) == Decimal("1000.15")
    assert patch(crm, f"/api/deals/{small}", stage="proposal").status_code == 200
    assert patch(crm, f"/api/deals/{small}", stage="won").status_code == 200  # now won
    assert won_total(crm, acme) == Decimal("1007.15")
    assert patch(crm, f"/api/deals/{big}", amount="1.00").status_code == 200
    assert won_total(crm, acme) == Decimal("8.05")
    assert patch(crm, f"/api/deals/{big}", company=beta).status_code == 200  # re-linked
    assert (won_total(crm, acme), won_total(crm, beta)) == (Decimal("7.05"), Decimal("1.00"))
    response = crm.client.delete(f"/api/deals/{small}", headers=crm.as_user("admin"))
    assert response.status_code == 204
    assert won_total(crm, acme) == Decimal("0.05")
    # lists filter and sort by it like by any stored field
    response = crm.client.get(
        "/api/companies?won_total__gt=0.5&sort=-won_total", headers=crm.as_user("admin")
    )
    assert [item["name"] for item in response.json()["items"]] == ["beta"]
    # support may not see deal amounts, nor their total
    assert "won_total" not in company(crm, acme, "support")


def test_a_rollup_is_never_written_through_the_api(crm: Backend) -> None:
    response = crm.client.post(
        "/api/companies", json={"name": "x", "won_total": "5"}, headers=crm.as_user("admin")
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"] == {"won_total": "This field is read-only."}
    acme = create(crm, "companies", full=False, name="acme")["id"]
    response = patch(crm, f"/api/companies/{acme}", won_total="5")
    assert response.status_code == 422 and won_total(crm, acme) == 0


def test_last_contacted_at_is_the_latest_call_or_meeting(crm: Backend) -> None:
    person = create(crm, "contacts", full=False, full_name="Ann")["id"]

    def talk(kind: str, at: str) -> None:
        create(crm, "interactions", full=False, contact=person, kind=kind, happened_at=at)

    def last() -> Any:
        response = crm.client.get(f"/api/contacts/{person}", headers=crm.as_user("admin"))
        return response.json()["last_contacted_at"]

    assert last() is None
    talk("call", "2024-05-01T10:00:00Z")
    talk("meeting", "2024-03-01T10:00:00Z")  # earlier: not the last
    talk("note", "2024-06-01T10:00:00Z")  # a note is no contact
    assert last().startswith("2024-05-01T10:00:00")


def test_recompute_repairs_a_tampered_value(crm: Backend) -> None:
    acme = create(crm, "companies", full=False, name="acme")["id"]
    deal(crm, acme, "won", "12.34")
    table = crm.gen.models.Company.__table__
    with crm.database.engine.begin() as connection:
        connection.execute(sa.update(table).values(won_total=Decimal("99.99")))
    assert won_total(crm, acme) == Decimal("99.99")
    assert rollups.recompute(crm.database.session, crm.gen.resources.CATALOG, batch=1) >= 1
    assert won_total(crm, acme) == Decimal("12.34")


# PostgreSQL only: SQLite serialises writes, so the race is PostgreSQL's
@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
def test_fifty_concurrent_deals_end_exact(crm: Backend) -> None:
    acme = create(crm, "companies", full=False, name="acme")["id"]
    with crm.database.engine.connect() as connection:
        search_path = connection.execute(sa.text("SHOW search_path")).scalar_one()
    database = Database(
        POSTGRES_URL,
        connect_args={"options": f"-csearch_path={search_path.replace(' ', '')}"},
        pool_size=50,
        max_overflow=0,
    )
    resource = crm.gen.resources.RESOURCES["deals"]
    admin = crm.users["admin"]
    start = threading.Barrier(50)
    failures: list[BaseException] = []

    def insert(i: int) -> None:
        # the row writer, as a process with workflow: bypass writes (the API creates no deal
        # won: the pipeline starts at the first contact)
        values = {"name": f"d{i}", "company": acme, "stage": "won", "amount": Decimal(f"{i}.01")}
        try:
            start.wait()
            with database.session() as session:
                writes.insert_row(session, resource, values, admin, None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=insert, args=(i,)) for i in range(50)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        database.dispose()
    assert not failures, failures[:3]
    assert won_total(crm, acme) == sum(Decimal(f"{i}.01") for i in range(50))
