"""``crmgen_runtime.web.boards``: a kanban board of deals by stage (columns, sums, filters,
moving cards with the form) and their calendar by creation time, through real requests on the
small CRM (SQLite and PostgreSQL); an entity without those views has no such pages."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import WebClient, site_routes
from crmgen_runtime.web import boards
from crmgen_runtime.web.site import Site
from rt_web import ui_data
from starlette.testclient import TestClient

ADMIN = {"X-User": "admin"}
ANN = {"X-User": "ann"}
KANBAN = {
    "by": "stage",
    "title": "title",
    "fields": ["amount", "company"],
    "columns": [
        {"value": "new", "label": {"en": "New"}, "weight": 0.1, "color": "#123456"},
        {"value": "won", "label": {"en": "Won"}, "weight": None, "color": None},
    ],
    "nullable": True,
    "sums": {"amount": "USD"},
}
CALENDAR = {
    "date": "created_at",
    "date_type": "datetime",
    "end": None,
    "end_type": None,
    "title": "title",
}
JUNE = dt.datetime(2024, 6, 3, 22, 30, tzinfo=dt.UTC)


def boards_ui() -> dict[str, Any]:
    """The small CRM's ``ui.json`` with a board and a calendar of deals (companies have none)."""
    data = ui_data()
    for path, entity in data["entities"].items():
        entity["boards"] = {"kanban": None, "calendar": None}
        if path == "deals":
            entity["boards"] = {"kanban": KANBAN, "calendar": CALENDAR}
    return data


@pytest.fixture
def site(tmp_path: Path) -> Site:
    (tmp_path / "ui.json").write_text(json.dumps(boards_ui()), encoding="utf-8")
    return Site(rt_crm.catalog, tmp_path)


@pytest.fixture
def client(site: Site, crm_web: rt_crm.Crm, web_client: WebClient) -> TestClient:
    with crm_web.database.engine.begin() as connection:
        deals = rt_crm.Deal.__table__
        connection.execute(sa.update(deals).where(deals.c.id == 1).values(created_at=JUNE))
        connection.execute(sa.update(deals).where(deals.c.id == 3).values(stage="won"))
    return web_client(site_routes(site, boards), site=site)


def columns(html: str) -> dict[str, str]:
    """The board's columns: value -> the column's HTML."""
    found = re.findall(
        r'<section class="kanban-column" data-value="([^"]*)"[^>]*>(.*?)</section>', html, re.DOTALL
    )
    return dict(found)


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_the_board_has_a_column_per_value_with_counts_and_sums(client: TestClient) -> None:
    page = client.get("/deals/kanban", headers=ADMIN)
    assert page.status_code == 200
    board = columns(page.text)
    assert list(board) == ["", "new", "won"]  # the admin may move: "No value" to drop on
    assert "Big" in board["new"] and "Small" in board["new"] and "Mid" in board["won"]
    assert "$550.00" in board["new"] and "$55.00" in board["new"]  # the sum, 10% of it
    assert "10%" in board["new"] and "#123456" in board["new"]
    assert "Acme" in board["new"]  # a card's reference field
    assert 'href="/deals/calendar"' in page.text and 'action="/deals/kanban/move"' in page.text
    searched = columns(client.get("/deals/kanban?q=Big&stage__in=new", headers=ADMIN).text)
    assert "Big" in searched["new"] and "Small" not in searched["new"]
    bad = client.get("/deals/kanban?amount__gte=lots", headers=ADMIN)
    assert bad.status_code == 200 and 'role="alert">' in bad.text
    assert "Big" not in bad.text


def test_only_people_who_may_list_see_the_board(client: TestClient) -> None:
    assert client.get("/deals/kanban", headers=ANN).status_code == 403  # sales: no list
    assert client.get("/deals/kanban", headers={"X-User": "clerk"}).status_code == 403
    nobody = client.get("/deals/kanban")
    assert nobody.status_code == 303 and nobody.headers["location"].startswith("/login")


def test_a_card_moves_with_the_form(client: TestClient) -> None:
    csrf = token(client.get("/deals/kanban", headers=ADMIN).text)
    form = {
        "csrf_token": csrf,
        "id": "2",
        "version": "1",
        "value": "won",
        "next": "/deals/kanban?q=S",
    }
    moved = client.post("/deals/kanban/move", data=form, headers=ADMIN)
    assert moved.status_code == 303 and moved.headers["location"] == "/deals/kanban?q=S"
    assert "Small" in columns(client.get("/deals/kanban", headers=ADMIN).text)["won"]
    stale = client.post("/deals/kanban/move", data={**form, "value": "new"}, headers=ADMIN)
    assert stale.status_code == 409 and "changed" in stale.text.lower()
    elsewhere = {**form, "version": "", "value": "new", "next": "https://evil.example"}
    back = client.post("/deals/kanban/move", data=elsewhere, headers=ADMIN)
    assert back.status_code == 303 and back.headers["location"] == "/deals/kanban"
    assert "Small" in columns(client.get("/deals/kanban", headers=ADMIN).text)["new"]
    for value in ("", "lost"):  # the stage column takes no null, nor a value not in the enum
        refused = {**form, "version": "", "value": value}
        bad = client.post("/deals/kanban/move", data=refused, headers=ADMIN)
        assert bad.status_code == 422 and 'role="alert">' in bad.text


