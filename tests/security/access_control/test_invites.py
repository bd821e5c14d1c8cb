"""Inviting users through the app (issue 14 item 1), over HTTP on both databases.

A user manager (``manager``) invites someone: the user exists at once, without a password; the
mail goes through the outbox and ``worker --once`` delivers it to an aiosmtpd server on
loopback, with a link built from ``PUBLIC_URL`` even when the request named another host; the
page at the link sets the password once, and the person signs in. Only a superuser invites a
superuser or touches one; an expired, used or replaced link is refused with a page, not a 500.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from email.message import Message
from typing import Any

import httpx2 as httpx
import pytest

from tests.security.crm import Crm, app_cli, crm_out, email
from tests.worker.conftest import SmtpServer

INVITE = "/api/users/invite"
NEW_PASSWORD = "a fresh password 42"
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@demo.example"


def invite(crm: Crm, by: str, to: str, roles: list[str], **kwargs: Any) -> httpx.Response:
    with crm.client(crm.token(by), **kwargs) as client:
        return client.post(INVITE, json={"email": to, "name": "New Person", "roles": roles})


def links(crm: Crm, to: str) -> list[str]:
    return [str(m["link"]) for m in crm.mails(to) if m.get("template") == "invite"]


def page_of(crm: Crm, link: str) -> str:
    assert link.startswith(f"{crm.base}/invite/"), link  # PUBLIC_URL's
    return link.removeprefix(crm.base)


def accept(crm: Crm, path: str, password: str = NEW_PASSWORD) -> httpx.Response:
    """Open the invitation's page and send the form (with the page's CSRF token: the form's, or
    the page head's when a dead link shows no form)."""
    with crm.client(headers=ENGLISH) as client:
        page = client.get(path)
        match = re.search(r'name="csrf(?:_token" value|-token" content)="([^"]+)"', page.text)
        token = match.group(1) if match else ""
        form = {"csrf_token": token, "password": password, "password_again": password}
        return client.post(path, data=form, follow_redirects=False)


def sign_in(crm: Crm, address: str, password: str = NEW_PASSWORD) -> httpx.Response:
    with crm.client() as client:
        return client.post("/api/auth/login", json={"email": address, "password": password})


def deliver(crm: Crm, smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("worker")
    out = crm_out(tmp_path_factory)
    args = ("worker", "--once", "--no-scheduler", "--batch", "100")
    app_cli(out, crm.database_url, folder, *args, SMTP_URL=smtp.url, PUBLIC_URL=crm.base)


def delivered(smtp: SmtpServer, to: str) -> list[Message]:
    return [m for m in smtp.handler.messages if m["To"] == to]


def test_an_invitation_is_mailed_once_and_sets_the_password(
    crm: Crm, smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    to = unique("invited")
    forged = {"Host": f"localhost:{crm.port}"}  # an allowed name, not PUBLIC_URL's
    response = invite(crm, "manager", to, ["sales"], headers=forged)
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["email"] == to and user["active"] is True
    assert response.headers["location"] == f"/api/users/{user['id']}"
    [link] = links(crm, to)
    [queued] = crm.mails(to)  # in the inviter's language: the app's default here (ru)
    assert queued["subject"] == "Вас пригласили в Эталонная CRM"
    assert "72" in queued["text"] and link in queued["text"]
    token = link.rpartition("/")[2]
    assert token not in response.text  # the answer never carries the link
    assert sign_in(crm, to).status_code == 401  # no password yet

    deliver(crm, smtp, tmp_path_factory)
    deliver(crm, smtp, tmp_path_factory)  # nothing is sent twice
    [mail] = delivered(smtp, to)
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes) and link in body.decode("utf-8")

    done = accept(crm, page_of(crm, link))
    assert done.status_code == 303 and done.headers["location"] == "/login?invited=done"
    signed_in = sign_in(crm, to)
    assert signed_in.status_code == 200, signed_in.text
    with crm.client(signed_in.json()["access_token"]) as client:
        assert client.get("/api/auth/me").json()["roles"] == ["sales"]

    used = accept(crm, page_of(crm, link), "another password 43")
    assert used.status_code == 400 and "invitation is invalid" in used.text
    assert sign_in(crm, to, "another password 43").status_code == 401


def test_an_expired_link_is_refused_with_a_page(crm: Crm) -> None:
    to = unique("late")
    assert invite(crm, "manager", to, ["support"]).status_code == 201
    [link] = links(crm, to)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    crm.sql(
        "UPDATE crm_password_resets SET expires_at = :past WHERE user_id = "
        "(SELECT id FROM users WHERE email = :email)",
        past=past,
        email=to,
    )
    with crm.client(headers=ENGLISH) as client:
        page = client.get(page_of(crm, link))
    assert page.status_code == 400 and "invitation is invalid" in page.text
    assert 'name="password"' not in page.text
    assert accept(crm, page_of(crm, link)).status_code == 400
    assert sign_in(crm, to).status_code == 401


def test_a_resend_kills_the_old_link(crm: Crm) -> None:
    to = unique("resent")
    user_id = invite(crm, "manager", to, ["sales"]).json()["id"]
    again = invite(crm, "manager", to, ["sales"])
    assert again.status_code == 409 and f"/api/users/{user_id}/invite" in again.text
    with crm.client(crm.token("manager")) as client:
        resent = client.post(f"/api/users/{user_id}/invite")
    assert resent.status_code == 200, resent.text
    old, new = links(crm, to)
    assert old != new
    assert accept(crm, page_of(crm, old)).status_code == 400
    assert accept(crm, page_of(crm, new)).status_code == 303
    with crm.client(crm.token("manager")) as client:
        after = client.post(f"/api/users/{user_id}/invite")
    assert after.status_code == 409  # a password is set: the reset is the way now


def test_an_active_user_is_not_invited_again(crm: Crm) -> None:
    response = invite(crm, "manager", email("sales2"), ["sales"])
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "A user with this e-mail exists already."


def test_only_a_user_manager_invites(crm: Crm) -> None:
    to = unique("nope")
    response = invite(crm, "sales", to, ["sales"])
    assert response.status_code == 403
    assert links(crm, to) == []


def test_a_manager_neither_invites_nor_touches_a_superuser(crm: Crm) -> None:
    to = unique("boss")
    refused = invite(crm, "manager", to, ["admin"])
    assert refused.status_code == 403 and "superuser" in refused.text
    assert links(crm, to) == [] and sign_in(crm, to).status_code == 401
    admin_id = crm.user_id("admin")
    with crm.client(crm.token("manager")) as client:
        deactivate = client.patch(f"/api/users/{admin_id}", json={"active": False})
        resend = client.post(f"/api/users/{admin_id}/invite")
    assert deactivate.status_code == 403 and resend.status_code == 403
    assert crm.sql("SELECT active FROM users WHERE id = :id", id=admin_id)[0][0] in (True, 1)

    made = invite(crm, "admin", to, ["admin"])  # a superuser may
    assert made.status_code == 201, made.text
    assert len(links(crm, to)) == 1


def test_roles_are_checked_like_post_users(crm: Crm) -> None:
    response = invite(crm, "manager", unique("typo"), ["salse"])
    assert response.status_code == 422 and "roles" in response.json()["error"]["fields"]
