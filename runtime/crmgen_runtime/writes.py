"""Writing records: create, update and delete, with every rule the API keeps.

Two levels. The request entry points (``create_record``, ``update_record``,
``delete_record``, and ``create_in`` and ``update_in`` for callers holding a session) check
the role, the writable fields, the values and the user-account rules (``accounts``). The row
writers (``insert_row``, ``update_row``, ``delete_row``), which processes call too, run the
hooks (``resource.catalog.events``), defaults and computed fields, check links and versions,
refresh the rollups of the parents a written record references (``rollups``), and write the
audit entry, all in the caller's transaction. Database constraint errors become
409/422 answers (``integrity``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmgen_runtime import (
    accounts,
    audit,
    consent,
    crypto,
    duplicates,
    files,
    links,
    permissions,
    rollups,
    validation,
    workflows,
)
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.events import Event
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.reads import fetch_one, signed_in
from crmgen_runtime.resources import Resource
from crmgen_runtime.responses import json_ready
from crmgen_runtime.tables import utcnow

STORED_SYSTEM = ("id", "version", "created_at", "updated_at", "deleted_at")
# SQLSTATEs (PostgreSQL) and messages (SQLite) of the constraint errors answered in kind
UNIQUE, FOREIGN_KEY, NOT_NULL = "23505", "23503", "23502"
_KEY_DETAIL = re.compile(r"Key \((.*?)\)=")


# --- database errors -----------------------------------------------------------------------


@contextmanager
def integrity(resource: Resource, action: str) -> Iterator[None]:
    """Database constraint errors of a write as 409/422 answers naming the fields."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise integrity_error(resource, action, exc) from None
    except sa.exc.DataError as exc:
        raise ApiError(422, "validation_error", "A value does not fit its field.") from exc


def _columns_to_fields(resource: Resource, columns: list[str]) -> list[str]:
    by_column = {
        info.column_name: name for name, info in resource.fields.items() if info.column_name
    }
    return [by_column.get(c.strip().strip('"'), c.strip()) for c in columns]


def integrity_error(resource: Resource, action: str, exc: sa.exc.IntegrityError) -> ApiError:
    """The answer to a constraint error of ``action`` on ``resource``."""
    orig = exc.orig
    text = str(orig)
    state = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    if state == UNIQUE or "UNIQUE constraint failed" in text:
        columns: list[str] = []
        detail = getattr(diag, "message_detail", None) or ""
        found = _KEY_DETAIL.search(detail)
        if found:
            columns = found.group(1).split(",")
        elif "UNIQUE constraint failed:" in text:
            columns = [c.rpartition(".")[2] for c in text.split(":", 1)[1].split(",")]
        names = _columns_to_fields(resource, columns)
        message = "Another record already has this value."
        return ApiError(
            409,
            "duplicate",
            f"A record with the same {', '.join(names) or 'values'} already exists.",
            dict.fromkeys(names, message),
        )
    if state == FOREIGN_KEY or "FOREIGN KEY constraint failed" in text:
        if action == "delete":
            return ApiError(
                409, "in_use", "Other records refer to this record: change or delete them first."
            )
        return ApiError(422, "validation_error", "A linked record does not exist.")
    if state == NOT_NULL or "NOT NULL constraint failed" in text:
        column = getattr(diag, "column_name", None) or text.rpartition(".")[2].strip()
        names = _columns_to_fields(resource, [column])
        return ApiError(
            422,
            "validation_error",
            "A required field is missing.",
            dict.fromkeys(names, "This field is required."),
        )
    return ApiError(422, "validation_error", "A value breaks a rule of its field.")


# --- values --------------------------------------------------------------------------------


