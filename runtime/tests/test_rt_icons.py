"""``crmgen_runtime.web.icons``: the Lucide icons drawn inline (the shipped set and its record,
the ``icon()`` helper, the menu's and headings' icons) and a page that shows them."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import rt_crm
from conftest import WebClient, site_routes
from crmgen_runtime.web import icons, lists
from crmgen_runtime.web.site import Site
from markupsafe import Markup
from rt_web import ui_data

RECORD = json.loads((icons.FOLDER / "vendor.json").read_text(encoding="utf-8"))
MAX_ICONS_BYTES = 600_000  # the set's markup, one line per icon (about 470 kB for 2177 icons)


def test_the_shipped_set_is_the_recorded_one_with_its_licence() -> None:
    (package,) = RECORD["packages"]
    assert package["name"] == "lucide-static" and package["licence"] == "ISC"
    folder = icons.FOLDER.parent / package["folder"]
    assert folder == icons.FOLDER
    assert {p.name for p in folder.iterdir()} == {*package["files"], "vendor.json"}
    for name, digest in package["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert "ISC License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert icons.ICONS_FILE.stat().st_size < MAX_ICONS_BYTES


def test_every_icon_is_inner_svg_markup_and_every_alias_names_one() -> None:
    data = json.loads(icons.ICONS_FILE.read_text(encoding="utf-8"))
    element = re.compile(
        r'<(path|circle|rect|line|polyline|polygon|ellipse)( [a-z][a-z0-9-]*="[^"<>]*")+/>'
    )
    for name, body in data["icons"].items():
        assert re.fullmatch("[a-z0-9-]+", name), name
        assert element.sub("", body) == "", name  # nothing but the drawing's own elements
    assert set(data["aliases"].values()) <= set(data["icons"])
    assert len(data["icons"]) > 2000 and "check-square" in data["aliases"]


def test_an_icon_is_an_inline_svg_hidden_from_screen_readers() -> None:
    drawn = icons.icon("users")
    assert isinstance(drawn, Markup)
    assert drawn.startswith('<svg class="icon" ') and drawn.endswith("</svg>")
    for attribute in ('aria-hidden="true"', 'focusable="false"', 'stroke="currentColor"'):
        assert attribute in drawn
    assert '<circle cx="9" cy="7" r="4"/>' in drawn
    assert 'class="icon small"' in icons.icon("plus", "small")
    assert 'class="icon &#34;&gt;&lt;x"' in icons.icon("plus", '"><x')  # escaped, never markup
    # an old name draws its new icon
    assert icons.icon("check-square") == icons.icon("square-check-big")


@pytest.mark.parametrize("name", ["no-such-icon", "", None, 3, "../users", "USERS"])
def test_an_unknown_name_draws_nothing(name: object) -> None:
    assert icons.icon(name) == ""
    assert icons.inner(name) is None if isinstance(name, str) else True


def test_names_hold_the_icons_their_old_names_and_the_defaults() -> None:
    assert {"users", "building-2", "handshake", "check-square"} <= icons.names()
    assert set(icons.DEFAULTS.values()) <= icons.names()


def test_menu_entries_and_entities_get_their_own_icon_or_their_kinds() -> None:
    assert icons.of_nav_item({"kind": "entity", "icon": "handshake"}) == "handshake"
    assert icons.of_nav_item({"kind": "entity", "icon": "gone-icon"}) == "folder"
    assert icons.of_nav_item({"kind": "entity", "view": "list"}) == "folder"
    assert icons.of_nav_item({"kind": "entity", "view": "kanban"}) == "square-kanban"
    assert icons.of_nav_item({"kind": "entity", "view": "calendar"}) == "calendar-days"
    assert icons.of_nav_item({"kind": "dashboard"}) == "layout-dashboard"
    assert icons.of_nav_item({"kind": "report"}) == "chart-column"
    assert icons.of_nav_item({"kind": "something-new"}) == "folder"
    assert icons.of_entity({"icon": "users"}) == "users"
    assert icons.of_entity({"icon": None}) == icons.of_entity({}) == "folder"


@pytest.fixture
def iconic(tmp_path: Path) -> Site:
    """The small CRM's UI with the spec's icon on deals (an app generated before icons has
    none: companies)."""
    data = ui_data()
    data["entities"]["deals"]["icon"] = "handshake"
    data["nav"][0]["items"][0]["icon"] = "handshake"
    data["nav"].append(
        {"label": None, "items": [{"kind": "entity", "key": "companies", "url": "/companies/"}]}
    )
    data["nav"][-1]["items"][0]["label"] = {"en": "Companies"}
    (tmp_path / "ui.json").write_text(json.dumps(data), encoding="utf-8")
    return Site(rt_crm.catalog, tmp_path)


def test_the_menu_carries_each_entrys_icon(iconic: Site) -> None:
    manager = rt_crm.Crm.person(9, "manager")
    menus = iconic.navigation(rt_crm.Crm.admin, "en") + iconic.navigation(manager, "en")
    shown = {i["url"]: i["icon"] for g in menus for i in g["items"]}
    assert shown == {
        "/deals/": "handshake",
        "/deals/kanban": "square-kanban",
        "/dashboards/overview": "layout-dashboard",
        "/companies/": "folder",
    }
    assert iconic.entity_context("deals", "en")["entity_icon"] == "handshake"
    assert iconic.entity_context("companies", "en")["entity_icon"] == "folder"


def test_a_page_draws_the_menus_heading_and_headers_icons(
    iconic: Site, web_client: WebClient
) -> None:
    client = web_client(site_routes(iconic, lists), site=iconic)
    page = client.get("/deals/", headers={"X-User": "admin"})
    assert page.status_code == 200
    html = page.text
    sidebar = html[html.index('<nav class="sidebar"') :]
    sidebar = sidebar[: sidebar.index("</nav>")]
    links = re.findall(r"<li><a [^>]*>(.*?)</a></li>", sidebar, re.DOTALL)
    assert links and all(link.startswith('<svg class="icon"') for link in links)
    assert icons.icon("handshake") in sidebar and icons.icon("square-kanban") in sidebar
    assert f"<h1>{icons.icon('handshake', 'heading-icon')}Deals</h1>" in html
    assert icons.icon("search", "quick-search-icon") in html
    assert icons.icon("moon") in html and icons.icon("sun") in html
    assert "&#9790;" not in html and "\u263e" not in html
    assert icons.icon("log-out") in html and ">Sign out<" in html
    assert f"{icons.icon('download')}Export CSV" in html
