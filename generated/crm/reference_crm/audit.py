"""The audit log: who changed what, when and from where (in the request's transaction).

``record`` adds one entry per created, updated or deleted record; ``routes`` serve
``GET /api/audit`` to superusers and to the roles with the audit flag
(admin, manager).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from crmgen_runtime import params
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser, require_user
from crmgen_runtime.tables import utcnow
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reference_crm.models import AuditEntry

ACTIONS = ("create", "update", "delete")
AUDIT_ROLES = frozenset(["admin", "manager"])
# One statement for every entry (its values are parameters: compiled once).
_INSERT = sa.insert(AuditEntry.__table__)


def record(
    session: Session,
    *,
    user: CurrentUser | None,
    ip: str | None,
    entity: str,
    record_id: int,
    action: str,
    changes: dict[str, list[Any]],
) -> None:
    """Write one audit entry (one INSERT, no ORM object) in the session's transaction.

    ``changes`` maps field -> [old, new] (JSON-ready values).
    """
    if action not in ACTIONS:
        raise ValueError(
            f"unknown audit action {action!r} (one of {', '.join(ACTIONS)})"
        )
    session.execute(
        _INSERT,
        {
            "at": utcnow(),
            "user_id": None if user is None else user.id,
            "user_email": None if user is None else user.email,
            "ip": None if ip is None else ip[:45],
            "entity": entity,
            "record_id": record_id,
            "action": action,
            "changes": {name: list(pair) for name, pair in sorted(changes.items())},
        },
    )


def can_read(user: CurrentUser | None) -> bool:
    """True for superusers and the roles with the audit flag."""
    return user is not None and (user.superuser or bool(user.roles & AUDIT_ROLES))


def describe(entry: AuditEntry) -> dict[str, Any]:
    """The JSON of one entry."""
    at = (
        entry.at
        if entry.at.tzinfo is not None
        else entry.at.replace(tzinfo=utcnow().tzinfo)
    )
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


def _query(request: Request) -> tuple[list[Any], int, int]:
    """The filters, limit and offset of a list request (422 for a bad value)."""
    limit, offset = params.page(request)
    filters: list[Any] = []
    entity = request.query_params.get("entity")
    if entity:
        filters.append(AuditEntry.entity == entity)
    record_id = params.query_integer(request, "record_id", None, 0, None)
    if record_id is not None:
        filters.append(AuditEntry.record_id == record_id)
    user_id = params.query_integer(request, "user_id", None, 0, None)
    if user_id is not None:
        filters.append(AuditEntry.user_id == user_id)
    action = request.query_params.get("action")
    if action:
        if action not in ACTIONS:
            message = f"action must be one of {', '.join(ACTIONS)}."
            raise ApiError(422, "validation_error", message, {"action": message})
        filters.append(AuditEntry.action == action)
    return filters, limit, offset


def _list(database: Any, filters: list[Any], limit: int, offset: int) -> dict[str, Any]:
    with database.session() as session:
        total = session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(*filters))
        entries = session.scalars(
            sa.select(AuditEntry)
            .where(*filters)
            .order_by(AuditEntry.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        items = [describe(entry) for entry in entries]
    return {"items": items, "total": total or 0, "limit": limit, "offset": offset}


async def list_entries(request: Request) -> Response:
    """``GET /api/audit``: newest first; filters entity, record_id, user_id, action."""
    user = await require_user(request)
    if not can_read(user):
        raise ApiError(403, "forbidden", "Your role may not read the audit log.")
    filters, limit, offset = _query(request)
    data = await run_in_threadpool(_list, request.app.state.db, filters, limit, offset)
    return JSONResponse(data)


# Relative to ``/api``: the app adds them to the routes below its ``/api`` mount.
routes = [
    Route("/audit", list_entries, methods=["GET"], name="audit_list"),
]