def _compute(resource: Resource, values: dict[str, Any], current: Mapping[str, Any]) -> None:
    """Set the computed fields from the record's own columns (the stored row plus the change).

    Computed values are stored, so lists can filter and sort by them; an input that is
    missing leaves the value empty (see ``functions.evaluate``).
    """
    if not resource.computed:
        return
    functions = resource.catalog.config.functions
    row = {**current, **_column_values(resource, values)}  # by column name
    # the compiled expressions read model attributes (``record.from_`` for the column "from")
    attributes = {
        info.column: row[info.column_name]
        for info in resource.fields.values()
        if info.column_name in row and info.column != info.column_name
    }
    record = SimpleNamespace(**row, **attributes)
    for info in resource.computed:
        assert info.compute is not None
        values[info.name] = functions.evaluate(info.compute, record)


def _fill_defaults(resource: Resource, values: dict[str, Any], user: Any) -> None:
    """The defaults of the fields ``values`` leaves out: an expression's value, or the
    column's literal default, so *before create* processes and computed fields see the
    record as it will be stored (not an empty value the database fills in later)."""
    functions = resource.catalog.config.functions
    columns = resource.model.__table__.c
    for info in resource.fields.values():
        if info.name in values or info.is_list:
            continue
        if info.default is not None:
            values[info.name] = functions.evaluate(info.default, user)
            continue
        column = columns.get(info.column_name)
        default = column.default if column is not None else None
        if default is not None and default.is_scalar:
            values[info.name] = default.arg


