"""Links that skip the read rule (issue 10, item 3), over real HTTP on both databases.

A seller could link a deal to another seller's company (which answers 404 to them) and read its
name in the answer; PATCHing ids 1..N listed every name. A link to a record the user may not
read is refused exactly like a link to a record that does not exist, by the API, the UI's forms
and the import; an unchanged link still saves; and no page, list, export, search, picker or
document shows the display value of a record the user may not read (the link keeps its id).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
import pytest

from tests.security.access_control.owned_app import People
from tests.security.crm import PASSWORD, Crm, email

MISSING = 987_654_321  # an id no record has
SECRET = f"Zq{uuid.uuid4().hex[:8]}"  # in the name of every record the seller may not read


@dataclass(frozen=True)
class World:
    """What sales2 owns (sales may not read it), what sales owns, and sales's records that
    the admin linked to sales2's records."""

    sales: str  # tokens
    admin: str
    company: int  # sales2's
    company2: int
    contact: int
    contact2: int
    order: int
    own_company: int  # sales's
    own_contact: int
    own_contact2: int
    deal: int  # sales's deal linked to sales2's company and contact
    group: int  # sales's client group with sales2's contact among its members
    invoice: int  # sales's invoice of sales2's order
    sales_order: int  # sales's order for sales2's company
    deal_name: str


