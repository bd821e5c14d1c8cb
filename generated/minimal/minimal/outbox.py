"""The outbox: messages to other systems, written in the transaction that decided to send them.

``enqueue(session, kind=..., payload=..., key=...)`` adds a pending row in the caller's
transaction (the same ``key`` twice keeps one row). The worker (``worker.py``,
``python -m minimal worker``) delivers it with ``COURIER.deliver`` (the runtime's
``crmgen_runtime.delivery``): e-mail through SMTP, Telegram, SMS gateways, signed webhooks and
plain HTTP calls. Secrets are read from the environment variables the spec names, at delivery
time.

Delivery is at least once: every message carries its idempotency key (``Message-ID`` of an
e-mail, ``Idempotency-Key`` header of an HTTP request) so a receiver can drop a repeat.

Routes (below ``/api``): ``GET /outbox`` and ``POST /outbox/{id}/retry``, for superusers and
the roles with the audit flag (admin).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from typing import Any

import sqlalchemy as sa
from crmgen_runtime import params
from crmgen_runtime.delivery import KINDS, Courier, Integration, where
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import require_user
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from minimal.models import OutboxMessage, utcnow
from minimal.resources import CATALOG

__all__ = ["COURIER", "INTEGRATIONS", "KINDS", "enqueue", "routes"]

STATUSES = ("pending", "sent", "dead")
KEY_MAX_LENGTH = 255

# The spec's integrations: each setting is (environment variable or None, value).
INTEGRATIONS: dict[str, Integration] = {}
# Delivers the messages through them (``worker.py`` calls ``COURIER.deliver``).
COURIER = Courier(INTEGRATIONS, "minimal")


# --- enqueueing ---------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"an outbox payload cannot carry a {type(value).__name__}")


def _key(kind: str, key: str | None) -> str:
    if key is None:
        return f"{kind}:{uuid.uuid4().hex}"
    if len(key) <= KEY_MAX_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def enqueue(
    session: Session, *, kind: str, payload: dict[str, Any], key: str | None = None
) -> None:
    """Add a pending message in the caller's transaction.

    ``key`` is the idempotency key: enqueuing the same key again (also from a concurrent
    transaction) keeps the first row. Without a key every call adds a message.
    """
    if kind not in COURIER.deliverers:
        raise ValueError(
            f"unknown outbox kind {kind!r} (one of {', '.join(COURIER.deliverers)})"
        )
    if not isinstance(payload, dict):
        raise TypeError("an outbox payload is a dict")
    now = utcnow()
    values = {
        "kind": kind,
        "payload": json.loads(json.dumps(payload, default=_json_default)),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "idempotency_key": _key(kind, key),
    }
    table = OutboxMessage.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the app runs on SQLite and PostgreSQL
        exists = session.scalar(
            sa.select(table.c.id).where(
                table.c.idempotency_key == values["idempotency_key"]
            )
        )
        if exists is None:
            session.execute(sa.insert(table).values(**values))
        return
    statement = insert(table).values(**values)
    session.execute(
        statement.on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


# --- delivery -----------------------------------------------------------------


# --- the API ------------------------------------------------------------------

SUMMARY_KEYS = ("integration", "to", "chat", "subject", "event", "method")


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def describe(message: OutboxMessage) -> dict[str, Any]:
    """The JSON of a message: its state and who it goes to, never its text (a password reset
    link must not reach the audit roles)."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    summary = {k: payload[k] for k in SUMMARY_KEYS if payload.get(k) is not None}
    if payload.get("url"):
        summary["url"] = (
            where(str(payload["url"])) if "://" in str(payload["url"]) else None
        )
    return {
        "id": message.id,
        "kind": message.kind,
        "status": message.status,
        "attempts": message.attempts,
        "next_attempt_at": _iso(message.next_attempt_at),
        "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
        "locked_until": _iso(message.locked_until),
        "last_error": message.last_error,
        "idempotency_key": message.idempotency_key,
        "summary": summary,
    }


async def _require_reader(request: Request) -> None:
    user = await require_user(request)
    if not CATALOG.config.may_read_audit(user):
        raise ApiError(403, "forbidden", "Your role may not see the outbox.")


def _list(database: Any, filters: list[Any], limit: int, offset: int) -> dict[str, Any]:
    with database.session() as session:
        total = session.scalar(
            sa.select(sa.func.count(OutboxMessage.id)).where(*filters)
        )
        rows = session.scalars(
            sa.select(OutboxMessage)
            .where(*filters)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        items = [describe(row) for row in rows]
    return {"items": items, "total": total or 0, "limit": limit, "offset": offset}


async def list_messages(request: Request) -> Response:
    """``GET /api/outbox``: newest first; filters ``status`` and ``kind``; limit/offset."""
    await _require_reader(request)
    limit, offset = params.page(request)
    filters: list[Any] = []
    status = request.query_params.get("status")
    if status:
        if status not in STATUSES:
            message = f"status must be one of {', '.join(STATUSES)}."
            raise ApiError(422, "validation_error", message, {"status": message})
        filters.append(OutboxMessage.status == status)
    kind = request.query_params.get("kind")
    if kind:
        filters.append(OutboxMessage.kind == kind)
    data = await run_in_threadpool(_list, request.app.state.db, filters, limit, offset)
    return JSONResponse(data)


def _retry(database: Any, message_id: int) -> dict[str, Any] | None:
    with database.session() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None:
            return None
        if message.status == "sent":
            raise ApiError(
                409,
                "conflict",
                "The message was sent already; retrying would send it twice.",
            )
        if message.status == "dead":
            message.attempts = 0
        message.status = "pending"
        message.next_attempt_at = utcnow()
        message.locked_until = None
        message.claim_token = None
        session.flush()
        return describe(message)


async def retry_message(request: Request) -> Response:
    """``POST /api/outbox/{id}/retry``: a dead (or waiting) message is due again now."""
    await _require_reader(request)
    raw = request.path_params["id"]
    data = await run_in_threadpool(_retry, request.app.state.db, raw)
    if data is None:
        raise ApiError(404, "not_found", f"There is no outbox message {raw}.")
    return JSONResponse(data)


# Relative to ``/api``: the app adds them to the routes below its ``/api`` mount.
routes = [
    Route("/outbox", list_messages, methods=["GET"], name="outbox_list"),
    Route(
        "/outbox/{id:int}/retry", retry_message, methods=["POST"], name="outbox_retry"
    ),
]
