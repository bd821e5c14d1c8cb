"""The phone-first quick search: digits-only phone matching on SQLite and PostgreSQL, record
rules, the recent history of a hit, and the /search page (redirect on one exact hit)."""

from __future__ import annotations

from typing import Any

import pytest
from crmgen_runtime import crud
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.web import search

from tests.backend.conftest import Backend, crm, crm_backend, dialect  # noqa: F401
from tests.ui.test_pages import UI, admin, ui  # noqa: F401


def _post(crm: Backend, who: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    response = crm.client.post(f"/api/{path}", json=payload, headers=crm.as_user(who))
    assert response.status_code == 201, response.text
    return dict(response.json())


def _search(crm: Backend, who: str, query: str) -> list[Any]:  # noqa: F811
    site = crm.gen.app.web.SITE
    return list(search.search(site, crm.database, crm.users[who], query, "en"))


def test_phone_queries_are_told_from_names(crm: Backend) -> None:  # noqa: F811
    digits = search.phone_digits
    assert digits("+7 (912) 34") == "791234"
    assert digits("912-34") == "91234"
    assert digits("(912) 34") == "91234"
    assert digits("91") is None  # too few digits to mean a phone
    assert digits("Ivan 912") is None
    assert digits("ivanov") is None


def test_any_formatting_finds_any_other_and_rules_hide_other_sellers(
    crm: Backend,  # noqa: F811
) -> None:
    mine = _post(
        crm, "sales", "contacts", {"full_name": "Ivan Petrov", "phone": "+7 (912) 345-67-89"}
    )
    _post(crm, "sales2", "contacts", {"full_name": "Olga Sidorova", "phone": "8 912 345 00 11"})
    _post(crm, "sales", "contacts", {"full_name": "Nobody Else", "phone": "+1 555 0100"})

    for query in ("912 34", "91234", "+7 (912) 345", "9123456789", "345-67"):
        hits = _search(crm, "sales", query)
        assert [(h.path, h.id) for h in hits] == [("contacts", mine["id"])], query
    [hit] = _search(crm, "sales", "79123456789")
    assert hit.exact and hit.display == "Ivan Petrov"
    [partial] = _search(crm, "sales", "912345")
    assert not partial.exact
    [trunk] = _search(crm, "sales", "8 912 345-67-89")  # the national prefix instead of +7
    assert trunk.exact and trunk.id == mine["id"]

    both = _search(crm, "admin", "912 345")
    assert {h.display for h in both} == {"Ivan Petrov", "Olga Sidorova"}
    assert _search(crm, "sales2", "67-89") == []  # sales2 may not list sales' contact


def test_names_are_searched_when_the_query_is_no_phone(crm: Backend) -> None:  # noqa: F811
    _post(crm, "sales", "contacts", {"full_name": "Ivan Petrov", "phone": "+7 912 000 11 22"})
    _post(crm, "sales", "companies", {"name": "Petrov & Sons"})
    hits = _search(crm, "sales", "petrov")
    assert {(h.path, h.display) for h in hits} == {
        ("contacts", "Ivan Petrov"),
        ("companies", "Petrov & Sons"),
    }
    [exact] = _search(crm, "sales", "ivan petrov")
    assert exact.exact
    assert _search(crm, "sales", "2024") == []  # digits no phone holds: a text search


def test_a_hit_shows_its_latest_interactions_tasks_and_deals(crm: Backend) -> None:  # noqa: F811
    contact = _post(
        crm, "sales", "contacts", {"full_name": "Caller One", "phone": "+7 900 111 22 33"}
    )
    for n in range(7):
        _post(crm, "sales", "interactions", {"gist": f"Call {n}", "contact": contact["id"]})
    _post(crm, "sales", "tasks", {"title": "Call back", "contact": contact["id"]})
    _post(crm, "sales", "deals", {"name": "Big deal", "contact": contact["id"]})
    # another seller's interaction with the same contact stays out of sales' view (sales2
    # may not link sales' contact: the admin writes it down for them)
    secret = {"gist": "Secret call", "contact": contact["id"], "owner": crm.users["sales2"].id}
    _post(crm, "admin", "interactions", secret)

    [hit] = _search(crm, "sales", "111 22")
    calls = next(s for s in hit.history if s["items"][0]["display"].startswith("Call "))
    assert calls["total"] == 7
    assert [i["display"] for i in calls["items"]] == [
        "Call 6",
        "Call 5",
        "Call 4",
        "Call 3",
        "Call 2",
    ]
    shown = {i["display"] for s in hit.history for i in s["items"]}
    assert {"Call back", "Big deal"} <= shown and "Secret call" not in shown

    [admin_hit] = _search(crm, "admin", "111 22")
    admin_calls = next(s for s in admin_hit.history if s["label"] == calls["label"])
    assert admin_calls["total"] == 8


# --- the page ------------------------------------------------------------------------------


def _contact(ui: UI, name: str, phone: str) -> int:  # noqa: F811
    resource = ui.gen.resources.RESOURCES["contacts"]
    with ui.database.session() as session:
        admin_id = session.scalar(
            ui.gen.models.User.__table__.select()
            .with_only_columns(ui.gen.models.User.id)
            .where(ui.gen.models.User.email == "admin@example.com")
        )
    user = CurrentUser(
        id=admin_id,
        email="admin@example.com",
        name="",
        roles=frozenset({"admin"}),
        superuser=True,
        extra={},
    )
    record = crud.create_record(
        ui.database, resource, user, {"full_name": name, "phone": phone}, None
    )
    return int(record["id"])


def test_the_whole_number_opens_the_card_and_a_part_lists_cards(admin: UI) -> None:  # noqa: F811
    first = _contact(admin, "Page Caller", "+7 (495) 123-45-67")
    _contact(admin, "Page Caller Two", "+7 (495) 123-99-00")
    for whole in ("+74951234567", "8 495 123-45-67", "(495) 123 45 67"):
        # the country code, the national trunk prefix or none: the same number, its card
        exact = admin.client.get("/search", params={"q": whole}, follow_redirects=False)
        assert exact.status_code == 303, whole
        assert exact.headers["location"] == f"/contacts/{first}"
    other = admin.client.get("/search", params={"q": "8 496 1234567"}, follow_redirects=False)
    assert other.status_code == 200  # another area code: no hit, the results page

    page = admin.client.get("/search", params={"q": "495 123"})
    assert page.status_code == 200
    assert "Page Caller" in page.text and "Page Caller Two" in page.text
    assert f'href="/contacts/{first}"' in page.text
    assert 'href="tel:+74951234567"' in page.text
    assert "8 (495) 123-45-67" in page.text  # a number of the region: national
    assert 'value="495 123"' in page.text  # the query stays in the box


@pytest.mark.parametrize("query", ["\x00", "%", "_", "' or 1=1 --", "x" * 5000, "(((", "+"])
def test_odd_queries_are_pages_not_errors(admin: UI, query: str) -> None:  # noqa: F811
    response = admin.client.get("/search", params={"q": query})
    assert response.status_code == 200
    assert 'id="search-q"' in response.text


def test_search_needs_a_signed_in_user(ui: UI) -> None:  # noqa: F811
    ui.client.cookies.clear()
    response = ui.client.get("/search?q=123", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


# --- phones in E.164 (app.phone_region: RU) ---------------------------------------------------


def test_phones_are_stored_in_e164_and_the_country_counts(crm: Backend) -> None:  # noqa: F811
    ivan = _post(crm, "sales", "contacts", {"full_name": "Ivan E164", "phone": "8 912 345-67-89"})
    assert ivan["phone"] == "+79123456789"  # read in the default region, stored in E.164
    british = _post(
        crm, "sales", "contacts", {"full_name": "Brit E164", "phone": "+44 912 345 67 89"}
    )
    assert british["phone"] == "+449123456789"
    for query in ("8 912 345-67-89", "+7 912 345 67 89"):  # the same contact, however written
        [hit] = _search(crm, "sales", query)
        assert hit.exact and hit.id == ivan["id"], query
        listed = crm.client.get(
            "/api/contacts", params={"phone": query}, headers=crm.as_user("sales")
        )
        assert [i["id"] for i in listed.json()["items"]] == [ivan["id"]], query
        searched = crm.client.get(
            "/api/contacts", params={"q": query}, headers=crm.as_user("sales")
        )
        assert [i["id"] for i in searched.json()["items"]] == [ivan["id"]], query
    [other] = _search(crm, "sales", "+44 912 345 67 89")  # the same digits, another country
    assert other.id == british["id"]


def test_a_number_that_cannot_be_read_is_refused(crm: Backend) -> None:  # noqa: F811
    for bad in ("000", "+7 12", "8 912 345 67 89 12 34 56"):
        response = crm.client.post(
            "/api/contacts",
            json={"full_name": "Bad Number", "phone": bad},
            headers=crm.as_user("sales"),
        )
        assert response.status_code == 422, bad
        message = response.json()["error"]["fields"]["phone"]
        assert "country code" in message and "RU" in message
