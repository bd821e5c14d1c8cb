"""``crmgen_runtime.web.site``: one app's web UI (its ``ui.json``, words, templates and the
entities with pages), its pages through real requests, and the helpers every page uses."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import rt_crm
from conftest import WebClient
from crmgen_runtime import validation
from crmgen_runtime.web import site as web_site
from crmgen_runtime.web.site import Site
from rt_web import LABELS, ui_data
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An app folder with its ``ui.json`` and a message of its own."""
    (tmp_path / "ui.json").write_text(json.dumps(ui_data()), encoding="utf-8")
    (tmp_path / "messages").mkdir()
    words = {"forbidden": {"en": "Not for you", "ru": "Нельзя"}, "hello": {"ru": "Привет"}}
    (tmp_path / "messages" / "mine.json").write_text(json.dumps(words), encoding="utf-8")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "hello.html").write_text(
        "{{ title }}|{{ t('hello') }}|{{ pick(entity.label) }}|{{ plural }}|{{ base }}|"
        "{% for g in nav %}{{ g.label }}:{% for i in g['items'] %}{{ i.label }},{% endfor %}"
        "{% endfor %}|{{ csrf_field }}={{ csrf }}|{{ here }}",
        encoding="utf-8",
    )
    return tmp_path


@pytest.fixture
def site(root: Path) -> Site:
    return Site(rt_crm.catalog, root)


def make_request(headers: dict[str, str] | None = None, path: str = "/") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request(
        {"type": "http", "method": "GET", "path": path, "headers": raw, "query_string": b""}
    )


def test_a_site_reads_the_apps_ui_data_and_words(site: Site, root: Path) -> None:
    assert site.root == root
    assert site.catalog is rt_crm.catalog
    assert site.formats is rt_crm.catalog.config.formats
    assert site.locales == ("en", "ru")
    assert set(site.entities) == set(LABELS)
    # "login" is the UI's own path: it has no pages, though the spec names it
    assert site.pages == {
        path: rt_crm.catalog.resources[path] for path in ("users", "companies", "deals")
    }
    assert site.messages["en"]["forbidden"] == "Not for you"


def test_two_sites_in_one_process_keep_their_own_data(root: Path) -> None:
    other = {
        **ui_data(),
        "title": {"en": "Other"},
        "entities": {"deals": ui_data()["entities"]["deals"]},
    }
    first, second = Site(rt_crm.catalog, root), Site(rt_crm.catalog, root, spec=other)
    assert set(first.pages) == {"users", "companies", "deals"}
    assert set(second.pages) == {"deals"}
    assert first.pick(first.spec["title"], "en") != second.pick(second.spec["title"], "en")


def test_the_locale_comes_from_the_cookie_then_the_browser_then_the_spec(site: Site) -> None:
    assert site.locale_of(make_request({"cookie": "locale=ru"})) == "ru"
    assert (
        site.locale_of(make_request({"cookie": "locale=xx", "accept-language": "de, ru-RU;q=0.8"}))
        == "ru"
    )
    assert site.locale_of(make_request({"accept-language": "de"})) == "en"
    assert site.locale_of(make_request()) == "en"


def test_words_fall_back_to_english_then_to_the_key(site: Site) -> None:
    t = site.translator("ru")
    assert t("forbidden") == "Нельзя"
    assert t("hello") == "Привет"
    assert site.translator("en")("hello") == "hello"
    assert site.translator("zz")("forbidden") == "Not for you"


def test_labels_fall_back_to_the_default_locale_then_to_any(site: Site) -> None:
    assert site.pick({"en": "Deal", "ru": "Сделка"}, "ru") == "Сделка"
    assert site.pick({"en": "Deal"}, "ru") == "Deal"
    assert site.pick({"zh": "交易"}, "ru") == "交易"
    assert site.pick(None, "ru") == ""
    assert site.pick({}, "ru") == ""


def test_the_apis_field_messages_are_translated(site: Site) -> None:
    errors = {
        "name": validation.message("required"),
        "title": validation.message("too_short", min=3),
        "x": "Something else went wrong.",
    }
    english = site.field_errors(errors, "en")
    assert english["name"] == site.translator("en")("invalid_required")
    assert "3" in english["title"]
    assert english["x"] == "Something else went wrong."
    assert site.field_errors(errors, "ru")["name"] == site.translator("ru")("invalid_required")


