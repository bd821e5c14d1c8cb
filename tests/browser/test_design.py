"""The design system in real headless Chromium, on the reference CRM seeded with its demo data:
the main pages in both themes at 1440 px and at phone width never scroll sideways, every kanban
column can be reached and KPI values sit on one line; the header's theme switch works and is
remembered; badges and avatars are readable in both themes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import test_browser
from tests.browser.test_browser import sign_in
from tests.browser.test_dashboards import KPI_LINES
from tests.e2e.conftest import Server, app_cli, fresh_database, prepare, uvicorn_server

WIDE = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
PAGES = [
    "/",
    "/contacts/",
    "/deals/kanban",
    "/dashboards/sales_overview",
    "/tasks/calendar",
    "/reports/pipeline_by_owner",
    "/deals/new",
]
SHOT_NAMES = ["home", "list", "kanban", "dashboard", "calendar", "report", "form"]
# The page background and text of each theme (tokens.css), as the browser computes them.
shots = (
    test_browser.shots
)  # the fixture: screenshots in CRMGEN_SCREENSHOTS, else a temporary folder
BACKGROUND = {"light": "rgb(245, 246, 248)", "dark": "rgb(18, 21, 27)"}
# Each number on a kanban card: its scroll and given widths, the lines it takes, its text.
AMOUNTS = KPI_LINES.replace(".kpi-value", ".kanban-fields dd.num")
# Whether an element lies wholly inside the window (after scrolling it into view).
IN_VIEW = """e => { const r = e.getBoundingClientRect();
  return r.width > 0 && r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight; }"""


@pytest.fixture(scope="module")
def live(crm_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The reference CRM seeded with its demo data for today (real-looking people, companies, a
    full pipeline, a year of activity), so the checks and screenshots see the pages a team sees."""
    folder = tmp_path_factory.mktemp("design")
    with fresh_database("sqlite", folder) as url:
        app_cli(crm_out, url, folder, "migrate")
        app_cli(crm_out, url, folder, "seed", "--today", dt.date.today().isoformat())
        users = prepare(crm_out, url, folder)
        with uvicorn_server(crm_out, url, folder) as base:
            yield Server(base, url, users)


@pytest.fixture
def context_for(browser: Any) -> Iterator[Any]:
    opened: list[Any] = []

    def open_context(viewport: dict[str, int], scheme: str) -> Any:
        context = browser.new_context(
            viewport=viewport, color_scheme=scheme, is_mobile=viewport is PHONE
        )
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


def theme_of(page: Any) -> str:
    color = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    return next(name for name, value in BACKGROUND.items() if value == color)


def a_detail_page(live: Server) -> str:
    with live.client(live.token("admin")) as client:
        response = client.get("/api/contacts", params={"limit": 1})
        assert response.status_code == 200, response.text
        body = response.json()
        rows = body["items"] if isinstance(body, dict) else body
        if not rows:
            created = client.post("/api/contacts", json={"full_name": "Grace Hopper"})
            assert created.status_code == 201, created.text
            rows = [created.json()]
    return f"/contacts/{rows[0]['id']}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1440", "390"])
def test_no_page_scrolls_sideways_in_either_theme(
    context_for: Any, live: Server, shots: Path, scheme: str, viewport: dict[str, int]
) -> None:
    page = context_for(viewport, scheme).new_page()
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/locale?set=en&next=/")
    for name, url in [*zip(SHOT_NAMES, PAGES, strict=True), ("detail", a_detail_page(live))]:
        page.goto(f"{live.base}{url}")
        assert theme_of(page) == scheme, url  # the system's scheme, with nothing chosen
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{url} scrolls sideways at {viewport}: {width}px"
        if name in ("home", "dashboard"):  # KPI values on one line, never clipped
            kpis = page.evaluate(KPI_LINES)
            assert kpis, url
            for scroll, given, lines, text in kpis:
                assert lines == 1 and scroll <= given, (url, scheme, viewport, text)
        if name == "kanban":  # every column (header, count) can be scrolled into view
            columns = page.locator(".kanban-column")
            assert columns.count() >= 6
            for index in range(columns.count()):
                head = columns.nth(index).locator(".kanban-head h2")
                head.scroll_into_view_if_needed()
                assert head.evaluate(IN_VIEW), (scheme, viewport, head.inner_text())
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            amounts = page.evaluate(AMOUNTS)  # a card's amounts whole, on one line
            assert amounts, "no amounts on the seeded board's cards"
            for scroll, given, lines, text in amounts:
                assert lines == 1 and scroll <= given, (scheme, viewport, text)
            page.evaluate("document.querySelector('.kanban').scrollLeft = 0; scrollTo(0, 0)")
        page.screenshot(path=str(shots / f"design-{name}-{viewport['width']}-{scheme}.png"))


