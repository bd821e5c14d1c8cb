"""An entity's list page: its filters, what may be exported, whether its cells are edited in
place (``inline_edit``) and, app-wide, whether users save views of lists (``saved_views``).
Each switch is written only when it is on."""

from __future__ import annotations

from typing import Any

from crmgen.language.fields import field_type
from crmgen.language.model import Entity, Field, Spec

# Without ``ui.list.filters`` in the spec: these kinds, in this order, at most DEFAULT_FILTERS.
DEFAULT_KINDS = ("enum", "ref", "boolean", "date", "datetime")
DEFAULT_FILTERS = 5


def filter_kind(f: Field) -> str | None:
    """The filter widget of field ``f``: enum, ref, boolean, date, datetime, time, number or
    text."""
    if f.relation is not None:
        return "ref"
    return field_type(f.type).filter


def _filters(entity: Entity) -> list[dict[str, str]]:
    by_name = {f.name: f for f in entity.fields}
    named = [by_name[n] for n in entity.ui.list.filters if n in by_name]
    if not named:
        ranked = sorted(
            (f for f in entity.fields if filter_kind(f) in DEFAULT_KINDS),
            key=lambda f: DEFAULT_KINDS.index(filter_kind(f) or ""),
        )
        named = ranked[:DEFAULT_FILTERS]
    return [{"name": f.name, "kind": kind} for f in named if (kind := filter_kind(f)) is not None]


def _export(entity: Entity) -> list[str]:
    """The exported fields: the list's columns first, then the others as declared."""
    exported = [f.name for f in entity.fields if field_type(f.type).exported]
    columns = [c for c in entity.ui.list.columns if c in exported]
    return columns + [name for name in exported if name not in columns]


def entity_data(spec: Spec, entity: Entity) -> dict[str, Any]:
    """What ``ui.json`` holds of this part for ``entity`` (under ``entities[path]["lists"]``)."""
    data: dict[str, Any] = {"filters": _filters(entity), "export": _export(entity)}
    if spec.ui.inline_edits(entity):
        data["inline_edit"] = True
    return data


def site_data(spec: Spec) -> dict[str, Any]:
    """What ``ui.json`` holds of this part for the whole app (under ``"lists"``)."""
    return {"saved_views": True} if spec.ui.saved_views else {}
