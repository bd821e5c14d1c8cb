"""The layout pass in real Chromium: Russian words and Russian-formatted numbers and dates
after the locale switch; the password reset from the login page to signing in with the new
password (the mail read from the outbox table); the keyboard (skip link, focus ring, the
search box early in the tab order) and the phone's menu."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.browser.test_browser import PHONE, page, shots, sign_in  # noqa: F401
from tests.e2e.conftest import Server

NEW_PASSWORD = "browser-reset-password-1"


def _create(live: Server, path: str, payload: dict[str, Any]) -> int:
    with live.client(live.token("admin")) as client:
        response = client.post(f"/api/{path}", json=payload)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_russian_words_numbers_and_dates(page: Any, live: Server, shots: Path) -> None:  # noqa: F811
    company = _create(
        live,
        "companies",
        {"name": "Locale Ltd", "employees": 12345, "annual_revenue": "2500000.50"},
    )
    contact = _create(live, "contacts", {"full_name": "Locale Person", "company": company})
    call = _create(
        live,
        "interactions",
        {"gist": "Locale call", "contact": contact, "happened_at": "2024-05-12T21:30:00Z"},
    )
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/companies/{company}")
    page.click('nav.locales a[hreflang="ru"]')
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "ru"
    assert page.locator(".logout button").inner_text().strip() == "Выйти"
    text = page.locator("main").inner_text()
    assert "Сотрудников" in text  # the spec's label in Russian
    assert re.search(r"12\s345(?!\d)", text), text  # Russian digit grouping
    assert re.search(r"2\s500\s000,50\s₽", text), text
    page.screenshot(path=str(shots / "detail-ru-desktop.png"), full_page=True)
    page.goto(f"{live.base}/interactions/{call}")
    # 21:30 UTC is 00:30 the next day in Moscow, the app's time zone
    assert re.search(r"13 мая 2024\s?г\., 00:30", page.locator("main").inner_text())
    page.click('nav.locales a[hreflang="en"]')
    page.wait_for_load_state()
    assert "May 13, 2024" in page.locator("main").inner_text()


def _reset_link(live: Server, email: str) -> str:
    engine = sa.create_engine(live.url)
    try:
        with engine.connect() as connection:
            rows = (
                connection.execute(sa.text("SELECT payload FROM crm_outbox ORDER BY id DESC"))
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    payloads = [p if isinstance(p, dict) else json.loads(p) for p in rows]
    return next(str(p["link"]) for p in payloads if p.get("to") == email)


def test_a_full_password_reset(page: Any, live: Server, shots: Path) -> None:  # noqa: F811
    email = live.users["locked"]
    page.goto(f"{live.base}/login")
    page.click('a[href="/password-reset"]')
    page.wait_for_load_state()
    page.fill("#email", email)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".alert.ok").is_visible()
    page.screenshot(path=str(shots / "password-reset-desktop.png"))

    link = _reset_link(live, email)
    page.goto(link)
    page.wait_for_load_state()
    assert "/password-reset/" in page.url
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_again", NEW_PASSWORD + "x")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#password_error").is_visible()
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_again", NEW_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "/login" in page.url and page.locator(".alert.ok").is_visible()

    page.fill("#email", email)
    page.fill("#password", NEW_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url
    assert (
        page.locator(".logout .who .who-name").inner_text() == email.partition("@")[0]
    )  # signed in


def _focused(page: Any) -> dict[str, str]:  # noqa: F811
    return dict(
        page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
            return {id: e.id, cls: e.className, tag: e.tagName, outline: s.outlineStyle,
                    top: String(e.getBoundingClientRect().top)}; }"""
        )
    )


def test_the_keyboard_reaches_the_skip_link_and_the_search_box(page: Any, live: Server) -> None:  # noqa: F811
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/contacts/")
    page.keyboard.press("Tab")
    first = _focused(page)
    assert first["cls"] == "skip-link"
    assert float(first["top"]) >= 0 and first["outline"] != "none"  # shown and ringed
    seen = []
    for _ in range(4):
        page.keyboard.press("Tab")
        seen.append(_focused(page))
        if seen[-1]["id"] == "quick-search":
            break
    assert seen[-1]["id"] == "quick-search", seen  # early in the tab order
    assert seen[-1]["outline"] != "none"

    page.goto(f"{live.base}/contacts/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    assert _focused(page)["tag"] == "MAIN"  # the next Tab starts inside the content


def test_the_phone_menu_opens_and_navigates(browser: Any, live: Server, shots: Path) -> None:  # noqa: F811
    context = browser.new_context(viewport=PHONE, is_mobile=True, locale="en-US")
    try:
        page = context.new_page()
        sign_in(page, live, "seller1")
        assert not page.locator("nav.sidebar").is_visible()
        menu = page.locator("details.menu")
        assert menu.locator("summary").is_visible()
        assert not menu.locator("nav a").first.is_visible()
        menu.locator("summary").click()
        link = menu.locator('nav a[href="/contacts/"]')
        assert link.is_visible()
        page.screenshot(path=str(shots / "menu-phone.png"))
        link.click()
        page.wait_for_load_state()
        assert page.url.endswith("/contacts/")
        assert page.locator("#quick-search").is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the page scrolls sideways ({width}px)"
    finally:
        context.close()
