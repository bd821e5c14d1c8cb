"""The list pages of the generated web UI, in process: filters per field type, bulk delete
and the CSV/XLSX export of the current filter (examples/crm on SQLite)."""

# ruff: noqa: F811  (the tests take fixtures imported from test_pages / test_browser)
from __future__ import annotations

import csv
import dataclasses
import io
import re
from typing import Any
from urllib.parse import urlencode

import openpyxl
import pytest
import sqlalchemy as sa
from crmgen_runtime import crud
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.web import lists

from crmgen.language import load_spec
from crmgen.render.web.lists import entity_data
from tests.generated_apps import ROOT
from tests.ui.test_pages import UI, csrf, fresh, ui  # noqa: F401  (``ui``: the fixture)

SELLER1, SELLER2, SUPPORT = "lists-s1@example.com", "lists-s2@example.com", "lists-sup@example.com"


@pytest.fixture(scope="module")
def people(ui: UI) -> dict[str, Any]:
    """Two sellers and a support agent with a few companies and contacts of their own."""
    ui.user(SELLER1, "sales")
    ui.user(SELLER2, "sales")
    ui.user(SUPPORT, "support")
    users = {email: principal(ui, email) for email in (SELLER1, SELLER2, SUPPORT)}
    admin = principal(ui, "admin@example.com")
    acme = create(
        ui,
        admin,
        "companies",
        name="Acme Lists",
        industry="retail",
        employees=40,
        owner=users[SELLER1].id,
    )
    globex = create(
        ui,
        admin,
        "companies",
        name="Globex Lists",
        industry="it",
        employees=5,
        owner=users[SELLER2].id,
    )
    create(ui, admin, "companies", name="Initech Lists", industry="services", employees=300)
    contacts = {
        "ada": create(
            ui,
            admin,
            "contacts",
            full_name="Ada Filter",
            company=acme,
            is_key=True,
            birthday="1990-05-01",
            discount="7.5",
            owner=users[SELLER1].id,
        ),
        "bob": create(
            ui,
            admin,
            "contacts",
            full_name="Bob Filter",
            company=globex,
            is_key=False,
            birthday="1980-01-15",
            owner=users[SELLER2].id,
        ),
        "eve": create(
            ui,
            admin,
            "contacts",
            full_name='=HYPERLINK("http://evil")',
            company=acme,
            email="eve@example.com",
            owner=users[SELLER1].id,
        ),
    }
    return {"users": users, "admin": admin, "acme": acme, "globex": globex, **contacts}


def principal(ui: UI, email: str) -> Any:
    with ui.database.session() as session:
        user = session.execute(
            sa.select(ui.gen.models.User).where(ui.gen.models.User.email == email)
        ).scalar_one()
        return CurrentUser(user.id, email, None, frozenset(user.roles))


def create(ui: UI, user: Any, path: str, **values: Any) -> int:
    resource = ui.gen.resources.RESOURCES[path]
    return int(crud.create_record(ui.database, resource, user, values, None)["id"])


def login(ui: UI, email: str) -> UI:
    fresh(ui)
    ui.login(email)
    return ui


def post(ui: UI, url: str, pairs: list[tuple[str, str]]) -> Any:
    """A form POST with repeated names (``id=1&id=2``)."""
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return ui.client.post(url, content=urlencode(pairs), headers=headers)


def names(text: str) -> list[str]:
    """The record links of a list page's table."""
    body = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<a href="/[a-z_]+/\d+">([^<]*)</a>', body)


# --- filters -------------------------------------------------------------------------------


def test_the_renderer_picks_a_widget_per_field_type() -> None:
    spec = load_spec(ROOT / "examples" / "crm")
    contact = spec.entity("Contact")
    assert entity_data(spec, contact)["filters"] == [
        {"name": "company", "kind": "ref"},
        {"name": "owner", "kind": "ref"},
        {"name": "is_key", "kind": "boolean"},
    ]
    every = dataclasses.replace(
        contact.ui.list, filters=("birthday", "discount", "full_name", "photo")
    )
    data = entity_data(
        spec, dataclasses.replace(contact, ui=dataclasses.replace(contact.ui, list=every))
    )
    # a stored file has no filter and is not exported
    assert data["filters"] == [
        {"name": "birthday", "kind": "date"},
        {"name": "discount", "kind": "number"},
        {"name": "full_name", "kind": "text"},
    ]
    assert data["export"][:7] == [
        "full_name",
        "company",
        "phone",
        "email",
        "is_key",
        "last_contacted_at",
        "owner",
    ]
    assert "photo" not in data["export"] and "notes" in data["export"]
    # without filters in the spec: a handful of enums, references, booleans and dates
    task = spec.entity("Task")
    bare = dataclasses.replace(
        task, ui=dataclasses.replace(task.ui, list=dataclasses.replace(task.ui.list, filters=()))
    )
    kinds = [f["kind"] for f in entity_data(spec, bare)["filters"]]
    assert (
        0 < len(kinds) <= 5
        and kinds[0] == "enum"
        and set(kinds) <= {"enum", "ref", "boolean", "date", "datetime"}
    )


