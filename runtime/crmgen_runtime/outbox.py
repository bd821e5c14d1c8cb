"""The outbox: messages to other systems, written in the transaction that decided to send them.

An app makes one ``Outbox`` over its catalog (the outbox table is
``catalog.table(OutboxMessageTable)``) and its ``Courier`` (``crmgen_runtime.delivery``: the
spec's integrations). ``enqueue(session, kind=..., payload=..., key=...)`` adds a pending row in
the caller's transaction (the same ``key`` twice keeps one row); the worker
(``crmgen_runtime.worker``) delivers it with the courier. Delivery is at least once: every
message carries its idempotency key (``Message-ID`` of an e-mail, ``Idempotency-Key`` header of
an HTTP request) so a receiver can drop a repeat.

``routes()`` (below ``/api``): ``GET /outbox`` and ``POST /outbox/{id}/retry``, for superusers
and the roles with the audit flag (``AppConfig.may_read_audit``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crmgen_runtime import params, principal
from crmgen_runtime.db import Database
from crmgen_runtime.delivery import Courier, where
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import Catalog
from crmgen_runtime.tables import OutboxMessageTable, utcnow

STATUSES = ("pending", "sent", "dead")
KEY_MAX_LENGTH = 255
# What the API shows of a payload: who it goes to, never its text (a password reset link must
# not reach the audit roles).
SUMMARY_KEYS = ("integration", "to", "chat", "subject", "event", "method")


def json_default(value: Any) -> Any:
    """The JSON form of what ``json`` cannot write itself (a payload's dates, decimals, sets)."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"an outbox payload cannot carry a {type(value).__name__}")


def idempotency_key(kind: str, key: str | None) -> str:
    """The key stored for ``key``: a random one when None, a SHA-256 when too long."""
    if key is None:
        return f"{kind}:{uuid.uuid4().hex}"
    if len(key) <= KEY_MAX_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def iso(value: dt.datetime | None) -> str | None:
    """A stored moment in ISO 8601, in UTC (SQLite gives it back without its zone)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def describe(message: OutboxMessageTable) -> dict[str, Any]:
    """The JSON of a message: its state and who it goes to, never its text."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    summary = {k: payload[k] for k in SUMMARY_KEYS if payload.get(k) is not None}
    if payload.get("url"):
        summary["url"] = where(str(payload["url"])) if "://" in str(payload["url"]) else None
    return {
        "id": message.id,
        "kind": message.kind,
        "status": message.status,
        "attempts": message.attempts,
        "next_attempt_at": iso(message.next_attempt_at),
        "created_at": iso(message.created_at),
        "sent_at": iso(message.sent_at),
        "locked_until": iso(message.locked_until),
        "last_error": message.last_error,
        "idempotency_key": message.idempotency_key,
        "summary": summary,
    }


class Outbox:
    """One app's outbox: its table (in ``catalog``) and the ``courier`` that delivers it."""

    def __init__(self, catalog: Catalog, courier: Courier) -> None:
        self.catalog = catalog
        self.courier = courier

    def __repr__(self) -> str:
        return f"Outbox({self.catalog.config.name!r})"

    @property
    def model(self) -> type[OutboxMessageTable]:
        """The app's model class of the outbox table."""
        return self.catalog.table(OutboxMessageTable)

    @property
    def table(self) -> sa.Table:
        """The outbox table."""
        table: sa.Table = self.model.__table__  # type: ignore[attr-defined]
        return table

    # --- enqueueing ---------------------------------------------------------------------

    def enqueue(
        self, session: Session, *, kind: str, payload: dict[str, Any], key: str | None = None
    ) -> None:
        """Add a pending message in the caller's transaction.

        ``key`` is the idempotency key: enqueuing the same key again (also from a concurrent
        transaction) keeps the first row. Without a key every call adds a message.
        """
        if kind not in self.courier.deliverers:
            known = ", ".join(self.courier.deliverers)
            raise ValueError(f"unknown outbox kind {kind!r} (one of {known})")
        if not isinstance(payload, dict):
            raise TypeError("an outbox payload is a dict")
        now = utcnow()
        values = {
            "kind": kind,
            "payload": json.loads(json.dumps(payload, default=json_default)),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "idempotency_key": idempotency_key(kind, key),
        }
        table = self.table
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            session.execute(
                pg_insert(table)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            session.execute(
                sqlite_insert(table)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )
        else:  # pragma: no cover - the app runs on SQLite and PostgreSQL
            exists = session.scalar(
                sa.select(table.c.id).where(table.c.idempotency_key == values["idempotency_key"])
            )
            if exists is None:
                session.execute(sa.insert(table).values(**values))

    # --- the API ------------------------------------------------------------------------

    async def _require_reader(self, request: Request) -> None:
        user = await principal.require_user(request)
        if not self.catalog.config.may_read_audit(user):
            raise ApiError(403, "forbidden", "Your role may not see the outbox.")

    def _list(
        self, database: Database, filters: list[Any], limit: int, offset: int
    ) -> dict[str, Any]:
        model = self.model
        with database.session() as session:
            total = session.scalar(sa.select(sa.func.count(model.id)).where(*filters))
            rows = session.scalars(
                sa.select(model)
                .where(*filters)
                .order_by(model.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            items = [describe(row) for row in rows]
        return {"items": items, "total": total or 0, "limit": limit, "offset": offset}

    async def list_messages(self, request: Request) -> Response:
        """``GET /api/outbox``: newest first; filters ``status`` and ``kind``; limit/offset."""
        await self._require_reader(request)
        limit, offset = params.page(request)
        model = self.model
        filters: list[Any] = []
        status = request.query_params.get("status")
        if status:
            if status not in STATUSES:
                message = f"status must be one of {', '.join(STATUSES)}."
                raise ApiError(422, "validation_error", message, {"status": message})
            filters.append(model.status == status)
        kind = request.query_params.get("kind")
        if kind:
            filters.append(model.kind == kind)
        data = await run_in_threadpool(self._list, request.app.state.db, filters, limit, offset)
        return JSONResponse(data)

    def retry(self, database: Database, message_id: int) -> dict[str, Any] | None:
        """Make message ``message_id`` due now (a dead one with its attempts reset); its JSON,
        or None when there is no such message; 409 for a message sent already."""
        with database.session() as session:
            message = session.get(self.model, message_id)
            if message is None:
                return None
            if message.status == "sent":
                raise ApiError(
                    409, "conflict", "The message was sent already; retrying would send it twice."
                )
            if message.status == "dead":
                message.attempts = 0
            message.status = "pending"
            message.next_attempt_at = utcnow()
            message.locked_until = None
            message.claim_token = None
            session.flush()
            return describe(message)

    async def retry_message(self, request: Request) -> Response:
        """``POST /api/outbox/{id}/retry``: a dead (or waiting) message is due again now."""
        await self._require_reader(request)
        raw = request.path_params["id"]
        data = await run_in_threadpool(self.retry, request.app.state.db, raw)
        if data is None:
            raise ApiError(404, "not_found", f"There is no outbox message {raw}.")
        return JSONResponse(data)

    def routes(self) -> list[Route]:
        """The API's routes, relative to ``/api`` (the app adds them below its ``/api`` mount)."""
        return [
            Route("/outbox", self.list_messages, methods=["GET"], name="outbox_list"),
            Route(
                "/outbox/{id:int}/retry", self.retry_message, methods=["POST"], name="outbox_retry"
            ),
        ]
