"""Kanban boards and calendars in real headless Chromium against a real uvicorn process:
drag a deal to another stage and find it saved, refused moves put back with a message, the
calendar's month navigation, and both pages on a phone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from tests.browser import test_browser
from tests.browser.test_browser import PHONE, sign_in
from tests.e2e.conftest import Server

page, shots = test_browser.page, test_browser.shots  # the fixtures
ZONE = ZoneInfo("Europe/Moscow")  # examples/crm's app.timezone: its "today"


def expect(target: Any) -> Any:
    """Playwright's waiting assertions (imported late: without Playwright the ``browser``
    fixture skips, or fails under CI, with the reason)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def api(live: Server, name: str) -> Any:
    return live.client(live.token(name))


def user_id(live: Server, name: str) -> int:
    with api(live, name) as client:
        return int(client.get("/api/auth/me").json()["id"])


def new_deal(live: Server, name: str, **values: Any) -> dict[str, Any]:
    with api(live, "seller1") as client:
        response = client.post(
            "/api/deals", json={"name": name, "stage": "lead", "amount": "1000", **values}
        )
        assert response.status_code == 201, response.text
        return dict(response.json())


def deal(live: Server, record_id: int) -> dict[str, Any]:
    with api(live, "admin") as client:
        response = client.get(f"/api/deals/{record_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())


def task(live: Server, title: str, deadline: dt.date) -> dict[str, Any]:
    """A task of seller1 due on ``deadline`` (the crm's task rule dates a new task itself)."""
    with api(live, "seller1") as client:
        created = client.post("/api/tasks", json={"title": title})
        assert created.status_code == 201, created.text
        record = created.json()
        changed = client.patch(
            f"/api/tasks/{record['id']}", json={"deadline": deadline.isoformat()}
        )
        assert changed.status_code == 200, changed.text
        return dict(changed.json())


def open_board(page: Any, live: Server, url: str) -> None:
    """``url`` in English, whatever the browser's languages."""
    page.goto(f"{live.base}/locale?" + urlencode({"set": "en", "next": url}))
    assert page.url == live.base + url, page.url


def card(page: Any, record_id: int) -> Any:
    return page.locator(f'.kanban-card[data-id="{record_id}"]')


def column(page: Any, value: str) -> Any:
    return page.locator(f'.kanban-column[data-value="{value}"]')


def count(page: Any, value: str) -> Any:
    return column(page, value).locator(".kanban-count")


def test_drag_a_deal_to_another_stage_and_find_it_saved(
    page: Any, live: Server, shots: Path
) -> None:
    record = new_deal(live, "Dragged deal", amount="2500")
    sign_in(page, live, "seller1")
    open_board(page, live, "/deals/kanban")
    expect(card(page, record["id"])).to_be_visible()
    before = int(count(page, "proposal").inner_text().split()[-1])
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page scrolls sideways ({width}px)"
    page.screenshot(path=str(shots / "kanban-desktop.png"), full_page=True)
    card(page, record["id"]).drag_to(column(page, "proposal"))
    expect(page.locator(".kanban-status")).to_have_text("Saved.")
    expect(column(page, "proposal").locator(f'[data-id="{record["id"]}"]')).to_have_count(1)
    expect(count(page, "proposal")).to_contain_text(str(before + 1))  # counts refreshed
    saved = deal(live, record["id"])
    assert saved["stage"] == "proposal" and saved["version"] == record["version"] + 1
    page.reload()
    expect(column(page, "proposal").locator(f'[data-id="{record["id"]}"]')).to_have_count(1)
    expect(column(page, "lead").locator(f'[data-id="{record["id"]}"]')).to_have_count(0)


def test_under_the_workflow_a_card_drops_only_where_it_may_move(page: Any, live: Server) -> None:
    """Deal.stage is a workflow: a seller's lead may go to qualification, proposal or lost;
    a drop on won (managers only) or negotiation is not taken, a drop on qualification is."""
    record = new_deal(live, "Guarded deal")
    sign_in(page, live, "seller1")
    open_board(page, live, "/deals/kanban")
    options = card(page, record["id"]).locator("select option")
    offered = options.evaluate_all("all => all.map(o => o.value)")
    assert offered == ["lead", "qualification", "proposal", "lost"]
    expect(column(page, "lead")).to_have_attribute("data-moves", "qualification proposal lost")
    for refused in ("won", "negotiation"):
        card(page, record["id"]).drag_to(column(page, refused))
        expect(column(page, refused).locator(f'[data-id="{record["id"]}"]')).to_have_count(0)
        expect(column(page, "lead").locator(f'[data-id="{record["id"]}"]')).to_have_count(1)
    assert deal(live, record["id"])["stage"] == "lead"  # nothing was sent
    card(page, record["id"]).drag_to(column(page, "qualification"))
    expect(page.locator(".kanban-status")).to_have_text("Saved.")
    expect(column(page, "qualification").locator(f'[data-id="{record["id"]}"]')).to_have_count(1)
    assert deal(live, record["id"])["stage"] == "qualification"


def test_the_move_form_works_from_the_keyboard(page: Any, live: Server) -> None:
    record = new_deal(live, "Keyboard deal")
    sign_in(page, live, "seller1")
    open_board(page, live, "/deals/kanban")
    select = card(page, record["id"]).locator("select")
    select.focus()
    select.select_option("qualification")
    card(page, record["id"]).locator("button[type=submit]").press("Enter")
    expect(column(page, "qualification").locator(f'[data-id="{record["id"]}"]')).to_have_count(1)
    expect(page.locator(".kanban-status")).not_to_be_empty()
    assert deal(live, record["id"])["stage"] == "qualification"


def test_a_refused_move_puts_the_card_back_with_a_message(page: Any, live: Server) -> None:
    stale = new_deal(live, "Stale deal")
    taken = new_deal(live, "Taken deal")
    sign_in(page, live, "seller1")
    open_board(page, live, "/deals/kanban")
    expect(card(page, stale["id"])).to_be_visible()
    # Meanwhile someone renames one deal (a new version) and gives the other to seller2.
    with api(live, "admin") as client:
        renamed = client.patch(
            f"/api/deals/{stale['id']}",
            json={"name": "Stale deal (renamed)", "version": stale["version"]},
        )
        assert renamed.status_code == 200, renamed.text
        seller2 = user_id(live, "seller2")
        moved = client.patch(f"/api/deals/{taken['id']}", json={"owner": seller2})
        assert moved.status_code == 200, moved.text
    card(page, stale["id"]).drag_to(column(page, "qualification"))
    alert = page.locator(".kanban-error")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Someone changed this record")
    expect(column(page, "lead").locator(f'[data-id="{stale["id"]}"]')).to_have_count(1)
    expect(column(page, "qualification").locator(f'[data-id="{stale["id"]}"]')).to_have_count(0)
    assert deal(live, stale["id"])["stage"] == "lead"
    card(page, taken["id"]).drag_to(column(page, "proposal"))
    expect(alert).not_to_contain_text("Someone changed this record")  # a new message
    expect(column(page, "lead").locator(f'[data-id="{taken["id"]}"]')).to_have_count(1)
    assert deal(live, taken["id"])["stage"] == "lead"


def test_a_card_dropped_on_no_value_clears_an_optional_field(page: Any, live: Server) -> None:
    record = task(live, "Clear my status", dt.datetime.now(ZONE).date())
    assert record["status"] == "new"
    sign_in(page, live, "seller1")
    open_board(page, live, "/tasks/kanban")
    empty = column(page, "")
    expect(empty).to_have_attribute("data-drop", "true")  # Task.status is not required
    card(page, record["id"]).drag_to(empty)
    expect(page.locator(".kanban-status")).to_have_text("Saved.")
    expect(empty.locator(f'[data-id="{record["id"]}"]')).to_have_count(1)
    with api(live, "seller1") as client:
        saved = client.get(f"/api/tasks/{record['id']}").json()
    assert saved["status"] is None and saved["version"] == record["version"] + 1
    select = card(page, record["id"]).locator("select")
    expect(select).to_have_value("")  # the move form says "No value" too
    select.select_option("in_progress")
    card(page, record["id"]).locator("button[type=submit]").click()
    expect(column(page, "in_progress").locator(f'[data-id="{record["id"]}"]')).to_have_count(1)
    expect(card(page, record["id"])).to_have_attribute("data-version", str(record["version"] + 2))
    select.select_option("")  # and back to "No value" through the form
    card(page, record["id"]).locator("button[type=submit]").click()
    expect(card(page, record["id"])).to_have_attribute("data-version", str(record["version"] + 3))
    expect(empty.locator(f'[data-id="{record["id"]}"]')).to_have_count(1)
    with api(live, "seller1") as client:
        assert client.get(f"/api/tasks/{record['id']}").json()["status"] is None
    open_board(page, live, "/deals/kanban")  # a required stage: no "No value" to drop on
    expect(column(page, "")).to_have_count(0)
    expect(page.locator('.kanban-card select option[value=""]')).to_have_count(0)


def test_the_calendar_shows_a_task_on_its_date_and_moves_between_months(
    page: Any, live: Server, shots: Path
) -> None:
    today = dt.datetime.now(ZONE).date()
    following = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    due = following.replace(day=14)
    created = task(live, "Call the buyer", due)
    task(live, "Today's task", today)
    sign_in(page, live, "seller1")
    open_board(page, live, "/tasks/calendar")
    expect(page.locator(".day.today")).to_have_count(1)
    expect(page.locator(f'.day[data-date="{today.isoformat()}"]')).to_contain_text("Today's task")
    page.screenshot(path=str(shots / "calendar-desktop.png"), full_page=True)
    page.click("a[rel=next]")
    expect(page.locator(".calendar-month")).to_have_attribute(
        "data-month", following.strftime("%Y-%m")
    )
    entry = page.locator(f'.day[data-date="{due.isoformat()}"] a.entry')
    expect(entry).to_have_text("Call the buyer")
    entry.click()
    expect(page).to_have_url(f"{live.base}/tasks/{created['id']}")
    page.go_back()
    page.click("a[rel=prev]")
    expect(page.locator(".calendar-month")).to_have_attribute("data-month", today.strftime("%Y-%m"))
    page.goto(f"{live.base}/tasks/calendar?month=nonsense")
    expect(page.locator(".calendar-month")).to_have_attribute("data-month", today.strftime("%Y-%m"))


def test_boards_on_a_phone(browser: Any, live: Server, shots: Path) -> None:
    today = dt.datetime.now(ZONE).date()
    new_deal(live, "Phone deal")
    task(live, "Phone task", today)
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        page = context.new_page()
        sign_in(page, live, "seller1")
        open_board(page, live, "/deals/kanban")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the board scrolls sideways ({width}px)"
        assert page.locator(".kanban-card select").first.is_visible()  # moving without dragging
        page.screenshot(path=str(shots / "kanban-phone.png"), full_page=True)
        open_board(page, live, "/tasks/calendar")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the calendar scrolls sideways ({width}px)"
        assert not page.locator(".calendar-weekdays").is_visible()  # an agenda, not a grid
        day = page.locator(f'.day[data-date="{today.isoformat()}"]')
        assert day.locator(".day-label").is_visible() and "Phone task" in day.inner_text()
        assert page.locator(".day:not(.busy):not(.today)").first.is_hidden()
        page.screenshot(path=str(shots / "calendar-phone.png"), full_page=True)
    finally:
        context.close()
