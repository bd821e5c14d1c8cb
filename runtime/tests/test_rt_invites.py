"""``crmgen_runtime.invites``: inviting people and sending a new link, on SQLite and PostgreSQL
(the whole path over real HTTP, with mail and the page, is tests/security/access_control/
test_invites.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import WebClient
from crmgen_runtime import accounts, auth, crud, invites, tables
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import Access, Rule
from starlette.routing import Mount

MANAGER = rt_crm.person(6, "manager")
BASE = "https://crm.example.com"
DAY = dt.timedelta(hours=24)
EVERY = Access("all")
USERS = rt_crm.Crm.users


@pytest.fixture(autouse=True)
def manager_rule(crm_web: rt_crm.Crm) -> Iterator[None]:
    """The small CRM's manager (user 6) may create, read and update every user here."""
    with crm_web.database.session() as session:
        session.execute(sa.insert(crm_web.User).values(id=6, email="u6@example.com", name="U6"))
    USERS.rules["manager"] = Rule({"create": EVERY, "read": EVERY, "update": EVERY})
    yield
    del USERS.rules["manager"]


def invite(crm: rt_crm.Crm, actor: Any, payload: Any) -> dict[str, Any]:
    return invites.invite(
        crm.database,
        USERS,
        actor,
        payload,
        "127.0.0.1",
        base_url=BASE,
        lifetime=DAY,
        t=invites.ENGLISH.__getitem__,
    )


def resend(crm: rt_crm.Crm, actor: Any, user_id: int) -> dict[str, Any]:
    return invites.resend(
        crm.database,
        USERS,
        actor,
        user_id,
        base_url=BASE,
        lifetime=DAY,
        t=invites.ENGLISH.__getitem__,
    )


def refused(call: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as raised:
        call(*args)
    return raised.value


def mails(crm: rt_crm.Crm) -> list[dict[str, Any]]:
    model = crm.catalog.table(tables.OutboxMessageTable)
    with crm.database.session() as session:
        return [dict(p) for p in session.scalars(sa.select(model.payload).order_by(model.id))]


def token_of(mail: dict[str, Any]) -> str:
    return str(mail["link"]).rpartition("/")[2]


def test_an_invitation_creates_the_user_and_mails_one_link(crm_web: rt_crm.Crm) -> None:
    made = invite(crm_web, MANAGER, {"email": "New@Example.com", "name": "New", "roles": ["sales"]})
    assert made["email"] == "New@Example.com" and made["roles"] == ["sales"]
    [mail] = mails(crm_web)
    assert mail["to"] == "New@Example.com" and mail["template"] == "invite"
    assert mail["subject"] == f"You are invited to {crm_web.catalog.config.plain_title}"
    assert mail["link"].startswith(f"{BASE}/invite/") and mail["link"] in mail["text"]
    assert "U6 invited you" in mail["text"] and "within 24 hours" in mail["text"]
    token = token_of(mail)
    assert auth.link_usable(crm_web.catalog, crm_web.database, token)
    assert auth.confirm_reset(crm_web.catalog, crm_web.database, token, "a new password 1")
    assert not auth.link_usable(crm_web.catalog, crm_web.database, token)
    again = refused(invite, crm_web, MANAGER, {"email": "new@example.com", "name": "N"})
    assert again.status == 409 and again.message == "A user with this e-mail exists already."


def test_a_resend_ends_the_old_link(crm_web: rt_crm.Crm) -> None:
    user_id = invite(crm_web, MANAGER, {"email": "late@example.com", "name": "Late"})["id"]
    pending = refused(invite, crm_web, MANAGER, {"email": "late@example.com", "name": "L"})
    assert pending.status == 409 and f"/api/users/{user_id}/invite" in pending.message
    assert resend(crm_web, MANAGER, user_id)["id"] == user_id
    old, new = (token_of(m) for m in mails(crm_web))
    assert not auth.link_usable(crm_web.catalog, crm_web.database, old)
    assert auth.link_usable(crm_web.catalog, crm_web.database, new)
    with crm_web.database.session() as session:
        session.execute(
            sa.update(crm_web.User).where(crm_web.User.id == user_id).values(active=False)
        )
    assert refused(resend, crm_web, MANAGER, user_id).fields == {"active": invites.DEACTIVATED}
    assert refused(resend, crm_web, MANAGER, 999).status == 404


def test_who_may_invite(crm_web: rt_crm.Crm) -> None:
    nope = refused(invite, crm_web, rt_crm.Crm.ann, {"email": "x@example.com", "name": "X"})
    assert nope.status == 403
    boss = {"email": "boss@example.com", "name": "Boss", "roles": ["admin"]}
    assert refused(invite, crm_web, MANAGER, boss).status == 403
    assert refused(invite, crm_web, MANAGER, ["not", "an", "object"]).status == 422
    made = invite(crm_web, rt_crm.Crm.admin, boss)
    assert refused(resend, crm_web, MANAGER, made["id"]).status == 403
    assert resend(crm_web, rt_crm.Crm.admin, made["id"])["id"] == made["id"]
    assert len(mails(crm_web)) == 2


def test_the_routes_answer_with_the_user(crm_web: rt_crm.Crm, web_client: WebClient) -> None:
    client = web_client([Mount("/api", routes=crud.routes(USERS))], PUBLIC_URL=BASE)
    headers = {"X-User": "admin"}
    made = client.post("/api/users/invite", json={"email": "r@example.com"}, headers=headers)
    assert made.status_code == 201, made.text
    user_id = made.json()["id"]
    assert made.headers["location"] == f"/api/users/{user_id}"
    assert token_of(mails(crm_web)[0]) not in made.text
    again = client.post(f"/api/users/{user_id}/invite", headers=headers)
    assert again.status_code == 200 and again.json()["id"] == user_id
    assert client.post("/api/users/x/invite", headers=headers).status_code == 404
    [first, second] = mails(crm_web)
    assert "within 72 hours" in second["text"]  # INVITE_TTL_HOURS' default
    assert first["link"].startswith(f"{BASE}/invite/")


def test_records_read_invited_until_a_password_is_set(crm_web: rt_crm.Crm) -> None:
    made = invite(crm_web, MANAGER, {"email": "flag@example.com", "name": "Flag"})
    assert made["invited"] is True
    token = token_of(mails(crm_web)[-1])
    assert auth.confirm_reset(crm_web.catalog, crm_web.database, token, "a new password 1")
    with crm_web.database.engine.connect() as connection:
        record = crud.fetch_one(connection, USERS, MANAGER, made["id"])
        assert record is not None and record["invited"] is False
        assert accounts.invited_of(connection, crm_web.catalog, []) == set()


def test_the_roles_a_user_may_grant(crm_web: rt_crm.Crm) -> None:
    catalog = crm_web.catalog
    assert accounts.grantable(catalog, rt_crm.person(7, "sales")) == []
    given = accounts.grantable(catalog, MANAGER)
    assert given and not set(given) & catalog.superuser_roles
    boss = rt_crm.person(8, *sorted(catalog.superuser_roles))
    assert set(accounts.grantable(catalog, boss)) == set(catalog.config.roles)
