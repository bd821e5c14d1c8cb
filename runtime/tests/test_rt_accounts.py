"""Who may change a user's e-mail, active flag and roles, and what such a change ends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import rt_crm
import sqlalchemy as sa
from crmgen_runtime import accounts
from crmgen_runtime.errors import ApiError
from sqlalchemy.orm import Session

LATER = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
MANAGER = rt_crm.person(6, "manager")


@pytest.fixture
def session(crm_db: rt_crm.Crm) -> Iterator[Session]:
    """A session on the seeded CRM where user 4 holds ``admin``, user 2 ``sales``, user 6
    ``manager``; each user has an open session and unused reset and e-mail-change links."""
    with Session(crm_db.engine) as opened, opened.begin():
        opened.execute(sa.insert(rt_crm.User), [{"id": 6, "email": "u6@example.com"}])
        accounts.set_roles(opened, rt_crm.catalog, 4, ["admin"])
        accounts.set_roles(opened, rt_crm.catalog, 2, ["sales"])
        accounts.set_roles(opened, rt_crm.catalog, 6, ["manager"])
        accounts.set_roles(opened, rt_crm.catalog, 5, [])
        for user_id in (2, 4, 6):
            opened.add(
                rt_crm.UserSession(token_hash=f"t{user_id}", user_id=user_id, expires_at=LATER)
            )
            opened.add(
                rt_crm.PasswordReset(token_hash=f"r{user_id}", user_id=user_id, expires_at=LATER)
            )
            opened.add(
                rt_crm.EmailChange(
                    token_hash=f"e{user_id}", user_id=user_id, new_email="x@y.z", expires_at=LATER
                )
            )
        opened.flush()
        yield opened


def refused(call: object, *args: object) -> ApiError:
    with pytest.raises(ApiError) as raised:
        call(*args)  # type: ignore[operator]
    return raised.value


def test_roles_are_taken_from_user_payloads_only(crm: rt_crm.Crm) -> None:
    payload = {"roles": ["sales", "admin", "sales"], "name": "x"}
    assert accounts.take_roles(crm.catalog, "User", payload) == ["admin", "sales"]
    assert payload == {"name": "x"}
    assert accounts.take_roles(crm.catalog, "User", {"name": "x"}) is None
    assert accounts.take_roles(crm.catalog, "Deal", {"roles": "x"}) is None
    bad = refused(accounts.take_roles, crm.catalog, "User", {"roles": "admin"})
    assert (bad.status, bad.fields) == (422, {"roles": "Must be a list of role names."})
    unknown = refused(accounts.take_roles, crm.catalog, "User", {"roles": ["boss"]})
    assert unknown.fields["roles"].startswith("Unknown role 'boss' (the roles are: admin, clerk")


def test_roles_of_reads_every_user_at_once(session: Session) -> None:
    assert accounts.roles_of(session, rt_crm.catalog, [2, 4, 5]) == {2: ["sales"], 4: ["admin"]}
    assert accounts.roles_of(session, rt_crm.catalog, []) == {}


def test_creating_users_needs_user_management(crm: rt_crm.Crm) -> None:
    assert refused(accounts.check_create, crm.catalog, crm.ann, None).status == 403
    grant = refused(accounts.check_create, crm.catalog, MANAGER, ["admin"])
    assert (grant.code, grant.fields) == (
        "forbidden_fields",
        {"roles": "Only a superuser grants a superuser role."},
    )
    accounts.check_create(crm.catalog, MANAGER, ["sales"])
    accounts.check_create(crm.catalog, crm.admin, ["admin"])


def test_only_real_changes_of_identity_and_power_count(session: Session) -> None:
    catalog = rt_crm.catalog
    same = accounts.check_update(
        session,
        catalog,
        rt_crm.Crm.bob,
        2,
        {"email": "u2@example.com", "name": "B"},
        ["sales"],
        None,
    )
    assert same.new_roles is None and same.audit() == {}
    own = refused(
        accounts.check_update, session, catalog, rt_crm.Crm.bob, 2, {"active": False}, None, None
    )
    assert own.fields == {"active": "Nobody changes their own roles or active flag."}
    mail = refused(
        accounts.check_update, session, catalog, rt_crm.Crm.bob, 2, {"email": "n@x.io"}, None, None
    )
    assert mail.fields == {"email": accounts.EMAIL_FLOW}
    other = refused(
        accounts.check_update, session, catalog, rt_crm.Crm.ann, 2, {"active": False}, [], None
    )
    assert other.fields == {"active": accounts.MANAGE, "roles": accounts.MANAGE}
    top = refused(accounts.check_update, session, catalog, MANAGER, 4, {"name": "x"}, None, None)
    assert top.message == "Only a superuser may change a superuser's account."
    grant = refused(accounts.check_update, session, catalog, MANAGER, 2, {}, ["admin"], None)
    assert grant.fields == {"roles": "Only a superuser grants or removes a superuser role."}
    taken = refused(
        accounts.check_update, session, catalog, MANAGER, 2, {"email": "U1@example.com"}, None, None
    )
    assert (taken.status, taken.code) == (409, "conflict")
    gone = refused(accounts.check_update, session, catalog, MANAGER, 99, {}, None, None)
    assert gone.status == 404
    hidden = rt_crm.User.id != 2
    assert (
        refused(accounts.check_update, session, catalog, MANAGER, 2, {}, None, hidden).status == 404
    )
    change = accounts.check_update(session, catalog, MANAGER, 2, {"active": False}, [], None)
    assert change.deactivated and change.roles_removed
    assert change.audit() == {"roles": [["sales"], []]}


def test_a_change_of_email_ends_sessions_and_links_and_tells_the_old_address(
    session: Session,
) -> None:
    catalog = rt_crm.catalog
    change = accounts.check_update(
        session, catalog, MANAGER, 2, {"email": "new@example.com"}, ["sales", "viewer"], None
    )
    accounts.apply(session, catalog, change)
    session.flush()
    assert accounts.roles_of(session, catalog, [2]) == {2: ["sales", "viewer"]}
    assert session.scalar(
        sa.select(rt_crm.UserSession.revoked_at).where(rt_crm.UserSession.user_id == 2)
    )
    assert session.scalar(
        sa.select(rt_crm.PasswordReset.used_at).where(rt_crm.PasswordReset.user_id == 2)
    )
    assert session.scalar(
        sa.select(rt_crm.EmailChange.used_at).where(rt_crm.EmailChange.user_id == 2)
    )
    message = session.scalars(sa.select(rt_crm.OutboxMessage)).one()
    assert message.payload["to"] == "u2@example.com"
    assert message.payload["subject"] == "Your e-mail was changed: Small CRM"
    assert "from u2@example.com to new@example.com" in message.payload["text"]
    # a deactivation ends the sessions only
    deactivate = accounts.Change(6, "u6@example.com", "u6@example.com", True, ("manager",), None)
    accounts.apply(session, catalog, deactivate)
    assert session.scalar(
        sa.select(rt_crm.UserSession.revoked_at).where(rt_crm.UserSession.user_id == 6)
    )
    assert not session.scalar(
        sa.select(rt_crm.PasswordReset.used_at).where(rt_crm.PasswordReset.user_id == 6)
    )


def test_end_sessions_may_keep_the_current_one(session: Session) -> None:
    accounts.end_sessions(session, rt_crm.catalog, 4, keep="t4")
    assert (
        session.scalar(
            sa.select(rt_crm.UserSession.revoked_at).where(rt_crm.UserSession.user_id == 4)
        )
        is None
    )
    assert accounts.email_taken(session, rt_crm.catalog, " U4@EXAMPLE.com ")
    assert not accounts.email_taken(session, rt_crm.catalog, "u4@example.com", 4)


def test_deleting_users_needs_user_management_and_ends_their_sessions(session: Session) -> None:
    catalog = rt_crm.catalog
    assert refused(accounts.check_delete, session, catalog, MANAGER, 99, None).status == 404
    assert refused(accounts.check_delete, session, catalog, rt_crm.Crm.ann, 2, None).status == 403
    own = refused(accounts.check_delete, session, catalog, MANAGER, 6, None)
    assert own.message == "Nobody deletes their own account."
    top = refused(accounts.check_delete, session, catalog, MANAGER, 4, None)
    assert top.message == "Only a superuser may delete a superuser's account."
    accounts.check_delete(session, catalog, MANAGER, 2, None)
    assert session.scalar(
        sa.select(rt_crm.UserSession.revoked_at).where(rt_crm.UserSession.user_id == 2)
    )
