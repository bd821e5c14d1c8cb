"""Kanban boards and calendars in real headless Chromium against a real uvicorn process:
drag a deal to another stage and find it saved, refused moves put back with a message, the
calendar's month navigation, and both pages on a phone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from tests.browser import test_browser
from tests.browser.test_browser import PHONE, sign_in
from tests.e2e.conftest import Server

page, shots = test_browser.page, test_browser.shots  # the fixtures
ZONE = ZoneInfo("Europe/Moscow")  # examples/crm's app.timezone: its "today"
STAGES = ["lead", "qualification", "proposal", "negotiation", "won", "lost"]


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


def menu_items(page: Any, record_id: int) -> Any:
    return card(page, record_id).locator('.kanban-move [role="menuitem"]')


def choose(page: Any, record_id: int, value: str) -> None:
    """Open the card's menu and pick the column ``value``."""
    card(page, record_id).locator(".kanban-menu-button").click()
    card(page, record_id).locator(f'.kanban-move button[value="{value}"]').click()


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
    offered = menu_items(page, record["id"]).evaluate_all("all => all.map(o => o.value)")
    assert offered == ["qualification", "proposal", "lost"]  # the card's menu: allowed moves only
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
    # The menu now offers qualification's moves (the workflow's), not lead's.
    offered = menu_items(page, record["id"]).evaluate_all("all => all.map(o => o.value)")
    expected = column(page, "qualification").get_attribute("data-moves").split()
    assert offered == [v for v in STAGES if v in expected] and "qualification" not in offered


def test_the_card_menu_moves_a_card_with_the_keyboard_only(
    page: Any, live: Server, shots: Path
) -> None:
    record = new_deal(live, "Keyboard deal")
    sign_in(page, live, "seller1")
    open_board(page, live, "/deals/kanban")
    expect(page.locator(".kanban-card select")).to_have_count(0)  # no select on every card
    button = card(page, record["id"]).locator(".kanban-menu-button")
    expect(button).to_have_attribute("aria-haspopup", "menu")
    expect(button).to_have_attribute("aria-expanded", "false")
    card(page, record["id"]).locator(".kanban-title").focus()
    page.keyboard.press("Tab")  # from the card's link to its menu button
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    items = menu_items(page, record["id"])
    expect(items.first).to_be_focused()  # the first allowed column: qualification
    page.screenshot(path=str(shots / "kanban-menu.png"))
    page.keyboard.press("Escape")  # closes, back on the button, nothing moved
    expect(items.first).to_be_hidden()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(items.first).to_be_focused()
    page.keyboard.press("ArrowUp")  # wraps round to the last
    expect(items.last).to_be_focused()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowDown")
    expect(items.nth(1)).to_be_focused()
    expect(items.nth(1)).to_have_attribute("value", "proposal")
    page.keyboard.press("Enter")
    expect(column(page, "proposal").locator(f'[data-id="{record["id"]}"]')).to_have_count(1)
    expect(page.locator(".kanban-status")).to_have_text("Saved.")
    expect(button).to_be_focused()  # the keyboard stays on the card
    assert deal(live, record["id"])["stage"] == "proposal"


@pytest.mark.parametrize("width", [1280, 1440, PHONE["width"]])
def test_the_board_fits_and_every_column_is_reachable(
    browser: Any, live: Server, shots: Path, width: int
) -> None:
    """The board scrolls inside itself, never the page; each column can be scrolled into view
    with its header (name, count, sum) readable; headers are sticky; a phone snaps columns."""
    new_deal(live, f"Wide deal {width}", stage="lead", amount="123456789.50")
    phone = width == PHONE["width"]
    context = browser.new_context(
        viewport={"width": width, "height": PHONE["height"] if phone else 900}, is_mobile=phone
    )
    try:
        page = context.new_page()
        sign_in(page, live, "admin")
        open_board(page, live, "/deals/kanban")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"the page scrolls sideways at {width}px ({scroll}px)"
        board = page.locator(".kanban")
        assert board.evaluate("b => b.scrollWidth > b.clientWidth")  # six columns: it scrolls
        for value in STAGES:
            head = column(page, value).locator(".kanban-head")
            assert head.evaluate("h => getComputedStyle(h).position") == "sticky"
            column(page, value).scroll_into_view_if_needed()
            expect(head.locator("h2")).to_be_in_viewport(ratio=1)
            expect(head.locator(".kanban-count")).to_be_in_viewport(ratio=1)
            if value == "lead":  # a column with deals shows its total
                expect(head.locator(".kanban-sum").first).to_be_in_viewport(ratio=1)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"scrolling the board moved the page ({scroll}px)"
        # Sticky headers: with the board made short, the cards scroll under every column's
        # header, the longest's and an empty one's alike.
        column(page, "lead").scroll_into_view_if_needed()
        offsets = board.evaluate(
            """b => { b.style.maxHeight = '9rem'; b.scrollTop = b.scrollHeight;
                const top = b.getBoundingClientRect().top;
                return [b.scrollTop].concat(Array.from(b.querySelectorAll('.kanban-head'),
                    h => Math.round(h.getBoundingClientRect().top - top))); }"""
        )
        assert offsets[0] > 0 and set(offsets[1:]) == {0}, offsets
        expect(column(page, "lost").locator(".kanban-head h2")).to_contain_text("Lost")
        page.screenshot(path=str(shots / f"kanban-{width}.png"))
    finally:
        context.close()


