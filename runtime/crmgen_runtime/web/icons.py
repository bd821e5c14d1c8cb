"""Icons drawn inline: ``icon('users')`` in a template is that Lucide icon as an ``<svg>``.

The set is Lucide's (ISC licence), shipped in ``web/lucide/icons.json`` (one line per icon: its
inner elements; ``web/lucide/vendor.json`` records the package, version and licence, and
``runtime/tools/vendor_lucide.py`` rebuilds it). An icon is drawn inside the page, so it costs no
request and needs nothing from the Content-Security-Policy; it takes the text's colour
(``stroke="currentColor"``) and is hidden from screen readers (``aria-hidden``): the text beside
it says what it means. A name the set has not (an old spec, a typo in an app's template) draws
nothing rather than failing the page. ``crmgen validate`` checks a spec's ``ui.icon`` against
``names()``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

FOLDER = Path(__file__).resolve().parent / "lucide"
ICONS_FILE = FOLDER / "icons.json"
# What a menu entry shows when the spec names no icon: an entity's list, or one of its views,
# a dashboard, a report.
DEFAULTS = {
    "entity": "folder",
    "kanban": "square-kanban",
    "calendar": "calendar-days",
    "dashboard": "layout-dashboard",
    "report": "chart-column",
}
_OPEN = (
    '<svg class="icon{extra}" xmlns="http://www.w3.org/2000/svg" width="24" height="24" '
    'viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" '
    'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">'
)


@functools.cache
def _data() -> tuple[dict[str, str], dict[str, str]]:
    """The set's icons (name -> inner markup) and its old names (alias -> name)."""
    data = json.loads(ICONS_FILE.read_text(encoding="utf-8"))
    return data["icons"], data["aliases"]


@functools.cache
def names() -> frozenset[str]:
    """Every name ``icon`` draws: the set's icons and the old names it keeps."""
    shapes, aliases = _data()
    return frozenset(shapes) | frozenset(aliases)


def inner(name: str) -> str | None:
    """The inner elements of the icon ``name`` (an old name: its new icon's); None if unknown."""
    shapes, aliases = _data()
    return shapes.get(aliases.get(name, name))


def icon(name: Any, extra_class: str = "") -> Markup:
    """The icon ``name`` as an inline ``<svg class="icon">``; empty for no name or an unknown
    one. ``extra_class`` adds classes (``icon('plus', 'small')``)."""
    body = inner(name) if isinstance(name, str) else None
    if body is None:
        return Markup("")
    extra = f" {escape(extra_class)}" if extra_class else ""
    return Markup(_OPEN.format(extra=extra) + body + "</svg>")


def _known(name: Any) -> bool:
    return isinstance(name, str) and inner(name) is not None


def of_entity(entity: dict[str, Any]) -> str:
    """The icon of an entity from ``ui.json``: the spec's ``ui.icon``, else the default."""
    own = entity.get("icon")
    return str(own) if _known(own) else DEFAULTS["entity"]


def of_nav_item(item: dict[str, Any]) -> str:
    """The icon of a menu entry from ``ui.json``: its own (the spec's ``ui.icon``), else the
    default of its kind (an entity view's: the view's)."""
    own = item.get("icon")
    if _known(own):
        return str(own)
    view = item.get("view")
    if item.get("kind") == "entity" and view in DEFAULTS:
        return DEFAULTS[str(view)]
    return DEFAULTS.get(str(item.get("kind")), DEFAULTS["entity"])