def test_moves_that_cannot_happen(client: TestClient) -> None:
    csrf = token(client.get("/deals/kanban", headers=ADMIN).text)
    form = {"csrf_token": csrf, "id": "1", "value": "won"}
    post = client.post
    assert (
        post("/deals/kanban/move", data={**form, "csrf_token": "x"}, headers=ADMIN).status_code
        == 403
    )
    assert post("/deals/kanban/move", data={**form, "id": "x"}, headers=ADMIN).status_code == 404
    assert post("/deals/kanban/move", data={**form, "id": "99"}, headers=ADMIN).status_code == 404
    assert (
        post("/deals/kanban/move", data={**form, "id": str(2**63)}, headers=ADMIN).status_code
        == 404
    )
    sales = client.post("/deals/kanban/move", data=form, headers=ANN)  # stage is read-only
    assert sales.status_code in (400, 403, 422)
    assert (
        client.post("/deals/kanban/move", data=form, headers={"X-User": "vic"}).status_code == 403
    )


def test_an_entity_without_the_views_has_no_such_pages(client: TestClient) -> None:
    assert client.get("/companies/kanban", headers=ADMIN).status_code == 404
    assert client.get("/companies/calendar", headers=ADMIN).status_code == 404
    assert client.post("/companies/kanban/move", headers=ADMIN).status_code == 404
    assert client.post("/deals/kanban", headers=ADMIN).status_code == 405


def test_the_calendar_shows_the_month_of_records(client: TestClient) -> None:
    page = client.get("/deals/calendar?month=2024-06", headers=ADMIN)
    assert page.status_code == 200
    assert 'data-month="2024-06"' in page.text and "June 2024" in page.text
    day = re.search(r'data-date="2024-06-03".*?</li>', page.text, re.DOTALL)
    assert day and "Big" in day.group(0) and 'href="/deals/1"' in day.group(0)
    assert "month=2024-05" in page.text and "month=2024-07" in page.text
    assert "/deals/new?" not in page.text  # nobody writes a creation time
    assert 'href="/deals/kanban"' in page.text
    empty = client.get("/deals/calendar?month=2023-01", headers=ADMIN)
    assert empty.status_code == 200 and "Big" not in empty.text
    this_month = client.get("/deals/calendar?month=bad", headers=ADMIN)
    assert f'data-month="{dt.date.today():%Y-%m}"' in this_month.text
    assert client.get("/deals/calendar", headers={"X-User": "clerk"}).status_code == 403


def test_months_weeks_and_days() -> None:
    month = boards.Month.of("2024-05", dt.date(2024, 5, 10), 0)
    assert (month.start, month.end) == (dt.date(2024, 4, 29), dt.date(2024, 6, 3))
    assert (month.previous, month.next) == ("2024-04", "2024-06")
    assert boards.Month.of("0999-01", dt.date(2024, 5, 10), 6).first == dt.date(2024, 5, 1)
    view = {"date": "start", "end": "finish", "title": "name"}
    records = [
        {"id": 1, "name": "Trip", "start": dt.date(2024, 4, 20), "finish": dt.date(2024, 5, 1)},
        {"id": 2, "name": None, "start": dt.datetime(2024, 5, 6, 9, tzinfo=dt.UTC), "finish": None},
        {"id": 3, "name": "Odd", "start": dt.date(2024, 5, 5), "finish": dt.date(2024, 5, 1)},
        {"id": 4, "name": "None", "start": None, "finish": None},
    ]
    days = boards.place(records, view, month, "trips", "en", dt.UTC)
    titles = {day: [e["title"] for e in entries] for day, entries in days.items() if entries}
    assert titles[dt.date(2024, 4, 29)] == ["Trip"] and titles[dt.date(2024, 5, 1)] == ["Trip"]
    assert days[dt.date(2024, 4, 29)][0]["continued"] is True
    assert titles[dt.date(2024, 5, 6)] == ["#2"] and days[dt.date(2024, 5, 6)][0]["time"]
    assert titles[dt.date(2024, 5, 5)] == ["Odd"]
    assert boards.bound(dt.date(2024, 5, 1), "date", dt.UTC) == "2024-05-01"
    assert boards.bound(dt.date(2024, 5, 1), "datetime", dt.UTC) == "2024-05-01T00:00:00Z"


def test_query_filters_and_numbers() -> None:
    pairs = [("q", " a "), ("stage__in", "new"), ("stage__in", "won"), ("month", "x"), ("x", "")]
    assert boards.query_filters(pairs) == [("q", "a"), ("stage__in", "new,won")]
    assert boards.whole_number(" 12 ") == 12
    assert boards.whole_number("1" * 20) is None and boards.whole_number(None) is None
