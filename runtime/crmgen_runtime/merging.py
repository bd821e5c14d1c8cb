"""Merging two records of one entity: ``merge(session, resource, user, ip, kept, removed, take)``.

In the caller's transaction, with the rights of ``user`` (update on the kept record, delete on
the removed one, both within their record rules; 404 otherwise):

1. the values: the fields named in ``take`` get the removed record's value (without ``take``:
   each field the kept record leaves empty); many-to-many lists get the union of both;
   read-only, computed and rollup fields are never taken;
2. every link to the removed record is moved to the kept one: the references of every entity
   (a one-to-one reference the kept record already has is cleared, and noted), the rows of
   every many-to-many list (a row the kept record already has is dropped), and the system
   tables that name records: attachments and field files, comments, notifications, logged
   e-mails and the audit log (so the kept record's timeline shows the removed one's history),
   and the filters of saved views (``/deals?contact=<id>``); each record re-pointed gets an
   audit entry;
3. the removed record is deleted for good (its values stay in the merge's audit entry), then
   the kept record is updated like any request's update (``writes.update_row``, guarded: the
   workflow's transitions hold; the *update* processes run);
4. the rollups of the kept record, and of the parents of both, are recomputed;
5. one audit entry on the kept record (an ``update`` whose changes hold ``@merged_from``:
   ``[removed id, kept id]``) holds every field of the removed record as ``[removed value,
   kept value]``: no value is lost.

A field file the kept record does not keep becomes an attachment of it (on an entity with
attachments), else it stays stored under the kept record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmgen_runtime import audit, files, permissions, rollups
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import FieldInfo, Resource
from crmgen_runtime.responses import json_ready
from crmgen_runtime.tables import (
    AuditEntryTable,
    CommentTable,
    EmailLogTable,
    NotificationTable,
    SavedViewTable,
    StoredFileTable,
)

# The system tables that name a record by (entity, record_id).
RECORD_TABLES = (AuditEntryTable, CommentTable, NotificationTable, EmailLogTable, StoredFileTable)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def choose(
    resource: Resource,
    user: CurrentUser,
    kept: Mapping[str, Any],
    removed: Mapping[str, Any],
    take: Iterable[str] | None,
) -> dict[str, Any]:
    """The values the kept record gets: the removed record's value of each field of ``take``
    (None: each field the kept record leaves empty); lists get the union of both. 403 for a
    field ``user`` may not write, 422 for an unknown or read-only field."""
    writable = permissions.writable(resource, user, "update")
    chosen: list[str]
    if take is None:
        chosen = [
            name
            for name, info in resource.fields.items()
            if not info.is_list
            and not info.read_only
            and name in writable
            and _empty(kept.get(name))
            and not _empty(removed.get(name))
        ]
    else:
        chosen = list(dict.fromkeys(take))
        unknown = [n for n in chosen if n not in resource.fields]
        if unknown:
            raise ApiError(
                422,
                "validation_error",
                f"No such field: {', '.join(unknown)}.",
                dict.fromkeys(unknown, "No such field."),
            )
        fixed = [n for n in chosen if resource.fields[n].read_only]
        if fixed:
            raise ApiError(
                422,
                "validation_error",
                "Read-only fields keep the kept record's value.",
                dict.fromkeys(fixed, "This field is read-only."),
            )
        refused = [n for n in chosen if n not in writable]
        if refused:
            raise ApiError(
                403,
                "forbidden",
                f"Your role may not change {', '.join(refused)}.",
                dict.fromkeys(refused, "Your role may not change this field."),
            )
    values = {
        name: removed.get(name)
        for name in chosen
        if not resource.fields[name].is_list and removed.get(name) != kept.get(name)
    }
    for name, info in resource.fields.items():
        if info.is_list and name in writable:
            union = sorted(set(kept.get(name) or []) | set(removed.get(name) or []))
            if union != sorted(kept.get(name) or []):
                values[name] = union
    return values


def _referrers(resource: Resource) -> list[tuple[Resource, FieldInfo]]:
    """Every reference and many-to-many list (of every entity) that points at ``resource``."""
    return [
        (source, info)
        for source in resource.catalog.by_name.values()
        for info in source.fields.values()
        if info.target == resource.name and (info.is_ref or info.is_list)
    ]


def _move_references(
    session: Session,
    source: Resource,
    info: FieldInfo,
    kept_id: int,
    removed_id: int,
    user: CurrentUser,
    ip: str | None,
) -> dict[str, list[int]]:
    """Point ``source``'s reference ``info`` from the removed record to the kept one; the
    records changed (and, for a one-to-one the kept record already has, those cleared)."""
    table = source.model.__table__
    column = table.c[info.column_name]
    ids = list(session.execute(sa.select(table.c.id).where(column == removed_id)).scalars())
    if not ids:
        return {}
    target = kept_id
    cleared: list[int] = []
    one_to_one = info.relation == "one_to_one" or info.unique
    if one_to_one and session.execute(sa.select(table.c.id).where(column == kept_id)).first():
        target, cleared = None, ids  # type: ignore[assignment]
    changed: dict[Any, Any] = {column: target}
    if "version" in table.c:
        changed[table.c.version] = table.c.version + 1
    session.execute(sa.update(table).where(column == removed_id).values(changed))
    for record_id in ids:
        audit.record(
            session,
            source.catalog,
            user=user,
            ip=ip,
            entity=source.name,
            record_id=record_id,
            action="update",
            changes={info.name: [removed_id, target]},
        )
    rollups.after_write(session, source, {info.name: removed_id}, {info.name: target})
    return {f"{source.name}.{info.name}": ids} if not cleared else {}


def _move_list_rows(
    session: Session, info: FieldInfo, kept_id: int, removed_id: int, column: str, other: str
) -> None:
    """Move the join rows of ``info`` whose ``column`` holds the removed id to the kept one
    (a row the kept record already has with the same ``other`` is dropped)."""
    join = info.join
    assert join is not None
    mine, theirs = join.c[column], join.c[other]
    have = set(session.execute(sa.select(theirs).where(mine == kept_id)).scalars())
    moving = list(session.execute(sa.select(theirs).where(mine == removed_id)).scalars())
    session.execute(sa.delete(join).where(mine == removed_id))
    rows = [{column: kept_id, other: o} for o in sorted(set(moving) - have)]
    if rows:
        session.execute(sa.insert(join), rows)


def _move_system_rows(
    session: Session,
    resource: Resource,
    kept_id: int,
    removed_id: int,
    kept_files: list[Any],
) -> None:
    """Point the system tables' rows of the removed record at the kept one."""
    catalog = resource.catalog
    for mixin in RECORD_TABLES:
        try:
            table: sa.Table = catalog.table(mixin).__table__  # type: ignore[attr-defined]
        except LookupError:
            continue  # the app has no such table
        mine = sa.and_(table.c.entity == resource.name, table.c.record_id == removed_id)
        if mixin is EmailLogTable:  # one row per (record, message): drop the ones it has
            have = sa.select(table.c.message_id).where(
                table.c.entity == resource.name,
                table.c.record_id == kept_id,
                table.c.message_id.is_not(None),
            )
            session.execute(sa.delete(table).where(mine, table.c.message_id.in_(have)))
        if mixin is StoredFileTable and resource.attachments:
            # the field files of both that the kept record does not keep: attachments
            loose = sa.and_(
                table.c.entity == resource.name,
                table.c.record_id.in_((kept_id, removed_id)),
                table.c.kind == "field",
                table.c.id.not_in([v for v in kept_files if files.is_file_id(v)]),
            )
            session.execute(sa.update(table).where(loose).values(kind="attachment", field=None))
        session.execute(sa.update(table).where(mine).values(record_id=kept_id))