def test_filter_widgets_show_the_current_values(ui: UI, people: dict[str, Any]) -> None:
    entity = dict(ui.gen.app.web.SITE.entities["contacts"])
    entity["lists"] = {
        "filters": [
            {"name": "birthday", "kind": "date"},
            {"name": "discount", "kind": "number"},
            {"name": "full_name", "kind": "text"},
            {"name": "company", "kind": "ref"},
        ],
        "export": [],
    }
    query = lists.ListQuery(
        filters=(
            ("birthday__gte", "1985-01-01"),
            ("discount__lte", "9"),
            ("full_name__contains", "Ada"),
        )
    )
    readable = frozenset(entity["fields"]) - {"discount"}
    widgets = lists.filter_widgets(
        ui.gen.app.web.SITE, ui.database, people["users"][SELLER1], entity, readable, query, "en"
    )
    by_name = {w["name"]: w for w in widgets}
    assert "discount" not in by_name  # a field the user may not read has no filter
    assert by_name["birthday"]["low"] == "1985-01-01" and by_name["birthday"]["high"] == ""
    assert (by_name["full_name"]["key"], by_name["full_name"]["value"]) == (
        "full_name__contains",
        "Ada",
    )
    # the seller's own companies only
    assert [o["label"] for o in by_name["company"]["options"]] == ["Acme Lists"]


def test_the_list_page_shows_a_filter_per_field_type(ui: UI, people: dict[str, Any]) -> None:
    admin = login(ui, "admin@example.com")
    page = admin.client.get("/companies/")
    assert page.status_code == 200
    assert page.text.count('name="industry__in"') == 5  # a checkbox per enum value
    assert re.search(r'<select id="filter-owner" name="owner">', page.text)
    assert re.search(rf'<option value="{people["acme"]}"[^>]*>Acme Lists</option>', page.text)
    contacts = admin.client.get("/contacts/?is_key=true")
    assert re.search(r'<select id="filter-is_key" name="is_key">', contacts.text)
    assert '<option value="true" selected>' in contacts.text
    assert '<label for="filter-is_key">Key contact</label>' in contacts.text  # labelled


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("industry__in=retail&industry__in=it", ["Acme Lists", "Globex Lists"]),
        ("industry=services", ["Initech Lists"]),
        ("employees__gte=10&employees__lte=100", ["Acme Lists"]),
        ("name__contains=glob", ["Globex Lists"]),
        ("q=Lists&industry__in=it", ["Globex Lists"]),
    ],
)
def test_company_filters(ui: UI, people: dict[str, Any], query: str, expected: list[str]) -> None:
    admin = login(ui, "admin@example.com")
    page = admin.client.get(f"/companies/?{query}" + ("" if "q=" in query else "&q=Lists"))
    assert page.status_code == 200, page.text
    assert names(page.text) == expected


def test_contact_filters_by_reference_boolean_and_dates(ui: UI, people: dict[str, Any]) -> None:
    admin = login(ui, "admin@example.com")

    def get(query: str) -> list[str]:
        return names(admin.client.get(f"/contacts/?q=Filter&{query}").text)

    assert get(f"company={people['acme']}") == ["Ada Filter"]
    assert get("is_key=true") == ["Ada Filter"]
    assert get("is_key=false") == ["Bob Filter"]
    assert get("birthday__gte=1985-01-01") == ["Ada Filter"]
    assert get("birthday__lte=1985-01-01") == ["Bob Filter"]
    assert get("discount__gte=5") == ["Ada Filter"]


