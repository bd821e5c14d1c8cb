"""Rollup fields: a stored aggregate of a record's related records, kept exact.

A ``Rollup`` is a column of a parent record (``Company.won_total``) holding an aggregate of the
records that reference it through ``link`` (``Deal.company``) and match ``where``: their
``count``, the ``sum``, ``min``, ``max`` or ``avg`` of a field, or the field of the ``last``
record by ``order_by``. Soft-deleted records are not counted; every other record is, whoever
may read it.

The row writers (``crmgen_runtime.writes``) call ``after_write`` inside the transaction of each
create, update and delete of a related record, with the record's old and new values, so both
its old and its new parent are refreshed. ``refresh`` first locks the parents (on PostgreSQL
``SELECT ... FOR NO KEY UPDATE``, in id order: it waits for the other writers of the same
parent but, unlike ``FOR UPDATE``, not for the key-share lock that inserting a related record
takes), then computes each aggregate with one query and stores it. The last writer to take the
lock sees every committed related record, so concurrent writers end exact. On SQLite writes are
serialised already. ``recompute`` refreshes every parent in batches (the app's ``recompute``
command). Sums stay exact (``decimals.column_sum``); an average is the sum over the count,
rounded half-up to the field's scale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmgen_runtime.decimals import ExactDecimal, average, column_sum

if TYPE_CHECKING:
    from crmgen_runtime.resources import Catalog, Resource

OPS = ("count", "sum", "min", "max", "avg", "last")
DEFAULT_BATCH = 500


@dataclass(frozen=True)
class Rollup:
    """Field ``field`` of entity ``entity``: ``op`` over the records of ``source`` whose
    reference ``link`` points at the record, that match ``where`` (a function giving a
    condition over ``source``'s model); ``value`` is the field aggregated (none for
    ``count``); ``order_by`` orders the records for ``last`` ("field" or "-field")."""

    entity: str
    field: str
    source: str
    link: str
    op: str
    value: str = ""
    where: Callable[[], sa.ColumnElement[bool]] | None = None
    order_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown rollup op {self.op!r}: one of {', '.join(OPS)}")
        if (self.op == "count") == bool(self.value):
            raise ValueError(f"a {self.op} rollup {'takes no' if self.value else 'needs a'} value")
        if self.op == "last" and not self.order_by:
            raise ValueError("a last rollup needs order_by")


def over(catalog: Catalog, source: str) -> tuple[Rollup, ...]:
    """The catalog's rollups over records of entity ``source``."""
    found: dict[str, tuple[Rollup, ...]] | None = catalog.__dict__.get("_rollups_over")
    if found is None:
        grouped: dict[str, list[Rollup]] = {}
        for rollup in catalog.rollups:
            grouped.setdefault(rollup.source, []).append(rollup)
        found = {name: tuple(items) for name, items in grouped.items()}
        catalog.__dict__["_rollups_over"] = found
    return found.get(source, ())


def by_entity(catalog: Catalog) -> dict[str, tuple[Rollup, ...]]:
    """The catalog's rollups by the entity that stores them."""
    grouped: dict[str, list[Rollup]] = {}
    for rollup in catalog.rollups:
        grouped.setdefault(rollup.entity, []).append(rollup)
    return {name: tuple(items) for name, items in grouped.items()}


def start(resource: Resource, values: dict[str, Any]) -> None:
    """A new record's rollups, before it has related records: count and sum 0, the rest
    empty (set in ``values``, which the row writer inserts)."""
    for rollup in resource.catalog.rollups:
        if rollup.entity == resource.name:
            values[rollup.field] = 0 if rollup.op in ("count", "sum") else None


def after_write(session: Session, resource: Resource, *rows: Mapping[str, Any] | None) -> None:
    """Refresh the rollups over ``resource`` of every parent that ``rows`` (a record's stored
    and written values by field name) reference."""
    rollups = over(resource.catalog, resource.name)
    if not rollups:
        return
    by_entity: dict[str, tuple[list[Rollup], set[int]]] = {}
    for rollup in rollups:
        chosen, ids = by_entity.setdefault(rollup.entity, ([], set()))
        chosen.append(rollup)
        for row in rows:
            parent = None if row is None else row.get(rollup.link)
            if parent is not None:
                ids.add(int(parent))
    for chosen, ids in by_entity.values():
        if ids:
            refresh(session, resource.catalog, chosen, ids)


