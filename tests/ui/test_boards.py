"""Kanban boards and calendars of the generated web UI, in process (examples/crm on SQLite):
columns, counts and sums, moving a card by form (CSRF, permissions, stale versions), the
calendar's month grid, its range query and its bad ``month`` values."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import crud
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.web import boards

from crmgen.language import load_spec
from crmgen.render.web.boards import entity_data
from tests.generated_apps import ROOT
from tests.ui import test_pages
from tests.ui.test_pages import UI, csrf, fresh

ui = test_pages.ui  # the fixture: examples/crm in process, on its own SQLite file

SELLER1, SELLER2, SUPPORT = (
    "boards-s1@example.com",
    "boards-s2@example.com",
    "boards-sup@example.com",
)
STAGES = ["lead", "qualification", "proposal", "negotiation", "won", "lost"]


def principal(ui: UI, email: str) -> Any:
    with ui.database.session() as session:
        user = session.execute(
            sa.select(ui.gen.models.User).where(ui.gen.models.User.email == email)
        ).scalar_one()
        return CurrentUser(user.id, email, None, frozenset(user.roles))


def create(ui: UI, user: Any, path: str, **values: Any) -> dict[str, Any]:
    """A record; a deal past its first stage gets there the pipeline's way (created as a lead,
    then moved: the workflow lets no deal start in a later stage)."""
    resource = ui.gen.resources.RESOURCES[path]
    stage = values.pop("stage", None) if path == "deals" else None
    record = dict(crud.create_record(ui.database, resource, user, values, None))
    if stage not in (None, "lead"):
        change = {"stage": stage}
        record = dict(crud.update_record(ui.database, resource, user, record["id"], change, None))
    return record


def task(ui: UI, admin: Any, title: str, deadline: str, assignee: int) -> dict[str, Any]:
    """A task due on ``deadline`` (the crm's task rule dates a new task itself: moved after)."""
    created = create(ui, admin, "tasks", title=title, assignee=assignee)
    resource = ui.gen.resources.RESOURCES["tasks"]
    return dict(
        crud.update_record(
            ui.database, resource, admin, created["id"], {"deadline": deadline}, None
        )
    )


def read(ui: UI, user: Any, path: str, record_id: int) -> dict[str, Any]:
    resource = ui.gen.resources.RESOURCES[path]
    with ui.database.engine.connect() as connection:
        record = crud.fetch_one(connection, resource, user, record_id)
    assert record is not None
    return dict(record)


def boards_module(ui: UI) -> Any:
    """The web UI's boards (``crmgen_runtime.web.boards``, over the app's site)."""
    return boards


def login(ui: UI, email: str) -> UI:
    fresh(ui)
    ui.login(email)
    return ui


@pytest.fixture(scope="module")
def people(ui: UI) -> dict[str, Any]:
    """Two sellers with deals and tasks of their own, and a support agent who may only read."""
    for email, role in ((SELLER1, "sales"), (SELLER2, "sales"), (SUPPORT, "support")):
        ui.user(email, role)
    users = {email: principal(ui, email) for email in (SELLER1, SELLER2, SUPPORT)}
    admin = dataclasses.replace(principal(ui, "admin@example.com"), superuser=True)
    s1, s2 = users[SELLER1].id, users[SELLER2].id
    deals = {
        "alpha": create(
            ui, admin, "deals", name="Alpha board", stage="lead", amount="1000", owner=s1
        ),
        "beta": create(
            ui, admin, "deals", name="Beta board", stage="lead", amount="500.50", owner=s1
        ),
        "gamma": create(
            ui, admin, "deals", name="Gamma board", stage="proposal", amount="2000", owner=s1
        ),
        "delta": create(
            ui, admin, "deals", name="Delta board", stage="lead", amount="7000", owner=s2
        ),
    }
    tasks = {
        "may": task(ui, admin, "Call in May", "2024-05-15", s1),
        "edge": task(ui, admin, "Grid edge", "2024-04-28", s1),
        "june": task(ui, admin, "Far June", "2024-06-20", s1),
        "other": task(ui, admin, "Not mine", "2024-05-15", s2),
    }
    return {"users": users, "admin": admin, "deals": deals, "tasks": tasks}


def columns(text: str) -> dict[str, dict[str, Any]]:
    """The board's columns in page order: each with its count, sums and card titles."""
    found: dict[str, dict[str, Any]] = {}
    for value, body in re.findall(
        r'<section class="kanban-column" data-value="([^"]*)"(.*?)</section>', text, re.DOTALL
    ):
        count = re.search(r'class="kanban-count"[^>]*>.*?</span>(\d+)</span>', body, re.DOTALL)
        assert count, body
        found[value] = {
            "count": int(count.group(1)),
            "sums": re.findall(r"<strong>([^<]*)</strong>", body),
            "weighted": re.findall(r'class="kanban-weighted">[^:]*: ([^<]*)</span>', body),
            "cards": re.findall(r'class="kanban-title" href="/deals/\d+"[^>]*>([^<]*)</a>', body),
        }
    return found


# --- what the renderer writes into ui.json -------------------------------------------------


def test_the_renderer_describes_boards_and_calendars() -> None:
    spec = load_spec(ROOT / "examples" / "crm")
    deal = entity_data(spec, spec.entity("Deal"))
    kanban = deal["kanban"]
    assert kanban["by"] == "stage" and kanban["title"] == "name"
    assert [c["value"] for c in kanban["columns"]] == STAGES
    assert [c["weight"] for c in kanban["columns"]] == [0.1, 0.2, 0.5, 0.8, 1, 0]
    assert kanban["columns"][0]["label"]["ru"] == "Первичный контакт"
    assert kanban["sums"] == {"amount": "RUB"}  # money fields of the card, with their currency
    assert deal["calendar"] == {
        "date": "expected_close",
        "date_type": "date",
        "end": None,
        "end_type": None,
        "title": "name",
    }
    interaction = entity_data(spec, spec.entity("Interaction"))
    assert interaction["kanban"] is None and interaction["calendar"]["date_type"] == "datetime"
    assert entity_data(spec, spec.entity("Company")) == {"kanban": None, "calendar": None}


# --- kanban --------------------------------------------------------------------------------


def test_columns_follow_the_enum_with_counts_sums_and_weights(
    ui: UI, people: dict[str, Any]
) -> None:
    page = login(ui, SELLER1).client.get("/deals/kanban")
    assert page.status_code == 200
    board = columns(page.text)
    assert list(board) == STAGES
    assert [board[s]["count"] for s in STAGES] == [2, 0, 1, 0, 0, 0]
    assert sorted(board["lead"]["cards"]) == ["Alpha board", "Beta board"]  # not seller2's Delta
    assert board["lead"]["sums"] == ["RUB\u00a01,500.50"]
    assert board["lead"]["weighted"] == ["RUB\u00a0150.05"]  # 10 % probability
    assert board["proposal"]["sums"] == ["RUB\u00a02,000.00"] and board["proposal"]["weighted"] == [
        "RUB\u00a01,000.00"
    ]
    assert ">10%<" in page.text  # the stage's probability
    assert 'draggable="true"' in page.text and 'action="/deals/kanban/move"' in page.text
    assert '<script src="/static/kanban.js" defer>' in page.text
    assert ui.client.get("/static/kanban.js").status_code == 200
    # The keyboard move sits in each card's menu: a button and the allowed columns only.
    assert "<select" not in page.text
    alpha = people["deals"]["alpha"]
    assert move_options(page.text, alpha["id"]) == ["qualification", "proposal", "lost"]
    assert page.text.count('class="kanban-menu-button" aria-haspopup="menu"') == 3
    assert 'aria-label="Move to: Alpha board"' in page.text
    # Each column's collapse toggle controls its card list (shown by kanban.js).
    for index in range(1, 7):
        assert f'aria-controls="cards-{index}"' in page.text
        assert f'<ol class="kanban-cards" id="cards-{index}">' in page.text
    assert 'data-msg-expand="Expand column"' in page.text
    assert ui.client.get("/static/boards.css").status_code == 200


def test_the_admin_sees_every_record_and_search_filters_the_board(
    ui: UI, people: dict[str, Any]
) -> None:
    fresh(ui)
    ui.login("admin@example.com")
    board = columns(ui.client.get("/deals/kanban").text)
    assert board["lead"]["count"] == 3 and "Delta board" in board["lead"]["cards"]
    searched = columns(ui.client.get("/deals/kanban?q=Alpha").text)
    assert searched["lead"]["cards"] == ["Alpha board"] and searched["lead"]["count"] == 1
    assert searched["proposal"]["count"] == 0
    assert (
        'name="next" value="/deals/kanban?q=Alpha"' in ui.client.get("/deals/kanban?q=Alpha").text
    )


def test_a_bad_filter_is_a_message_not_a_500(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, SELLER1).client
    page = client.get("/deals/kanban?amount__gte=lots")
    assert page.status_code == 200
    assert 'class="alert error kanban-error" role="alert">amount__gte' in page.text
    assert all(c["count"] == 0 for c in columns(page.text).values())
    assert client.get("/deals/kanban?q=" + "x%00y").status_code == 200


def test_moving_by_form_needs_the_csrf_token_and_checks_the_version(
    ui: UI, people: dict[str, Any]
) -> None:
    client = login(ui, SELLER1).client
    deal = people["deals"]["beta"]
    page = client.get("/deals/kanban")
    move = {
        "id": str(deal["id"]),
        "version": str(deal["version"]),
        "value": "qualification",
        "next": "/deals/kanban",
    }
    forged = client.post("/deals/kanban/move", data=move, follow_redirects=False)
    assert forged.status_code == 403
    assert read(ui, people["admin"], "deals", deal["id"])["stage"] == "lead"
    done = client.post(
        "/deals/kanban/move", data={**move, "csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/deals/kanban"
    saved = read(ui, people["admin"], "deals", deal["id"])
    assert saved["stage"] == "qualification" and saved["version"] == deal["version"] + 1
    board = columns(client.get("/deals/kanban").text)
    assert board["qualification"]["cards"] == ["Beta board"] and board["lead"]["count"] == 1
    # The same (now stale) version again: 409, the board says so, nothing changes.
    stale = client.post(
        "/deals/kanban/move", data={**move, "value": "proposal", "csrf_token": csrf(page.text)}
    )
    assert stale.status_code == 409
    assert "Someone changed this record in the meantime" in stale.text
    assert read(ui, people["admin"], "deals", deal["id"])["stage"] == "qualification"


def test_a_bad_value_or_someone_elses_record_is_refused(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, SELLER1).client
    token = csrf(client.get("/deals/kanban").text)
    alpha = people["deals"]["alpha"]
    bad = client.post(
        "/deals/kanban/move", data={"csrf_token": token, "id": str(alpha["id"]), "value": "nowhere"}
    )
    assert bad.status_code == 422 and "The card was not moved:" in bad.text
    assert columns(bad.text)["lead"]["count"] >= 1  # the board is shown again
    delta = people["deals"]["delta"]  # seller2's: not even there for seller1
    other = client.post(
        "/deals/kanban/move", data={"csrf_token": token, "id": str(delta["id"]), "value": "won"}
    )
    assert other.status_code == 404
    assert read(ui, people["admin"], "deals", delta["id"])["stage"] == "lead"
    for junk in ("abc", "-1", "99999999999999999999999"):
        answer = client.post(
            "/deals/kanban/move", data={"csrf_token": token, "id": junk, "value": "won"}
        )
        assert answer.status_code == 404
    outside = client.post(
        "/deals/kanban/move",
        data={
            "csrf_token": token,
            "id": str(alpha["id"]),
            "value": "lead",
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert outside.headers["location"] == "/deals/kanban"


def test_a_user_who_may_not_update_sees_no_handles_and_gets_403(
    ui: UI, people: dict[str, Any]
) -> None:
    client = login(ui, SUPPORT).client
    page = client.get("/deals/kanban")
    assert page.status_code == 200
    assert "Gamma board" in page.text  # support reads every deal
    assert "draggable" not in page.text and "kanban-move" not in page.text
    assert "kanban-menu" not in page.text  # no card menus; columns still collapse
    assert '<script src="/static/kanban.js" defer>' in page.text
    assert page.text.count('class="kanban-toggle"') == 6
    gamma = people["deals"]["gamma"]
    refused = client.post(
        "/deals/kanban/move",
        data={"csrf_token": csrf(page.text), "id": str(gamma["id"]), "value": "won"},
    )
    assert refused.status_code == 403
    assert read(ui, people["admin"], "deals", gamma["id"])["stage"] == "proposal"


def test_the_board_needs_a_session_and_exists_only_where_declared(
    ui: UI, people: dict[str, Any]
) -> None:
    fresh(ui)
    response = ui.client.get("/deals/kanban", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    login(ui, SELLER1)
    assert ui.client.get("/companies/kanban").status_code == 404
    assert ui.client.get("/companies/calendar").status_code == 404
    tasks = ui.client.get("/tasks/kanban")
    assert tasks.status_code == 200 and "Call in May" in tasks.text and "Not mine" not in tasks.text


# --- calendar ------------------------------------------------------------------------------


def day_cells(text: str) -> dict[str, str]:
    """Each day of the month grid: its date -> its HTML (the entries, the "new" link)."""
    grid = text.split('<ol class="calendar-days">', 1)[1].split("</ol>\n</div>", 1)[0]
    chunks = grid.split('<li class="day')[1:]
    return {re.search(r'data-date="([\d-]+)"', c).group(1): c for c in chunks}  # type: ignore[union-attr]


def test_the_month_grid_places_records_on_their_dates(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, SELLER1).client
    page = client.get("/tasks/calendar?month=2024-05")
    assert page.status_code == 200
    days = day_cells(page.text)
    # English weeks start on Sunday: May 2024 shows five weeks, April 28 to June 1.
    assert next(iter(days)) == "2024-04-28" and list(days)[-1] == "2024-06-01" and len(days) == 35
    assert "Call in May" in days["2024-05-15"] and "Grid edge" in days["2024-04-28"]
    assert "Not mine" not in page.text and "Far June" not in page.text
    task = people["tasks"]["may"]
    assert f'href="/tasks/{task["id"]}"' in days["2024-05-15"]
    assert 'href="/tasks/new?deadline=2024-05-15"' in days["2024-05-15"]
    form = client.get("/tasks/new?deadline=2024-05-15")  # the form opens on that day
    assert re.search(r'<input[^>]*name="deadline"[^>]*value="2024-05-15"', form.text)
    assert ">May 2024<" in page.text
    assert 'href="/tasks/calendar?month=2024-04"' in page.text
    assert 'href="/tasks/calendar?month=2024-06"' in page.text
    june = client.get("/tasks/calendar?month=2024-06")
    assert "Far June" in day_cells(june.text)["2024-06-20"]
    ui.client.cookies.set("locale", "ru")  # Russian weeks start on Monday
    russian = client.get("/tasks/calendar?month=2024-05")
    assert next(iter(day_cells(russian.text))) == "2024-04-29" and "Май 2024" in russian.text
    ui.client.cookies.set("locale", "en")


def test_only_the_visible_weeks_are_queried(
    ui: UI, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = login(ui, SELLER1).client
    real = crud.list_records
    asked: list[list[tuple[str, str]]] = []

    def spy(database: Any, resource: Any, user: Any, params: list[tuple[str, str]]) -> Any:
        asked.append(list(params))
        return real(database, resource, user, params)

    monkeypatch.setattr(crud, "list_records", spy)
    assert client.get("/tasks/calendar?month=2024-05").status_code == 200
    assert len(asked) == 1
    assert ("deadline__gte", "2024-04-28") in asked[0] and ("deadline__lt", "2024-06-02") in asked[
        0
    ]
    asked.clear()
    assert client.get("/interactions/calendar?month=2024-05").status_code == 200
    # Midnight in Europe/Moscow (UTC+3) as UTC.
    assert ("happened_at__gte", "2024-04-27T21:00:00Z") in asked[0]
    assert ("happened_at__lt", "2024-06-01T21:00:00Z") in asked[0]


def test_date_and_time_records_land_on_the_local_day(ui: UI, people: dict[str, Any]) -> None:
    admin = people["admin"]
    late = create(
        ui,
        admin,
        "interactions",
        gist="Late call",
        kind="call",
        happened_at="2024-05-31T22:30:00Z",
        owner=people["users"][SELLER1].id,
    )
    client = login(ui, SELLER1).client
    days = day_cells(client.get("/interactions/calendar?month=2024-06").text)
    assert "Late call" in days["2024-06-01"] and "Late call" not in days.get("2024-05-31", "")
    assert "<time>1:30" in days["2024-06-01"]  # 01:30 in Moscow
    assert f'href="/interactions/{late["id"]}"' in days["2024-06-01"]
    assert "new?happened_at=2024-06-01T09%3A00" in days["2024-06-01"]


def test_bad_month_values_show_this_month(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, SELLER1).client
    today = ui.gen.settings.fn.today()
    this_month = today.strftime("%Y-%m")
    for bad in (
        "2024-13",
        "2024-00",
        "abc",
        "0000-01",
        "99999-01",
        "9999-12",
        "2024-5",
        "%00",
        "2024-05-01",
    ):
        page = client.get("/tasks/calendar", params={"month": bad})
        assert page.status_code == 200, bad
        assert f'data-month="{this_month}"' in page.text, bad
    page = client.get("/tasks/calendar")
    assert re.search(
        rf'<li class="day[^"]*\btoday\b[^"]*" data-date="{today.isoformat()}" aria-current="date"',
        page.text,
    )
    assert page.text.count('aria-current="date"') == 1


def test_a_record_with_an_end_spans_its_days(ui: UI) -> None:
    module = boards_module(ui)
    month = module.Month.of("2024-05", dt.date(2024, 5, 10), 0)
    assert (month.start, month.end) == (dt.date(2024, 4, 29), dt.date(2024, 6, 3))
    view = {"date": "start", "end": "finish", "title": "name"}
    records = [
        {"id": 1, "name": "Trip", "start": dt.date(2024, 4, 20), "finish": dt.date(2024, 5, 1)},
        {"id": 2, "name": "Fair", "start": dt.date(2024, 6, 1), "finish": dt.date(2024, 6, 30)},
        {"id": 3, "name": "Odd", "start": dt.date(2024, 5, 5), "finish": dt.date(2024, 5, 1)},
    ]
    days = module.place(records, view, month, "trips", "en", dt.UTC)
    titles = {day: [e["title"] for e in entries] for day, entries in days.items() if entries}
    assert titles[dt.date(2024, 4, 29)] == ["Trip"] and titles[dt.date(2024, 5, 1)] == ["Trip"]
    assert dt.date(2024, 5, 2) not in titles and dt.date(2024, 4, 28) not in days
    assert days[dt.date(2024, 4, 29)][0]["continued"] is True
    assert titles[dt.date(2024, 6, 2)] == ["Fair"] and titles[dt.date(2024, 5, 5)] == ["Odd"]


def task_columns(text: str) -> dict[str, dict[str, Any]]:
    """The task board's columns: whether each takes dropped cards, its count and card titles."""
    found: dict[str, dict[str, Any]] = {}
    for value, attributes, body in re.findall(
        r'<section class="kanban-column" data-value="([^"]*)"([^>]*)>(.*?)</section>',
        text,
        re.DOTALL,
    ):
        count = re.search(r'class="kanban-count"[^>]*>.*?</span>(\d+)</span>', body, re.DOTALL)
        assert count, body
        found[value] = {
            "drop": 'data-drop="true"' in attributes,
            "count": int(count.group(1)),
            "cards": re.findall(r'class="kanban-title" href="/tasks/\d+"[^>]*>([^<]*)</a>', body),
        }
    return found


def move_options(text: str, record_id: int) -> list[str]:
    """The values offered by the menu of the card of ``record_id`` (its own column is not)."""
    card = re.search(
        rf'<li class="kanban-card" data-id="{record_id}"[^>]*>(.*?)</li>', text, re.DOTALL
    )
    assert card, f"no card {record_id}"
    menu = re.search(
        r'<form class="kanban-move"[^>]*role="menu"[^>]*>(.*?)</form>', card.group(1), re.DOTALL
    )
    assert menu, f"no move menu for {record_id}"
    return re.findall(
        r'<button type="submit" name="value" value="([^"]*)" role="menuitem">', menu.group(1)
    )


def test_an_optional_field_has_a_no_value_column_that_clears_it(
    ui: UI, people: dict[str, Any]
) -> None:
    client = login(ui, SELLER1).client
    record = people["tasks"]["may"]  # Task.status is not required
    page = client.get("/tasks/kanban")
    board = task_columns(page.text)
    assert next(iter(board)) == "" and board[""]["drop"]  # "No value" first, a drop target
    assert all(column["drop"] for column in board.values())
    assert move_options(page.text, record["id"])[0] == ""  # "No value" first
    assert "new" not in move_options(page.text, record["id"])  # the card's own column
    assert 'value="" role="menuitem">No value</button>' in page.text
    current = read(ui, people["admin"], "tasks", record["id"])
    move = {
        "csrf_token": csrf(page.text),
        "id": str(record["id"]),
        "version": str(current["version"]),
        "value": "",
        "next": "/tasks/kanban",
    }
    done = client.post("/tasks/kanban/move", data=move, follow_redirects=False)
    assert done.status_code == 303, done.text
    cleared = read(ui, people["admin"], "tasks", record["id"])
    assert cleared["status"] is None and cleared["version"] == current["version"] + 1
    page = client.get("/tasks/kanban")
    board = task_columns(page.text)
    assert "Call in May" in board[""]["cards"] and board[""]["count"] >= 1
    assert "Call in May" not in board["new"]["cards"]
    offered = move_options(page.text, record["id"])
    assert "" not in offered and offered[0] == "new"  # from "No value": every other column
    # A stale version clears nothing either.
    stale = client.post("/tasks/kanban/move", data={**move, "value": "done"})
    assert stale.status_code == 409
    back = client.post(
        "/tasks/kanban/move",
        data={**move, "version": str(cleared["version"]), "value": "new"},
        follow_redirects=False,
    )
    assert back.status_code == 303
    assert read(ui, people["admin"], "tasks", record["id"])["status"] == "new"


def test_a_required_field_has_no_no_value_target(ui: UI, people: dict[str, Any]) -> None:
    client = login(ui, SELLER1).client
    page = client.get("/deals/kanban")
    board = task_columns(page.text.replace('href="/deals/', 'href="/tasks/'))
    assert "" not in board and all(column["drop"] for column in board.values())
    alpha = people["deals"]["alpha"]
    assert "" not in move_options(page.text, alpha["id"])
    assert "No value" not in page.text
    before = read(ui, people["admin"], "deals", alpha["id"])
    refused = client.post(
        "/deals/kanban/move",
        data={"csrf_token": csrf(page.text), "id": str(alpha["id"]), "value": ""},
    )
    assert refused.status_code == 422 and "The card was not moved:" in refused.text
    after = read(ui, people["admin"], "deals", alpha["id"])
    assert after["stage"] == before["stage"] and after["version"] == before["version"]


def test_the_empty_no_value_column_is_there_only_to_drop_on(ui: UI, people: dict[str, Any]) -> None:
    module = boards_module(ui)
    resource = ui.gen.resources.RESOURCES["tasks"]
    view = ui.gen.app.web.SITE.entities["tasks"]["boards"]["kanban"]
    valued = [("status__isnull", "false")]  # no record without a value
    admin = people["admin"]
    plain = module.load_board(ui.database, resource, admin, view, valued, "")
    assert plain[0].value == "new"  # nothing to show in "No value"
    movable = module.load_board(ui.database, resource, admin, view, valued, "", empty_column=True)
    assert movable[0].value is None and movable[0].count == 0 and movable[0].cards == []
    assert [c.value for c in movable[1:]] == [c.value for c in plain]
