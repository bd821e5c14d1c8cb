"""The users admin and "my day" (issue 14 items 1 and 3) in real Chromium.

An administrator invites a person from the Users list's "Invite" form; the link mailed through
the outbox opens the invitation's page, the person chooses a password and signs in for the
first time, landing on their day. A seller's day shows their tasks due today and overdue.
Screenshots: ``users-admin.png`` (the invited user's page) and ``my-day.png``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tests.browser.test_browser import page, shots, sign_in  # noqa: F401
from tests.e2e.conftest import Server

NEW_PASSWORD = "a first password 42"


def invite_link(live: Server, to: str) -> str:
    engine = sa.create_engine(live.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT payload FROM crm_outbox ORDER BY id"))
            payloads = [json.loads(p) if isinstance(p, str) else p for (p,) in rows]
    finally:
        engine.dispose()
    [link] = [p["link"] for p in payloads if p.get("to") == to and p.get("template") == "invite"]
    return str(link)


def test_invite_from_the_page_then_the_first_sign_in(
    page: Any,  # noqa: F811
    live: Server,
    shots: Path,  # noqa: F811
) -> None:
    to = f"newcomer-{uuid.uuid4().hex[:6]}@e2e.example"
    page.context.add_cookies([{"name": "locale", "value": "en", "url": live.base}])
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/users/")
    page.click("a[href='/users/invite']")
    page.fill("#f_email", to)
    page.fill("#f_name", "Nina Newcomer")
    page.check("input[name=role][value=sales]")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "Invited, has not set a password" in page.content()
    assert page.locator("button", has_text="Resend invitation").is_visible()
    page.screenshot(path=str(shots / "users-admin.png"), full_page=True)

    link = invite_link(live, to)
    assert link.startswith(f"{live.base}/invite/")
    guest = page.context.browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        first = guest.new_page()
        first.goto(link)
        first.fill("#password", NEW_PASSWORD)
        first.fill("#password_again", NEW_PASSWORD)
        first.click("main form button[type=submit]")
        first.wait_for_load_state()
        assert "/login" in first.url
        first.fill("#email", to)
        first.fill("#password", NEW_PASSWORD)
        first.click("main form button[type=submit]")
        first.wait_for_load_state()
        assert "/login" not in first.url, first.content()
        assert first.locator("h1").inner_text().strip().endswith("Nina Newcomer")
    finally:
        guest.close()
    page.reload()
    assert "Invited, has not set a password" not in page.content()


def test_my_day_shows_a_sellers_tasks(
    page: Any,  # noqa: F811
    live: Server,
    shots: Path,  # noqa: F811
) -> None:
    today = dt.datetime.now(ZoneInfo("Europe/Moscow")).date()
    token = live.token("seller1")
    with live.client(token) as api:
        for title, days in (("Call the client back", 0), ("Send the offer", -2)):
            made = api.post("/api/tasks", json={"title": title})
            assert made.status_code == 201, made.text
            deadline = (today + dt.timedelta(days=days)).isoformat()
            changed = api.patch(f"/api/tasks/{made.json()['id']}", json={"deadline": deadline})
            assert changed.status_code == 200, changed.text
        soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
        meeting = {"kind": "meeting", "gist": "Demo at the client", "happened_at": soon}
        assert api.post("/api/interactions", json=meeting).status_code == 201
    page.context.add_cookies([{"name": "locale", "value": "en", "url": live.base}])
    sign_in(page, live, "seller1")
    tasks = page.locator("section.day-card.tasks")
    assert "Call the client back" in tasks.inner_text()
    assert tasks.locator("li.overdue", has_text="Send the offer").is_visible()
    assert "Demo at the client" in page.locator("section.day-card.meetings").inner_text()
    assert page.locator("section.day-card.recent").is_visible()
    page.screenshot(path=str(shots / "my-day.png"), full_page=True)
