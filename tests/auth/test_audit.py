"""The audit log and the spec's user extensions (examples/crm: roles admin superuser, manager
with the audit flag, sales, support; User extended with position, phone, hired_on, ...)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from crmgen_runtime.principal import CurrentUser

from tests.auth.conftest import App, unique_email

EXAMPLE = "crm"


def bearer(app: App, *roles: str) -> tuple[int, dict[str, str]]:
    email = unique_email()
    user_id = app.user(email, *roles)
    return user_id, {"Authorization": f"Bearer {app.token(email)}"}


def test_lockout_settings_come_from_the_spec(app: App) -> None:
    config = app.catalog.config
    assert (config.lockout_attempts, config.lockout) == (5, dt.timedelta(minutes=30))


def test_the_principal_carries_the_extra_user_fields(app: App) -> None:
    with app.session() as session:
        position = app.models.Position(name="Closer")
        session.add(position)
        session.flush()
        position_id = position.id
    email = unique_email()
    user_id = app.user(
        email,
        "sales",
        name="Sam",
        position_id=position_id,
        phone="+1 555 0100",
        hired_on=dt.date(2024, 2, 29),
    )
    token = app.token(email)
    me = app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {
        "id": user_id,
        "email": email,
        "name": "Sam",
        "roles": ["sales"],
        "superuser": False,
        "position_id": position_id,
        "phone": "+1 555 0100",
        "telegram_chat": None,
        "hired_on": "2024-02-29",
        "locale": None,
    }
    principal = app.auth.load_user(app.catalog, app.db, token)
    assert principal.extra["position_id"] == position_id and principal.extra["hired_on"] == dt.date(
        2024, 2, 29
    )
    assert principal.has_role("sales") and not principal.has_role("manager")
    admin = app.auth.load_user(
        app.catalog, app.db, app.token(email_of(app, bearer(app, "admin", "sales")[0]))
    )
    assert (
        admin.superuser
        and admin.roles == frozenset({"admin", "sales"})
        and admin.has_role("manager")
    )


def email_of(app: App, user_id: int) -> str:
    with app.session() as session:
        return session.get(app.models.User, user_id).email


def test_record_writes_the_entry_in_the_callers_transaction(app: App) -> None:
    user_id, _ = bearer(app, "sales")
    principal = CurrentUser(
        id=user_id, email=email_of(app, user_id), name=None, roles=frozenset({"sales"})
    )
    changes = {
        "stage": ["new", "won"],
        "amount": ["10.50", "12.00"],
        "closed_on": [None, "2024-05-01"],
    }
    with app.session() as session:
        app.audit.record(
            session,
            app.catalog,
            user=principal,
            ip="203.0.113.7",
            entity="Deal",
            record_id=41,
            action="update",
            changes=changes,
        )
    # A failed transaction leaves no entry behind.
    with pytest.raises(RuntimeError), app.session() as session:
        app.audit.record(
            session,
            app.catalog,
            user=None,
            ip=None,
            entity="Deal",
            record_id=41,
            action="delete",
            changes={},
        )
        raise RuntimeError("rolled back")
    with app.session() as session:
        with pytest.raises(ValueError, match="unknown audit action"):
            app.audit.record(
                session,
                app.catalog,
                user=None,
                ip=None,
                entity="Deal",
                record_id=1,
                action="erase",
                changes={},
            )
        rows = session.scalars(
            sa.select(app.models.CrmAuditEntry).where(app.models.CrmAuditEntry.record_id == 41)
        ).all()
        [entry] = rows
        assert (entry.user_id, entry.user_email, entry.ip, entry.entity, entry.action) == (
            user_id,
            principal.email,
            "203.0.113.7",
            "Deal",
            "update",
        )
        assert entry.changes == changes
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=dt.UTC)
        assert abs(dt.datetime.now(dt.UTC) - at) < dt.timedelta(minutes=1)


def test_the_audit_endpoint_is_for_audit_roles_and_superusers(app: App) -> None:
    assert app.client.get("/api/audit").status_code == 401
    for role in ("sales", "support"):
        _, headers = bearer(app, role)
        response = app.client.get("/api/audit", headers=headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    for roles in (("manager",), ("admin",), ("sales", "manager")):
        _, headers = bearer(app, *roles)
        assert app.client.get("/api/audit", headers=headers).status_code == 200


def test_the_audit_endpoint_lists_and_filters(app: App) -> None:
    actor, headers = bearer(app, "manager")
    principal = CurrentUser(
        id=actor, email=email_of(app, actor), name=None, roles=frozenset({"manager"})
    )
    entity = f"Thing{actor}"  # this test's own entries
    with app.session() as session:
        for record_id, action in [(1, "create"), (1, "update"), (2, "create"), (1, "delete")]:
            app.audit.record(
                session,
                app.catalog,
                user=principal,
                ip="198.51.100.1",
                entity=entity,
                record_id=record_id,
                action=action,
                changes={"name": [None, f"v{record_id}"]},
            )
        app.audit.record(
            session,
            app.catalog,
            user=None,
            ip=None,
            entity=entity,
            record_id=3,
            action="create",
            changes={},
        )

    def get(**params: object) -> dict:  # type: ignore[type-arg]
        response = app.client.get(
            "/api/audit", params={"entity": entity, **params}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    everything = get()
    assert everything["total"] == 5 and [e["record_id"] for e in everything["items"]] == [
        3,
        1,
        2,
        1,
        1,
    ]
    first = everything["items"][1]
    assert (
        first["action"] == "delete" and first["user_id"] == actor and first["ip"] == "198.51.100.1"
    )
    assert first["entity"] == entity and first["changes"] == {"name": [None, "v1"]}
    assert first["user_email"] == principal.email and first["at"].endswith("+00:00")
    assert [e["action"] for e in get(record_id=1)["items"]] == ["delete", "update", "create"]
    assert get(action="create")["total"] == 3
    assert get(user_id=actor)["total"] == 4
    assert get(record_id=1, action="update")["total"] == 1
    page = get(limit=2, offset=1)
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [e["record_id"] for e in page["items"]] == [1, 2]
    assert get(entity="NoSuchEntity")["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "x"},
        {"offset": "-1"},
        {"action": "erase"},
        {"record_id": "one"},
    ],
)
def test_bad_audit_queries_are_422(app: App, params: dict[str, str]) -> None:
    _, headers = bearer(app, "admin")
    response = app.client.get("/api/audit", params=params, headers=headers)
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == set(params)
