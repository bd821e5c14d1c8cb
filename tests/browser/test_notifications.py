"""Notifications and comments in real Chromium: a seller comments on their deal and mentions a
colleague through the compose box's suggestions (which offer only those who may read the deal);
the bell shows a seller's unread count, opens the notifications page, and marking read empties
it. Screenshots: comments.png, notifications.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.test_browser import page, shots, sign_in  # noqa: F401
from tests.e2e.conftest import Server


def _create(live: Server, who: str, path: str, payload: dict[str, Any]) -> int:
    with live.client(live.token(who)) as client:
        response = client.post(f"/api/{path}", json=payload)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _user_id(live: Server, name: str) -> int:
    with live.client(live.token(name)) as client:
        return int(client.get("/api/auth/me").json()["id"])


def test_comment_with_a_mention(page: Any, live: Server, shots: Path) -> None:  # noqa: F811
    deal = _create(live, "seller1", "deals", {"name": "Mention in the browser", "stage": "lead"})
    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/deals/{deal}")
    box = page.locator("#comment-body")
    box.click()
    box.type("@seller2")  # may not read seller1's deal: never offered
    page.wait_for_timeout(600)
    assert page.locator(".mention-choices li").count() == 0
    box.fill("")
    box.type("Please call them, @ad")
    choice = page.locator(".mention-choices li").first
    choice.wait_for(state="visible")
    assert live.users["admin"] in choice.inner_text()
    box.press("Enter")  # takes the suggestion
    box.type("thanks!")
    assert box.input_value() == f"Please call them, @{live.users['admin']} thanks!"
    page.click("form.comment-compose button[type=submit]")
    page.wait_for_load_state()
    body = page.locator(".comment-list .comment-body").first
    assert body.inner_text() == f"Please call them, @{live.users['admin']} thanks!"
    assert page.locator(".timeline .entry.comment").count() == 1
    page.locator("#comments").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "comments.png"), full_page=True)

    with live.client(live.token("admin")) as client:
        told = client.get("/api/notifications", params={"unread": "true"}).json()
    assert [n["record_id"] for n in told["items"] if n["kind"] == "mention"] == [deal]
    with live.client(live.token("seller2")) as client:
        assert not [
            n for n in client.get("/api/notifications").json()["items"] if n["kind"] == "mention"
        ]


def test_the_bell_counts_opens_and_marks_read(page: Any, live: Server, shots: Path) -> None:  # noqa: F811
    seller2 = _user_id(live, "seller2")
    for title in ("Call the bank", "Send the offer"):
        _create(live, "admin", "tasks", {"title": title, "assignee": seller2})
    sign_in(page, live, "seller2")
    count = page.locator("[data-bell-count]")
    assert count.is_visible() and count.inner_text() == "2"
    page.click("[data-bell]")
    page.wait_for_load_state()
    assert page.url.endswith("/notifications")
    items = page.locator(".notification-list li.unread")
    assert items.count() == 2 and "Send the offer" in items.first.inner_text()
    page.screenshot(path=str(shots / "notifications.png"), full_page=True)

    items.first.locator("[data-mark-read]").click()
    page.wait_for_load_state()
    assert page.locator("[data-bell-count]").inner_text() == "1"
    assert page.locator(".notification-list li.unread").count() == 1
    page.locator(".notification-list li.unread button.link").first.click()  # opens its record
    page.wait_for_load_state()
    assert "/tasks/" in page.url
    assert page.locator("[data-bell-count]").is_hidden()
    page.goto(f"{live.base}/notifications")
    assert page.locator(".notification-list li.unread").count() == 0