def test_cells_show_values_as_people_read_them(site: Site) -> None:
    assert site.cell({}, None, "en") == ""
    assert site.cell({}, {"id": 3, "display": "Acme"}, "en") == "Acme"
    assert site.cell({}, {"id": 3}, "en") == "#3"
    choices = {"choices": [["new", {"en": "New", "ru": "Новая"}]]}
    assert site.cell(choices, "new", "ru") == "Новая"
    assert site.cell(choices, "other", "ru") == "other"
    assert site.cell({}, True, "en") == site.translator("en")("yes")
    assert site.cell({}, False, "en") == site.translator("en")("no")
    assert site.cell({}, [{"id": 1, "display": "A"}, {"id": 2, "display": "B"}], "en") == "A, B"
    assert site.cell({}, {"a": "é"}, "en") == '{"a": "é"}'
    assert "12.50" in site.cell({"currency": "USD"}, Decimal("12.5"), "en")
    assert site.cell({"type": "integer"}, 1234567, "en") == "1,234,567"
    assert site.cell({"type": "bigint"}, -(2**62), "en") == "-4,611,686,018,427,387,904"
    assert site.cell({"type": "float"}, 0.1 + 0.2, "ru") == "0,3"  # 15 significant digits
    assert site.cell({"type": "float"}, 1e308, "en") == "1E308"
    assert site.cell({"type": "time"}, "09:30:00", "en") == "09:30"
    assert site.cell({"type": "time"}, dt.time(9, 30, 15), "en") == "09:30:15"
    assert site.cell({"type": "date"}, dt.date(2024, 5, 13), "en") == "May 13, 2024"
    assert site.cell({"type": "datetime"}, "2024-05-12T21:30:00Z", "en").startswith("May 12, 2024")
    assert site.cell({}, dt.datetime(2024, 5, 12, 21, 30, tzinfo=dt.UTC), "en").startswith(
        "May 12, 2024"
    )
    assert site.cell({}, dt.date(2024, 5, 13), "en") == "May 13, 2024"
    assert site.cell({"type": "string"}, "text", "en") == "text"


def test_form_inputs_show_stored_values(site: Site) -> None:
    text = {"widget": "text"}
    assert site.form_value(text, None) == ""
    assert site.form_value(text, {"id": 7, "display": "x"}) == "7"
    assert site.form_value(text, True) == "on"
    assert site.form_value(text, False) == ""
    assert site.form_value(text, 5) == "5"
    moment = {"widget": "datetime-local"}
    assert site.form_value(moment, "2024-05-12T21:30:00Z") == "2024-05-12T21:30"
    assert site.form_value(moment, "never") == "never"


def test_the_menu_shows_what_the_user_may_open(site: Site) -> None:
    admin = site.navigation(rt_crm.Crm.admin, "en")
    assert [i["label"] for i in admin[0]["items"]] == [
        "Deals",
        "Deals · " + site.translator("en")("view_kanban"),
    ]
    manager = rt_crm.Crm.person(9, "manager")
    assert any(
        i["url"] == "/dashboards/overview" for i in site.navigation(manager, "en")[0]["items"]
    )
    clerk = site.navigation(rt_crm.Crm.clerk, "en")
    assert all(i["url"] != "/dashboards/overview" for g in clerk for i in g["items"])
    assert len(admin) == 1  # a group with nothing to show is left out


def test_entity_pages_know_their_labels_and_base(site: Site) -> None:
    context = site.entity_context("deals", "ru", extra=1)
    assert context["singular"] == "Deal-ru"
    assert context["plural"] == "Deals"
    assert context["base"] == "/deals/"
    assert context["extra"] == 1


def test_only_local_paths_are_followed_after_signing_in() -> None:
    assert web_site.safe_next("/deals/") == "/deals/"
    for bad in (None, "", "https://evil.example", "//evil.example", "/\\evil"):
        assert web_site.safe_next(bad) == "/"


