"""The audit log: who changed what, when and from where (in the request's transaction).

``record`` adds one entry per created, updated or deleted record to the app's audit table
(``catalog.table(AuditEntryTable)``); ``routes(catalog)`` serve ``GET /api/audit`` to the
users ``catalog.config.may_read_audit`` lets in (superusers and the roles with the audit flag).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import params
from crmgen_runtime.crypto import MASK
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser, require_user
from crmgen_runtime.resources import Catalog
from crmgen_runtime.tables import AuditEntryTable, utcnow

ACTIONS = ("create", "update", "delete")
# The key of a merge's update entry (``merging``): [the removed record's id, the kept one's];
# no field is named so (field names are snake_case).
MERGED_FROM = "@merged_from"
IP_LENGTH = 45  # the longest text form of an IPv6 address


def record(
    session: Session,
    catalog: Catalog,
    *,
    user: CurrentUser | None,
    ip: str | None,
    entity: str,
    record_id: int,
    action: str,
    changes: dict[str, list[Any]],
) -> None:
    """Write one audit entry of ``catalog``'s app (one INSERT, no ORM object) in the session's
    transaction. ``changes`` maps field -> [old, new] (JSON-ready values)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r} (one of {', '.join(ACTIONS)})")
    table = catalog.table(AuditEntryTable).__table__  # type: ignore[attr-defined]
    changes = masked(catalog, entity, changes)
    session.execute(
        sa.insert(table),
        {
            "at": utcnow(),
            "user_id": None if user is None else user.id,
            "user_email": None if user is None else user.email,
            "ip": None if ip is None else ip[:IP_LENGTH],
            "entity": entity,
            "record_id": record_id,
            "action": action,
            "changes": {name: list(pair) for name, pair in sorted(changes.items())},
        },
    )


def masked(catalog: Catalog, entity: str, changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """``changes`` with the values of encrypted fields replaced by ``crypto.MASK``: the log
    says that they changed, never what they held."""
    resource = catalog.by_name.get(entity)
    if resource is None or not resource.encrypted:
        return changes
    hidden = {info.name for info in resource.encrypted}
    return {
        name: [None if v is None else MASK for v in pair] if name in hidden else pair
        for name, pair in changes.items()
    }


def describe(entry: AuditEntryTable) -> dict[str, Any]:
    """The JSON of one entry (a row of the audit table)."""
    at = entry.at if entry.at.tzinfo is not None else entry.at.replace(tzinfo=utcnow().tzinfo)
    return {
        "id": entry.id,
        "at": at.isoformat(),
        "user_id": entry.user_id,
        "user_email": entry.user_email,
        "ip": entry.ip,
        "entity": entry.entity,
        "record_id": entry.record_id,
        "action": entry.action,
        "changes": entry.changes,
    }


def filters(request: Request, model: type[AuditEntryTable]) -> list[sa.ColumnElement[bool]]:
    """The conditions of a list request on ``model`` (422 for a bad value)."""
    found: list[sa.ColumnElement[bool]] = []
    entity = request.query_params.get("entity")
    if entity:
        found.append(model.entity == entity)
    for name in ("record_id", "user_id"):
        value = params.query_integer(request, name, None, 0, None)
        if value is not None:
            found.append(getattr(model, name) == value)
    action = request.query_params.get("action")
    if action:
        if action not in ACTIONS:
            message = f"action must be one of {', '.join(ACTIONS)}."
            raise ApiError(422, "validation_error", message, {"action": message})
        found.append(model.action == action)
    return found


def entries(
    database: Database,
    model: type[AuditEntryTable],
    conditions: list[sa.ColumnElement[bool]],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """One page of entries, newest first, with the total matching ``conditions``."""
    with database.session() as session:
        total = session.scalar(sa.select(sa.func.count(model.id)).where(*conditions))
        rows = session.scalars(
            sa.select(model)
            .where(*conditions)
            .order_by(model.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        items = [describe(row) for row in rows]
    return {"items": items, "total": total or 0, "limit": limit, "offset": offset}


def routes(catalog: Catalog) -> list[BaseRoute]:
    """``GET /audit`` of ``catalog``'s app, relative to ``/api`` (the app mounts it there)."""
    model = catalog.table(AuditEntryTable)

    async def list_entries(request: Request) -> Response:
        """``GET /api/audit``: newest first; filters entity, record_id, user_id, action."""
        user = await require_user(request)
        if not catalog.config.may_read_audit(user):
            raise ApiError(403, "forbidden", "Your role may not read the audit log.")
        limit, offset = params.page(request)
        conditions = filters(request, model)
        database: Database = request.app.state.db
        data = await run_in_threadpool(entries, database, model, conditions, limit, offset)
        return JSONResponse(data)

    return [Route("/audit", list_entries, methods=["GET"], name="audit_list")]
