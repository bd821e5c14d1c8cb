"""The indexes an entity's lists need, derived from what its UI and API offer.

A list orders by its sort keys and then ``id``, which goes the way of the last key; an empty
value is the greatest (last going up, first going down). So one ascending btree index
``(keys..., id)`` serves a sort both ways: PostgreSQL scans it forward or backward. The set:

- the default order (``ui.list.sort``) and each sortable list column: ``(column, id)``;
- each ``ui.list.filters`` field and the owner field of a role whose list rule is ``own``:
  ``(field, default order..., id)``, so the filtered first page reads in order too; a filter
  column the list also sorts by gets ``(column, id)`` as well (an Incremental Sort on ``id``
  would sort all of the first value's rows: half the table for a flag);
- a mixed order (``stage,-amount``): the leading keys that go the same way (an Incremental
  Sort does the rest).

Links (``ref``) already have an index on their column (link filters, ``back`` lists), and a
required unique field its unique index (its sort adds an Incremental Sort over single rows); an
index that starts with another's columns makes it redundant and it is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from crmgen.language.model import Entity
from crmgen.render.environment import db_name

SYSTEM = frozenset({"id", "created_at", "updated_at"})
UNSORTABLE = frozenset({"json", "refs"})  # as the runtime's list page: the API cannot order by them


@dataclass(frozen=True)
class ListIndex:
    name: str
    columns: tuple[str, ...]


def column_of(entity: Entity, name: str) -> str | None:
    """The column a list sorts or filters ``name`` by (None: none it can index)."""
    if name in SYSTEM:
        return name if name == "id" or entity.timestamps else None
    field = entity.field(name)
    if field is None or field.type in UNSORTABLE or not field.column:
        return None
    return field.column


def _order(entity: Entity, keys: tuple[str, ...]) -> tuple[str, ...]:
    """The index columns of an order: its leading keys that go the same way, and ``id`` when
    all of them do."""
    columns: list[str] = []
    first = keys[0].startswith("-") if keys else False
    for key in keys:
        column = column_of(entity, key.lstrip("-"))
        if key.startswith("-") != first or column is None:
            return tuple(columns)
        if column not in columns:
            columns.append(column)
    return tuple(dict.fromkeys((*columns, "id")))


def owner_filters(entity: Entity) -> list[str]:
    """The owner field, when a role lists only its own records."""
    owns = any(
        access.mode == "own"
        for permission in entity.permissions
        for action, access in permission.actions
        if action == "list"
    )
    return [entity.owner] if owns and entity.owner else []


def _candidates(entity: Entity) -> list[tuple[str, ...]]:
    default = _order(entity, entity.ui.list.sort)
    found: list[tuple[str, ...]] = [default]
    filters = [*entity.ui.list.filters, *owner_filters(entity)]
    for name in filters:
        column = column_of(entity, name)
        if column is not None and column != "id":
            found.append(tuple(dict.fromkeys((column, *(default or ("id",))))))
    for name in entity.ui.list.columns or (entity.display,):
        column, field = column_of(entity, name), entity.field(name)
        unique = field is not None and field.unique and field.required  # its own index serves
        if column is not None and not unique:  # a filter's index leads with the default order
            found.append((column, "id") if column != "id" else ("id",))
    return found


def list_indexes(entity: Entity) -> tuple[ListIndex, ...]:
    """The indexes of ``entity``'s lists (none when the API does not list it)."""
    if "list" not in entity.api:
        return ()
    declared = [
        tuple(f.column for f in map(entity.field, index.fields) if f is not None)
        for index in entity.indexes
    ]
    kept: list[tuple[str, ...]] = []
    candidates = [c for c in _candidates(entity) if c and c != ("id",)]
    for columns in dict.fromkeys(candidates):
        longer = [other for other in candidates if other != columns]
        if any(other[: len(columns)] == columns for other in (*longer, *declared)):
            continue
        kept.append(columns)
    return tuple(
        ListIndex(db_name(f"ix_{entity.table}_list_{'_'.join(columns)}"), columns)
        for columns in kept
    )


def led_columns(entity: Entity, indexes: tuple[ListIndex, ...]) -> frozenset[str]:
    """The columns that a longer index of ``indexes`` (or of the spec's own) begins with: such
    a column gets no index of its own (a link's, or a field's ``index: true``), which the
    longer one serves. Besides the write it saves, a lone index on a column with many empty
    values misleads PostgreSQL: ordering by it and ``id`` going down, it reads the index and
    sorts every empty value's rows (an Incremental Sort whose first group is all of them)
    where the longer index gives them in order."""
    declared = [
        tuple(f.column for f in map(entity.field, index.fields) if f is not None)
        for index in entity.indexes
    ]
    longer = [*(index.columns for index in indexes), *declared]
    return frozenset(columns[0] for columns in longer if len(columns) > 1)