def _move_view_filters(session: Session, resource: Resource, kept_id: int, removed_id: int) -> None:
    """Saved views whose filters name the removed record (``/deals?contact=5``, or one id of
    ``contact__in=5,7``) name the kept one instead."""
    try:
        table: sa.Table = resource.catalog.table(SavedViewTable).__table__  # type: ignore[attr-defined]
    except LookupError:
        return
    fields: dict[str, set[str]] = {}
    for source, info in _referrers(resource):
        fields.setdefault(source.path, set()).add(info.name)
    fields.setdefault(resource.path, set()).add("id")  # a view of this entity by id
    rows = session.execute(
        sa.select(table.c.id, table.c.entity, table.c.query).where(table.c.entity.in_(fields))
    ).all()
    old, new = str(removed_id), str(kept_id)
    for view_id, entity, query in rows:
        filters = (query or {}).get("filters") or []
        changed = False
        moved = []
        for pair in filters:
            key, value = pair[0], pair[1]
            if key.split("__", 1)[0] in fields[entity] and isinstance(value, (str, int)):
                ids = [new if part.strip() == old else part for part in str(value).split(",")]
                ids = list(dict.fromkeys(ids))  # 5,7 with 5 -> 7: once
                text = ",".join(ids)
                if text != str(value):
                    changed = True
                    value = text
            moved.append([key, value])
        if changed:
            session.execute(
                sa.update(table)
                .where(table.c.id == view_id)
                .values(query={**query, "filters": moved})
            )


