"""The last surfaces to follow the app's theme (issue 17 item 1), in real headless Chromium with
the system's scheme light and dark, one browser context per scheme shared by the tests here.

API docs: ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) take the theme's page and text colours,
their main text reads at 4.5:1 or more, a theme chosen in this browser (theme.js's localStorage)
wins over the system's, the page's Content-Security-Policy blocks nothing and no request leaves
the app's origin. Dashboard charts: every series colour (drawn or not) stands at 3:1 or more
against the chart's card, axis and labels at 4.5:1, and a value printed inside a funnel stage at
4.5:1 against its stage. Screenshots: ``dark-surfaces-{docs,redoc,dashboard}-{light,dark}.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.pipeline import deal_in
from tests.browser.test_api_docs import WATCH_CSP, _own_origin_only
from tests.browser.test_browser import shots  # noqa: F401 - the fixture
from tests.browser.test_design import WIDE, contrast
from tests.e2e.conftest import PASSWORD, Server

SCHEMES = ["light", "dark"]
CARD = {"light": "rgb(255, 255, 255)", "dark": "rgb(27, 31, 39)"}  # --card (tokens.css)
FG = {"light": "rgb(29, 35, 48)", "dark": "rgb(230, 233, 239)"}  # --fg
STAGES = ["lead", "qualification", "proposal", "negotiation", "won", "lost"]
SOURCES = ["website", "referral", "cold_call", "exhibition", "social", "other"]

# [selector, text colour (fill for SVG), the colour behind it] of each visible element matched by the selectors
# (up to 3 each) that has text of its own; the colour behind is the first opaque background up
# its ancestors, with the translucent ones on the way blended over it.
READ_TEXT = """(selectors) => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const behind = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const [r, g, b, a = 1] = parse(getComputedStyle(e).backgroundColor);
      if (a > 0) { layers.push([r, g, b, a]); if (a >= 1) break; }
    }
    let out = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) {
      out = [r, g, b].map((v, i) => Math.round(v * a + out[i] * (1 - a)));
    }
    return `rgb(${out.join(", ")})`;
  };
  const found = [];
  for (const selector of selectors) {
    const matched = [...document.querySelectorAll(selector)].filter((el) =>
      el.getClientRects().length &&
      [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()));
    if (!matched.length) found.push([selector, null, null]);
    for (const el of matched.slice(0, 3)) {
      const style = getComputedStyle(el);  // SVG text is painted with its fill
      found.push([selector, el instanceof SVGElement ? style.fill : style.color, behind(el)]);
    }
  }
  return found;
}"""
BAR = [".api-docs-bar .brand", ".api-docs-bar nav a"]
SWAGGER_TEXT = [
    ".swagger-ui .info .title",
    ".swagger-ui .info .description p",
    ".swagger-ui .opblock-tag span",
    ".swagger-ui .opblock-summary-path a span",
    ".swagger-ui .opblock-summary-description",
    ".swagger-ui .opblock-summary-method",
]
REDOC_TEXT = [
    ".api-content h1",
    ".api-content h2",
    ".api-content p",
    ".menu-content label span",
]
# Each drawn series shape: [its chart, class, fill or stroke, its card's background].
READ_SERIES = """() => [...document.querySelectorAll(
    "svg.chart g[class^='series-']:not(.chart-zero) > *, svg.chart .chart-path, svg.chart .chart-dot"
  )].map((el) => {
    const style = getComputedStyle(el);
    const paint = el.classList.contains("chart-path") ? style.stroke : style.fill;
    const owner = el.closest("[data-chart]");
    const card = getComputedStyle(owner).backgroundColor;
    return [owner.dataset.chart, el.parentElement.getAttribute("class") || el.getAttribute("class"),
            paint, card];
  })"""
# Each value printed inside a funnel stage: [its text, its fill, its stage's fill].
READ_INSIDE = """() => [...document.querySelectorAll("svg.chart .chart-inside")].map((text) => {
    let stage = text.previousElementSibling;
    while (stage && stage.tagName !== "g") stage = stage.previousElementSibling;
    return [text.textContent, getComputedStyle(text).fill,
            getComputedStyle(stage.firstElementChild).fill];
  })"""


@pytest.fixture(scope="module")
def contexts(browser: Any) -> Iterator[dict[str, Any]]:
    """One browser context per system scheme, each reporting CSP violations into window.__csp."""
    opened = {}
    for scheme in SCHEMES:
        context = browser.new_context(viewport=WIDE, color_scheme=scheme)
        context.add_init_script(WATCH_CSP)
        opened[scheme] = context
    yield opened
    for context in opened.values():
        context.close()


def _readable(page: Any, selectors: list[str], least: float = 4.5) -> None:
    for selector, color, background in page.evaluate(READ_TEXT, selectors):
        assert color, f"nothing visible with text matches {selector}"
        ratio = contrast(color, background)
        assert ratio >= least, (selector, color, background, round(ratio, 2))


def _body_colours(page: Any) -> tuple[str, str]:
    body = "getComputedStyle(document.body)"
    return tuple(page.evaluate(f"[{body}.backgroundColor, {body}.color]"))


def _swagger(page: Any, live: Server) -> None:
    page.goto(f"{live.base}/docs")
    page.locator(".opblock-summary").first.wait_for(timeout=20_000)


def _redoc(page: Any, live: Server) -> None:
    page.goto(f"{live.base}/redoc")
    page.wait_for_selector("[data-item-id*='/operation/']", state="attached", timeout=20_000)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_api_docs_follow_the_system_scheme(
    contexts: dict[str, Any],
    live: Server,
    scheme: str,
    shots: Path,  # noqa: F811
) -> None:
    page = contexts[scheme].new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    _swagger(page, live)
    assert page.get_attribute("html", "data-theme") == scheme  # pinned for this page only
    assert page.evaluate("document.documentElement.classList.contains('dark-mode')") == (
        scheme == "dark"
    )
    assert _body_colours(page) == (CARD[scheme], FG[scheme])
    _readable(page, BAR + SWAGGER_TEXT)
    page.screenshot(path=str(shots / f"dark-surfaces-docs-{scheme}.png"))
    assert page.evaluate("window.__csp") == []
    _redoc(page, live)
    assert _body_colours(page) == (CARD[scheme], FG[scheme])
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.api-content')).color")
        == (FG[scheme])
    )
    _readable(page, BAR + REDOC_TEXT)
    page.screenshot(path=str(shots / f"dark-surfaces-redoc-{scheme}.png"))
    assert page.evaluate("window.__csp") == []
    assert page.evaluate("localStorage.getItem('crmgen-theme')") is None  # nothing stored
    _own_origin_only(live, requests)
    page.close()


def test_a_theme_chosen_in_the_browser_wins_on_the_api_docs(
    contexts: dict[str, Any], live: Server
) -> None:
    """ReDoc, whose theme is fixed at init (Swagger UI follows the same pinned choice)."""
    page = contexts["light"].new_page()
    page.goto(f"{live.base}/openapi.json")  # the app's origin, for its localStorage
    page.evaluate("localStorage.setItem('crmgen-theme', 'dark')")
    try:
        _redoc(page, live)
        assert page.get_attribute("html", "data-theme") == "dark"
        assert _body_colours(page) == (CARD["dark"], FG["dark"])
        _readable(page, REDOC_TEXT)
        assert page.evaluate("window.__csp") == []
    finally:
        page.evaluate("localStorage.removeItem('crmgen-theme')")
        page.close()


@pytest.fixture(scope="module")
def charted(live: Server) -> None:
    """Deals in every stage (bars, funnel, a line) and leads from every source (a pie)."""
    for i, stage in enumerate(STAGES):
        deal_in(live, "seller1", stage, name=f"Series {stage}", amount=f"{(i + 1) * 1000}.00")
    with live.client(live.token("seller1")) as client:
        for source in SOURCES:
            created = client.post("/api/leads", json={"name": f"Lead {source}", "source": source})
            assert created.status_code == 201, created.text


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_chart_series_stands_out_on_its_card(
    contexts: dict[str, Any],
    live: Server,
    charted: None,
    scheme: str,
    shots: Path,  # noqa: F811
) -> None:
    page = contexts[scheme].new_page()
    page.goto(f"{live.base}/login?next=/dashboards/sales_overview")
    page.fill("#email", live.users["seller1"])
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/dashboards/sales_overview")
    card = CARD[scheme]
    # every series colour of the theme, whether this dashboard draws it or not
    tokens = page.evaluate(
        "[...Array(8).keys()].map((i) => getComputedStyle(document.documentElement)"
        ".getPropertyValue(`--series-${i}`).trim())"
    )
    assert len(set(tokens)) == 8, tokens
    for i, token in enumerate(tokens):
        rgb = "rgb({}, {}, {})".format(*(int(token[j : j + 2], 16) for j in (1, 3, 5)))
        assert contrast(rgb, card) >= 3, (f"--series-{i}", token, round(contrast(rgb, card), 2))
    drawn = page.evaluate(READ_SERIES)
    kinds = {chart for chart, *_ in drawn}
    assert {"deals_by_stage", "funnel", "leads_by_source"} <= kinds, kinds
    series = {cls for _, cls, _, _ in drawn}
    assert {f"series-{i}" for i in range(6)} <= series, series
    for chart, cls, paint, background in drawn:
        assert background == card, (chart, background)
        ratio = contrast(paint, background)
        assert ratio >= 3, (chart, cls, paint, round(ratio, 2))
    assert len({paint for *_, paint, _ in drawn}) >= 6  # distinct colours, not one for all
    inside = page.evaluate(READ_INSIDE)
    assert inside, "no value printed inside a funnel stage"
    for text, fill, stage in inside:
        assert contrast(fill, stage) >= 4.5, (text, fill, stage)
    outside = ["svg.chart .chart-tick", "svg.chart .chart-label", ".chart-value:not(.chart-inside)"]
    _readable(page, outside)
    page.locator("[data-chart='funnel']").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / f"dark-surfaces-dashboard-{scheme}.png"))
    page.close()
