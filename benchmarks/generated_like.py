"""The generated app's two hot reads, served four ways: a prototype for issue 13, item 7.

Each app below answers ``GET /api/contacts`` (the first page, as ``reads.list_records``) and
``GET /api/contacts/{id}`` (as ``reads.fetch_one``) of the reference CRM generated into the
benchmark's folder, with the session lookup of ``auth`` (a revoked session or a deactivated
user is refused on the next request), the runtime's statements and its JSON: the same bytes as
the generated API. They leave out the app's middleware, so they differ from each other only in
how the database is reached:

- ``create_thread_app``: today's design: one hop to the thread pool; the lookup and the read
  each take a connection of their own.
- ``create_shared_app``: one hop; the lookup and the read share one connection.
- ``create_nolookup_app``: one hop, one connection, the user read once at start (what the
  session lookup costs; not a design: it would miss a revocation).
- ``create_async_app``: no hop: SQLAlchemy's asyncio extension (aiosqlite on SQLite, psycopg's
  async mode on PostgreSQL); the lookup and the read share one connection and run the
  runtime's sync code through ``AsyncConnection.run_sync`` (its statements awaited, its CPU
  work on the loop).

``BASELINE_DATABASE_URL`` names the database; the reference CRM's package must be importable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from crmgen_runtime import auth, permissions, reads
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.responses import JSONResponse
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Read = Callable[[sa.Connection, CurrentUser, Request], Any]


def _catalog() -> tuple[Any, Any]:
    from reference_crm.resources import CATALOG  # the benchmark's generated app

    contacts = next(r for r in CATALOG.resources.values() if r.path == "contacts")
    return CATALOG, contacts


def _token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _error(error: ApiError) -> Response:
    return JSONResponse({"error": {"code": error.code}}, status_code=error.status)


def _reads(contacts: Any) -> tuple[Read, Read]:
    """The list page and the record, as the generated endpoints read them (sync code)."""

    def listing(connection: sa.Connection, user: CurrentUser, request: Request) -> Any:
        params = request.query_params.multi_items()
        return reads.read_page(connection, reads.plan_list(contacts, user, params))

    def one(connection: sa.Connection, user: CurrentUser, request: Request) -> Any:
        permissions.require(contacts, user, "read")
        record = reads.fetch_one(connection, contacts, user, request.path_params["id"])
        if record is None:
            raise ApiError(404, "not_found", "No such record.")
        return record

    return listing, one


def _app(handler: Callable[[Read, Request], Any]) -> Starlette:
    """Routes whose endpoints answer ``await handler(read, request)`` as JSON."""
    listing, one = _reads(_catalog()[1])

    def endpoint(read: Read) -> Any:
        async def serve(request: Request) -> Response:
            try:
                return JSONResponse(await handler(read, request))
            except ApiError as error:
                return _error(error)

        return serve

    return Starlette(
        routes=[
            Route("/api/contacts", endpoint(listing)),
            Route("/api/contacts/{id:int}", endpoint(one)),
        ]
    )


def _signed_in(user: CurrentUser | None) -> CurrentUser:
    if user is None:
        raise ApiError(401, "not_authenticated", "Sign in first.")
    return user


def _database() -> Database:
    return Database(os.environ["BASELINE_DATABASE_URL"])


def create_thread_app() -> Starlette:
    """Today's design: one hop; the lookup and the read on connections of their own."""
    catalog, _ = _catalog()
    database = _database()

    def work(read: Read, request: Request) -> Any:
        token = _token(request)
        user = _signed_in(token and auth.load_user(catalog, database, token))
        with database.engine.connect() as connection:
            return read(connection, user, request)

    async def handler(read: Read, request: Request) -> Any:
        return await run_in_threadpool(work, read, request)

    return _app(handler)


def _shared(catalog: Any) -> Callable[[sa.Connection, Read, Request], Any]:
    def work(connection: sa.Connection, read: Read, request: Request) -> Any:
        token = _token(request)
        user = _signed_in(token and auth.user_on(connection, catalog, token))
        return read(connection, user, request)

    return work


def create_shared_app() -> Starlette:
    """One hop; the lookup and the read share one connection."""
    catalog, _ = _catalog()
    database = _database()
    shared = _shared(catalog)

    def work(read: Read, request: Request) -> Any:
        with database.engine.connect() as connection:
            return shared(connection, read, request)

    async def handler(read: Read, request: Request) -> Any:
        return await run_in_threadpool(work, read, request)

    return _app(handler)


def create_nolookup_app() -> Starlette:
    """One hop, one connection, no session lookup: the user of the first request is kept."""
    catalog, _ = _catalog()
    database = _database()
    kept: list[CurrentUser] = []

    def work(read: Read, request: Request) -> Any:
        with database.engine.connect() as connection:
            if not kept:
                token = _token(request)
                kept.append(_signed_in(token and auth.user_on(connection, catalog, token)))
            return read(connection, kept[0], request)

    async def handler(read: Read, request: Request) -> Any:
        return await run_in_threadpool(work, read, request)

    return _app(handler)


def async_url(url: str) -> sa.URL:
    """``url`` with the async driver: aiosqlite, or psycopg (its async mode)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    return parsed.set(drivername="postgresql+psycopg")


def create_async_app() -> Starlette:
    """No hop: the lookup and the read on one async connection, through ``run_sync``."""
    catalog, _ = _catalog()
    engine = create_async_engine(async_url(os.environ["BASELINE_DATABASE_URL"]))
    shared = _shared(catalog)

    async def handler(read: Read, request: Request) -> Any:
        async with engine.connect() as connection:
            return await connection.run_sync(shared, read, request)

    return _app(handler)
