"""The generated web UI, in process: examples/crm on SQLite with the real auth middleware."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from crmgen_runtime import auth
from crmgen_runtime.db import Database
from starlette.testclient import TestClient

from tests.app_settings import app_settings_env
from tests.backend.conftest import Generated, generated

PASSWORD = "correct horse battery"


class UI:
    def __init__(self, gen: Generated, database: Any, client: TestClient) -> None:
        self.gen, self.database, self.client = gen, database, client
        self.catalog = gen.resources.CATALOG
        self.settings = None

    def user(self, email: str, *roles: str) -> None:
        with self.database.session() as session:
            auth.create_user(self.catalog, session, email=email, password=PASSWORD, roles=roles)

    def login(self, email: str) -> None:
        page = self.client.get("/login")
        response = self.client.post(
            "/login",
            data={
                "csrf_token": csrf(page.text),
                "email": email,
                "password": PASSWORD,
                "next": "/",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/"


def fresh(ui: UI) -> None:
    """No session, no CSRF cookie; English pages (the crm example defaults to ru)."""
    ui.client.cookies.clear()
    ui.client.cookies.set("locale", "en")


def csrf(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, text
    return match.group(1)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    gen = generated("crm", tmp_path_factory)
    path = tmp_path_factory.mktemp("ui_db") / "ui.sqlite3"
    database = Database(f"sqlite:///{path}")
    gen.models.Base.metadata.create_all(database.engine)
    settings = gen.app.startup_settings(app_settings_env(DATABASE_URL=f"sqlite:///{path}"))
    app = gen.app.create_app(settings, database=database)  # the real AuthMiddleware
    admin = min(gen.resources.SUPERUSER_ROLES)
    with TestClient(app, raise_server_exceptions=True) as client:
        state = UI(gen, database, client)
        state.user("admin@example.com", admin)
        yield state
    database.dispose()


@pytest.fixture
def admin(ui: UI) -> UI:
    fresh(ui)
    ui.login("admin@example.com")
    return ui


def test_anonymous_home_redirects_to_login(ui: UI) -> None:
    fresh(ui)
    response = ui.client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    response = ui.client.get("/companies/", follow_redirects=False)
    assert response.headers["location"] == "/login?next=%2Fcompanies%2F"


def test_login_page_has_a_csrf_field_and_security_headers(ui: UI) -> None:
    fresh(ui)
    response = ui.client.get("/login")
    assert response.status_code == 200
    assert csrf(response.text)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in response.text  # no inline script
    assert ui.client.get("/static/app.css").status_code == 200
    assert ui.client.get("/static/app.js").status_code == 200


def test_a_post_without_csrf_is_403(ui: UI) -> None:
    fresh(ui)
    ui.client.get("/login")
    data = {"email": "admin@example.com", "password": PASSWORD}
    response = ui.client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    response = ui.client.post(
        "/login", data={**data, "csrf_token": "forged"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "session" not in response.cookies


def test_wrong_password_is_shown(ui: UI) -> None:
    fresh(ui)
    page = ui.client.get("/login")
    response = ui.client.post(
        "/login",
        data={
            "csrf_token": csrf(page.text),
            "email": "admin@example.com",
            "password": "nope-nope",
        },
    )
    assert response.status_code == 401
    assert "The e-mail or the password is wrong." in response.text
    assert 'value="admin@example.com"' in response.text


def test_login_then_home_lists_navigation_and_logout(admin: UI) -> None:
    home = admin.client.get("/")
    assert home.status_code == 200
    assert 'href="/companies/"' in home.text
    response = admin.client.post(
        "/logout", data={"csrf_token": csrf(home.text)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert admin.client.get("/", follow_redirects=False).status_code == 303


def test_list_shows_columns_and_translated_labels(admin: UI) -> None:
    page = admin.client.get("/companies/")
    assert page.status_code == 200
    assert ">Industry</a>" in page.text and ">Parent company</a>" in page.text
    switch = admin.client.get("/locale?set=ru&next=/companies/", follow_redirects=False)
    assert switch.headers["location"] == "/companies/"
    admin.client.cookies.set("locale", switch.cookies["locale"])
    page = admin.client.get("/companies/")
    assert "Компании-клиенты" in page.text
    assert ">Отрасль</a>" in page.text and ">Головная компания</a>" in page.text
    assert "Поиск" in page.text  # a built-in UI string
    admin.client.cookies.set("locale", "en")


def test_create_through_the_form_escapes_values_and_searches(admin: UI) -> None:
    form = admin.client.get("/companies/new")
    assert form.status_code == 200
    assert 'name="industry"' in form.text and '<option value="retail">' in form.text
    hostile = "<script>alert(1)</script>"
    response = admin.client.post(
        "/companies/new",
        data={
            "csrf_token": csrf(form.text),
            "name": hostile,
            "industry": "retail",
            "employees": "12",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    detail = admin.client.get(response.headers["location"])
    assert detail.status_code == 200
    assert hostile not in detail.text
    assert (
        html.escape(hostile) in detail.text
        or "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text
    )
    listing = admin.client.get("/companies/?q=alert")
    assert "&lt;script&gt;" in listing.text and "Retail" in listing.text
    assert "Nothing here yet." in admin.client.get("/companies/?q=zzzznothing").text


def test_validation_errors_are_shown_next_to_the_field_with_the_input_kept(
    admin: UI,
) -> None:
    form = admin.client.get("/companies/new")
    response = admin.client.post(
        "/companies/new",
        data={"csrf_token": csrf(form.text), "name": "Kept name", "employees": "-5"},
    )
    assert response.status_code == 422
    assert 'value="Kept name"' in response.text and 'value="-5"' in response.text
    field = re.search(r'<div class="field invalid">(.*?)</div>', response.text, re.DOTALL)
    assert field and 'name="employees"' in field.group(1) and 'class="error"' in field.group(1)


def test_edit_with_a_stale_version_shows_the_conflict_and_keeps_input(
    admin: UI,
) -> None:
    form = admin.client.get("/companies/new")
    created = admin.client.post(
        "/companies/new",
        data={"csrf_token": csrf(form.text), "name": "Stale Ltd"},
        follow_redirects=False,
    )
    url = created.headers["location"]
    edit = admin.client.get(url + "/edit")
    version = re.search(r'name="version" value="(\d+)"', edit.text).group(1)  # type: ignore[union-attr]
    token = csrf(edit.text)
    first = admin.client.post(
        url + "/edit",
        data={"csrf_token": token, "version": version, "name": "First Ltd"},
        follow_redirects=False,
    )
    assert first.status_code == 303
    second = admin.client.post(
        url + "/edit",
        data={"csrf_token": token, "version": version, "name": "My own edit"},
    )
    assert second.status_code == 409
    assert "Someone else changed this record" in second.text
    assert 'value="My own edit"' in second.text


def test_delete_asks_for_confirmation(admin: UI) -> None:
    form = admin.client.get("/companies/new")
    created = admin.client.post(
        "/companies/new",
        data={"csrf_token": csrf(form.text), "name": "Gone Ltd"},
        follow_redirects=False,
    )
    url = created.headers["location"]
    confirm = admin.client.get(url + "/delete")
    assert confirm.status_code == 200 and "data-confirm" in confirm.text
    assert admin.client.post(url + "/delete", data={}).status_code == 403
    done = admin.client.post(
        url + "/delete", data={"csrf_token": csrf(confirm.text)}, follow_redirects=False
    )
    assert done.status_code == 303
    assert admin.client.get(url).status_code == 404


def test_unknown_and_huge_ids_are_404_pages(admin: UI) -> None:
    assert admin.client.get("/companies/999999").status_code == 404
    assert admin.client.get("/companies/99999999999999999999/edit").status_code == 404
