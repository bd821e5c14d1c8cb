"""The ASGI app: ``create_app()`` wires the database, the routes, the middleware and errors.

Plain Starlette composition: ``GET /healthz``, ``GET /openapi.json``, and below ``/api`` the
sign-in routes (``/api/auth``) and, per entity, ``/api/<path>`` and ``/api/<path>/{id}`` for
the actions its API enables. Run it with ``uvicorn --factory minimal.app:create_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import crmgen_runtime
from crmgen_runtime import audit, auth_routes, crud, events, hosts, profile
from crmgen_runtime.body_limit import BodyLimit
from crmgen_runtime.credentials import AuthMiddleware
from crmgen_runtime.db import Database
from crmgen_runtime.errors import EXCEPTION_HANDLERS, ApiError
from crmgen_runtime.web import error_pages, print_formats
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from minimal import RUNTIME_VERSION, analytics, outbox, web
from minimal.resources import CATALOG, RESOURCES
from minimal.settings import Settings, check, startup_settings

OPENAPI = Path(__file__).with_name("openapi.json")


async def healthz(request: Request) -> Response:
    """200 once the database answers, else 503."""
    if not await run_in_threadpool(request.app.state.db.ping):
        raise ApiError(503, "unavailable", "The database does not answer.")
    return crud.JSONResponse({"status": "ok"})


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document, rendered by crmgen from the spec."""
    return Response(request.app.state.openapi, media_type="application/json")


def api_routes() -> list[BaseRoute]:
    """Everything below ``/api``: sign-in, the audit log, custom endpoints and actions, then
    the routes of each entity."""
    routes: list[BaseRoute] = [
        # sign-in (the runtime's), then one's own password and e-mail
        Mount("/auth", routes=[*auth_routes.routes(CATALOG), *profile.routes(CATALOG)]),
        *audit.routes(CATALOG),  # GET /api/audit
        *outbox.routes,  # GET /api/outbox, POST /api/outbox/{id}/retry
        *analytics.routes(),  # GET /api/dashboards/{name}, GET /api/reports/{name}
    ]
    # custom endpoints and actions, the spec's and the app's own (before the /{id} routes)
    routes.extend(events.endpoint_routes(CATALOG.events))
    # GET /api/<path>/{id}/documents/<name>.<format>
    routes.extend(print_formats.api_routes(web.SITE))
    for resource in RESOURCES.values():
        routes.extend(crud.routes(resource))
    return routes


def default_middleware() -> list[Middleware]:
    """Who is asking: ``AuthMiddleware`` sets ``request.state.user``."""
    return [Middleware(AuthMiddleware, catalog=CATALOG)]


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    middleware: Sequence[Middleware] | None = None,
) -> Starlette:
    """The app for ``settings`` (default: from the environment).

    Settings it may not start with (a weak ``SECRET_KEY``, no ``PUBLIC_URL`` outside local
    development) raise ``settings.ConfigurationError``: one line, exit 1. ``database``
    replaces the one made from ``settings.database_url``; ``middleware`` replaces the default
    list (tests put their own principal on requests this way); requests for hosts outside
    ``settings.hosts`` are refused before any of it runs.
    """
    crmgen_runtime.require(RUNTIME_VERSION, "minimal")
    settings = startup_settings() if settings is None else check(settings)
    db = database or Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        scheduler = None
        if settings.run_scheduler:  # RUN_SCHEDULER=1: scheduled processes run here too
            from crmgen_runtime import scheduler as scheduling

            scheduler = scheduling.start_in_thread(CATALOG, db, settings)
        yield
        if scheduler is not None:
            thread, stop = scheduler
            stop.set()
            await run_in_threadpool(thread.join, 60)
        if database is None:
            db.dispose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"], name="healthz"),
            Route("/openapi.json", openapi, methods=["GET"], name="openapi"),
            Mount("/api", routes=api_routes(), name="api"),
            *web.routes(),  # the web UI: /, /login, /static, /<entity path>/...
        ],
        middleware=[
            # Outside the replaceable list: every request body is capped (body_limit.py), and
            # only the allowed hosts are served (hosts.py).
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            Middleware(hosts.AllowedHostsMiddleware, hosts=settings.hosts),
            *(default_middleware() if middleware is None else middleware),
        ],
        exception_handlers=error_pages.html_errors(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    app.state.db = db
    app.state.settings = settings
    # what the runtime knows of this app (crmgen_runtime.resources), and its web UI
    app.state.catalog = CATALOG
    app.state.site = web.SITE  # crmgen_runtime.web.site
    app.state.openapi = OPENAPI.read_bytes()
    return app