def test_a_date_bound_of_a_datetime_field_covers_the_whole_day(
    ui: UI, people: dict[str, Any]
) -> None:
    """Days are the app's (the reference CRM's zone is Europe/Moscow, UTC+3): 20:30 UTC on
    May 1 is still May 1 there, 21:30 UTC is already May 2."""
    admin, kind = people["admin"], first_kind(ui)
    for gist, moment in (
        ("Evening call", "2024-05-01T20:30:00Z"),
        ("Midnight call", "2024-05-01T21:30:00Z"),
    ):
        create(
            ui,
            admin,
            "interactions",
            kind=kind,
            gist=gist,
            happened_at=moment,
            company=people["acme"],
        )
    client = login(ui, "admin@example.com").client
    until = client.get("/interactions/?happened_at__lte=2024-05-01").text
    since = client.get(
        "/interactions/?happened_at__gte=2024-05-02&happened_at__lte=2024-05-02"
    ).text
    assert "Evening call" in until and "Midnight call" not in until
    assert "Midnight call" in since and "Evening call" not in since


def first_kind(ui: UI) -> str:
    return str(ui.gen.app.web.SITE.entities["interactions"]["fields"]["kind"]["choices"][0][0])


@pytest.mark.parametrize(
    "query",
    [
        "birthday__gte=not-a-date",
        "discount__gte=lots",
        "company=abc",
        "company=99999999999999999999999",
        "is_key=maybe",
        "nosuchfield=1",
        "birthday__contains=19",
        "sort=nosuchfield",
        "sort=-notes,notes",
        "offset=99999999999999999999",
        "happened_at__lte=9999-12-31",
        "full_name__contains=%00",
        "q=" + "x" * 1200,
    ],
)
def test_bad_filter_values_show_a_message_never_a_500(
    ui: UI, people: dict[str, Any], query: str
) -> None:
    client = login(ui, "admin@example.com").client
    page = client.get(f"/contacts/?{query}")
    assert page.status_code in (200, 400), page.text
    if page.status_code == 400:
        assert (
            'class="alert error" role="alert"' in page.text and "A filter is not valid" in page.text
        )
    export = client.get(f"/contacts/export.csv?{query}")
    assert export.status_code in (200, 400)


def test_links_keep_the_search_filters_and_sort(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, "admin@example.com").client
    page = client.get("/companies/?q=Lists&industry__in=retail&industry__in=it&sort=-name").text
    assert names(page) == ["Globex Lists", "Acme Lists"]
    header = re.search(r'<a href="([^"]+)">Industry</a>', page)
    assert header
    link = header.group(1).replace("&amp;", "&")
    assert (
        "q=Lists" in link
        and "industry__in=retail" in link
        and "industry__in=it" in link
        and "sort=industry" in link
    )
    assert (
        "/companies/export.csv?q=Lists&amp;sort=-name&amp;industry__in=retail&amp;industry__in=it"
        in page
    )
    assert 'name="sort" value="-name"' in page  # the search form keeps the order


def test_paging_keeps_the_filters(ui: UI, people: dict[str, Any]) -> None:
    admin = people["admin"]
    for n in range(27):  # companies list 25 a page
        create(ui, admin, "companies", name=f"Paged {n:02d}", industry="other")
    client = login(ui, "admin@example.com").client
    first = client.get("/companies/?industry__in=other").text
    assert len(names(first)) == 25
    following = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert following and "industry__in=other" in following.group(1)
    second = client.get(following.group(1).replace("&amp;", "&")).text
    assert names(second) == ["Paged 25", "Paged 26"]
    assert "offset=" not in first + second  # pages link cursors: as fast deep down, shareable
    previous = re.search(r'<a href="([^"]+)" rel="prev">', second)
    assert previous and "industry__in=other" in previous.group(1)
    back = client.get(previous.group(1).replace("&amp;", "&")).text
    assert names(back) == names(first) and 'rel="prev"' not in back
    assert '<a href="/companies/?industry__in=other" rel="first">' in second


def test_a_seller_sees_only_their_records_and_filters(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, SELLER2).client
    page = client.get("/contacts/?q=Filter").text
    assert names(page) == ["Bob Filter"]
    assert "Acme Lists" not in page  # not even as a filter choice
    assert names(client.get(f"/contacts/?company={people['acme']}").text) == []


# --- bulk delete ---------------------------------------------------------------------------


