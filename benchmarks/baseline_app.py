"""A hand-written Starlette + SQLAlchemy app doing what the generated contacts API does.

The yardstick of ``benchmarks/api.py``: the same SQLite file as the generated app, the same
work per request (a bearer token looked up as a live session with the user's roles; the list
of 50 contacts with the joined company's display value and the total; one contact by id),
written the fast way by hand (Core SELECTs of columns, orjson). Run it with
``uvicorn --factory benchmarks.baseline_app:create_app`` and ``BASELINE_DATABASE_URL``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CONTACT_COLUMNS = (
    "id", "version", "created_at", "updated_at", "full_name", "phone", "email",
    "company_id", "position_title", "birthday", "owner_id", "is_key", "discount",
    "photo", "portal_user_id", "notes",
)
USER = sa.text(
    "SELECT users.id, user_roles.role FROM sessions JOIN users ON users.id = sessions.user_id"
    " LEFT JOIN user_roles ON user_roles.user_id = users.id"
    " WHERE sessions.token_hash = :token_hash AND sessions.revoked_at IS NULL"
    " AND sessions.expires_at > :now AND users.active"
).bindparams(sa.bindparam("now", type_=sa.DateTime()))
_SELECT = ", ".join(f"contacts.{c}" for c in CONTACT_COLUMNS)
LIST = sa.text(
    f"SELECT {_SELECT}, companies.name FROM contacts"
    " LEFT JOIN companies ON companies.id = contacts.company_id"
    " WHERE contacts.deleted_at IS NULL ORDER BY contacts.id LIMIT 50"
)
COUNT = sa.text("SELECT count(*) FROM contacts WHERE contacts.deleted_at IS NULL")
ONE = sa.text(
    f"SELECT {_SELECT}, companies.name FROM contacts"
    " LEFT JOIN companies ON companies.id = contacts.company_id"
    " WHERE contacts.id = :id AND contacts.deleted_at IS NULL"
)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data, default=_default), status, media_type="application/json")


def item(row: Any) -> dict[str, Any]:
    data = dict(zip(CONTACT_COLUMNS, row[:-1], strict=True))
    company = data.pop("company_id")
    data["company"] = None if company is None else {"id": company, "display": row[-1] or ""}
    return data


def create_app() -> Starlette:
    engine = sa.create_engine(
        os.environ["BASELINE_DATABASE_URL"], connect_args={"check_same_thread": False}
    )

    def signed_in(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        digest = hashlib.sha256(token.encode()).hexdigest()
        with engine.connect() as connection:
            rows = connection.execute(
                USER, {"token_hash": digest, "now": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
            ).all()
        return bool(rows)

    def list_contacts(request: Request) -> Response:
        if not signed_in(request):
            return json({"error": {"code": "not_authenticated"}}, 401)
        with engine.connect() as connection:
            items = [item(row) for row in connection.execute(LIST)]
            total = connection.execute(COUNT).scalar()
        return json({"items": items, "next_cursor": None, "total": total})

    def get_contact(request: Request) -> Response:
        if not signed_in(request):
            return json({"error": {"code": "not_authenticated"}}, 401)
        with engine.connect() as connection:
            row = connection.execute(ONE, {"id": int(request.path_params["id"])}).first()
        if row is None:
            return json({"error": {"code": "not_found"}}, 404)
        return json(item(row))

    async def contacts(request: Request) -> Response:
        return await run_in_threadpool(list_contacts, request)

    async def contact(request: Request) -> Response:
        return await run_in_threadpool(get_contact, request)

    return Starlette(
        routes=[
            Route("/api/contacts", contacts),
            Route("/api/contacts/{id:int}", contact),
        ]
    )
