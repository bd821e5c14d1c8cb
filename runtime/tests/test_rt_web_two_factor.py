"""``crmgen_runtime.web.two_factor``: the sign-in's second step, setting two-factor up from the
account page and from a required sign-in, recovery codes and one's sessions, through real
requests on the small CRM (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import html
import re
import time
from collections.abc import Callable

import pyotp
import pytest
import rt_crm
import sqlalchemy as sa
import test_rt_web_pages
from crmgen_runtime import auth, twofactor
from starlette.testclient import TestClient
from test_rt_web_pages import PASSWORD, csrf_of, sign_in

EMAIL = "cy@example.com"
web = test_rt_web_pages.web  # the fixture: the sign-in and account pages of the small CRM


def add_user(crm: rt_crm.Crm, email: str = EMAIL, *roles: str) -> None:
    with crm.database.session() as session:
        auth.create_user(crm.catalog, session, email=email, password=PASSWORD, roles=roles)


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"the page has a hidden {name}"
    return html.unescape(found.group(1))


def secret_of(page: str) -> str:
    found = re.search(r'<code id="secret">([A-Z2-7]+)</code>', page)
    assert found, "the setup page shows the secret"
    return found.group(1)


def codes_of(page: str) -> list[str]:
    return re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", page)


def test_turning_it_on_and_signing_in_with_a_code(
    web: Callable[..., TestClient], crm_web: rt_crm.Crm
) -> None:
    client = web()
    add_user(crm_web, EMAIL, "sales")
    sign_in(client, EMAIL)
    page = client.get("/account")
    assert "/account/two-factor/setup" in page.text and "/account/sessions/" not in page.text
    setup = client.post(
        "/account/two-factor/setup", data={"csrf_token": csrf_of(client, "/account")}
    )
    assert setup.status_code == 200 and '<svg xmlns="http://www.w3.org/2000/svg"' in setup.text
    secret = secret_of(setup.text)
    form = {"csrf_token": hidden(setup.text, "csrf_token"), "token": "", "next": "/account"}
    wrong = client.post("/two-factor/confirm", data={**form, "code": "000000"})
    assert wrong.status_code == 200 and 'id="code_problem"' in wrong.text
    form["csrf_token"] = hidden(wrong.text, "csrf_token")
    done = client.post("/two-factor/confirm", data={**form, "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and len(codes_of(done.text)) == 10
    assert done.headers["cache-control"] == "no-store"
    client.cookies.clear()

    step = sign_in(client, EMAIL)
    assert step.status_code == 200 and 'action="/login/code"' in step.text
    assert PASSWORD not in step.text  # the second step carries a token, not the password
    second = {
        "csrf_token": hidden(step.text, "csrf_token"),
        "token": hidden(step.text, "token"),
        "next": "/account",
    }
    bad = client.post("/login/code", data={**second, "code": "123456"})
    assert bad.status_code == 401 and 'id="code_problem"' in bad.text
    later = pyotp.TOTP(secret).at(time.time() + 30)
    good = client.post("/login/code", data={**second, "code": later})
    assert (good.status_code, good.headers["location"]) == (303, "/account")
    account = client.get("/account")
    assert "/account/two-factor/disable" in account.text


def test_a_required_role_sets_it_up_at_its_first_sign_in(
    web: Callable[..., TestClient], crm_web: rt_crm.Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = dataclasses.replace(crm_web.catalog.config, two_factor_required=frozenset({"admin"}))
    monkeypatch.setattr(crm_web.catalog, "config", config)
    client = web()
    add_user(crm_web, "root@example.com", "admin")
    setup = sign_in(client, "root@example.com", next="/account")
    assert setup.status_code == 200 and 'action="/two-factor/confirm"' in setup.text
    assert client.get("/account").status_code == 303  # no session yet
    form = {
        "csrf_token": hidden(setup.text, "csrf_token"),
        "token": hidden(setup.text, "token"),
        "next": hidden(setup.text, "next"),
        "code": pyotp.TOTP(secret_of(setup.text)).now(),
    }
    done = client.post("/two-factor/confirm", data=form)
    assert done.status_code == 200 and len(codes_of(done.text)) == 10
    assert 'href="/account"' in done.text
    page = client.get("/account")
    assert page.status_code == 200 and "/account/two-factor/disable" not in page.text


def test_ones_sessions_on_the_account_page(
    web: Callable[..., TestClient], crm_web: rt_crm.Crm
) -> None:
    add_user(crm_web, EMAIL, "sales")
    elsewhere, here = web(), web()
    sign_in(elsewhere, EMAIL)
    sign_in(here, EMAIL)
    page = here.get("/account").text
    ends = re.findall(r'action="(/account/sessions/\d+/end)"', page)
    assert len(ends) == 1  # the other session; this one is marked, not ended from here
    ended = here.post(ends[0], data={"csrf_token": csrf_of(here, "/account")})
    assert ended.headers["location"] == "/account?done=session_ended"
    assert elsewhere.get("/account").status_code == 303  # signed out there
    refused = here.post(
        "/account/sessions/999999/end", data={"csrf_token": csrf_of(here, "/account")}
    )
    assert refused.status_code == 404


def test_ones_name_on_the_account_page(web: Callable[..., TestClient], crm_web: rt_crm.Crm) -> None:
    client = web()
    add_user(crm_web, EMAIL, "sales")
    sign_in(client, EMAIL)
    csrf = csrf_of(client, "/account")
    empty = client.post("/account/name", data={"csrf_token": csrf, "name": " "})
    assert empty.status_code == 422 and 'id="name_problem"' in empty.text
    done = client.post("/account/name", data={"csrf_token": csrf, "name": "Cy Twain"})
    assert done.headers["location"] == "/account?done=name"
    assert 'value="Cy Twain"' in client.get("/account").text


def test_ones_language_follows_one_to_another_browser(
    web: Callable[..., TestClient], crm_web: rt_crm.Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = dataclasses.replace(crm_web.catalog.config, locales=("en", "ru"))
    monkeypatch.setattr(crm_web.catalog, "config", config)
    here, there = web(), web()
    add_user(crm_web, EMAIL, "sales")
    sign_in(here, EMAIL)
    page = here.get("/account").text
    assert '<option value="ru" lang="ru">' in page
    chosen = here.post(
        "/account/locale", data={"csrf_token": csrf_of(here, "/account"), "locale": "ru"}
    )
    assert chosen.headers["location"] == "/account?done=locale"
    assert (
        "crm_locale=ru" in chosen.headers["set-cookie"]
        or "locale=ru" in chosen.headers["set-cookie"]
    )
    # another browser, no cookie: after signing in, the account's language
    sign_in(there, EMAIL)
    there.cookies.pop("locale", None)
    assert '<html lang="ru"' in there.get("/account").text
    bad = here.post(
        "/account/locale", data={"csrf_token": csrf_of(here, "/account"), "locale": "xx"}
    )
    assert bad.status_code == 422
    back = here.post(
        "/account/locale", data={"csrf_token": csrf_of(here, "/account"), "locale": ""}
    )
    assert back.headers["location"] == "/account?done=locale"


def test_turning_it_off_and_new_recovery_codes_on_the_account_page(
    web: Callable[..., TestClient], crm_web: rt_crm.Crm
) -> None:
    client = web()
    add_user(crm_web, EMAIL, "sales")
    sign_in(client, EMAIL)
    setup = client.post(
        "/account/two-factor/setup", data={"csrf_token": csrf_of(client, "/account")}
    )
    secret = secret_of(setup.text)
    form = {"csrf_token": hidden(setup.text, "csrf_token"), "token": "", "next": "/account"}
    client.post("/two-factor/confirm", data={**form, "code": pyotp.TOTP(secret).now()})
    # on already: a second setup goes back to the account page
    again = client.post(
        "/account/two-factor/setup", data={"csrf_token": csrf_of(client, "/account")}
    )
    assert again.headers["location"] == "/account"
    csrf = csrf_of(client, "/account")
    wrong = client.post(
        "/account/two-factor/recovery-codes", data={"csrf_token": csrf, "password": "nope"}
    )
    assert wrong.status_code == 403 and 'id="two_factor_problem"' in wrong.text
    fresh = client.post(
        "/account/two-factor/recovery-codes", data={"csrf_token": csrf, "password": PASSWORD}
    )
    assert fresh.status_code == 200 and len(codes_of(fresh.text)) == 10
    off = {"csrf_token": csrf, "password": PASSWORD}
    bad_code = client.post("/account/two-factor/disable", data={**off, "code": "000000"})
    assert bad_code.status_code == 422 and 'id="two_factor_problem"' in bad_code.text
    done = client.post("/account/two-factor/disable", data={**off, "code": codes_of(fresh.text)[0]})
    assert done.headers["location"] == "/account?done=two_factor_off"
    assert "/account/two-factor/setup" in client.get("/account").text
    # the forms need their CSRF token and a signed-in user
    for path in (
        "/account/two-factor/setup",
        "/account/two-factor/disable",
        "/account/two-factor/recovery-codes",
        "/account/sessions/1/end",
        "/account/name",
        "/account/locale",
    ):
        assert client.post(path, data={"csrf_token": "forged"}).status_code == 403, path
    stranger = web()
    for path in ("/account/two-factor/setup", "/account/two-factor/disable", "/two-factor/confirm"):
        assert stranger.post(path, data={}).status_code in (303, 403), path


def test_an_expired_or_forged_second_step_starts_over(
    web: Callable[..., TestClient], crm_web: rt_crm.Crm
) -> None:
    client = web()
    add_user(crm_web, EMAIL, "sales")
    with crm_web.database.session() as session:
        user_id = session.scalar(sa.select(crm_web.User.id).where(crm_web.User.email == EMAIL))
        twofactor.setup(crm_web.catalog, session, user_id, EMAIL)
    with crm_web.database.session() as session:
        row = session.scalar(sa.select(rt_crm.TwoFactor).where(rt_crm.TwoFactor.user_id == user_id))
        secret = row.secret
        twofactor.confirm(crm_web.catalog, session, user_id, pyotp.TOTP(secret).now())
    step = sign_in(client, EMAIL)
    form = {"csrf_token": hidden(step.text, "csrf_token"), "token": "forged", "next": "/"}
    forged = client.post("/login/code", data={**form, "code": "123456"})
    assert forged.status_code == 401 and 'action="/login"' in forged.text
    assert client.post("/login/code", data={**form, "csrf_token": "x"}).status_code == 403
    confirm = client.post("/two-factor/confirm", data={**form, "code": "123456"})
    assert confirm.status_code == 401 and 'action="/login"' in confirm.text
