"""A hand-written Starlette + SQLAlchemy app doing what the generated contacts API does.

The yardstick of ``benchmarks/api.py``: the same SQLite file as the generated app, the same
work per request (a bearer token looked up as a live session with the user's roles; the list
of 50 contacts with the joined company's display value and the total; one contact by id),
written the fast way by hand (plain SQL text, orjson). Its answers are byte-for-byte the
generated API's (``benchmarks/api.py`` checks that), so both do the same work. Run it with
``uvicorn --factory benchmarks.baseline_app:create_app`` and ``BASELINE_DATABASE_URL``.
"""

from __future__ import annotations

import base64
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
    "id",
    "version",
    "created_at",
    "updated_at",
    "full_name",
    "phone",
    "email",
    "company_id",
    "company_name",
    "position_title",
    "birthday",
    "owner_id",
    "owner_name",
    "is_key",
    "discount",
    "photo",
    "portal_user_id",
    "portal_user_name",
    "notes",
)
USER = sa.text(
    "SELECT users.id, users.email, users.name, users.position_id, users.phone,"
    " users.telegram_chat, users.hired_on, crm_user_roles.role"
    " FROM crm_sessions JOIN users ON users.id = crm_sessions.user_id"
    " LEFT JOIN crm_user_roles ON crm_user_roles.user_id = users.id"
    " WHERE crm_sessions.token_hash = :token_hash AND crm_sessions.revoked_at IS NULL"
    " AND crm_sessions.expires_at > :now AND users.active ORDER BY crm_user_roles.role"
).bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True)))
_FROM = (
    "SELECT c.id, c.version, c.created_at, c.updated_at, c.full_name, c.phone, c.email,"
    " c.company_id, company.name, c.position_title, c.birthday, c.owner_id, owner.name,"
    " c.is_key, c.discount, c.photo, c.portal_user_id, portal.name, c.notes"
    " FROM contacts AS c"
    " LEFT JOIN companies AS company ON company.id = c.company_id"
    " LEFT JOIN users AS owner ON owner.id = c.owner_id"
    " LEFT JOIN users AS portal ON portal.id = c.portal_user_id"
)
LIST = sa.text(_FROM + " WHERE c.deleted_at IS NULL ORDER BY c.full_name, c.id LIMIT 51")
# the generated list's default total: an exact count bounded at LIST_EXACT_COUNT_LIMIT + 1
# (the benchmark's tables stay below it, so the total is exact)
COUNT = sa.text(
    "SELECT count(*) FROM (SELECT contacts.id FROM contacts"
    " WHERE contacts.deleted_at IS NULL LIMIT 10001) AS matched"
)
ONE = sa.text(_FROM + " WHERE c.id = :id AND c.deleted_at IS NULL")
CENT = Decimal("0.01")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data, default=_default), status, media_type="application/json")


def _stamp(value: str | dt.datetime) -> dt.datetime:
    """A stored timestamp in UTC: SQLite's text (UTC, naive) or PostgreSQL's aware datetime."""
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _link(key: Any, name: Any) -> dict[str, Any] | None:
    return None if key is None else {"id": key, "display": name or ""}


def item(row: Any) -> dict[str, Any]:
    """The same JSON object the generated API answers for a contact."""
    c = dict(zip(CONTACT_COLUMNS, row, strict=True))
    return {
        "id": c["id"],
        "version": c["version"],
        "created_at": _stamp(c["created_at"]),
        "updated_at": _stamp(c["updated_at"]),
        "full_name": c["full_name"],
        "phone": c["phone"],
        "email": c["email"],
        "company": _link(c["company_id"], c["company_name"]),
        "position_title": c["position_title"],
        "birthday": c["birthday"],
        "owner": _link(c["owner_id"], c["owner_name"]),
        "is_key": bool(c["is_key"]),
        "discount": None if c["discount"] is None else Decimal(str(c["discount"])).quantize(CENT),
        "photo": c["photo"],
        "portal_user": _link(c["portal_user_id"], c["portal_user_name"]),
        "notes": c["notes"],
    }


def cursor(last: dict[str, Any]) -> str:
    raw = orjson.dumps(["full_name,id", [last["full_name"], last["id"]]])
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def sync_engine() -> sa.Engine:
    """An engine on ``BASELINE_DATABASE_URL`` (SQLite's connections usable from any thread)."""
    url = sa.make_url(os.environ["BASELINE_DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        return sa.create_engine(url, connect_args={"check_same_thread": False})
    return sa.create_engine(url)


def token_hash(request: Request) -> str | None:
    """The hashed bearer token of ``request`` as the sessions table keeps it, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def page(total: Any, rows: Any) -> dict[str, Any]:
    """The list answer of the first page: ``rows`` (up to 51) and the total."""
    items = [item(row) for row in rows]
    more = len(items) > 50
    items = items[:50]
    return {
        "items": items,
        "next_cursor": cursor(items[-1]) if more else None,
        "prev_cursor": None,
        "total": total,
        "total_kind": "exact",
    }


def create_app() -> Starlette:
    engine = sync_engine()

    def signed_in(request: Request) -> bool:
        digest = token_hash(request)
        if digest is None:
            return False
        with engine.connect() as connection:
            rows = connection.execute(USER, {"token_hash": digest, "now": now()}).all()
        return bool(rows)

    def list_contacts(request: Request) -> Response:
        if not signed_in(request):
            return json({"error": {"code": "not_authenticated"}}, 401)
        with engine.connect() as connection:
            return json(page(connection.execute(COUNT).scalar(), connection.execute(LIST)))

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
