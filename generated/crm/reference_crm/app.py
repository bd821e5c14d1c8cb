"""The ASGI app: ``create_app()`` wires the database, the routes and the middleware.

The wiring every app shares is the runtime's (``crmgen_runtime.asgi``: ``GET /healthz``,
``GET /openapi.json``, the body and host checks, errors, the scheduler's thread); here is what
this app puts in it: below ``/api`` the sign-in routes (``/api/auth``) and, per entity,
``/api/<path>`` and ``/api/<path>/{id}`` for the actions its API enables; the web UI; its
middleware. Run it with ``uvicorn --factory reference_crm.app:create_app``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import crmgen_runtime
from crmgen_runtime import (
    account_security,
    api_keys,
    asgi,
    audit,
    auth_routes,
    comments,
    crud,
    events,
    files,
    gdpr,
    notifications,
    profile,
    views,
)
from crmgen_runtime.credentials import AuthMiddleware
from crmgen_runtime.db import Database
from crmgen_runtime.web import mail_pages, print_formats
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

from reference_crm import RUNTIME_VERSION, analytics, mail, outbox, processes, web
from reference_crm.resources import CATALOG, RESOURCES
from reference_crm.settings import Settings, check, startup_settings

OPENAPI = Path(__file__).with_name("openapi.json")


def api_routes() -> list[BaseRoute]:
    """Everything below ``/api``: sign-in, the audit log, custom endpoints and actions, then
    the routes of each entity."""
    routes: list[BaseRoute] = [
        # sign-in (the runtime's), then one's own password and e-mail
        Mount(
            "/auth",
            routes=[
                *auth_routes.routes(CATALOG),
                *profile.routes(CATALOG),
                *account_security.routes(CATALOG),
            ],
        ),
        *audit.routes(CATALOG),  # GET /api/audit
        *api_keys.routes(CATALOG),  # GET|POST /api/api_keys, DELETE /api/api_keys/{id}
        *outbox.routes,  # GET /api/outbox, POST /api/outbox/{id}/retry
        *analytics.routes(),  # GET /api/dashboards/{name}, GET /api/reports/{name}
        *notifications.routes(CATALOG),  # /api/notifications
        *views.routes(CATALOG),  # GET|POST /api/views, GET|PATCH|DELETE /api/views/{id}
        *mail.routes,  # GET|POST /api/<path>/{id}/emails
    ]
    # custom endpoints and actions, the spec's and the app's own (before the /{id} routes)
    routes.extend(events.endpoint_routes(CATALOG.events))
    # GET /api/<path>/{id}/documents/<name>.<format>
    routes.extend(print_formats.api_routes(web.SITE))
    # GET|POST /api/<path>/{id}/comments, PATCH|DELETE .../comments/{cid}, .../mentions
    routes.extend(comments.routes(CATALOG))
    # GET /api/<path>/{id}/personal-data, POST /api/<path>/{id}/erase
    routes.extend(gdpr.routes(CATALOG))
    # POST /api/files, GET /api/files/{file}, /api/<path>/{id}/attachments
    routes.extend(files.routes(CATALOG))
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
    crmgen_runtime.require(RUNTIME_VERSION, "reference_crm")
    settings = startup_settings() if settings is None else check(settings)
    return asgi.build(
        CATALOG,
        web.SITE,  # crmgen_runtime.web.site
        settings,
        database or Database(settings.database_url, **settings.engine_options),
        owns_database=database is None,
        routes=processes.INBOUND.routes(),  # POST /hooks/<name>: the spec's inbound webhooks
        api=api_routes(),
        # the compose pages (/<path>/{id}/emails/new), then the web UI
        pages=[*mail_pages.routes(mail.MAIL, web.SITE), *web.routes()],
        middleware=default_middleware() if middleware is None else middleware,
        openapi_document=OPENAPI.read_bytes(),
    )
