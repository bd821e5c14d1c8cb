"""Two tuned hand-written handlers of the contacts API: the yardsticks of issue 13, item 7.

Both answer exactly what the generated API and ``baseline_app`` answer (``benchmarks/api.py``
checks the bytes) from SQLAlchemy Core selects built once, serialised with orjson:

- ``create_loop_app``: on the event loop, no authentication. On SQLite a sync connection on
  the loop (a local file answers in microseconds); on PostgreSQL SQLAlchemy's asyncio
  extension over psycopg's async mode.
- ``create_hop_app``: the same statements with the generated app's authentication (the
  bearer token's hash looked up as a live session of an active user) and one hop to the
  thread pool, where the lookup and the query share one connection.

Run with ``uvicorn --factory benchmarks.tuned_app:create_loop_app`` and
``BASELINE_DATABASE_URL``.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from benchmarks.baseline_app import item, json, now, page, sync_engine, token_hash

_CONTACT = (
    "id",
    "version",
    "created_at",
    "updated_at",
    "full_name",
    "phone",
    "email",
    "company_id",
    "position_title",
    "birthday",
    "owner_id",
    "is_key",
    "discount",
    "photo",
    "portal_user_id",
    "notes",
    "deleted_at",
)
contacts = sa.table("contacts", *(sa.column(name) for name in _CONTACT))
companies = sa.table("companies", sa.column("id"), sa.column("name"))
# the signed-in user as the generated app reads it: id, e-mail, name, the spec's own columns
_USER = ("id", "email", "name", "position_id", "phone", "telegram_chat", "hired_on")
users = sa.table("users", *(sa.column(name) for name in _USER), sa.column("active", sa.Boolean))
user_roles = sa.table("crm_user_roles", sa.column("user_id"), sa.column("role"))
sessions = sa.table(
    "crm_sessions",
    sa.column("user_id"),
    sa.column("token_hash"),
    sa.column("revoked_at"),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)

c = contacts.alias("c")
company, owner, portal = companies.alias("company"), users.alias("owner"), users.alias("portal")
ROW = sa.select(
    c.c.id,
    c.c.version,
    c.c.created_at,
    c.c.updated_at,
    c.c.full_name,
    c.c.phone,
    c.c.email,
    c.c.company_id,
    company.c.name,
    c.c.position_title,
    c.c.birthday,
    c.c.owner_id,
    owner.c.name,
    c.c.is_key,
    c.c.discount,
    c.c.photo,
    c.c.portal_user_id,
    portal.c.name,
    c.c.notes,
).select_from(
    c.outerjoin(company, company.c.id == c.c.company_id)
    .outerjoin(owner, owner.c.id == c.c.owner_id)
    .outerjoin(portal, portal.c.id == c.c.portal_user_id)
)
# the page's ids chosen on the contacts alone (an index walk on PostgreSQL), then joined
PAGE = (
    sa.select(contacts.c.id)
    .where(contacts.c.deleted_at.is_(None))
    .order_by(contacts.c.full_name, contacts.c.id)
    .limit(51)
)
LIST = ROW.where(c.c.id.in_(PAGE)).order_by(c.c.full_name, c.c.id)
ONE = ROW.where(c.c.id == sa.bindparam("id"), c.c.deleted_at.is_(None))
# the generated list's default total: an exact count bounded at 10,001 rows
COUNT = sa.select(sa.func.count()).select_from(
    sa.select(contacts.c.id).where(contacts.c.deleted_at.is_(None)).limit(10001).subquery("m")
)
USER = (
    sa.select(*(users.c[name] for name in _USER), user_roles.c.role)
    .select_from(
        sessions.join(users, users.c.id == sessions.c.user_id).outerjoin(
            user_roles, user_roles.c.user_id == users.c.id
        )
    )
    .where(
        sessions.c.token_hash == sa.bindparam("token_hash"),
        sessions.c.revoked_at.is_(None),
        sessions.c.expires_at > sa.bindparam("now", type_=sa.DateTime(timezone=True)),
        users.c.active.is_(True),
    )
    .order_by(user_roles.c.role)
)
UNAUTHENTICATED = {"error": {"code": "not_authenticated"}}
NOT_FOUND = {"error": {"code": "not_found"}}


def _routes(contacts_page: Any, contact: Any) -> Starlette:
    return Starlette(
        routes=[
            Route("/api/contacts", contacts_page),
            Route("/api/contacts/{id:int}", contact),
        ]
    )


def _one(row: Any) -> Response:
    return json(NOT_FOUND, 404) if row is None else json(item(row))


def create_loop_app() -> Starlette:
    """Core select + orjson on the event loop, no authentication."""
    url = sa.make_url(os.environ["BASELINE_DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        engine = sync_engine()

        async def listing(request: Request) -> Response:
            with engine.connect() as connection:
                return json(page(connection.execute(COUNT).scalar(), connection.execute(LIST)))

        async def one(request: Request) -> Response:
            with engine.connect() as connection:
                row = connection.execute(ONE, {"id": request.path_params["id"]}).first()
            return _one(row)

        return _routes(listing, one)

    async_engine = create_async_engine(url.set(drivername="postgresql+psycopg"))

    async def async_listing(request: Request) -> Response:
        async with async_engine.connect() as connection:
            total = (await connection.execute(COUNT)).scalar()
            rows = (await connection.execute(LIST)).all()
        return json(page(total, rows))

    async def async_one(request: Request) -> Response:
        async with async_engine.connect() as connection:
            row = (await connection.execute(ONE, {"id": request.path_params["id"]})).first()
        return _one(row)

    return _routes(async_listing, async_one)


def create_hop_app() -> Starlette:
    """The same with authentication and one hop to the thread pool (one connection)."""
    engine = sync_engine()

    def signed_in(connection: sa.Connection, request: Request) -> bool:
        digest = token_hash(request)
        if digest is None:
            return False
        return bool(connection.execute(USER, {"token_hash": digest, "now": now()}).all())

    def listing(request: Request) -> Response:
        with engine.connect() as connection:
            if not signed_in(connection, request):
                return json(UNAUTHENTICATED, 401)
            return json(page(connection.execute(COUNT).scalar(), connection.execute(LIST)))

    def one(request: Request) -> Response:
        with engine.connect() as connection:
            if not signed_in(connection, request):
                return json(UNAUTHENTICATED, 401)
            row = connection.execute(ONE, {"id": request.path_params["id"]}).first()
        return _one(row)

    async def hop_listing(request: Request) -> Response:
        return await run_in_threadpool(listing, request)

    async def hop_one(request: Request) -> Response:
        return await run_in_threadpool(one, request)

    return _routes(hop_listing, hop_one)
