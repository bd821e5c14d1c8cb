"""The web UI's view of the spec, written into the generated package as ``ui.json``.

Sorted keys: byte-identical output; ``PKG/web/core.py`` reads it at import time. This module
builds the shared part (labels per locale, fields and their widgets, navigation); each part of
the UI adds its own data through ``PARTS``: ``entity_data(spec, entity)`` goes under
``entities[path][part]`` and ``site_data(spec)`` under the top-level ``part`` key.
"""

from __future__ import annotations

import json
from typing import Any

from crmgen.language.fields import field_type
from crmgen.language.model import Entity, Field, NavItem, Spec
from crmgen.render.web import boards, dashboards, home, lists, print_formats, public_forms, records
from crmgen.render.web.labels import text_of

# The parts of the UI with data of their own (one module each, beside this one).
PARTS = {
    "boards": boards,
    "dashboards": dashboards,
    "documents": print_formats,
    "lists": lists,
    "records": records,
}


def _widget(f: Field) -> str | None:
    """The HTML widget of the field's form input, as its type says (None: not in forms)."""
    if f.relation is not None:
        return "ref" if f.relation.kind != "many_to_many" else None
    widget = field_type(f.type).widget
    return None if widget in records.EXTRA_WIDGETS else widget


def _form_default(f: Field) -> str | int | float | bool | None:
    """The field's default when it is a plain literal a form can show (not an expression)."""
    if f.default is None or f.default.is_expr or f.relation is not None:
        return None
    value = f.default.literal
    return value if isinstance(value, str | int | float | bool) else None


def _field(spec: Spec, entity: Entity, f: Field) -> dict[str, Any]:
    target = spec.entity(f.relation.target) if f.relation is not None else None
    kind = field_type(f.type)
    step = None
    if kind.numeric:
        step = "1" if kind.python_type == "int" else "any"  # a float or a decimal: any
    return {
        "name": f.name,
        "type": f.type,
        "label": text_of(spec, f.label, f.name.replace("_", " ").capitalize()),
        "help": text_of(spec, f.help) if f.help else None,
        "required": f.required,
        "editable": not f.read_only and f.computed is None and _widget(f) is not None,
        "widget": _widget(f),
        "step": step,
        "max_length": f.max_length,
        "choices": [[v.name, text_of(spec, v.label, v.name)] for v in f.values],
        # the spec's enum colours: badges in lists and on detail pages (crmgen_runtime.web.badges)
        **(
            {"colors": {v.name: v.color for v in f.values if v.color}}
            if any(v.color for v in f.values)
            else {}
        ),
        "target": None if target is None else target.api_path,
        # a constant default: the new-record form starts with it (an expression's is computed
        # on create and not known before)
        **({"default": _form_default(f)} if _form_default(f) is not None else {}),
        "currency": (f.currency or spec.app.currency) if kind.currency else None,
        "import": kind.import_kind,  # how the import reads a cell of it
        # stored encrypted: never a sort link, never a list filter
        **({"encrypted": True} if f.encrypted else {}),
        # a link: the target's field it shows (the target's display field unless the spec says)
        **(
            {}
            if f.relation is None or target is None
            else {"display": f.relation.display or target.display}
        ),
    }


def _entity(spec: Spec, entity: Entity) -> dict[str, Any]:
    fields = {f.name: _field(spec, entity, f) for f in entity.fields}
    columns = [c for c in entity.ui.list.columns if c in fields] or [entity.display]
    form = [n for s in entity.ui.form for n in s.fields if n in fields] or list(fields)
    form += [n for n in fields if n not in form]
    return {
        "name": entity.name,
        "path": entity.api_path,
        "label": text_of(spec, entity.label, entity.name),
        "plural_label": text_of(spec, entity.plural_label, entity.plural),
        "display": entity.display,
        "icon": entity.ui.icon,  # the spec's Lucide icon name (crmgen_runtime.web.icons), or None
        "columns": columns,
        "sort": ",".join(entity.ui.list.sort),
        "page_size": entity.ui.list.page_size,
        "fields": fields,
        "form": form,
        "actions": list(entity.api),
        **{part: module.entity_data(spec, entity) for part, module in PARTS.items()},
    }


def _nav_item(spec: Spec, item: NavItem, entities: dict[str, Any]) -> dict[str, Any] | None:
    """One menu entry: its kind, its target's key, its URL and its label per locale."""
    if item.kind == "entity":
        entity = spec.entity(item.target)
        if entity is None or entity.api_path not in entities:
            return None
        view = item.view or "list"
        url = f"/{entity.api_path}/" + ("" if view == "list" else view)
        label = text_of(spec, entity.plural_label, entity.plural)
        item = {"kind": "entity", "key": entity.api_path, "view": view, "url": url, "label": label}
        # the list shows the entity's icon; a board or calendar, the runtime's icon of its view
        return {**item, "icon": entity.ui.icon} if view == "list" and entity.ui.icon else item
    # a dashboard or a report: a page of its own, for its roles
    pages = spec.ui.dashboards if item.kind == "dashboard" else spec.ui.reports
    page = next((p for p in pages if p.name == item.target), None)
    if page is None:
        return None
    return {
        "kind": item.kind,
        "key": page.name,
        "url": f"/{item.kind}s/{page.name}",
        "label": text_of(spec, page.label, page.name),
        "roles": list(page.roles),
    }


def ui_data(spec: Spec) -> dict[str, Any]:
    entities = {e.api_path: _entity(spec, e) for e in spec.entities if "list" in e.api}
    nav = []
    for group in spec.ui.navigation:
        items = [i for i in (_nav_item(spec, item, entities) for item in group.items) if i]
        if items:
            nav.append({"label": text_of(spec, group.label), "items": items})
    listed = {i["key"] for g in nav for i in g["items"] if i["kind"] == "entity"}
    rest = [
        {
            "kind": "entity",
            "key": path,
            "view": "list",
            "url": f"/{path}/",
            "label": entities[path]["plural_label"],
            **({"icon": entities[path]["icon"]} if entities[path]["icon"] else {}),
        }
        for path in entities
        if path not in listed
    ]
    if rest:
        nav.append({"label": None, "items": rest})
    return {
        "title": text_of(spec, spec.app.title, spec.app.name),
        "locales": list(spec.app.locales),
        "default_locale": spec.app.default_locale,
        "nav": nav,
        "entities": entities,
        "roles": {r.name: text_of(spec, r.label, r.name) for r in spec.roles},
        **{part: module.site_data(spec) for part, module in PARTS.items()},
        **({"home": my_day} if (my_day := home.site_data(spec)) is not None else {}),
        **({"forms": forms} if (forms := public_forms.site_data(spec, _field)) else {}),
    }


def ui_context(spec: Spec) -> dict[str, Any]:
    text = json.dumps(ui_data(spec), ensure_ascii=False, indent=1, sort_keys=True)
    return {"ui_json": text}
