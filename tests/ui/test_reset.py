"""The password reset pages: the same answer for any e-mail, the mailed link (an outbox row)
opening the new-password page, the checks there, a one-time token, then signing in."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from tests.ui.test_pages import PASSWORD, UI, csrf, fresh, ui  # noqa: F401

NEW_PASSWORD = "a fresh password 42"


def _mails(ui: UI, to: str) -> list[dict[str, Any]]:  # noqa: F811
    outbox = ui.gen.models.CrmOutboxMessage
    with ui.database.session() as session:
        rows = session.scalars(sa.select(outbox).order_by(outbox.id)).all()
        return [dict(r.payload) for r in rows if r.payload.get("to") == to]


def _ask(ui: UI, email: str) -> Any:  # noqa: F811
    page = ui.client.get("/password-reset")
    assert page.status_code == 200
    return ui.client.post("/password-reset", data={"csrf_token": csrf(page.text), "email": email})


def _sign_in(ui: UI, email: str, password: str) -> int:  # noqa: F811
    page = ui.client.get("/login")
    response = ui.client.post(
        "/login",
        data={"csrf_token": csrf(page.text), "email": email, "password": password, "next": "/"},
        follow_redirects=False,
    )
    return response.status_code


def test_the_login_page_links_to_the_reset(ui: UI) -> None:  # noqa: F811
    fresh(ui)
    assert 'href="/password-reset"' in ui.client.get("/login").text


def test_known_and_unknown_addresses_get_the_same_answer(ui: UI) -> None:  # noqa: F811
    fresh(ui)
    ui.user("known@example.com", "sales")
    known = _ask(ui, "known@example.com")
    unknown = _ask(ui, "ghost@example.com")
    assert known.status_code == unknown.status_code == 200
    assert "If an account with this e-mail exists" in known.text

    def strip(text: str) -> str:  # the pages differ only in their CSRF tokens
        return re.sub(r'(name="csrf_token" value|name="csrf-token" content)="[^"]*"', "", text)

    assert strip(known.text.replace("known@", "X@")) == strip(unknown.text.replace("ghost@", "X@"))
    assert len(_mails(ui, "known@example.com")) == 1 and _mails(ui, "ghost@example.com") == []


def test_a_blank_address_and_a_missing_csrf_token_are_refused(ui: UI) -> None:  # noqa: F811
    fresh(ui)
    blank = _ask(ui, "  ")
    assert blank.status_code == 422 and 'aria-invalid="true"' in blank.text
    forged = ui.client.post("/password-reset", data={"email": "known@example.com"})
    assert forged.status_code == 403


def test_the_mailed_link_leads_to_a_new_password_and_works_once(ui: UI) -> None:  # noqa: F811
    fresh(ui)
    email = "forgetful@example.com"
    ui.user(email, "sales")
    _ask(ui, email)
    [mail] = _mails(ui, email)
    link = mail["link"]
    assert link in mail["text"]
    page_url = link.removeprefix("http://testserver")
    token = link.rpartition("/")[2]
    assert page_url == f"/password-reset/{token}"

    form = ui.client.get(page_url)
    assert form.status_code == 200
    assert 'autocomplete="new-password"' in form.text and "at least 8 characters" in form.text
    token_field = csrf(form.text)

    def submit(password: str, again: str, **extra: str) -> Any:
        data = {"csrf_token": token_field, "password": password, "password_again": again}
        return ui.client.post(page_url, data={**data, **extra}, follow_redirects=False)

    assert submit("short", "short").status_code == 422
    differ = submit(NEW_PASSWORD, NEW_PASSWORD + "!")
    assert differ.status_code == 422 and "The two passwords differ." in differ.text
    assert ui.client.post(page_url, data={"password": NEW_PASSWORD}).status_code == 403

    done = submit(NEW_PASSWORD, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/login?reset=done"
    assert "The password is changed" in ui.client.get("/login?reset=done").text
    assert _sign_in(ui, email, PASSWORD) == 401
    assert _sign_in(ui, email, NEW_PASSWORD) == 303

    fresh(ui)
    again = ui.client.get(page_url)
    again = ui.client.post(
        page_url,
        data={
            "csrf_token": csrf(again.text),
            "password": "another one 123",
            "password_again": "another one 123",
        },
    )
    assert again.status_code == 400
    assert "already used or expired" in again.text and 'href="/password-reset"' in again.text


def test_bad_tokens_are_pages_not_errors(ui: UI) -> None:  # noqa: F811
    fresh(ui)
    page = ui.client.get("/password-reset/not-a-real-token-at-all")
    response = ui.client.post(
        "/password-reset/not-a-real-token-at-all",
        data={
            "csrf_token": csrf(page.text),
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )
    assert response.status_code == 400
    odd = ui.client.get("/password-reset/%3Cscript%3E")
    assert odd.status_code < 500 and "<script>" not in odd.text


def test_the_pages_are_translated(ui: UI) -> None:  # noqa: F811
    fresh(ui)
    ui.client.cookies.set("locale", "ru")
    assert "Забыли пароль?" in ui.client.get("/login").text
    assert "Сброс пароля" in ui.client.get("/password-reset").text
    ui.client.cookies.set("locale", "en")