def post(crm: Crm, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with crm.client(token) as client:
        # the contacts' names look alike: past the likely-duplicate warning
        response = client.post(f"/api/{path}?confirm_duplicate=true", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def world(crm: Crm, people: People) -> World:
    sales, sales2, admin = (people.token(crm, name) for name in ("sales", "sales2", "admin"))
    seller = people.id(crm, "sales")
    tag = uuid.uuid4().hex[:6]
    company = post(crm, sales2, "companies", {"name": f"{SECRET} Company"})["id"]
    company2 = post(crm, sales2, "companies", {"name": f"{SECRET} Company two"})["id"]
    contact = post(crm, sales2, "contacts", {"full_name": f"{SECRET} Contact", "company": company})
    contact2 = post(crm, sales2, "contacts", {"full_name": f"{SECRET} Contact two"})
    order = post(crm, sales2, "orders", {"number": f"{SECRET}-O-{tag}", "company": company})
    own_company = post(crm, sales, "companies", {"name": f"Own company {tag}"})["id"]
    own_contact = post(crm, sales, "contacts", {"full_name": f"Own contact {tag}"})["id"]
    own_contact2 = post(crm, sales, "contacts", {"full_name": f"Own contact two {tag}"})["id"]
    deal_name = f"Linked deal {tag}"
    deal = post(
        crm,
        admin,
        "deals",
        {"name": deal_name, "company": company, "contact": contact["id"], "owner": seller},
    )
    group = post(
        crm,
        admin,
        "client_groups",
        {"name": f"Group {tag}", "members": [contact["id"], own_contact], "owner": seller},
    )
    invoice = post(
        crm,
        admin,
        "invoices",
        {
            "number": f"INV-2024-{uuid.uuid4().int % 10**8}",
            "total": "10.00",
            "sales_order": order["id"],
            "owner": seller,
        },
    )
    sales_order = post(
        crm,
        admin,
        "orders",
        {"number": f"O-{tag}", "company": company, "contact": contact["id"], "owner": seller},
    )
    with crm.client(admin) as client:
        parent = client.patch(f"/api/companies/{own_company}", json={"parent": company})
        assert parent.status_code == 200, parent.text
    return World(
        sales=sales,
        admin=admin,
        company=company,
        company2=company2,
        contact=contact["id"],
        contact2=contact2["id"],
        order=order["id"],
        own_company=own_company,
        own_contact=own_contact,
        own_contact2=own_contact2,
        deal=deal["id"],
        group=group["id"],
        invoice=invoice["id"],
        sales_order=sales_order["id"],
        deal_name=deal_name,
    )


def normalised(response: httpx.Response) -> tuple[int, Any]:
    """A refusal with its ids and its request id blanked, so two refusals compare equal but
    for them."""
    text = re.sub(r"\bid \d+", "id N", response.text)
    text = text.replace(response.headers["x-request-id"], "REQUEST")
    return response.status_code, text


# --- writes: refused exactly like a link to nothing ------------------------------------------

# (path, field, a body without the link, which of the world's records to link to)
LINKS = [
    ("deals", "company", {"name": "Refused deal"}, "company"),
    ("deals", "contact", {"name": "Refused deal"}, "contact"),
    ("companies", "parent", {"name": "Refused company"}, "company"),  # a self-reference
    ("invoices", "sales_order", {"number": "INV-2024-777", "total": "1.00"}, "order"),  # 1:1
    ("client_groups", "members", {"name": "Refused group"}, "contact"),  # many-to-many
]


def _link(path: str, record_id: int) -> Any:
    return [record_id] if path == "client_groups" else record_id


@pytest.mark.parametrize(("path", "field", "body", "target"), LINKS)
def test_creating_a_foreign_link_is_refused_like_a_missing_one(
    crm: Crm, world: World, path: str, field: str, body: dict[str, Any], target: str
) -> None:
    foreign = getattr(world, target)
    with crm.client(world.sales) as client:
        refused = client.post(f"/api/{path}", json={**body, field: _link(path, foreign)})
        missing = client.post(f"/api/{path}", json={**body, field: _link(path, MISSING)})
    assert missing.status_code == 422, missing.text
    assert normalised(refused) == normalised(missing)
    assert SECRET not in refused.text


@pytest.mark.parametrize(("path", "field", "body", "target"), LINKS)
def test_changing_a_link_to_a_foreign_record_is_refused_like_a_missing_one(
    crm: Crm, world: World, path: str, field: str, body: dict[str, Any], target: str
) -> None:
    foreign = getattr(world, target)
    number = uuid.uuid4().int % 10**8
    unique = {"number": f"INV-2024-{number}"} if path == "invoices" else {"name": f"Own {number}"}
    own = post(crm, world.sales, path, {**body, **unique})
    with crm.client(world.sales) as client:
        url = f"/api/{path}/{own['id']}"
        refused = client.patch(url, json={field: _link(path, foreign)})
        missing = client.patch(url, json={field: _link(path, MISSING)})
    assert missing.status_code == 422, missing.text
    assert normalised(refused) == normalised(missing)
    assert SECRET not in refused.text


def test_patching_ids_one_by_one_finds_only_readable_names(
    crm: Crm, people: People, world: World
) -> None:
    """PATCH company=1..N on an own deal: only the seller's own companies link (and show)."""
    seller = people.id(crm, "sales")
    names = {
        row[0]: (row[1], row[2] == seller and row[3] is None)
        for row in crm.sql("SELECT id, name, owner_id, deleted_at FROM companies")
    }
    own = post(crm, world.sales, "deals", {"name": "Enumerating deal"})
    linked = set()
    with crm.client(world.sales) as client:
        missing = client.patch(f"/api/deals/{own['id']}", json={"company": MISSING})
        for company in range(1, max(names) + 2):
            answer = client.patch(f"/api/deals/{own['id']}", json={"company": company})
            if answer.status_code == 200:
                linked.add(company)
                assert answer.json()["company"] == {"id": company, "display": names[company][0]}
            else:
                assert normalised(answer) == normalised(missing), company
    assert linked == {i for i, (_, readable) in names.items() if readable}


def test_an_unchanged_foreign_link_still_saves(crm: Crm, world: World) -> None:
    """The seller edits a deal the admin linked to sales2's company: the link stays."""
    with crm.client(world.sales) as client:
        saved = client.patch(
            f"/api/deals/{world.deal}",
            json={"name": world.deal_name, "company": world.company, "contact": world.contact},
        )
        assert saved.status_code == 200, saved.text
        assert saved.json()["company"]["id"] == world.company
        kept = client.patch(
            f"/api/client_groups/{world.group}",
            json={"members": [world.contact, world.own_contact, world.own_contact2]},
        )
    assert kept.status_code == 200, kept.text
    assert sorted(kept.json()["members"]) == sorted(
        [world.contact, world.own_contact, world.own_contact2]
    )


def test_adding_a_foreign_member_beside_a_kept_one_is_refused(crm: Crm, world: World) -> None:
    """Only the members a change adds must be readable: a new foreign one is refused."""
    url = f"/api/client_groups/{world.group}"
    with crm.client(world.sales) as client:
        added = client.patch(url, json={"members": [world.contact, world.contact2]})
        missing = client.patch(url, json={"members": [world.contact, MISSING]})
    assert missing.status_code == 422, missing.text
    assert normalised(added) == normalised(missing)


# --- the UI: forms, pages, exports, search, documents ------------------------------------------


class FormReader(HTMLParser):
    """The pairs a browser submits for the page's form posting to ``action``."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.pairs: list[tuple[str, str]] = []
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if self.done:
            return
        if tag == "form" and found.get("action") == self.action:
            self._in_form = True
        elif not self._in_form:
            return
        elif tag == "input" and "name" in found:
            kind = found.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in found:
                return
            self.pairs.append(
                (found["name"], found.get("value", "on" if kind == "checkbox" else ""))
            )
        elif tag == "select":
            self._select = found.get("name")
        elif tag == "option" and self._select and "selected" in found:
            self.pairs.append((self._select, found.get("value", "")))
        elif tag == "textarea":
            self._textarea = found.get("name")
            self.pairs.append((self._textarea or "", ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, value = self.pairs[-1]
            self.pairs[-1] = (name, value + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self._in_form:
            self._in_form, self.done = False, True


def submitted(page: str, action: str) -> list[tuple[str, str]]:
    reader = FormReader(action)
    reader.feed(page)
    return reader.pairs


@contextmanager
def browser(crm: Crm, name: str) -> Iterator[httpx.Client]:
    """A signed-in browser session (the login's cookie), English pages."""
    with crm.client(follow_redirects=False) as client:
        client.cookies.set("locale", "en")
        signed = client.post("/api/auth/login", json={"email": email(name), "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        yield client


@pytest.fixture(scope="module")
def seller(crm: Crm) -> Iterator[httpx.Client]:
    """The seller's browser session, signed in once per module."""
    with browser(crm, "sales") as client:
        yield client


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def field_error(page: str, name: str) -> str:
    found = re.search(rf'id="f_{name}_error">(.*?)</small>', page, re.DOTALL)
    assert found, page
    return found.group(1)


def test_the_form_refuses_a_foreign_link_like_a_missing_one(
    crm: Crm, world: World, seller: httpx.Client
) -> None:
    token = csrf(seller.get("/deals/new").text)
    base = {"csrf_token": token, "name": "Form deal", "stage": "lead"}
    refused = seller.post("/deals/new", data={**base, "company": str(world.company)})
    missing = seller.post("/deals/new", data={**base, "company": str(MISSING)})
    assert missing.status_code == refused.status_code == 422
    error = field_error(refused.text, "company")
    assert re.sub(r"\d+", "N", error) == re.sub(r"\d+", "N", field_error(missing.text, "company"))
    assert SECRET not in refused.text


def test_resaving_a_form_keeps_links_the_seller_may_not_read(
    crm: Crm, world: World, seller: httpx.Client
) -> None:
    """The edit forms of a deal and of a seller group, submitted as shown, change nothing."""
    for path, record in (("deals", world.deal), ("client_groups", world.group)):
        form = seller.get(f"/{path}/{record}/edit")
        assert form.status_code == 200, form.text
        assert SECRET not in form.text
        saved = seller.post(
            f"/{path}/{record}/edit",
            content=urlencode(submitted(form.text, f"/{path}/{record}/edit")),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert saved.status_code == 303, saved.text
    assert crm.sql("SELECT company_id, contact_id FROM deals WHERE id = :id", id=world.deal) == [
        (world.company, world.contact)
    ]
    members = crm.sql(
        "SELECT contact_id FROM client_group_members WHERE client_group_id = :id", id=world.group
    )
    assert world.contact in {row[0] for row in members}


def test_pickers_offer_only_readable_records(
    crm: Crm, people: People, world: World, seller: httpx.Client
) -> None:
    readable = {
        str(row[0])
        for row in crm.sql(
            "SELECT id FROM companies WHERE owner_id = :id AND deleted_at IS NULL",
            id=people.id(crm, "sales"),
        )
    }
    page = seller.get("/deals/new").text
    searched = seller.get("/api/companies", params={"q": SECRET})
    select = re.search(r'<select id="f_company".*?</select>', page, re.DOTALL)
    assert select, page
    offered = set(re.findall(r'<option value="(\d+)"', select.group(0)))
    assert offered == readable
    assert SECRET not in page
    assert searched.status_code == 200 and searched.json()["items"] == []


def test_the_api_never_shows_a_foreign_display_value(crm: Crm, world: World) -> None:
    with crm.client(world.sales) as client:
        answers = [
            client.get(f"/api/deals/{world.deal}"),
            client.get("/api/deals", params={"q": world.deal_name}),
            client.get("/api/deals", params={"company": str(world.company)}),
            client.get(f"/api/invoices/{world.invoice}"),
            client.get(f"/api/companies/{world.own_company}"),
            client.get("/api/companies", params={"id": str(world.own_company)}),
            client.get(f"/api/orders/{world.sales_order}"),
        ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert SECRET not in answer.text, answer.request.url
    deal = answers[0].json()
    assert deal["company"] == {"id": world.company, "display": ""}
    assert deal["contact"] == {"id": world.contact, "display": ""}
    assert answers[1].json()["items"][0]["company"] == {"id": world.company, "display": ""}
    assert answers[3].json()["sales_order"] == {"id": world.order, "display": ""}
    assert answers[4].json()["parent"] == {"id": world.company, "display": ""}  # a self-join


def _xlsx_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return "".join(book.read(name).decode("utf-8", "replace") for name in book.namelist())


def test_pages_exports_search_and_documents_never_show_a_foreign_name(
    crm: Crm, world: World, seller: httpx.Client
) -> None:
    pages = [
        "/deals/",
        f"/deals/{world.deal}",
        f"/deals/{world.deal}/edit",
        "/deals/kanban",
        f"/search?q={world.deal_name[:-1]}",  # not the whole name: the results, not the card
        "/companies/",
        f"/companies/{world.own_company}",
        f"/client_groups/{world.group}",
        f"/client_groups/{world.group}/edit",
        f"/invoices/{world.invoice}",
        f"/orders/{world.sales_order}",
        "/deals/export.csv",
    ]
    for url in pages:
        answer = seller.get(url)
        assert answer.status_code == 200, (url, answer.text)
        assert SECRET not in answer.text, url
        # no link to a page the seller cannot open
        for foreign in (f"/companies/{world.company}", f"/contacts/{world.contact}"):
            assert f'href="{foreign}"' not in answer.text, (url, foreign)
    for url in ("/deals/export.xlsx", f"/api/orders/{world.sales_order}/documents/offer.xlsx"):
        answer = seller.get(url)
        assert answer.status_code == 200, (url, answer.text)
        assert SECRET not in _xlsx_text(answer.content), url
    exported = seller.get("/deals/export.csv").text
    rows = {row[0]: row for row in csv.reader(io.StringIO(exported.lstrip("\ufeff")))}
    assert f"#{world.company}" in rows[str(world.deal)]  # the link keeps its id


def _upload(client: httpx.Client, path: str, rows: list[list[str]]) -> str:
    """Upload ``rows`` as a CSV to the import of ``path``; the upload's page."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    token = csrf(client.get(f"/{path}/import").text)
    answer = client.post(
        f"/{path}/import",
        data={"csrf_token": token},
        files={"file": ("deals.csv", out.getvalue().encode(), "text/csv")},
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def test_the_import_refuses_foreign_links_like_missing_ones(
    crm: Crm, world: World, seller: httpx.Client
) -> None:
    rows = [
        ["name", "company"],
        ["Imported by name", f"{SECRET} Company"],
        ["Imported by unknown name", "No such company at all"],
        ["Imported by id", f"#{world.company}"],
        ["Imported by missing id", f"#{MISSING}"],
    ]
    upload = _upload(seller, "deals", rows)
    token = csrf(seller.get(upload).text)
    ran = seller.post(f"{upload}/run", data={"csrf_token": token, "c0": "name", "c1": "company"})
    assert ran.status_code == 303, ran.text
    failed = seller.get(f"{upload}/failed.csv")
    assert failed.status_code == 200, failed.text
    problems = {row[0]: row[-1] for row in csv.reader(io.StringIO(failed.text.lstrip("\ufeff")))}
    assert set(problems) >= {r[0] for r in rows[1:]}
    by_name = problems["Imported by name"].replace(rows[1][1], "VALUE")
    assert by_name == problems["Imported by unknown name"].replace(rows[2][1], "VALUE")
    by_id = re.sub(r"\d+", "N", problems["Imported by id"])
    assert by_id == re.sub(r"\d+", "N", problems["Imported by missing id"])
    assert not crm.sql("SELECT id FROM deals WHERE name LIKE 'Imported by%'")


# --- the rule variants: a hidden display field, a report grouped by a link --------------------


def test_a_display_field_hidden_from_the_role_shows_in_no_link(owned: Crm, people: People) -> None:
    """Clerks read every account but not its name: their tickets' links show no name."""
    admin, clerk = people.token(owned, "admin"), people.token(owned, "clerk")
    account = post(owned, admin, "accounts", {"name": f"{SECRET} Account"})["id"]
    body = {"subject": "Clerk ticket", "account": account, "assignee": people.id(owned, "clerk")}
    ticket = post(owned, clerk, "tickets", body)
    assert ticket["account"] == {"id": account, "display": ""}
    with owned.client(clerk) as client:
        listed = client.get("/api/tickets", params={"id": str(ticket["id"])})
    assert listed.json()["items"][0]["account"] == {"id": account, "display": ""}
    with owned.client(clerk) as client:
        report = client.get("/api/reports/tickets_by_account")  # grouped by the account
    assert report.status_code == 200, report.text
    assert {"id": account, "display": ""} in [row["keys"][0] for row in report.json()["rows"]]
    with browser(owned, "clerk") as client:
        page = client.get(f"/tickets/{ticket['id']}")
    assert page.status_code == 200, page.text
    assert SECRET not in page.text
    assert f'href="/accounts/{account}"' in page.text  # the clerk may open it


def test_a_link_showing_another_field_keeps_to_the_rules(owned: Crm, people: People) -> None:
    """A ticket's client shows the account's code (``display: code``): the seller sees the
    code of their own account, ``#<id>`` for one without a code, nothing of another seller's;
    the clerk, from whom codes are hidden, sees none, on the API and on the page."""
    admin, seller, clerk = (people.token(owned, n) for n in ("admin", "seller", "clerk"))
    ids = {n: people.id(owned, n) for n in ("seller", "seller2", "clerk")}
    coded, bare, foreign = (
        post(owned, admin, "accounts", {"name": name, "code": code, "owner": ids[owner]})["id"]
        for name, code, owner in (
            ("Coded", f"{SECRET}-own", "seller"),
            ("Bare", "", "seller"),
            ("Foreign", f"{SECRET}-foreign", "seller2"),
        )
    )
    tickets = [
        post(owned, admin, "tickets", {"subject": "Client", "client": a, "assignee": ids[to]})
        for a, to in ((coded, "seller"), (bare, "seller"), (foreign, "seller"), (coded, "clerk"))
    ]
    with owned.client(seller) as client:
        ids_in = ",".join(str(t["id"]) for t in tickets[:3])
        listed = client.get("/api/tickets", params={"id__in": ids_in, "sort": "id"})
    assert listed.status_code == 200, listed.text
    assert [item["client"] for item in listed.json()["items"]] == [
        {"id": coded, "display": f"{SECRET}-own"},
        {"id": bare, "display": f"#{bare}"},
        {"id": foreign, "display": ""},
    ]
    with owned.client(clerk) as client:
        read = client.get(f"/api/tickets/{tickets[3]['id']}")
    assert read.status_code == 200, read.text
    assert read.json()["client"] == {"id": coded, "display": ""}
    with browser(owned, "clerk") as client:
        page = client.get(f"/tickets/{tickets[3]['id']}")
    with browser(owned, "seller") as client:
        foreign_page = client.get(f"/tickets/{tickets[2]['id']}")
        bare_page = client.get(f"/tickets/{tickets[1]['id']}")
    for shown in (page, foreign_page, bare_page):
        assert shown.status_code == 200, shown.text
        assert SECRET not in shown.text
    assert f'href="/accounts/{bare}">#{bare}<' in bare_page.text


def test_a_report_grouped_by_a_link_shows_only_readable_names(owned: Crm, people: People) -> None:
    admin, seller = people.token(owned, "admin"), people.token(owned, "seller")
    foreign = post(
        owned, admin, "accounts", {"name": f"{SECRET} Report", "owner": people.id(owned, "seller2")}
    )["id"]
    body = {"subject": "Grouped ticket", "account": foreign, "assignee": people.id(owned, "seller")}
    post(owned, admin, "tickets", body)
    with owned.client(seller) as client:
        report = client.get("/api/reports/tickets_by_account")
    assert report.status_code == 200, report.text
    assert {"id": foreign, "display": ""} in [row["keys"][0] for row in report.json()["rows"]]
    with browser(owned, "seller") as client:
        pages = [
            client.get("/reports/tickets_by_account"),
            client.get("/reports/tickets_by_account.csv"),
        ]
    for page in pages:
        assert page.status_code == 200, page.text
        assert SECRET not in page.text


def test_a_read_rule_through_a_relationship_limits_the_links_display(
    owned: Crm, people: People
) -> None:
    """Sellers read the notes of their own accounts: a ticket's note of another seller's
    account shows no title (the rule's EXISTS is applied to the joined note)."""
    admin, seller = people.token(owned, "admin"), people.token(owned, "seller")
    accounts = [
        post(owned, admin, "accounts", {"name": f"Note account {n}", "owner": people.id(owned, n)})
        for n in ("seller", "seller2")
    ]
    mine, theirs = (
        post(owned, admin, "notes", {"title": title, "account": account["id"]})["id"]
        for title, account in (("Readable note", accounts[0]), (f"{SECRET} note", accounts[1]))
    )
    assignee = people.id(owned, "seller")
    tickets = [
        post(owned, admin, "tickets", {"subject": "Noted", "note": note, "assignee": assignee})
        for note in (mine, theirs)
    ]
    with owned.client(seller) as client:
        ids = ",".join(str(ticket["id"]) for ticket in tickets)
        listed = client.get("/api/tickets", params={"id__in": ids, "sort": "id"})
    assert listed.status_code == 200, listed.text
    assert [item["note"] for item in listed.json()["items"]] == [
        {"id": mine, "display": "Readable note"},
        {"id": theirs, "display": ""},
    ]


def test_a_custom_endpoint_refuses_a_foreign_record_in_its_input(
    owned: Crm, people: People
) -> None:
    admin, seller = people.token(owned, "admin"), people.token(owned, "seller")
    own, foreign = (
        post(owned, admin, "accounts", {"name": name, "owner": people.id(owned, user)})["id"]
        for name, user in (("Touched", "seller"), (f"{SECRET} untouched", "seller2"))
    )
    with owned.client(seller) as client:
        touched = client.post("/api/accounts/touch", json={"account": own})
        refused = client.post("/api/accounts/touch", json={"account": foreign})
        missing = client.post("/api/accounts/touch", json={"account": MISSING})
    assert touched.status_code == 200, touched.text
    assert missing.status_code == 422, missing.text
    assert normalised(refused) == normalised(missing)