def _column_values(resource: Resource, values: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in values.items():
        info = resource.fields[name]
        if info.is_list:
            continue
        row[info.column_name] = sa.null() if value is None and info.type == "json" else value
        if info.blind:  # the keyed hash equality search finds it by (crmgen_runtime.crypto)
            row[info.blind] = crypto.blind_value(value, info.encrypted)
    return row


def _write_lists(
    session: Session, resource: Resource, record_id: int, values: dict[str, Any]
) -> None:
    for name, ids in values.items():
        info = resource.fields[name]
        if not info.is_list:
            continue
        assert info.join is not None
        own = info.join.c[info.join_own]
        session.execute(sa.delete(info.join).where(own == record_id))
        if ids:
            session.execute(
                sa.insert(info.join),
                [{info.join_own: record_id, info.join_target: i} for i in ids],
            )


def current_lists(
    session: Session, resource: Resource, record_id: int, names: list[str]
) -> dict[str, list[int]]:
    """The stored ids of the many-to-many lists ``names`` of record ``record_id``, sorted."""
    current: dict[str, list[int]] = {}
    for name in names:
        info = resource.fields[name]
        assert info.join is not None
        own, target = info.join.c[info.join_own], info.join.c[info.join_target]
        current[name] = list(
            session.execute(sa.select(target).where(own == record_id).order_by(target)).scalars()
        )
    return current


def _payload_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ApiError(422, "validation_error", "The request body must be a JSON object.")
    return payload


def _changed(stored: Mapping[str, Any], values: Mapping[str, Any]) -> set[str]:
    """The fields ``values`` gives a value different from the stored one."""
    return {
        name for name, value in values.items() if json_ready(stored.get(name)) != json_ready(value)
    }


# --- create --------------------------------------------------------------------------------


def create_record(
    database: Database,
    resource: Resource,
    user: CurrentUser | None,
    payload: Any,
    ip: str | None,
    *,
    check_duplicates: bool = False,
) -> dict[str, Any]:
    """``POST /api/<path>``: the new record as ``user`` reads it (one transaction); with
    ``check_duplicates``, a likely duplicate is refused (409, ``duplicates.check_create``)."""
    user = signed_in(user)
    with integrity(resource, "create"), database.session() as session:
        new_id = create_in(session, resource, user, payload, ip, check_duplicates=check_duplicates)
        record = fetch_one(session.connection(), resource, user, new_id, action=None)
    assert record is not None
    return record


def create_in(
    session: Session,
    resource: Resource,
    user: CurrentUser | None,
    payload: Any,
    ip: str | None,
    *,
    check_duplicates: bool = False,
) -> int:
    """Every check and write of ``create_record`` in the session's transaction (its caller
    commits, and turns database errors into answers with ``integrity``); the new id. With
    ``check_duplicates`` (the API and the web form, unless the user confirmed) a record that
    likely duplicates others is refused: 409 ``possible_duplicate`` (``duplicates``)."""
    user = signed_in(user)
    catalog = resource.catalog
    permissions.require(resource, user, "create")
    payload = dict(_payload_object(payload))
    roles = accounts.take_roles(catalog, resource.name, payload)
    if resource.name == accounts.USER:
        accounts.check_create(catalog, user, roles)
    permissions.check_writable(resource, user, payload, "create")
    values = validation.validate(resource, payload, partial=False)
    if resource.name == accounts.USER:
        accounts.check_email_free(session, catalog, values.get("email"), None)
    if check_duplicates and resource.duplicates:
        duplicates.check_create(session, resource, user, values)
    rule = permissions.condition(resource, user, "create")
    also = {accounts.ROLES_FIELD: [None, roles]} if roles else None
    new_id = insert_row(
        session, resource, values, user, ip, rule=rule, also=also, reader=user, guarded=True
    )
    accounts.set_roles(session, catalog, new_id, roles)
    return new_id


def insert_row(
    session: Session,
    resource: Resource,
    values: dict[str, Any],
    user: CurrentUser | None,
    ip: str | None,
    *,
    rule: sa.ColumnElement[bool] | None = None,
    also: Mapping[str, list[Any]] | None = None,
    reader: CurrentUser | None = None,
    guarded: bool = False,
) -> int:
    """INSERT one record in the session's transaction: defaults, *before create* processes,
    the owner (left empty, it is the creating ``user``), computed fields, required fields
    (422), the workflow's start state when ``guarded`` (a request's write: ``workflows``), links (the ones ``values`` held on entry must be within ``reader``'s read rule:
    ``links.check``), the record rule ``rule`` (403), the audit entry (with the changes
    ``also`` gives), then the *after create* processes. Returns the new id."""
    asked = links.ids_of(resource, values)
    catalog = resource.catalog
    events = catalog.events  # the spec's processes and the app's own hooks
    workflow = resource.workflow if guarded else None
    state = values.get(workflow.field) if workflow is not None else None
    _fill_defaults(resource, values, user)
    events.fire(Event("before_create", session, resource, user, values=values))
    if resource.owner is not None and user is not None and values.get(resource.owner) is None:
        values[resource.owner] = user.id  # a record nobody owns would vanish from its creator
    _compute(resource, values, {})
    consent.stamp(resource, values, None)
    rollups.start(resource, values)
    missing = {
        info.name: "This field is required."
        for info in resource.fields.values()
        if info.required and values.get(info.name) is None
    }
    if missing:
        raise ApiError(422, "validation_error", "Some fields are invalid.", missing)
    if workflow is not None:
        superuser = user is not None and catalog.is_superuser(user)
        workflows.check_create(workflow, resource.label, user, superuser, state, values)
    model = resource.model
    links.check(session, resource, values, reader=reader, asked=asked)
    table = model.__table__
    new_id = session.execute(
        sa.insert(table).values(_column_values(resource, values)).returning(table.c.id)
    ).scalar_one()
    _write_lists(session, resource, new_id, values)
    if files.file_fields(resource):  # uploads named in file fields become the record's
        files.claim(session, resource, int(new_id), values, user)
    if rule is not None:
        visible = session.execute(sa.select(model.id).where(model.id == new_id, rule)).first()
        if visible is None:
            raise ApiError(403, "forbidden", "Your role may not create such a record.")
    if workflow is not None and state is not None and state != workflow.initial:
        made = workflows.entered(workflow, None, state)
        workflows.check_conditions(session, model, new_id, made, user, workflow.field)
    rollups.after_write(session, resource, values)
    changes = {name: [None, json_ready(value)] for name, value in sorted(values.items())}
    changes.update(also or {})
    audit.record(
        session,
        catalog,
        user=user,
        ip=ip,
        entity=resource.name,
        record_id=new_id,
        action="create",
        changes=changes,
    )
    events.fire(Event("after_create", session, resource, user, values=values, record_id=new_id))
    return int(new_id)


# --- update --------------------------------------------------------------------------------


def update_record(
    database: Database,
    resource: Resource,
    user: CurrentUser | None,
    record_id: int,
    payload: Any,
    ip: str | None,
) -> dict[str, Any]:
    """``PATCH /api/<path>/{id}``: the changed record as ``user`` reads it (one transaction)."""
    user = signed_in(user)
    with integrity(resource, "update"), database.session() as session:
        update_in(session, resource, user, record_id, payload, ip)
        record = fetch_one(session.connection(), resource, user, record_id, action=None)
    assert record is not None
    return record


def _version(payload: dict[str, Any]) -> int | None:
    """The ``version`` a change was made on, taken out of ``payload`` (422 when not a number)."""
    version = payload.pop("version", None)
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ApiError(
            422,
            "validation_error",
            "Some fields are invalid.",
            {"version": "Must be the record's version (a whole number)."},
        )
    return version


def update_in(
    session: Session,
    resource: Resource,
    user: CurrentUser | None,
    record_id: int,
    payload: Any,
    ip: str | None,
) -> None:
    """Every check and write of ``update_record`` in the session's transaction (its caller
    commits, and turns database errors into answers with ``integrity``)."""
    user = signed_in(user)
    catalog = resource.catalog
    rule = permissions.condition(resource, user, "update")
    payload = dict(_payload_object(payload))
    version = _version(payload)
    roles = accounts.take_roles(catalog, resource.name, payload)
    permissions.check_writable(resource, user, payload, "update")
    values = validation.validate(resource, payload, partial=True)
    change = None
    if resource.name == accounts.USER:
        change = accounts.check_update(session, catalog, user, record_id, values, roles, rule)
    also = None if change is None else change.audit()
    update_row(
        session,
        resource,
        record_id,
        values,
        user,
        ip,
        rule=rule,
        version=version,
        also=also,
        reader=user,
        guarded=True,
    )
    if change is not None:
        accounts.apply(session, catalog, change)


def stored_row(
    session: Session, resource: Resource, record_id: int, rule: sa.ColumnElement[bool] | None
) -> dict[str, Any]:
    """The stored row of ``record_id`` by field name (404 when gone or outside ``rule``)."""
    table = resource.model.__table__
    stmt = sa.select(table).where(table.c.id == record_id, *links.live(resource))
    if rule is not None:
        stmt = stmt.where(rule)
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise not_found(resource.label)
    stored = {name: row[name] for name in STORED_SYSTEM if name in row}
    for info in resource.fields.values():
        if info.column_name:
            stored[info.name] = row[info.column_name]
    return stored


def _stale(version: int) -> ApiError:
    return ApiError(
        409,
        "stale",
        f"The record was changed by someone else (it is now version {version}): "
        "reload it and try again.",
        {"version": f"Stale: the current version is {version}."},
    )


def update_row(
    session: Session,
    resource: Resource,
    record_id: int,
    values: dict[str, Any],
    user: CurrentUser | None,
    ip: str | None,
    *,
    rule: sa.ColumnElement[bool] | None = None,
    version: int | None = None,
    also: Mapping[str, list[Any]] | None = None,
    reader: CurrentUser | None = None,
    guarded: bool = False,
) -> None:
    """UPDATE one record in the session's transaction: the version check (409), the workflow's
    transitions when ``guarded`` (a request's write: ``workflows``; 409, 403, 422), *before
    update* processes (which may change ``values``), links (those ``values`` held on entry and
    the record did not hold must be within ``reader``'s read rule: ``links.check``), computed
    fields, the audit entry (with the changes ``also`` gives) and the *after update* processes
    (given the fields whose value changed)."""
    asked = links.ids_of(resource, values)
    stored = stored_row(session, resource, record_id, rule)
    if version is not None and version != stored["version"]:
        raise _stale(stored["version"])
    events = resource.catalog.events
    watched = events.watches("before_update", resource.name) or events.watches(
        "after_update", resource.name
    )
    workflow = resource.workflow if guarded else None
    needed: frozenset[str] = frozenset()
    if workflow is not None and workflow.field in values:
        entered = workflow.into(str(values[workflow.field]))
        needed = frozenset(entered.require if entered is not None else ())
    lists = [
        name
        for name, info in resource.fields.items()
        if info.is_list and (watched or name in values or name in needed)
    ]
    stored.update(current_lists(session, resource, record_id, lists))
    if workflow is not None:
        superuser = user is not None and resource.catalog.is_superuser(user)
        workflows.check_update(workflow, resource.label, user, superuser, stored, values)
    if watched:
        changing = frozenset(_changed(stored, values))
        events.fire(
            Event("before_update", session, resource, user, values, stored, changing, record_id)
        )
    links.check(session, resource, values, reader=reader, asked=asked, stored=stored)
    table = resource.model.__table__
    before = dict(stored)
    if resource.computed:
        current = session.execute(sa.select(table).where(table.c.id == record_id)).mappings().one()
        _compute(resource, values, dict(current))
    consent.stamp(resource, values, before)
    done = session.execute(
        sa.update(table)
        .where(table.c.id == record_id, table.c.version == stored["version"])
        .values(**_column_values(resource, values), version=stored["version"] + 1)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(
            409,
            "stale",
            "The record was changed at the same time: reload it and try again.",
            {"version": "Stale."},
        )
    _write_lists(session, resource, record_id, values)
    if workflow is not None and workflow.field in values:
        made = workflows.entered(workflow, before.get(workflow.field), values[workflow.field])
        workflows.check_conditions(session, resource.model, record_id, made, user, workflow.field)
    if files.file_fields(resource):
        files.claim(session, resource, record_id, values, user, before)
    rollups.after_write(session, resource, before, {**before, **values})
    changes = {
        name: [json_ready(before.get(name)), json_ready(value)]
        for name, value in sorted(values.items())
        if json_ready(before.get(name)) != json_ready(value)
    }
    changed = set(changes)
    changes.update(also or {})
    audit.record(
        session,
        resource.catalog,
        user=user,
        ip=ip,
        entity=resource.name,
        record_id=record_id,
        action="update",
        changes=changes,
    )
    if watched:
        events.fire(
            Event(
                "after_update",
                session,
                resource,
                user,
                values,
                stored,
                frozenset(changed),
                record_id,
            )
        )


# --- delete --------------------------------------------------------------------------------


def delete_record(
    database: Database,
    resource: Resource,
    user: CurrentUser | None,
    record_id: int,
    ip: str | None,
) -> None:
    """``DELETE /api/<path>/{id}`` (one transaction)."""
    user = signed_in(user)
    rule = permissions.condition(resource, user, "delete")
    with integrity(resource, "delete"), database.session() as session:
        if resource.name == accounts.USER:
            accounts.check_delete(session, resource.catalog, user, record_id, rule)
        delete_row(session, resource, record_id, user, ip, rule=rule)


def delete_row(
    session: Session,
    resource: Resource,
    record_id: int,
    user: CurrentUser | None,
    ip: str | None,
    *,
    rule: sa.ColumnElement[bool] | None = None,
) -> None:
    """DELETE (or soft-delete) one record in the session's transaction, with the *before*
    and *after delete* processes and the audit entry."""
    table = resource.model.__table__
    stored = stored_row(session, resource, record_id, rule)
    events = resource.catalog.events
    events.fire(Event("before_delete", session, resource, user, stored=stored, record_id=record_id))
    if resource.soft_delete:
        session.execute(
            sa.update(table)
            .where(table.c.id == record_id)
            .values(deleted_at=utcnow(), version=stored["version"] + 1)
        )
    else:
        session.execute(sa.delete(table).where(table.c.id == record_id))
        if resource.attachments or files.file_fields(resource):
            files.forget(session, resource, record_id)
    rollups.after_write(session, resource, stored)
    audit.record(
        session,
        resource.catalog,
        user=user,
        ip=ip,
        entity=resource.name,
        record_id=record_id,
        action="delete",
        changes={},
    )
    events.fire(Event("after_delete", session, resource, user, stored=stored, record_id=record_id))