def test_the_theme_switch_works_and_is_remembered(context_for: Any, live: Server) -> None:
    context = context_for(WIDE, "light")
    page = context.new_page()
    sign_in(page, live, "seller1")
    switch = page.locator("header [data-theme-switch]")
    assert switch.is_visible() and switch.get_attribute("aria-pressed") == "false"
    assert theme_of(page) == "light"
    switch.click()
    assert page.get_attribute("html", "data-theme") == "dark"
    assert theme_of(page) == "dark" and switch.get_attribute("aria-pressed") == "true"
    page.goto(f"{live.base}/contacts/")  # remembered on the next page, set before paint
    assert page.get_attribute("html", "data-theme") == "dark" and theme_of(page) == "dark"
    other = context.new_page()  # and in another tab of the same browser
    other.goto(f"{live.base}/")
    assert theme_of(other) == "dark"
    other.locator("header [data-theme-switch]").click()
    assert theme_of(other) == "light"
    assert page.evaluate("localStorage.getItem('crmgen-theme')") == "light"


def test_without_script_the_switch_hides_and_bulk_actions_show(browser: Any, live: Server) -> None:
    context = browser.new_context(viewport=WIDE, java_script_enabled=False, color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(f"{live.base}/login")
        assert not page.locator("[data-theme-switch]").is_visible()
        assert theme_of(page) == "dark"  # the system's scheme still applies
        a_detail_page(live)  # a contact to list
        sign_in(page, live, "admin")  # bulk actions stay visible: nothing would show them
        page.goto(f"{live.base}/contacts/")
        assert page.locator("form.bulk button.danger").is_visible()
    finally:
        context.close()


def luminance(rgb: str) -> float:
    """The relative luminance (WCAG 2) of a computed ``rgb(r, g, b)`` colour."""
    parts = [int(p) / 255 for p in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    linear = [p / 12.92 if p <= 0.04045 else ((p + 0.055) / 1.055) ** 2.4 for p in parts]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


BADGES = """[...document.querySelectorAll('main .enum-badge')].map(b => {
  const style = getComputedStyle(b);
  return [b.textContent.trim(), b.className, style.color, style.backgroundColor];
})"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_enum_badges_and_avatars_are_readable(context_for: Any, live: Server, scheme: str) -> None:
    with live.client(live.token("seller1")) as client:
        created = client.post(
            "/api/deals", json={"name": "Badge deal", "stage": "lead", "amount": "10"}
        )
        assert created.status_code == 201, created.text
        record_id = created.json()["id"]
    page = context_for(WIDE, scheme).new_page()
    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/locale?set=en&next=/deals/")
    for url in ["/deals/", f"/deals/{record_id}"]:
        page.goto(f"{live.base}{url}")
        found = page.evaluate(BADGES)
        assert any(text == "Lead" for text, *_ in found), (url, found)
        tones = {name for _, names, _, _ in found for name in names.split() if name != "enum-badge"}
        assert tones and all(t.startswith("tone-") for t in tones), found
        for text, _, color, back in found:
            assert back not in ("rgba(0, 0, 0, 0)", "transparent"), (url, text)
            assert contrast(color, back) >= 4.5, (url, text, color, back, scheme)
        # the owner as an initials avatar, and the signed-in user in the header
        avatars = page.evaluate(BADGES.replace(".enum-badge", ".avatar").replace("main ", ""))
        assert any(text and "tone-" in names for text, names, *_ in avatars), (url, avatars)
        for text, _, color, back in avatars:
            assert contrast(color, back) >= 4.5, (url, text, color, back, scheme)
    assert page.locator("header .who .avatar").inner_text().strip()


ICON_BOXES = """sel => [...document.querySelectorAll(sel)].map(a => {
  const svg = a.querySelector(':scope > svg.icon');
  const box = svg ? svg.getBoundingClientRect() : null;
  return [a.textContent.trim(), box ? [box.width, box.height] : null];
})"""


def test_menu_icons_and_the_header_search_fit_in_both_themes(
    context_for: Any, live: Server, shots: Path
) -> None:
    for scheme in ("light", "dark"):
        for viewport in (WIDE, PHONE):
            page = context_for(viewport, scheme).new_page()
            sign_in(page, live, "admin")
            page.goto(f"{live.base}/locale?set=en&next=/contacts/")
            if viewport is PHONE:
                page.click("header details.menu > summary")
            links = "nav.sidebar li a" if viewport is WIDE else "nav.menu-links li a"
            found = page.evaluate(ICON_BOXES, links)
            assert len(found) >= 5, found  # every menu entry: its label and a drawn icon
            assert all(text and box and min(box) >= 12 for text, box in found), found
            if viewport is PHONE:
                page.click("header details.menu > summary")  # closed again
            field = page.locator("header form.quick-search input")
            icon = page.locator("header form.quick-search svg.icon")
            assert field.is_visible() and icon.is_visible()
            box, drawn = field.bounding_box(), icon.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
            assert box["width"] >= (280 if viewport is WIDE else 300), box  # room to type
            assert box["x"] < drawn["x"] and drawn["x"] + drawn["width"] < box["x"] + 48
            assert box["y"] < drawn["y"] < drawn["y"] + drawn["height"] < box["y"] + box["height"]
            style = field.evaluate(
                "e => { const s = getComputedStyle(e);"
                " return [s.color, s.backgroundColor, parseFloat(s.borderTopLeftRadius)]; }"
            )
            assert contrast(style[0], style[1]) >= 4.5, (scheme, style)
            assert style[2] >= box["height"] / 2 - 1, style  # a rounded field
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (scheme, viewport, width)
            page.locator("header").screenshot(
                path=str(shots / f"design-header-{viewport['width']}-{scheme}.png")
            )