def refresh(
    session: Session, catalog: Catalog, rollups: Sequence[Rollup], ids: Iterable[int]
) -> None:
    """Lock the parents ``ids`` and store ``rollups`` (all of one entity) for each of them."""
    wanted = sorted(set(ids))
    if not wanted or not rollups:
        return
    parent = catalog.by_name[rollups[0].entity]
    table = parent.model.__table__
    lock = sa.select(table.c.id).where(table.c.id.in_(wanted)).order_by(table.c.id)
    if session.get_bind().dialect.name == "postgresql":
        lock = lock.with_for_update(key_share=True)
    present = list(session.execute(lock).scalars())
    if not present:
        return
    rows: dict[int, dict[str, Any]] = {i: {} for i in present}
    for rollup in rollups:
        column = parent.fields[rollup.field].column_name
        for parent_id, value in compute(session, catalog, rollup, present).items():
            rows[parent_id][column] = value
    kept = {"updated_at": table.c.updated_at} if "updated_at" in table.c else {}
    for parent_id, values in rows.items():  # no change of the record itself: no onupdate
        session.execute(sa.update(table).where(table.c.id == parent_id).values(**values, **kept))


def compute(
    session: Session, catalog: Catalog, rollup: Rollup, ids: Sequence[int]
) -> dict[int, Any]:
    """The value of ``rollup`` for each parent of ``ids`` (one query for them all)."""
    source = catalog.by_name[rollup.source]
    parent = catalog.by_name[rollup.entity]
    stored_type = parent.model.__table__.c[parent.fields[rollup.field].column_name].type
    link = source.attribute(rollup.link)
    conditions = [link.in_(list(ids))]
    if source.soft_delete:
        conditions.append(source.model.deleted_at.is_(None))
    if rollup.where is not None:
        conditions.append(rollup.where())
    empty = 0 if rollup.op in ("count", "sum") else None
    found: dict[int, Any] = dict.fromkeys(ids, empty)
    if rollup.op == "last":
        for key, value in session.execute(_last(source, rollup, link, conditions)):
            found[int(key)] = value
        return found
    target = source.attribute(rollup.value) if rollup.value else source.model.id
    parts: list[Any]
    if rollup.op == "count":
        parts = [sa.func.count(target)]
    elif rollup.op == "sum":
        parts = [column_sum(target)]
    elif rollup.op == "avg":
        parts = [column_sum(target), sa.func.count(target)]
    else:
        parts = [getattr(sa.func, rollup.op)(target)]
    stmt = sa.select(link, *parts).where(*conditions).group_by(link)
    for row in session.execute(stmt):
        value = row[1]
        if rollup.op == "avg":
            value = _average(row[1], row[2], stored_type)
        found[int(row[0])] = empty if value is None else value
    return found


def _average(total: Any, count: int, stored_type: Any) -> Any:
    """An average as the field stores it: rounded half-up to its scale (a float: as it is)."""
    scale = stored_type.scale if isinstance(stored_type, ExactDecimal) else 2
    value = average(total, count, Decimal(1).scaleb(-scale))
    if isinstance(stored_type, sa.Float) and value is not None:
        return float(value)
    return value


def _last(source: Resource, rollup: Rollup, link: Any, conditions: list[Any]) -> Any:
    """Each parent's key with the value of its last record by ``order_by`` (records without
    a value to order by come first; ties: the newest id)."""
    order = [
        (
            source.attribute(name[1:]).asc()
            if name.startswith("-")
            else source.attribute(name).desc()
        ).nulls_last()
        for name in rollup.order_by
    ]
    order.append(source.model.id.desc())
    ranked = (
        sa.select(
            link.label("parent"),
            source.attribute(rollup.value).label("value"),
            sa.func.row_number().over(partition_by=link, order_by=order).label("rank"),
        )
        .where(*conditions)
        .subquery()
    )
    return sa.select(ranked.c.parent, ranked.c.value).where(ranked.c.rank == 1)


def recompute(
    session_factory: Callable[[], Any], catalog: Catalog, batch: int = DEFAULT_BATCH
) -> int:
    """Refresh every rollup of every record, ``batch`` parents per transaction; the number of
    records refreshed. ``session_factory()`` gives a context manager of a session in a
    transaction (``Database.session``)."""
    done = 0
    for entity, rollups in by_entity(catalog).items():
        model = catalog.by_name[entity].model
        last = 0
        while True:
            with session_factory() as session:
                ids = list(
                    session.execute(
                        sa.select(model.id).where(model.id > last).order_by(model.id).limit(batch)
                    ).scalars()
                )
                if not ids:
                    break
                refresh(session, catalog, rollups, ids)
            done += len(ids)
            last = ids[-1]
    return done
