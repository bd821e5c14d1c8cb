"""The phone-first quick search in real Chromium: part of a caller's number typed into the
header's box reaches the contact card with its recent history; another seller's contact
never shows; the whole number opens the card at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.test_browser import PHONE, page, shots, sign_in  # noqa: F401
from tests.e2e.conftest import Server


def _create(live: Server, who: str, path: str, payload: dict[str, Any]) -> int:
    with live.client(live.token(who)) as client:
        response = client.post(f"/api/{path}", json=payload)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _quick_search(page: Any, query: str) -> None:  # noqa: F811
    box = page.locator("#quick-search")
    box.fill(query)
    box.press("Enter")
    page.wait_for_load_state()


def test_part_of_a_number_reaches_the_card_with_its_history(
    page: Any,  # noqa: F811
    live: Server,
    shots: Path,  # noqa: F811
) -> None:
    caller = _create(
        live, "seller1", "contacts", {"full_name": "Marina Caller", "phone": "+7 (912) 555-01-23"}
    )
    _create(live, "seller1", "interactions", {"gist": "Asked for a quote", "contact": caller})
    _create(live, "seller1", "tasks", {"title": "Send the quote", "contact": caller})
    _create(
        live,
        "seller2",
        "contacts",
        {"full_name": "Other Seller's Client", "phone": "+7 912 555 99 99"},
    )

    sign_in(page, live, "seller1")
    _quick_search(page, "912 555")
    assert "/search?q=" in page.url
    card = page.locator("article.hit")
    assert card.count() == 1  # seller2's contact with the same digits is not shown
    assert "Marina Caller" in card.inner_text()
    history = card.locator(".history").inner_text()
    assert "Asked for a quote" in history and "Send the quote" in history
    # stored as +79125550123, shown in the national format of the app's region (RU)
    assert card.locator('a[href="tel:+79125550123"]').inner_text() == "8 (912) 555-01-23"
    page.screenshot(path=str(shots / "search-desktop.png"), full_page=True)

    card.locator("h2 a").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/contacts/{caller}")

    _quick_search(page, "(912) 555-01")  # another formatting of a part
    assert page.locator("article.hit").count() == 1
    for whole in ("+79125550123", "8 912 555 01 23"):  # the whole number: straight to the card
        _quick_search(page, whole)
        assert page.url.endswith(f"/contacts/{caller}"), whole


def test_search_by_name_on_a_phone(browser: Any, live: Server, shots: Path) -> None:  # noqa: F811
    person = _create(
        live,
        "seller1",
        "contacts",
        {"full_name": "Phone Screen Person", "phone": "+7 495 000 11 22"},
    )
    context = browser.new_context(viewport=PHONE, is_mobile=True, locale="en-US")
    try:
        page = context.new_page()
        sign_in(page, live, "seller1")
        _quick_search(page, "phone screen person")  # the whole name: straight to the card
        assert page.url.endswith(f"/contacts/{person}")
        _quick_search(page, "screen pers")
        assert page.locator("article.hit").count() == 1
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the page scrolls sideways ({width}px)"
        page.screenshot(path=str(shots / "search-phone.png"), full_page=True)
    finally:
        context.close()