def merge(
    session: Session,
    resource: Resource,
    user: CurrentUser,
    ip: str | None,
    kept_id: int,
    removed_id: int,
    take: Iterable[str] | None = None,
) -> None:
    """Fold record ``removed_id`` into ``kept_id`` (see the module's docstring)."""
    from crmgen_runtime import writes  # writes imports duplicates, which this module serves

    if kept_id == removed_id:
        raise ApiError(422, "validation_error", "A record cannot be merged with itself.")
    update_rule = permissions.condition(resource, user, "update")
    delete_rule = permissions.condition(resource, user, "delete")
    kept = writes.stored_row(session, resource, kept_id, update_rule)
    removed = writes.stored_row(session, resource, removed_id, delete_rule)
    lists = [name for name, info in resource.fields.items() if info.is_list]
    kept.update(writes.current_lists(session, resource, kept_id, lists))
    removed.update(writes.current_lists(session, resource, removed_id, lists))
    values = choose(resource, user, kept, removed, take)
    file_values = {
        info.name: values.pop(info.name)
        for info in files.file_fields(resource)
        if info.name in values
    }
    # 2. the links
    for source, info in _referrers(resource):
        if info.is_list:
            _move_list_rows(session, info, kept_id, removed_id, info.join_target, info.join_own)
        else:
            _move_references(session, source, info, kept_id, removed_id, user, ip)
    for name in lists:  # the removed record's own list rows (their union is in ``values``)
        join = resource.fields[name].join
        assert join is not None
        session.execute(sa.delete(join).where(join.c[resource.fields[name].join_own] == removed_id))
    final_files = [
        file_values.get(info.name, kept.get(info.name)) for info in files.file_fields(resource)
    ]
    _move_system_rows(session, resource, kept_id, removed_id, final_files)
    _move_view_filters(session, resource, kept_id, removed_id)
    # 3. the removed record goes; the kept one takes the chosen values
    table = resource.model.__table__
    session.execute(sa.delete(table).where(table.c.id == removed_id))
    rollups.after_write(session, resource, removed)
    after = writes.stored_row(session, resource, kept_id, None)
    for name, info in resource.fields.items():  # no link of the kept record to itself
        if not info.is_ref or info.target != resource.name:
            continue
        now = values[name] if name in values else after.get(name)
        if now in (removed_id, kept_id):
            values[name] = None
    if file_values:
        columns = {resource.fields[n].column_name: v for n, v in file_values.items()}
        session.execute(sa.update(table).where(table.c.id == kept_id).values(columns))
    if values:
        writes.update_row(session, resource, kept_id, values, user, ip, reader=user, guarded=True)
    # 4. the kept record's own rollups (its related records moved)
    own = [r for r in resource.catalog.rollups if r.entity == resource.name]
    if own:
        rollups.refresh(session, resource.catalog, own, [kept_id])
    # 5. the merge, with every value of the removed record
    final = writes.stored_row(session, resource, kept_id, None)
    final.update(writes.current_lists(session, resource, kept_id, lists))
    changes = {
        name: [json_ready(removed.get(name)), json_ready(final.get(name))]
        for name in resource.fields
    }
    changes[audit.MERGED_FROM] = [removed_id, kept_id]
    audit.record(
        session,
        resource.catalog,
        user=user,
        ip=ip,
        entity=resource.name,
        record_id=kept_id,
        action="update",
        changes=changes,
    )


def merge_record(
    database: Database,
    resource: Resource,
    user: CurrentUser,
    ip: str | None,
    kept_id: int,
    removed_id: int,
    take: Iterable[str] | None = None,
) -> dict[str, Any]:
    """``merge`` in one transaction; the kept record as ``user`` reads it."""
    from crmgen_runtime import writes
    from crmgen_runtime.reads import fetch_one

    with writes.integrity(resource, "update"), database.session() as session:
        merge(session, resource, user, ip, kept_id, removed_id, take)
        record = fetch_one(session.connection(), resource, user, kept_id, action=None)
    assert record is not None
    return record
