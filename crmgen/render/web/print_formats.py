"""Print formats of an entity (PDF and XLSX documents): what ``ui.json`` holds of them.

Each document becomes plain data: its labels and templates per locale, the header fields, the
line rows' source and columns, the total and who may print it, with every field's label, type,
enum choices and currency, so the runtime (``crmgen_runtime.web.print_formats`` over
``crmgen_runtime.documents``) needs nothing else to build it.
"""

from __future__ import annotations

from typing import Any

from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from crmgen.language.fields import field_type
from crmgen.language.model import Document, Entity, Field, Spec
from crmgen.render.document_routes import served
from crmgen.render.web.labels import text_of


def _field(spec: Spec, f: Field) -> dict[str, Any]:
    return {
        "name": f.name,
        "type": f.type,
        "label": text_of(spec, f.label, f.name),
        "choices": [[v.name, text_of(spec, v.label, v.name)] for v in f.values],
        "currency": (f.currency or spec.app.currency) if field_type(f.type).currency else None,
        "scale": f.scale,
    }


def _fields(spec: Spec, entity: Entity | None, names: tuple[str, ...]) -> list[dict[str, Any]]:
    if entity is None:
        return []
    return [_field(spec, f) for n in names if (f := entity.field(n)) is not None]


def _template_names(doc: Document) -> tuple[str, ...]:
    """The record's fields the title and footer use (in every locale), in sorted order."""
    env = SandboxedEnvironment()
    used: set[str] = set()
    for text in (doc.title, doc.footer):
        for _locale, source in text.values:
            used |= meta.find_undeclared_variables(env.parse(source))
    return tuple(sorted(used))


def document_data(spec: Spec, entity: Entity, doc: Document) -> dict[str, Any]:
    """One document as ``ui.json`` holds it (under ``entities[path]["documents"]``)."""
    lines = None
    total = None
    if doc.lines is not None:
        rows = spec.entity(doc.lines.entity)
        *refs, relation = doc.lines.path.split(".")
        lines = {
            "refs": refs,  # to-one references followed from the record before the relation
            "relation": relation,
            "entity": rows.name if rows is not None else doc.lines.entity,
            "link": doc.lines.link,  # the rows' reference to the record the path ends on
            "columns": _fields(spec, rows, doc.lines.columns),
        }
    if doc.total is not None:
        if doc.total.field is not None:
            source = entity.field(doc.total.field)
        else:
            rows = spec.entity(doc.lines.entity) if doc.lines else None
            source = rows.field(doc.total.sum or "") if rows else None
        if source is not None:
            total = {**_field(spec, source), "sum": doc.total.sum is not None}
    return {
        "name": doc.name,
        "label": text_of(spec, doc.label, doc.name),
        "title": text_of(spec, doc.title) if doc.title else None,
        "footer": text_of(spec, doc.footer) if doc.footer else None,
        "entity_label": text_of(spec, entity.label, entity.name),
        "display": entity.display,
        "fields": _fields(spec, entity, doc.fields),
        # What the title and footer read (with no title: the record's display field).
        "template_fields": _fields(
            spec, entity, _template_names(doc) + (() if doc.title else (entity.display,))
        ),
        "lines": lines,
        "total": total,
        "formats": list(doc.formats),
        "roles": list(doc.roles),
    }


def entity_data(spec: Spec, entity: Entity) -> list[dict[str, Any]]:
    """The entity's documents (under ``entities[path]["documents"]``), in spec order."""
    if not served(entity):
        return []
    return [document_data(spec, entity, doc) for doc in entity.documents]


def site_data(spec: Spec) -> dict[str, Any]:
    """What ``ui.json`` holds of this part for the whole app (under ``"documents"``)."""
    return {}