def test_permissions_of_a_whole_action() -> None:
    assert web_site.allowed(rt_crm.deals, rt_crm.Crm.admin, "list")
    assert not web_site.allowed(rt_crm.deals, None, "list")
    assert not web_site.allowed(rt_crm.deals, rt_crm.Crm.admin, "fly")
    assert not web_site.allowed(rt_crm.deals, rt_crm.Crm.clerk, "create")


# --- pages through requests -----------------------------------------------------------------


def pages(site: Site) -> list[Route]:
    """A few pages built from the site's parts, as the UI's modules build theirs."""

    async def hello(request: Request) -> Response:
        user, denied = await site.guard(request, site.pages["deals"], "list")
        if denied is not None:
            return denied
        locale = site.locale_of(request)
        return site.render(request, "hello.html", site.entity_context("deals", locale), user=user)

    async def record(request: Request) -> Response:
        user, denied = await site.guard(request, site.pages["deals"], "read")
        if denied is not None:
            return denied
        found = web_site.fetch_record(
            request.app.state.db, site.pages["deals"], user, request.path_params["id"], "read"
        )
        if found is None:
            return site.error_page(request, 404, "not_found", user)
        return JSONResponse({"title": found.get("title")})

    async def post(request: Request) -> Response:
        form = await web_site.read_form(request)
        if not web_site.csrf_ok(request, form):
            return site.error_page(request, 403, "csrf_failed", detail="csrf")
        pairs = await web_site.read_pairs(request)
        return web_site.redirect(
            request, "/done?n=" + str(len(pairs)) + web_site.client_ip(request)[:0]
        )

    async def token(request: Request) -> Response:
        response = JSONResponse({"token": web_site.csrf_token(request)})
        return web_site.secure(request, response)

    return [
        Route("/hello", hello),
        Route("/deals/{id:int}", record),
        Route("/post", post, methods=["POST"]),
        Route("/token", token),
    ]


@pytest.fixture
def client(site: Site, web_client: WebClient) -> TestClient:
    return web_client(pages(site), site=site, PUBLIC_URL="http://testserver")


def test_a_page_renders_with_what_every_page_shows(client: TestClient) -> None:
    answer = client.get("/hello?x=1", headers={"X-User": "admin", "Cookie": "locale=ru"})
    assert answer.status_code == 200
    title, hello, label, plural, base, nav, csrf, here = answer.text.split("|")
    assert (title, hello, label, plural, base) == (
        "Малая CRM",
        "Привет",
        "Deal-ru",
        "Deals",
        "/deals/",
    )
    assert nav.startswith("Sales:Deals,")
    assert csrf.startswith("csrf_token=") and len(csrf) > len("csrf_token=") + 10
    assert here == "/hello?x=1"
    for name, value in web_site.SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    assert "csrftoken" in answer.cookies  # an anonymous CSRF cookie before signing in


def test_pages_send_strangers_to_sign_in_and_refuse_the_forbidden(client: TestClient) -> None:
    anonymous = client.get("/hello")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Fhello"
    refused = client.get("/hello", headers={"X-User": "clerk"})
    assert refused.status_code == 403
    assert "Not for you" in refused.text
    assert refused.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_records_out_of_reach_are_not_found(client: TestClient) -> None:
    assert client.get("/deals/1", headers={"X-User": "admin"}).json() == {"title": "Big"}
    assert client.get("/deals/1", headers={"X-User": "bob"}).status_code == 404
    assert client.get("/deals/99", headers={"X-User": "admin"}).status_code == 404
    huge = client.get(f"/deals/{2**63}", headers={"X-User": "admin"})
    assert huge.status_code == 404


def test_forms_need_their_csrf_token_and_have_limits(client: TestClient) -> None:
    token = client.get("/token").json()["token"]
    posted = client.post("/post", data={"csrf_token": token, "a": "1"})
    assert posted.status_code == 303
    assert posted.headers["location"] == "/done?n=2"
    assert client.post("/post", data={"csrf_token": "forged"}).status_code == 403
    too_big = client.post("/post", content=b"a=" + b"x" * web_site.MAX_FORM_BYTES)
    assert too_big.status_code == 413
    too_many = "&".join(f"f{i}=1" for i in range(web_site.MAX_FORM_FIELDS + 1))
    answer = client.post(
        "/post", content=too_many, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 413
