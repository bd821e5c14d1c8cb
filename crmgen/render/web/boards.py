"""Kanban boards (by an enum field) and calendars (by a date field) of an entity.

What an entity declares under ``ui.kanban`` / ``ui.calendar`` reaches the app as
``ENTITIES[path]["boards"] = {"kanban": ..., "calendar": ...}`` (each ``None`` when not
declared); ``crmgen_runtime.web.boards`` builds its pages from it.
"""

from __future__ import annotations

from typing import Any

from crmgen.language.fields import field_type
from crmgen.language.model import Entity, Field, Spec
from crmgen.render.web.labels import text_of


def _column(spec: Spec, value: Any) -> dict[str, Any]:
    """One kanban column: an enum value with its label, weight (probability) and colour."""
    return {
        "value": value.name,
        "label": text_of(spec, value.label, value.name),
        "weight": value.weight,
        "color": value.color,
    }


def _kanban(spec: Spec, entity: Entity) -> dict[str, Any] | None:
    view = entity.ui.kanban
    by = entity.field(view.by) if view is not None else None
    if view is None or by is None:
        return None
    shown = [f for f in (entity.field(n) for n in view.fields) if f is not None]
    # summed per column: amounts of money only (a sum of counts means little)
    summed: list[Field] = [f for f in shown if field_type(f.type).currency]
    return {
        "by": by.name,
        "title": view.title or entity.display,
        "fields": [f.name for f in shown],
        "columns": [_column(spec, v) for v in by.values],
        # A field that may be empty gets a column of its own for the records without a value.
        "nullable": not by.required,
        "sums": {f.name: f.currency or spec.app.currency for f in summed},
    }


def _calendar(entity: Entity) -> dict[str, Any] | None:
    view = entity.ui.calendar
    date = entity.field(view.date) if view is not None else None
    if view is None or date is None:
        return None
    end = entity.field(view.end) if view.end else None
    return {
        "date": date.name,
        "date_type": date.type,
        "end": end.name if end is not None else None,
        "end_type": end.type if end is not None else None,
        "title": view.title or entity.display,
    }


def entity_data(spec: Spec, entity: Entity) -> dict[str, Any]:
    """What ``ui.json`` holds of this part for ``entity`` (under ``entities[path]["boards"]``)."""
    return {"kanban": _kanban(spec, entity), "calendar": _calendar(entity)}


def site_data(spec: Spec) -> dict[str, Any]:
    """What ``ui.json`` holds of this part for the whole app (under ``"boards"``)."""
    return {}
