"""``crmgen_runtime.web.search``: the quick search over the small CRM (names, record rules,
a hit's history, the page and its one-exact-hit redirect), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import WebClient, site_routes
from crmgen_runtime.web import search
from crmgen_runtime.web.site import Site
from starlette.testclient import TestClient


@pytest.fixture
def client(site: Site, web_client: WebClient) -> TestClient:
    return web_client(site_routes(site, search), site=site)


def test_phone_queries_are_told_from_names() -> None:
    assert search.phone_digits("+7 (912) 34") == "791234"
    assert search.phone_digits("91") is None
    assert search.phone_digits("Ivan 912") is None
    assert search.significant("89123456789") == "9123456789"
    assert search.same_number("+7 912 345-67-89", "89123456789")
    assert search.same_number("12-34", "1234")
    assert not search.same_number(None, "1234")


def test_the_searchable_entities(site: Site) -> None:
    assert [path for path, _ in search.searchable(site)] == ["users", "companies", "deals"]
    assert search.entity_routes("deals", rt_crm.deals) == []


def test_names_are_searched_under_the_users_rules(site: Site, crm_web: rt_crm.Crm) -> None:
    admin = search.search(site, crm_web.database, rt_crm.Crm.admin, "Acme", "en")
    (acme,) = admin
    assert (acme.path, acme.id, acme.entity, acme.display, acme.exact) == (
        "companies",
        1,
        "Company",
        "Acme",
        True,
    )
    assert acme.url == "/companies/1"
    # the deals at Acme are its history
    (deals,) = [section for section in acme.history or [] if section["label"].startswith("Deals")]
    assert [item["display"] for item in deals["items"]] == ["Big"]
    assert deals["items"][0]["url"] == "/deals/1"
    assert search.search(site, crm_web.database, rt_crm.Crm.bob, "Acme", "en") == []
    assert search.search(site, crm_web.database, rt_crm.Crm.clerk, "Acme", "en") == []


def test_a_phone_like_query_without_phones_searches_text(site: Site, crm_web: rt_crm.Crm) -> None:
    with crm_web.engine.begin() as session:  # type: ignore[union-attr]
        session.execute(
            sa.update(rt_crm.Company).where(rt_crm.Company.id == 4).values(name="555 12")
        )
    (hit,) = search.search(site, crm_web.database, rt_crm.Crm.admin, "555 12", "en")
    assert (hit.display, hit.exact) == ("555 12", True)


def test_the_page_opens_one_exact_hit_and_lists_others(client: TestClient) -> None:
    admin = {"X-User": "admin"}
    assert client.get("/search?q=Acme").headers["location"] == "/login?next=%2Fsearch"
    exact = client.get("/search?q=acme", headers=admin)
    assert (exact.status_code, exact.headers["location"]) == (303, "/companies/1")
    several = client.get("/search?q=A", headers=admin)
    assert several.status_code == 200
    assert "Acme" in several.text and "Alpha" in several.text
    assert client.get("/search?q=", headers=admin).status_code == 200
    assert client.get("/search?q=%00%01", headers=admin).status_code == 200
