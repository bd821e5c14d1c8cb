"""The users admin pages (issue 14 item 1), over HTTP on both databases.

A user manager invites from the form (the mail lands in the outbox, the user reads as
``invited``), resends, deactivates and activates from a user's page and edits roles on the
User form (audited); the same rules as the API hold on every page: a manager cannot deactivate
a superuser (a page that says so, not a 500), nobody changes their own account there, and a
user who does not manage users sees no control and gets 403 from the routes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2 as httpx

from tests.security.crm import PASSWORD, Crm, email

ENGLISH = {"Accept-Language": "en"}


@contextmanager
def browser(crm: Crm, name: str) -> Iterator[httpx.Client]:
    """A browser signed in through the sign-in page as ``name``, reading English pages."""
    with crm.client(headers=ENGLISH) as client:
        yield signed_in(client, name)


def signed_in(client: httpx.Client, name: str) -> httpx.Client:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    signed = client.post(
        "/login", data={"email": email(name), "password": PASSWORD, "csrf_token": token[1]}
    )
    assert signed.status_code == 303, signed.text
    return client


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf(?:_token" value|-token" content)="([^"]+)"', page.text)
    assert found is not None, page.text
    return found[1]


def post(client: httpx.Client, url: str, **data: object) -> httpx.Response:
    token = csrf(client.get("/"))
    return client.post(url, data={"csrf_token": token, **data})  # type: ignore[arg-type]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@demo.example"


def test_invite_from_the_form_then_resend_deactivate_and_activate(crm: Crm) -> None:
    to = unique("web-invited")
    with browser(crm, "manager") as manager:
        listing = manager.get("/users/")
        assert 'href="/users/invite"' in listing.text
        form = manager.get("/users/invite")
        assert form.status_code == 200
        assert 'value="sales"' in form.text and 'value="admin"' not in form.text  # grantable only
        sent = manager.post(
            "/users/invite",
            data={"csrf_token": csrf(form), "email": to, "name": "Web Person", "role": "sales"},
        )
        assert sent.status_code == 303, sent.text
        user_id = int(sent.headers["location"].split("/")[2].split("?")[0])
        [mail] = [m for m in crm.mails(to) if m.get("template") == "invite"]
        assert str(mail["link"]).startswith(f"{crm.base}/invite/")
        with crm.client(crm.token("manager")) as api:
            record = api.get(f"/api/users/{user_id}").json()
            assert record["invited"] is True and record["roles"] == ["sales"]
            listed = api.get("/api/users", params={"id": user_id}).json()["items"]
            assert listed[0]["invited"] is True
            assert api.get(f"/api/users/{crm.user_id('sales')}").json()["invited"] is False

        page = manager.get(f"/users/{user_id}?people=invited")
        assert "Invited, has not set a password" in page.text
        assert "The invitation is on its way." in page.text
        assert f'action="/users/{user_id}/invite"' in page.text
        again = manager.post(
            "/users/invite",
            data={"csrf_token": csrf(form), "email": to, "role": "sales"},
        )
        assert again.status_code == 409 and "invited already" in again.text

        resent = post(manager, f"/users/{user_id}/invite")
        assert resent.status_code == 303
        assert len([m for m in crm.mails(to) if m.get("template") == "invite"]) == 2

        off = post(manager, f"/users/{user_id}/deactivate")
        assert off.status_code == 303
        page = manager.get(off.headers["location"])
        assert "Deactivated" in page.text and f'action="/users/{user_id}/activate"' in page.text
        assert crm.sql("SELECT active FROM users WHERE id = :id", id=user_id)[0][0] in (False, 0)
        refused = post(manager, f"/users/{user_id}/invite")  # a deactivated user gets no link
        assert refused.status_code == 409 and "activate it before" in refused.text
        on = post(manager, f"/users/{user_id}/activate")
        assert on.status_code == 303
        assert crm.sql("SELECT active FROM users WHERE id = :id", id=user_id)[0][0] in (True, 1)


def test_the_form_refuses_a_bad_address_with_the_field_named(crm: Crm) -> None:
    with browser(crm, "manager") as manager:
        form = manager.get("/users/invite")
        bad = manager.post(
            "/users/invite", data={"csrf_token": csrf(form), "email": "not-an-address"}
        )
        assert bad.status_code == 422 and 'id="f_email_error"' in bad.text
        forged = manager.post("/users/invite", data={"csrf_token": "x", "email": unique("x")})
        assert forged.status_code == 403
        superuser = manager.post(  # a role the form never offered: the API's rule refuses it
            "/users/invite",
            data={"csrf_token": csrf(form), "email": unique("boss"), "role": "admin"},
        )
        assert superuser.status_code == 403 and "superuser" in superuser.text


def test_a_manager_cannot_deactivate_a_superuser_nor_themselves(crm: Crm) -> None:
    admin, manager_id = crm.user_id("admin"), crm.user_id("manager")
    with browser(crm, "manager") as manager:
        page = manager.get(f"/users/{admin}")
        assert page.status_code == 200 and "/deactivate" not in page.text  # no button
        refused = post(manager, f"/users/{admin}/deactivate")
        assert refused.status_code == 403
        assert "Only a superuser may change a superuser" in refused.text
        own = post(manager, f"/users/{manager_id}/deactivate")
        assert own.status_code == 403 and "Nobody changes their own" in own.text
        assert post(manager, "/users/999999/deactivate").status_code == 404
    assert crm.sql("SELECT active FROM users WHERE id = :id", id=admin)[0][0] in (True, 1)
    with browser(crm, "admin") as superuser:  # a superuser may, and sees the button
        target = crm.add_user(f"temp-{uuid.uuid4().hex[:6]}", "support")
        assert f'action="/users/{target}/deactivate"' in superuser.get(f"/users/{target}").text
        assert post(superuser, f"/users/{target}/deactivate").status_code == 303


def test_roles_on_the_user_form_are_edited_and_audited(crm: Crm) -> None:
    target = crm.add_user(f"promoted-{uuid.uuid4().hex[:6]}", "support")
    with browser(crm, "manager") as manager:
        page = manager.get(f"/users/{target}/edit")
        assert 'name="role" value="support" checked' in page.text
        assert 'value="admin"' not in page.text  # only the roles a manager grants
        version = re.search(r'name="version" value="([^"]*)"', page.text)
        assert version is not None
        saved = manager.post(
            f"/users/{target}/edit",
            data={
                "csrf_token": csrf(page),
                "version": version[1],
                "email": crm.sql("SELECT email FROM users WHERE id = :id", id=target)[0][0],
                "name": "Promoted",
                "active": "on",
                "role": ["sales", "support"],
            },
        )
        assert saved.status_code == 303, saved.text
        own = manager.get(f"/users/{crm.user_id('manager')}/edit")
        assert 'name="role"' not in own.text  # one's own roles: shown, not editable
    roles = crm.sql("SELECT role FROM crm_user_roles WHERE user_id = :id ORDER BY role", id=target)
    assert [r for (r,) in roles] == ["sales", "support"]
    changes = crm.sql(
        "SELECT changes FROM crm_audit_log WHERE entity = 'User' AND record_id = :id "
        "ORDER BY id DESC",
        id=target,
    )
    assert any("roles" in str(c) and "sales" in str(c) for (c,) in changes)


def test_a_user_who_does_not_manage_users_sees_no_control(crm: Crm) -> None:
    target = crm.user_id("sales2")
    with browser(crm, "support") as support:
        listing = support.get("/users/")
        assert listing.status_code == 200 and "/users/invite" not in listing.text
        page = support.get(f"/users/{target}")
        assert page.status_code == 200
        assert "/deactivate" not in page.text and "Resend" not in page.text
        assert support.get("/users/invite").status_code == 403
        for action in ("invite", "deactivate", "activate"):
            assert post(support, f"/users/{target}/{action}").status_code == 403, action
    assert crm.sql("SELECT active FROM users WHERE id = :id", id=target)[0][0] in (True, 1)
