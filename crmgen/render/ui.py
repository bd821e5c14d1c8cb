"""The web UI's view of the spec: labels per locale, list columns, form fields, navigation.

Written into the generated package as ``ui.json`` (sorted keys: byte-identical output);
``PKG/ui.py`` reads it at import time.
"""

from __future__ import annotations

import json
from typing import Any

from crmgen.spec.model import Entity, Field, Spec
from crmgen.spec.text import Text

# Field type -> the HTML widget of its form input.
WIDGETS = {
    "string": "text",
    "text": "textarea",
    "email": "email",
    "phone": "tel",
    "url": "url",
    "integer": "number",
    "decimal": "number",
    "money": "number",
    "float": "number",
    "boolean": "checkbox",
    "date": "date",
    "datetime": "datetime-local",
    "enum": "select",
    "ref": "ref",
}


def _text(spec: Spec, text: Text, fallback: str = "") -> dict[str, str]:
    default = spec.app.default_locale
    return {loc: (text.get(loc, default) or fallback) for loc in spec.app.locales}


def _widget(f: Field) -> str | None:
    if f.relation is not None:
        return "ref" if f.relation.kind != "many_to_many" else None
    return WIDGETS.get(f.type)


def _field(spec: Spec, entity: Entity, f: Field) -> dict[str, Any]:
    target = spec.entity(f.relation.target) if f.relation is not None else None
    step = None
    if f.type == "integer":
        step = "1"
    elif f.type in ("decimal", "money", "float"):
        step = "any"
    return {
        "name": f.name,
        "type": f.type,
        "label": _text(spec, f.label, f.name.replace("_", " ").capitalize()),
        "help": _text(spec, f.help) if f.help else None,
        "required": f.required,
        "editable": not f.read_only and f.computed is None and _widget(f) is not None,
        "widget": _widget(f),
        "step": step,
        "max_length": f.max_length,
        "choices": [[v.name, _text(spec, v.label, v.name)] for v in f.values],
        "target": None if target is None else target.api_path,
    }


def _entity(spec: Spec, entity: Entity) -> dict[str, Any]:
    fields = {f.name: _field(spec, entity, f) for f in entity.fields}
    columns = [c for c in entity.ui.list.columns if c in fields] or [entity.display]
    form = [n for s in entity.ui.form for n in s.fields if n in fields] or list(fields)
    form += [n for n in fields if n not in form]
    return {
        "name": entity.name,
        "path": entity.api_path,
        "label": _text(spec, entity.label, entity.name),
        "plural_label": _text(spec, entity.plural_label, entity.plural),
        "display": entity.display,
        "columns": columns,
        "sort": ",".join(entity.ui.list.sort),
        "page_size": entity.ui.list.page_size,
        "fields": fields,
        "form": form,
        "actions": list(entity.api),
    }


def ui_data(spec: Spec) -> dict[str, Any]:
    entities = {e.api_path: _entity(spec, e) for e in spec.entities if "list" in e.api}
    by_name = {e.name: e.api_path for e in spec.entities if e.api_path in entities}
    nav = []
    for group in spec.ui.navigation:
        items = [
            by_name[i.target]
            for i in group.items
            if i.kind == "entity" and i.target in by_name
        ]
        if items:
            nav.append({"label": _text(spec, group.label), "items": items})
    listed = {p for g in nav for p in g["items"]}
    rest = [p for p in entities if p not in listed]
    if rest:
        nav.append({"label": None, "items": rest})
    return {
        "title": _text(spec, spec.app.title, spec.app.name),
        "locales": list(spec.app.locales),
        "default_locale": spec.app.default_locale,
        "nav": nav,
        "entities": entities,
    }


def ui_context(spec: Spec) -> dict[str, Any]:
    text = json.dumps(ui_data(spec), ensure_ascii=False, indent=1, sort_keys=True)
    return {"ui_json": text}
