"""Saved views and cells edited in place (issue 14 item 7), over HTTP on both databases.

A view is a user's list query (search, filters, sort, columns) under a name at ``/api/views``,
shared with roles. It is checked when saved (what the list API refuses, what the saver may not
read: 422 naming it) and when applied (a field the reader may not read is left out), and it is
only a query: the reader's record rules decide which records it shows. Someone else's private
view is 404; only the owner changes or deletes one. The list page opens a view by its link, and
its cells are edited in place through the record's own PATCH with its version check.

The reference CRM's rules used here: a manager reads every deal; a seller (``sales``,
``sales2``) only their own; support reads deals that are not lost, without ``amount``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest

from tests.security.crm import Crm

VIEWS = "/api/views"


@pytest.fixture(scope="module")
def tokens(crm: Crm) -> dict[str, str]:
    return {name: crm.token(name) for name in ("manager", "sales", "sales2", "support")}


@pytest.fixture(scope="module")
def client(crm: Crm, tokens: dict[str, str]) -> Iterator[Any]:
    opened: list[httpx.Client] = []

    def as_user(name: str) -> httpx.Client:
        made = crm.client(tokens[name])
        opened.append(made)
        return made

    yield as_user
    for made in opened:
        made.close()


def save(client: httpx.Client, **view: Any) -> httpx.Response:
    return client.post(VIEWS, json={"entity": "deals", **view})


def ids(client: httpx.Client, url: str) -> set[int]:
    return {item["id"] for item in client.get(url + "&limit=500").json()["items"]}


def test_save_list_read_and_delete_ones_own_view(client: Any) -> None:
    manager = client("manager")
    made = save(
        manager,
        name="Open big deals",
        filters={"stage__in": "proposal,negotiation", "amount__gte": 1000},
        sort="-amount",
        columns=["name", "amount", "stage"],
    )
    assert made.status_code == 201, made.text
    view = made.json()
    assert made.headers["location"] == f"{VIEWS}/{view['id']}"
    assert view["filters"] == {"stage__in": "proposal,negotiation", "amount__gte": "1000"}
    assert view["columns"] == ["name", "amount", "stage"] and view["mine"] is True
    assert view["api_url"].startswith("/api/deals?")
    listed = manager.get(VIEWS, params={"entity": "deals"}).json()["items"]
    assert view["id"] in {v["id"] for v in listed}
    assert manager.get(VIEWS, params={"entity": "contacts"}).json()["items"] == [] or all(
        v["entity"] == "contacts"
        for v in manager.get(VIEWS, params={"entity": "contacts"}).json()["items"]
    )
    # applying it: the list API with its query finds what the filter says
    rows = manager.get(view["api_url"] + "&limit=500").json()["items"]
    assert rows and all(r["stage"] in ("proposal", "negotiation") for r in rows)
    assert [r["amount"] for r in rows] == sorted(
        (r["amount"] for r in rows), key=float, reverse=True
    )

    renamed = manager.patch(f"{VIEWS}/{view['id']}", json={"name": "Big open deals"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Big open deals"
    assert renamed.json()["filters"] == view["filters"]  # the rest stays
    twice = save(manager, name="Big open deals")
    assert twice.status_code == 409
    assert manager.delete(f"{VIEWS}/{view['id']}").status_code == 204
    assert manager.get(f"{VIEWS}/{view['id']}").status_code == 404


@pytest.mark.parametrize(
    ("view", "named"),
    [
        ({"filters": {"nonsense": "1"}}, "nonsense"),
        ({"filters": {"amount__gte": "lots"}}, "amount__gte"),
        ({"sort": "-nonsense"}, "sort"),
        ({"columns": ["name", "password_hash"]}, "columns"),
        ({"roles": ["pirates"]}, "roles"),
        ({"name": ""}, "name"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_view_is_422_naming_the_problem(
    client: Any, view: dict[str, Any], named: str
) -> None:
    answer = save(client("manager"), **{"name": "Bad", **view})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert named in error["fields"] or named in error["message"], error


def test_the_saver_may_not_filter_or_show_a_field_they_may_not_read(client: Any) -> None:
    support = client("support")  # amount is hidden from support
    for view in (
        {"filters": {"amount__gte": "1"}},
        {"columns": ["name", "amount"]},
        {"sort": "amount"},
    ):
        answer = save(support, name="Peek", **view)
        assert answer.status_code == 422, (view, answer.text)
    assert save(client("manager"), name="x", entity="no_such_list").status_code == 422


def test_someone_elses_private_view_is_404(client: Any) -> None:
    mine = save(client("sales"), name="My own", filters={"stage": "won"}).json()
    other = client("sales2")
    assert other.get(f"{VIEWS}/{mine['id']}").status_code == 404
    assert other.patch(f"{VIEWS}/{mine['id']}", json={"name": "Stolen"}).status_code == 404
    assert other.delete(f"{VIEWS}/{mine['id']}").status_code == 404
    assert mine["id"] not in {v["id"] for v in other.get(VIEWS).json()["items"]}
    assert client("sales").get(f"{VIEWS}/{mine['id']}").status_code == 200
    assert other.get(f"{VIEWS}/nope").status_code == 404
    assert other.get(f"{VIEWS}/99999999999").status_code == 404


def test_a_shared_view_never_shows_a_reader_more_than_their_rules(crm: Crm, client: Any) -> None:
    manager, seller, support = client("manager"), client("sales"), client("support")
    shared = save(
        manager,
        name="Every deal by amount",
        filters={"amount__gte": "0"},
        sort="-amount,name",
        columns=["name", "amount", "stage", "owner"],
        roles=["sales", "support"],
    ).json()
    # the seller sees the view, not its owner's records: only their own deals
    seen = seller.get(f"{VIEWS}/{shared['id']}").json()
    assert seen["mine"] is False and seen["columns"] == ["name", "amount", "stage", "owner"]
    everyone = ids(manager, shared["api_url"])
    theirs = ids(seller, seen["api_url"])
    own = ids(seller, "/api/deals?owner=" + str(crm.user_id("sales")))
    assert theirs == own and theirs < everyone
    # support: amount is dropped from the filter, the sort and the columns, never shown
    applied = support.get(f"{VIEWS}/{shared['id']}").json()
    assert applied["columns"] == ["name", "stage", "owner"]
    assert applied["filters"] == {} and applied["sort"] == "name"
    assert "amount" not in applied["api_url"]
    rows = support.get(applied["api_url"] + "&limit=500").json()["items"]
    assert rows and all("amount" not in r and r["stage"] != "lost" for r in rows)
    page = support.get(applied["url"])
    assert page.status_code == 200
    header = page.text.split("<thead>")[1].split("</thead>")[0]
    assert "Amount" not in header and "Сумма" not in header
    # only the owner changes or deletes it
    assert seller.patch(f"{VIEWS}/{shared['id']}", json={"roles": []}).status_code == 403
    assert seller.delete(f"{VIEWS}/{shared['id']}").status_code == 403
    # unshared, it is gone for them
    assert manager.patch(f"{VIEWS}/{shared['id']}", json={"roles": []}).status_code == 200
    assert seller.get(f"{VIEWS}/{shared['id']}").status_code == 404


def test_the_list_page_opens_a_view_by_its_link(client: Any) -> None:
    manager = client("manager")
    view = save(
        manager,
        name="Won, by name",
        filters={"stage__in": "won"},
        sort="name",
        columns=["name", "stage"],
    ).json()
    opened = manager.get(f"/deals/?view={view['id']}", follow_redirects=False)
    assert opened.status_code == 303
    query = parse_qs(urlsplit(opened.headers["location"]).query)
    assert query == {
        "view": [str(view["id"])],
        "stage__in": ["won"],
        "sort": ["name"],
        "columns": ["name,stage"],
    }
    page = manager.get(opened.headers["location"])
    assert page.status_code == 200 and "Won, by name" in page.text
    assert f'action="/deals/views/{view["id"]}/delete"' in page.text  # one's own: deletable
    assert manager.get("/deals/?view=424242").status_code == 404


def test_the_page_saves_and_deletes_a_view_with_its_csrf_token(client: Any) -> None:
    seller = client("sales")
    page = seller.get("/contacts/?q=a&sort=-full_name&columns=full_name,email")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    query = re.search(r'name="query" value="([^"]*)"', page.text)
    assert query is not None
    form = {
        "csrf_token": token.group(1),
        "name": "A people",
        "query": query.group(1).replace("&amp;", "&"),
        "role": "support",
    }
    saved = seller.post("/contacts/views", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    location = saved.headers["location"]
    assert "columns=full_name%2Cemail" in location and "sort=-full_name" in location
    view_id = parse_qs(urlsplit(location).query)["view"][0]
    stored = seller.get(f"{VIEWS}/{view_id}").json()
    assert stored["q"] == "a" and stored["roles"] == ["support"]
    forged = seller.post(f"/contacts/views/{view_id}/delete", data={"csrf_token": "x"})
    assert forged.status_code == 403
    done = seller.post(
        f"/contacts/views/{view_id}/delete",
        data={"csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert seller.get(f"{VIEWS}/{view_id}").status_code == 404


def test_inline_edit_keeps_the_version_check_and_the_fields_rules(client: Any) -> None:
    manager = client("manager")
    page = manager.get("/deals/")
    assert 'data-inline-edit="' in page.text and 'class="editable" data-field="stage"' in page.text
    assert "/static/inline_edit.js" in page.text
    deal = manager.get("/api/deals?limit=1&sort=id").json()["items"][0]
    path = f"/api/deals/{deal['id']}"
    stale = manager.patch(path, json={"name": "Renamed", "version": deal["version"] - 1})
    assert stale.status_code == 409, stale.text
    invalid = manager.patch(path, json={"stage": "nonsense", "version": deal["version"]})
    assert invalid.status_code == 422 and "stage" in invalid.json()["error"]["fields"]
    fine = manager.patch(path, json={"name": deal["name"] + " ✓", "version": deal["version"]})
    assert fine.status_code == 200 and fine.json()["version"] == deal["version"] + 1
    # support may not update deals: nothing is editable for them
    support_page = client("support").get("/deals/")
    assert 'class="editable"' not in support_page.text
    # support may update non-key contacts, but not is_key (read only for them)
    contacts = client("support").get("/contacts/").text
    assert 'data-field="is_key"' not in contacts and 'data-field="phone"' in contacts