def test_bulk_delete_confirms_then_deletes_with_csrf(ui: UI, people: dict[str, Any]) -> None:
    seller = people["users"][SELLER1]
    ids = [create(ui, seller, "contacts", full_name=f"Bulk {n}") for n in range(3)]
    client = login(ui, SELLER1).client
    listing = client.get("/contacts/?q=Bulk").text
    assert 'form="bulk-delete"' in listing and 'action="/contacts/bulk-delete"' in listing
    query = "&".join(f"id={i}" for i in ids[:2])
    confirm = client.get(f"/contacts/bulk-delete?{query}&back=/contacts/%3Fq%3DBulk")
    assert confirm.status_code == 200
    assert "Bulk 0" in confirm.text and "Bulk 1" in confirm.text and "Bulk 2" not in confirm.text
    data = [("id", str(i)) for i in ids[:2]] + [("back", "/contacts/?q=Bulk")]
    assert post(ui, "/contacts/bulk-delete", data).status_code == 403  # no token
    assert post(ui, "/contacts/bulk-delete", [*data, ("csrf_token", "forged")]).status_code == 403
    assert names(client.get("/contacts/?q=Bulk").text) == ["Bulk 0", "Bulk 1", "Bulk 2"]
    done = post(ui, "/contacts/bulk-delete", [*data, ("csrf_token", csrf(confirm.text))])
    assert done.status_code == 200
    assert "2 deleted" in done.text and "could not" not in done.text
    assert 'href="/contacts/?q=Bulk"' in done.text
    assert names(client.get("/contacts/?q=Bulk").text) == ["Bulk 2"]


def test_bulk_delete_of_records_partly_forbidden(ui: UI, people: dict[str, Any]) -> None:
    mine = create(ui, people["users"][SELLER1], "contacts", full_name="Mine to drop")
    theirs = create(ui, people["users"][SELLER2], "contacts", full_name="Theirs to keep")
    client = login(ui, SELLER1).client
    confirm = client.get(f"/contacts/bulk-delete?id={mine}&id={theirs}&id=abc&id=0")
    assert "Mine to drop" in confirm.text and "Theirs to keep" not in confirm.text
    assert "1 of the selected records were not found" in confirm.text
    data = [
        ("id", str(mine)),
        ("id", str(theirs)),
        ("csrf_token", csrf(confirm.text)),
        ("back", "https://evil.example/"),
    ]
    done = post(ui, "/contacts/bulk-delete", data)
    assert done.status_code == 200
    assert "1 deleted, 1 could not be deleted" in done.text
    assert f"#{theirs}: Not found" in done.text or f"#{theirs}" in done.text
    assert 'href="/contacts/"' in done.text and "evil.example" not in done.text
    with ui.database.engine.connect() as connection:
        model = ui.gen.resources.RESOURCES["contacts"].model
        kept = connection.execute(sa.select(model.id).where(model.id == theirs)).all()
    assert kept  # the other seller's contact is untouched


def test_no_bulk_delete_without_the_right_to_delete(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, SUPPORT).client
    listing = client.get("/contacts/")
    assert listing.status_code == 200 and 'form="bulk-delete"' not in listing.text
    assert client.get(f"/contacts/bulk-delete?id={people['ada']}").status_code == 403
    data = [("id", str(people["ada"])), ("csrf_token", csrf(listing.text))]
    assert post(ui, "/contacts/bulk-delete", data).status_code == 403
    assert names(client.get("/contacts/?q=Ada").text) == ["Ada Filter"]


def test_bulk_delete_with_nothing_selected(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, "admin@example.com").client
    page = client.get("/contacts/bulk-delete")
    assert page.status_code == 200 and "No records are selected" in page.text
    assert 'action="/contacts/bulk-delete"' not in page.text  # nothing to confirm


# --- export --------------------------------------------------------------------------------


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_csv_export_of_the_current_filter(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, "admin@example.com").client
    response = client.get("/contacts/export.csv?q=Filter&is_key=true")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = read_csv(response.content)
    header = rows[0]
    assert header[:4] == ["ID", "Full name", "Company", "Phone"]
    assert "Birthday" in header and "Photo" not in header
    assert len(rows) == 2
    record = dict(zip(header, rows[1]))
    assert record["Full name"] == "Ada Filter" and record["Company"] == "Acme Lists"
    assert record["Key contact"] == "Yes" and record["Birthday"] == "1990-05-01"
    assert record["ID"] == str(people["ada"])


