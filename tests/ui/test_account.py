"""The account page (/account): one's own password and e-mail, in every UI language, and the
page of the mailed e-mail-change link (a button that confirms once)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import assets

from tests.ui.test_pages import PASSWORD, UI, csrf, fresh, ui  # noqa: F401

MESSAGES = assets.WEB / "messages" / "account.json"
NEW_PASSWORD = "another fine password"


def _mails(ui: UI, to: str) -> list[dict[str, Any]]:  # noqa: F811
    outbox = ui.gen.models.CrmOutboxMessage
    with ui.database.session() as session:
        rows = session.scalars(sa.select(outbox).order_by(outbox.id)).all()
        return [dict(r.payload) for r in rows if r.payload.get("to") == to]


def _signed_in(ui: UI, email: str) -> UI:  # noqa: F811
    fresh(ui)
    ui.user(email, "sales")
    ui.login(email)
    return ui


def test_the_account_page_needs_sign_in(ui: UI) -> None:  # noqa: F811
    fresh(ui)
    response = ui.client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount"


@pytest.mark.parametrize("locale", ["en", "ru", "id", "bs", "zh"])
def test_the_account_page_speaks_every_language(ui: UI, locale: str) -> None:  # noqa: F811
    _signed_in(ui, f"polyglot-{locale}@example.com")
    ui.client.cookies.set("locale", locale)
    page = ui.client.get("/account")
    assert page.status_code == 200
    words = json.loads(MESSAGES.read_text(encoding="utf-8"))
    for key in ("account", "change_password", "change_email", "current_password"):
        assert words[key][locale] in page.text, key
    assert 'href="/account"' in ui.client.get("/").text  # the header's name links here


def test_changing_the_password_on_the_page(ui: UI) -> None:  # noqa: F811
    _signed_in(ui, "pw-page@example.com")
    page = ui.client.get("/account")

    def post(current: str, new: str, again: str) -> Any:
        data = {
            "csrf_token": csrf(page.text),
            "current_password": current,
            "password": new,
            "password_again": again,
        }
        return ui.client.post("/account/password", data=data, follow_redirects=False)

    wrong = post("not the password", NEW_PASSWORD, NEW_PASSWORD)
    assert wrong.status_code == 403 and "The current password is wrong." in wrong.text
    differ = post(PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert differ.status_code == 422
    done = post(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/account?done=password"
    assert "Your other sessions have ended." in ui.client.get("/account?done=password").text
    assert ui.client.post("/account/password", data={"password": "x"}).status_code == 403  # CSRF


def test_changing_the_email_through_the_mailed_link(ui: UI) -> None:  # noqa: F811
    _signed_in(ui, "mover-page@example.com")
    page = ui.client.get("/account")
    data = {"csrf_token": csrf(page.text), "email": "moved-page@example.com", "password": PASSWORD}
    sent = ui.client.post("/account/email", data=data)
    assert sent.status_code == 200 and "moved-page@example.com" in sent.text
    [mail] = _mails(ui, "moved-page@example.com")
    url = mail["link"].removeprefix("http://testserver")
    assert url.startswith("/email-change/")
    fresh(ui)  # the link may be opened anywhere: it is the proof
    confirm = ui.client.get(url)
    assert confirm.status_code == 200 and "Confirm the new e-mail" in confirm.text
    done = ui.client.post(url, data={"csrf_token": csrf(confirm.text)})
    assert done.status_code == 200 and "it is now moved-page@example.com" in done.text
    again = ui.client.post(url, data={"csrf_token": csrf(confirm.text)})
    assert again.status_code == 400 and "invalid, used or expired" in again.text
    assert _mails(ui, "mover-page@example.com"), "the old address is told"
    bad = _signed_in(ui, "bad-page@example.com").client.get("/account")
    refused = ui.client.post(
        "/account/email",
        data={"csrf_token": csrf(bad.text), "email": "not an address", "password": PASSWORD},
    )
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
