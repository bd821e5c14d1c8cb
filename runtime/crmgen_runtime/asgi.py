"""An app's ASGI application from its parts, wired the same way for every app.

``build(...)`` puts ``GET /healthz``, ``GET /metrics`` (off unless enabled: ``metrics_route``)
and ``GET /openapi.json`` first, with its docs for people at ``/docs`` and ``/redoc``
(``web.api_docs``, off with ``API_DOCS=0``), then the app's own routes (``custom/routes.py``), its API below
``/api`` and the web UI's pages; every request gets its id, an access log line and its metrics
(``observe``) first, its body is capped (``body_limit``) and only the allowed hosts are served
(``hosts``) before the app's middleware runs; errors are JSON for the API and pages for browsers (``web.error_pages``). With
``RUN_SCHEDULER=1`` the scheduled processes run in a thread of the app's process. What the
app's ``create_app`` decides stays there: its settings, its database, its middleware and its
routes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from crmgen_runtime import hosts, metrics_route, supervision
from crmgen_runtime.body_limit import BodyLimit
from crmgen_runtime.db import Database
from crmgen_runtime.errors import EXCEPTION_HANDLERS, ApiError
from crmgen_runtime.metrics import AppMetrics
from crmgen_runtime.observe import RequestMiddleware
from crmgen_runtime.resources import Catalog
from crmgen_runtime.responses import JSONResponse
from crmgen_runtime.settings import Settings
from crmgen_runtime.web import api_docs, error_pages
from crmgen_runtime.web.site import Site


async def healthz(request: Request) -> Response:
    """200 once the database answers, else 503."""
    if not await run_in_threadpool(request.app.state.db.ping):
        raise ApiError(503, "unavailable", "The database does not answer.")
    return JSONResponse({"status": "ok"})


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document, rendered by crmgen from the spec."""
    return Response(request.app.state.openapi, media_type="application/json")


def build(
    catalog: Catalog,
    site: Site,
    settings: Settings,
    database: Database,
    *,
    api: Sequence[BaseRoute],
    pages: Sequence[BaseRoute],
    middleware: Sequence[Middleware],
    openapi_document: bytes,
    routes: Sequence[BaseRoute] = (),
    owns_database: bool = True,
) -> Starlette:
    """The app: ``api`` below ``/api``, ``pages`` (the web UI) after it and ``routes`` (the
    app's own) before both, ``middleware`` inside the body and host checks; ``settings`` is
    checked already. The database is disposed of at shutdown when ``owns_database``."""
    supervision.die_with_supervisor()  # a process of `serve`'s: it ends when `serve` ends

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        scheduler = None
        if settings.run_scheduler:  # RUN_SCHEDULER=1: scheduled processes run here too
            from crmgen_runtime import scheduler as scheduling

            scheduler = scheduling.start_in_thread(catalog, database, settings)
        yield
        if scheduler is not None:
            thread, stop = scheduler
            stop.set()
            await run_in_threadpool(thread.join, 60)
        if owns_database:
            database.dispose()

    app_metrics = AppMetrics(catalog, database, settings.worker_alive_seconds)
    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"], name="healthz"),
            *metrics_route.routes(),
            Route("/openapi.json", openapi, methods=["GET"], name="openapi"),
            *api_docs.routes(),
            *routes,
            Mount("/api", routes=list(api), name="api"),
            *pages,
        ],
        middleware=[
            Middleware(RequestMiddleware, metrics=app_metrics.http),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            Middleware(hosts.AllowedHostsMiddleware, hosts=settings.hosts),
            *middleware,
        ],
        exception_handlers=error_pages.html_errors(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    app.state.db = database
    app.state.settings = settings
    app.state.catalog = catalog  # what the runtime knows of the app (crmgen_runtime.resources)
    app.state.site = site  # its web UI (crmgen_runtime.web.site)
    app.state.openapi = openapi_document
    app.state.metrics = app_metrics
    return app