def test_export_is_safe_from_formulas(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, "admin@example.com").client
    rows = read_csv(client.get(f"/contacts/export.csv?id={people['eve']}").content)
    assert rows[1][1] == '\'=HYPERLINK("http://evil")'
    book = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/contacts/export.xlsx?id={people['eve']}").content)
    )
    sheet = book.active
    value = sheet.cell(row=2, column=2)
    assert value.value == '\'=HYPERLINK("http://evil")' and value.data_type == "s"


def test_export_values_are_safe_for_spreadsheets(ui: UI) -> None:
    site = ui.gen.app.web.SITE
    text = {"name": "gist", "type": "string", "choices": []}
    for start in ("=", "+", "-", "@", "\t"):
        assert lists.export_value(site, text, f"{start}1+1", "en", native=False) == f"'{start}1+1"
    assert lists.export_value(site, text, "a\x01b", "en", native=True) == "ab"  # XLSX refuses it
    assert lists.export_value(site, text, "a\x01b", "en", native=False) == "a\x01b"
    number = {"name": "n", "type": "integer", "choices": []}
    assert (
        lists.export_value(site, number, -5, "en", native=False) == "-5"
    )  # a number, not a formula
    data = {"name": "extra", "type": "json", "choices": []}
    assert lists.export_value(site, data, {"a": "=x"}, "en", native=True) == '{"a": "=x"}'


def test_xlsx_export_keeps_types_and_locale_labels(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, "admin@example.com").client
    client.cookies.set("locale", "ru")
    response = client.get("/contacts/export.xlsx?q=Filter&sort=full_name")
    client.cookies.set("locale", "en")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    assert "Ключевой контакт" in header and "Key contact" not in header  # the user's locale
    ada = rows[1]
    assert ada[0] == people["ada"]  # a number, not text
    assert ada[header.index("Скидка (%)")] == 7.5
    assert ada[header.index("Ключевой контакт")] is True
    assert len(rows) == 3  # Ada and Bob, nothing else


def test_export_leaves_out_hidden_fields_and_foreign_records(
    ui: UI, people: dict[str, Any]
) -> None:
    support = login(ui, SUPPORT).client
    header = read_csv(support.get("/contacts/export.csv?q=Filter").content)[0]
    assert "Birthday" not in header and "Discount (%)" not in header and "Full name" in header
    seller = login(ui, SELLER2).client
    rows = read_csv(seller.get("/contacts/export.csv").content)
    exported = {row[1] for row in rows[1:]}
    assert "Bob Filter" in exported and "Ada Filter" not in exported
    sheet = openpyxl.load_workbook(io.BytesIO(seller.get("/contacts/export.xlsx").content)).active
    assert "Ada Filter" not in {row[1] for row in sheet.iter_rows(values_only=True)}


def test_export_needs_a_session(ui: UI) -> None:
    fresh(ui)
    response = ui.client.get("/contacts/export.csv", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_export_streams_every_page(
    ui: UI, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lists, "EXPORT_PAGE", 2)  # several round trips over a few records
    client = login(ui, "admin@example.com").client
    rows = read_csv(client.get("/companies/export.csv?q=Lists&sort=name").content)
    assert [r[1] for r in rows[1:]] == ["Acme Lists", "Globex Lists", "Initech Lists"]
    monkeypatch.setattr(lists, "MAX_XLSX_ROWS", 2)  # what a sheet holds; CSV has no cap
    assert len(read_csv(client.get("/companies/export.csv?q=Lists&sort=name").content)) == 4
    answer = client.get("/companies/export.xlsx?q=Lists&sort=name")
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    assert [row[1] for row in sheet.iter_rows(values_only=True)][1:] == [
        "Acme Lists",
        "Globex Lists",
    ]


def test_an_encrypted_column_shows_its_value_and_no_sort_link(
    ui: UI, people: dict[str, Any]
) -> None:
    """``Contact.passport_number`` is encrypted: shown in its column, its header links nowhere
    (the API cannot order it), and the list finds a contact by it only through the API's
    equality filter."""
    admin = people["admin"]
    create(ui, admin, "contacts", full_name="Cyd Sealed", passport_number="CY-777")
    page = login(ui, "admin@example.com").client.get(
        "/contacts/?q=Sealed&columns=full_name&columns=passport_number"
    )
    assert page.status_code == 200 and "CY-777" in page.text
    assert "sort=passport_number" not in page.text and "sort=-passport_number" not in page.text
    assert "sort=full_name" in page.text or "sort=-full_name" in page.text
