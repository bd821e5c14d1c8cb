"""Print formats served: a record's documents (an invoice, an offer) downloaded as PDF or XLSX.

``/<path>/{id}/documents/<name>.<format>`` serves the web UI (the session cookie; sign in first
when needed) and ``/api/<path>/{id}/documents/<name>.<format>`` the API (a bearer token or the
session cookie; JSON errors). Both build the document with the reader's rights
(``crmgen_runtime.documents``, the engine; the formats are data in the app's ``ui.json``): a
record outside the reader's rules is 404, a role the document does not name is 403. ``links``
gives the detail page the documents its reader may print.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from crmgen_runtime import documents
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.principal import CurrentUser, current_user
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.site import MAX_RECORD_ID, Site, site_of

Endpoint = Callable[[Request], Awaitable[Response]]
RECORD_ID = re.compile(r"[0-9]{1,19}")  # the API's id before it is a number


def served(site: Site, path: str) -> list[dict[str, Any]]:
    """The print formats of the entity at ``path`` (``ui.json``'s ``documents``), or none when
    its records cannot be read."""
    entity = site.entities.get(path)
    resource = site.catalog.resources.get(path)
    if entity is None or resource is None or "read" not in resource.actions:
        return []
    formats: list[dict[str, Any]] = entity["documents"]
    return formats


def requested(site: Site, path: str, file: str) -> tuple[dict[str, Any], str] | None:
    """The document and format a file name such as ``invoice.pdf`` asks for, if declared."""
    name, _, fmt = file.rpartition(".")
    for spec in served(site, path):
        if spec["name"] == name and fmt in spec["formats"]:
            return spec, fmt
    return None


def reader(site: Site, request: Request, user: CurrentUser | None) -> documents.Reader:
    """The reader: ``?locale=`` when it is one of the app's, else the UI's choice."""
    locale = request.query_params.get("locale") or ""
    if locale not in site.locales:
        locale = site.locale_of(request)
    return documents.Reader(
        user, locale, lambda text: site.pick(text, locale), site.translator(locale)
    )


def download(
    database: Database,
    resource: Resource,
    spec: dict[str, Any],
    fmt: str,
    record_id: int,
    who: documents.Reader,
) -> Response:
    """The file (blocking: database reads and rendering run in the thread pool)."""
    doc = documents.build(database, resource, spec, record_id, who)
    return Response(
        documents.RENDERERS[fmt](doc),
        media_type=documents.MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": documents.disposition(doc, fmt),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def links(
    site: Site, path: str, record_id: int, user: CurrentUser | None, locale: str
) -> list[dict[str, Any]]:
    """The detail page's document links: ``[{label, files: [{format, url}]}]`` that ``user``
    may print (the download checks again)."""
    return [
        {
            "label": site.pick(spec["label"], locale),
            "files": [
                {"format": fmt, "url": f"/{path}/{record_id}/documents/{spec['name']}.{fmt}"}
                for fmt in spec["formats"]
            ],
        }
        for spec in served(site, path)
        if documents.may_print(spec, user, site.catalog)
    ]


# --- routes --------------------------------------------------------------------------------


class DocumentRoute(Route):
    """The documents route of one entity: it matches only when the app's site gives the entity
    print formats (elsewhere the path matches nothing, as if unrouted)."""

    def __init__(self, path: str, resource: Resource) -> None:
        super().__init__(
            f"/{path}/{{id:int}}/documents/{{file}}", page(path, resource), methods=["GET"]
        )
        self.entity = path

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not served(scope["app"].state.site, self.entity):
            return Match.NONE, {}
        return super().matches(scope)


def page(path: str, resource: Resource) -> Endpoint:
    """The web UI's download: error pages for people."""

    async def handle(request: Request) -> Response:
        site = site_of(request)
        user, refused = await site.guard(request, resource, "read")
        if refused is not None:
            return refused
        wanted = requested(site, path, request.path_params["file"])
        if wanted is None:
            return site.error_page(request, 404, "not_found", user)
        spec, fmt = wanted
        try:
            return await run_in_threadpool(
                download,
                request.app.state.db,
                resource,
                spec,
                fmt,
                request.path_params["id"],
                reader(site, request, user),
            )
        except ApiError as exc:
            if exc.status == 403:
                return site.error_page(request, 403, "forbidden", user)
            return site.error_page(request, 404, "not_found", user)

    return handle


def api(site: Site, path: str, resource: Resource) -> Endpoint:
    """The API's download: JSON errors, any id that is not a record's a 404."""

    async def handle(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            raise ApiError(401, "not_authenticated", "Sign in first.")
        raw = request.path_params["id"]
        wanted = requested(site, path, request.path_params["file"])
        if wanted is None or not RECORD_ID.fullmatch(raw):
            raise not_found("document")
        if not 0 < int(raw) <= MAX_RECORD_ID:
            raise not_found(resource.label)
        spec, fmt = wanted
        return await run_in_threadpool(
            download,
            request.app.state.db,
            resource,
            spec,
            fmt,
            int(raw),
            reader(site, request, user),
        )

    return handle


def api_routes(site: Site) -> list[BaseRoute]:
    """``/<path>/{id}/documents/<file>`` below ``/api`` for each entity of ``site`` with print
    formats (the app adds them to its API)."""
    resources = site.catalog.resources
    return [
        Route(
            f"/{path}/{{id}}/documents/{{file}}", api(site, path, resources[path]), methods=["GET"]
        )
        for path in site.entities
        if served(site, path)
    ]


def routes() -> list[BaseRoute]:
    return []


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The documents of the entity at ``path`` (a route that matches when it has some)."""
    return [DocumentRoute(path, resource)]
