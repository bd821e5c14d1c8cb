"""The audit log: entries written in the caller's transaction, and ``GET /api/audit``."""

from __future__ import annotations

import datetime as dt

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import Serve
from crmgen_runtime import audit
from sqlalchemy.orm import Session


def write(crm: rt_crm.Crm, *entries: tuple[int, str]) -> None:
    assert crm.database is not None
    with crm.database.session() as session:
        for record_id, action in entries:
            audit.record(
                session,
                crm.catalog,
                user=crm.ann,
                ip="2001:db8::1" * 5,
                entity="Deal",
                record_id=record_id,
                action=action,
                changes={"title": [None, f"v{record_id}"], "amount": ["1", "2"]},
            )
        audit.record(
            session,
            crm.catalog,
            user=None,
            ip=None,
            entity="Company",
            record_id=9,
            action="delete",
            changes={},
        )


def test_record_writes_one_entry_in_the_callers_transaction(crm_web: rt_crm.Crm) -> None:
    write(crm_web, (1, "create"))
    assert crm_web.database is not None
    with pytest.raises(RuntimeError), crm_web.database.session() as session:
        write_in(session, crm_web, 2)
        raise RuntimeError("rolled back")
    with crm_web.database.session() as session:
        with pytest.raises(ValueError, match="unknown audit action 'erase'"):
            audit.record(
                session,
                crm_web.catalog,
                user=None,
                ip=None,
                entity="Deal",
                record_id=1,
                action="erase",
                changes={},
            )
        rows = session.scalars(sa.select(rt_crm.AuditEntry).order_by(rt_crm.AuditEntry.id)).all()
        first, gone = (audit.describe(row) for row in rows)
    assert first["user_id"] == 1 and first["user_email"] == "u1@example.com"
    assert len(first["ip"]) == audit.IP_LENGTH
    assert list(first["changes"]) == ["amount", "title"]  # sorted
    moment = dt.datetime.fromisoformat(first["at"])
    assert moment.tzinfo is not None and abs(dt.datetime.now(dt.UTC) - moment).total_seconds() < 60
    assert (gone["user_id"], gone["ip"], gone["entity"], gone["action"], gone["changes"]) == (
        None,
        None,
        "Company",
        "delete",
        {},
    )


def write_in(session: Session, crm: rt_crm.Crm, record_id: int) -> None:
    audit.record(
        session,
        crm.catalog,
        user=crm.bob,
        ip="10.0.0.1",
        entity="Deal",
        record_id=record_id,
        action="update",
        changes={},
    )


def test_the_log_is_for_superusers_and_audit_roles(crm_web: rt_crm.Crm, serve: Serve) -> None:
    client = serve(audit.routes(crm_web.catalog))
    assert client.get("/api/audit").status_code == 401
    refused = client.get("/api/audit", headers={"X-User": "ann"})
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "Your role may not read the audit log."
    assert client.get("/api/audit", headers={"X-User": "admin"}).status_code == 200


def test_the_log_pages_and_filters_newest_first(crm_web: rt_crm.Crm, serve: Serve) -> None:
    write(crm_web, (1, "create"), (1, "update"), (2, "create"))
    client = serve(audit.routes(crm_web.catalog))

    def get(**query: object) -> dict[str, object]:
        response = client.get("/api/audit", params=query, headers={"X-User": "admin"})
        assert response.status_code == 200, response.text
        found: dict[str, object] = response.json()
        return found

    every = get()
    assert every["total"] == 4 and (every["limit"], every["offset"]) == (50, 0)
    assert [item["record_id"] for item in every["items"]] == [9, 2, 1, 1]  # type: ignore[attr-defined]
    assert get(entity="Deal", record_id=1)["total"] == 2
    assert get(user_id=1, action="create")["total"] == 2
    page = get(limit=1, offset=1)
    assert [item["record_id"] for item in page["items"]] == [2]  # type: ignore[attr-defined]
    bad = client.get("/api/audit?action=erase", headers={"X-User": "admin"})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"] == {
        "action": "action must be one of create, update, delete."
    }
    assert client.get("/api/audit?user_id=-1", headers={"X-User": "admin"}).status_code == 422
