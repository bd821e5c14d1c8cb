"""An entity's detail page and forms: related lists, the activity timeline, manual actions,
form sections and the widgets the shared field data leaves out.

Related lists are the reverse sides of the relations pointing at the entity (a company's
contacts and deals). One of them is an *activity* when its entity records events: it has a
datetime field telling when (its calendar's date when that is a datetime, else its first
required datetime field), so a call or a meeting lands on the timeline of the records it links.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crmgen.language.fields import field_type
from crmgen.language.model import Entity, Field, Spec
from crmgen.render.web.labels import text_of

# Widgets the shared field data leaves out that forms still edit (their own inputs).
EXTRA_WIDGETS = frozenset({"json", "file"})  # file: the file and image fields
RELATED_COLUMNS = 4  # columns of a related list on the detail page


def _label(spec: Spec, f: Field) -> dict[str, str]:
    return text_of(spec, f.label, f.name.replace("_", " ").capitalize())


def _extra_widget(f: Field) -> str | None:
    """The widget of a writable field that the shared data leaves without one."""
    if f.read_only or f.computed is not None:
        return None
    if f.relation is not None and f.relation.kind == "many_to_many":
        return "multi"
    widget = field_type(f.type).widget
    return widget if widget in EXTRA_WIDGETS else None


def _input(spec: Spec, f: Field) -> dict[str, Any] | None:
    """Attributes of a number input: step by scale, bounds, the currency of money; of a file
    input: the types it accepts."""
    if f.type in ("file", "image") and f.accept:
        return {"accept": list(f.accept)}
    if not field_type(f.type).numeric:
        return None
    kind = field_type(f.type)
    step = "1" if kind.python_type == "int" else "any"
    if kind.exact:
        step = str(Decimal(1).scaleb(-(f.scale if f.scale is not None else 2)))
    currency = (f.currency or spec.app.currency) if kind.currency else None
    return {"step": step, "min": f.min, "max": f.max, "currency": currency}


def _sections(spec: Spec, entity: Entity) -> list[dict[str, Any]]:
    """``ui.form`` as sections; fields it does not name follow in an unlabelled one."""
    names = {f.name for f in entity.fields}
    sections = [
        {
            "label": text_of(spec, s.label) if s.label else None,
            "fields": [n for n in s.fields if n in names],
        }
        for s in entity.ui.form
    ]
    placed = {n for s in sections for n in s["fields"]}
    rest = [f.name for f in entity.fields if f.name not in placed]
    if rest and sections and sections[-1]["label"] is None:
        sections[-1]["fields"] += rest
    elif rest:
        sections.append({"label": None, "fields": rest})
    return [s for s in sections if s["fields"]]


def activity_time(entity: Entity) -> str | None:
    """The datetime field telling when a record of ``entity`` happened (None: not an event)."""
    by_name = {f.name: f for f in entity.fields}
    calendar = entity.ui.calendar
    if calendar is not None and getattr(by_name.get(calendar.date), "type", None) == "datetime":
        return calendar.date
    return next((f.name for f in entity.fields if f.type == "datetime" and f.required), None)


def _first(entity: Entity, kind: str, skip: str) -> str | None:
    return next((f.name for f in entity.fields if f.type == kind and f.name != skip), None)


def _related(spec: Spec, entity: Entity) -> list[dict[str, Any]]:
    """The reverse sides of relations pointing at ``entity``, from entities the API lists."""
    incoming = [(source, f) for source, f in spec.incoming(entity.name) if "list" in source.api]
    result = []
    for source, f in incoming:
        label = text_of(spec, source.plural_label, source.plural)
        twice = sum(1 for s, _ in incoming if s.name == source.name) > 1
        if twice or source.name == entity.name:  # say which relation
            field_label = _label(spec, f)
            label = {loc: f"{text} ({field_label[loc]})" for loc, text in label.items()}
        # the first column links the record by its display field; the relation is this record
        columns = [c for c in source.ui.list.columns if c not in (f.name, source.display)]
        when = activity_time(source)
        result.append(
            {
                "path": source.api_path,
                "field": f.name,
                "label": label,
                "columns": columns[:RELATED_COLUMNS],
                "sort": ",".join(source.ui.list.sort),
                "activity": None
                if when is None
                else {
                    "time": when,
                    "title": source.display,
                    "kind": _first(source, "enum", when),
                    "text": _first(source, "text", when),
                    "who": source.owner,
                },
            }
        )
    return result


def _actions(spec: Spec, entity: Entity) -> list[dict[str, Any]]:
    """The manual processes (trigger ``action``) of ``entity``: a button each."""
    return [
        {
            "name": p.name,
            "label": text_of(spec, p.trigger.label or p.label, p.name),
            "roles": list(p.trigger.roles),
        }
        for p in spec.processes
        if p.trigger.kind == "action" and p.trigger.entity == entity.name
    ]


def _milestones(entity: Entity) -> list[str]:
    """The fields whose changes every reader of a record sees on its timeline (not only the
    audit roles): ``ui.timeline``, else the field its kanban board groups by."""
    if entity.ui.timeline is not None:
        return list(entity.ui.timeline)
    return [entity.ui.kanban.by] if entity.ui.kanban is not None else []


def entity_data(spec: Spec, entity: Entity) -> dict[str, Any]:
    """What ``ui.json`` holds of this part for ``entity`` (under ``entities[path]["records"]``)."""
    return {
        "sections": _sections(spec, entity),
        "widgets": {f.name: w for f in entity.fields if (w := _extra_widget(f))},
        "inputs": {f.name: i for f in entity.fields if (i := _input(spec, f))},
        "related": _related(spec, entity),
        "actions": _actions(spec, entity),
        "milestones": _milestones(entity),
    }


def site_data(spec: Spec) -> dict[str, Any]:
    """What ``ui.json`` holds of this part for the whole app (under ``"records"``)."""
    return {}