def test_a_collapsed_column_is_remembered_and_still_takes_drops(
    page: Any, live: Server, shots: Path
) -> None:
    record = new_deal(live, "Collapsing deal")
    sign_in(page, live, "seller1")
    open_board(page, live, "/deals/kanban")
    lost = column(page, "lost")
    toggle = lost.locator(".kanban-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    before = int(count(page, "lost").inner_text().split()[-1])
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_attribute("aria-label", "Expand column")
    expect(lost.locator(".kanban-cards")).to_be_hidden()
    expect(count(page, "lost")).to_be_visible()  # the count stays
    assert lost.evaluate("c => c.getBoundingClientRect().width") < 60
    page.reload()
    expect(column(page, "lost").locator(".kanban-toggle")).to_have_attribute(
        "aria-expanded", "false"
    )
    expect(column(page, "lead").locator(".kanban-toggle")).to_have_attribute(
        "aria-expanded", "true"
    )
    for value in ("negotiation", "won"):  # collapsed, the board fits: lead and lost side by side
        column(page, value).locator(".kanban-toggle").click()
    assert page.locator(".kanban").evaluate("b => b.scrollWidth <= b.clientWidth")
    card(page, record["id"]).drag_to(column(page, "lost"))  # lead -> lost is allowed
    expect(page.locator(".kanban-status")).to_have_text("Saved.")
    expect(count(page, "lost")).to_contain_text(str(before + 1))
    page.screenshot(path=str(shots / "kanban-collapsed.png"))
    assert deal(live, record["id"])["stage"] == "lost"
    column(page, "lost").locator(".kanban-toggle").click()
    expect(column(page, "lost").locator(f'[data-id="{record["id"]}"]')).to_be_visible()
    page.reload()
    expect(column(page, "lost").locator(".kanban-toggle")).to_have_attribute(
        "aria-expanded", "true"
    )


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
    assert "" not in menu_items(page, record["id"]).evaluate_all("a => a.map(o => o.value)")
    choose(page, record["id"], "in_progress")
    expect(column(page, "in_progress").locator(f'[data-id="{record["id"]}"]')).to_have_count(1)
    expect(card(page, record["id"])).to_have_attribute("data-version", str(record["version"] + 2))
    assert menu_items(page, record["id"]).first.get_attribute("value") == ""  # "No value" first
    choose(page, record["id"], "")  # and back to "No value" through the menu
    expect(card(page, record["id"])).to_have_attribute("data-version", str(record["version"] + 3))
    expect(empty.locator(f'[data-id="{record["id"]}"]')).to_have_count(1)
    with api(live, "seller1") as client:
        assert client.get(f"/api/tasks/{record['id']}").json()["status"] is None
    open_board(page, live, "/deals/kanban")  # a required stage: no "No value" to drop on
    expect(column(page, "")).to_have_count(0)
    expect(page.locator('.kanban-move button[value=""]')).to_have_count(0)


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
        assert page.locator(".kanban-menu-button").first.is_visible()  # moving without dragging
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.locator(".kanban-menu-button").first.click()  # the menu floats, whole, on screen
        expect(page.locator(".kanban-menu[open] [role=menuitem]").last).to_be_in_viewport(ratio=1)
        assert errors == []  # placing it breaks no Content-Security-Policy rule
        board = page.locator(".kanban")
        assert board.evaluate("b => getComputedStyle(b).scrollSnapType").startswith("x")
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
