"""Print formats: a record's documents (an invoice, an offer) downloaded as PDF or XLSX.

``/<path>/{id}/documents/<name>.<format>`` serves the web UI (the session cookie; sign in first
when needed) and ``/api/<path>/{id}/documents/<name>.<format>`` the API (a bearer token or the
session cookie; JSON errors). Both build the document with the reader's rights
(``crmgen_runtime.documents``): a record outside the reader's rules is 404, a role the
document does not name is 403. ``links`` gives the detail page the documents its reader may
print.
"""

from __future__ import annotations

import re
from typing import Any

from crmgen_runtime import documents
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.principal import current_user
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.site import (
    MAX_RECORD_ID,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from reference_crm.resources import CATALOG, RESOURCES
from reference_crm.web.core import (
    ENTITIES,
    LOCALES,
    error_page,
    guard,
    locale_of,
    pick,
    translator,
)

Endpoint = Any  # an ASGI request handler


def _served(path: str) -> bool:
    """Whether the entity at ``path`` has documents and its records can be read."""
    resource = RESOURCES.get(path)
    return (
        bool(ENTITIES[path]["documents"])
        and resource is not None
        and "read" in resource.actions
    )


def _requested(path: str, file: str) -> tuple[dict[str, Any], str] | None:
    """The document and format a file name such as ``invoice.pdf`` asks for, if declared."""
    name, _, fmt = file.rpartition(".")
    for spec in ENTITIES[path]["documents"]:
        if spec["name"] == name and fmt in spec["formats"]:
            return spec, fmt
    return None


def _reader(request: Request, user: Any) -> documents.Reader:
    """The reader: ``?locale=`` when it is one of the app's, else the UI's choice."""
    locale = request.query_params.get("locale")
    if locale not in LOCALES:
        locale = locale_of(request)
    return documents.Reader(
        user, locale, lambda text: pick(text, locale), translator(locale)
    )


def _download(
    database: Database,
    resource: Resource,
    spec: dict[str, Any],
    fmt: str,
    record_id: int,
    reader: documents.Reader,
) -> Response:
    """The file (blocking: database reads and rendering run in the thread pool)."""
    doc = documents.build(database, resource, spec, record_id, reader)
    return Response(
        documents.RENDERERS[fmt](doc),
        media_type=documents.MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": documents.disposition(doc, fmt),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _page(path: str, resource: Resource) -> Endpoint:
    async def download(request: Request) -> Response:
        user, refused = await guard(request, resource, "read")
        if refused is not None:
            return refused
        requested = _requested(path, request.path_params["file"])
        if requested is None:
            return error_page(request, 404, "not_found", user)
        spec, fmt = requested
        try:
            return await run_in_threadpool(
                _download,
                request.app.state.db,
                resource,
                spec,
                fmt,
                request.path_params["id"],
                _reader(request, user),
            )
        except ApiError as exc:
            key = "forbidden" if exc.status == 403 else "not_found"
            return error_page(request, 403 if exc.status == 403 else 404, key, user)

    return download


def _api(path: str, resource: Resource) -> Endpoint:
    async def download(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            raise ApiError(401, "not_authenticated", "Sign in first.")
        raw = request.path_params["id"]
        requested = _requested(path, request.path_params["file"])
        if requested is None or not re.fullmatch(r"[0-9]{1,19}", raw):
            raise not_found("document")
        if not 0 < int(raw) <= MAX_RECORD_ID:
            raise not_found(resource.label)
        spec, fmt = requested
        return await run_in_threadpool(
            _download,
            request.app.state.db,
            resource,
            spec,
            fmt,
            int(raw),
            _reader(request, user),
        )

    return download


def links(path: str, record_id: int, user: Any, locale: str) -> list[dict[str, Any]]:
    """The detail page's document links: ``[{label, files: [{format, url}]}]`` that ``user``
    may print (the download checks again)."""
    if path not in ENTITIES or not _served(path):
        return []
    return [
        {
            "label": pick(spec["label"], locale),
            "files": [
                {
                    "format": fmt,
                    "url": f"/{path}/{record_id}/documents/{spec['name']}.{fmt}",
                }
                for fmt in spec["formats"]
            ],
        }
        for spec in ENTITIES[path]["documents"]
        if documents.may_print(spec, user, CATALOG)
    ]


def api_routes() -> list[BaseRoute]:
    """``/<path>/{id}/documents/<file>`` below ``/api`` (the app adds them to its API)."""
    return [
        Route(
            f"/{path}/{{id}}/documents/{{file}}",
            _api(path, RESOURCES[path]),
            methods=["GET"],
        )
        for path in ENTITIES
        if _served(path)
    ]


def routes() -> list[BaseRoute]:
    return []


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    if not _served(path):
        return []
    return [
        Route(
            f"/{path}/{{id:int}}/documents/{{file}}",
            _page(path, resource),
            methods=["GET"],
        )
    ]
