"""The generic REST handlers over a ``Resource``: list, create, read, update, delete.

``routes(resource)`` gives ``/<path>`` and ``/<path>/{id}`` (below ``/api``) for the actions
its API enables, and ``/<path>/{id}/<back>`` for each back side of a relation whose entity the
API lists (``GET /api/companies/5/deals``). Each request makes one hop to the thread pool, where the signed-in user is
looked up (``principal.user_of``), the role checked and the database work done; the hot reads
(a list page, one record) look the session up on their own connection (``principal.user_on``).

This module is also the one import of the record API for the rest of an app (its processes,
analytics, documents and web pages): the list query (``crmgen_runtime.queries``), reads
(``reads``), writes (``writes``) and JSON (``responses``) are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import backs, duplicates, merging, permissions, validation
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.principal import user_of, user_on
from crmgen_runtime.queries import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ListQuery,
    SortKey,
    bad_query,
    parse_list_query,
)
from crmgen_runtime.reads import (
    Projection,
    fetch_one,
    list_records,
    list_related,
    plan_list,
    projection,
    read_page,
    signed_in,
)
from crmgen_runtime.resources import Resource
from crmgen_runtime.responses import JSONResponse, dumps, json_ready, parse_json
from crmgen_runtime.writes import (
    create_in,
    create_record,
    current_lists,
    delete_record,
    delete_row,
    insert_row,
    integrity,
    integrity_error,
    update_in,
    update_record,
    update_row,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "JSONResponse",
    "ListQuery",
    "Projection",
    "SortKey",
    "bad_query",
    "create_in",
    "create_record",
    "current_lists",
    "delete_record",
    "delete_row",
    "dumps",
    "endpoints",
    "fetch_one",
    "insert_row",
    "integrity",
    "integrity_error",
    "json_ready",
    "list_records",
    "list_related",
    "parse_json",
    "parse_list_query",
    "projection",
    "record_id_of",
    "routes",
    "signed_in",
    "update_in",
    "update_record",
    "update_row",
]

Handler = Callable[[Request], Awaitable[Response]]
_ID = re.compile(r"[0-9]{1,10}")


def record_id_of(request: Request) -> int:
    """The record id of the path (``{id}``); 404 when it is not a valid id."""
    raw = request.path_params["id"]
    if not _ID.fullmatch(raw) or not 0 < int(raw) <= validation.MAX_ID:
        raise not_found()
    return int(raw)


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _create(
    database: Database, resource: Resource, request: Request, body: bytes
) -> dict[str, Any]:
    user = user_of(request)
    permissions.require(resource, user, "create")
    check = not duplicates.confirmed(request.query_params)
    return create_record(
        database, resource, user, parse_json(body), _ip(request), check_duplicates=check
    )


def _list(
    database: Database, resource: Resource, request: Request, params: list[tuple[str, str]]
) -> dict[str, Any]:
    """``list_records``, the session looked up on the page's connection."""
    limits = request.app.state.settings.lists
    with database.engine.connect() as connection:
        planned = plan_list(resource, user_on(request, connection), params, limits=limits)
        return read_page(connection, planned, limits=limits)


def _update(
    database: Database, resource: Resource, request: Request, body: bytes
) -> dict[str, Any]:
    user = user_of(request)
    permissions.require(resource, user, "update")
    record_id = record_id_of(request)
    return update_record(database, resource, user, record_id, parse_json(body), _ip(request))


def _delete(database: Database, resource: Resource, request: Request) -> None:
    user = user_of(request)
    permissions.require(resource, user, "delete")
    delete_record(database, resource, user, record_id_of(request), _ip(request))


def _read(database: Database, resource: Resource, request: Request) -> dict[str, Any]:
    """The record, the session looked up on the record's connection."""
    with database.engine.connect() as connection:
        user = user_on(request, connection)
        permissions.require(resource, user, "read")
        record_id = record_id_of(request)
        record = fetch_one(connection, resource, user, record_id)
    if record is None:
        raise not_found(resource.label)
    return record


def endpoints(resource: Resource) -> tuple[Handler, Handler]:
    """The collection and item endpoints of ``resource``."""

    async def collection(request: Request) -> Response:
        database: Database = request.app.state.db
        if request.method == "POST":
            body = await request.body()
            record = await run_in_threadpool(_create, database, resource, request, body)
            location = f"/api/{resource.path}/{record['id']}"
            return JSONResponse(record, status_code=201, headers={"Location": location})
        params = request.query_params.multi_items()
        page = await run_in_threadpool(_list, database, resource, request, params)
        return JSONResponse(page)

    async def item(request: Request) -> Response:
        database: Database = request.app.state.db
        if request.method == "GET":
            record = await run_in_threadpool(_read, database, resource, request)
            return JSONResponse(record)
        if request.method == "PATCH":
            body = await request.body()
            record = await run_in_threadpool(_update, database, resource, request, body)
            return JSONResponse(record)
        await run_in_threadpool(_delete, database, resource, request)
        return Response(status_code=204)

    return collection, item


def related_endpoint(back: backs.Back) -> Handler:
    """``GET /api/<path>/{id}/<back>``: the records on a back side of one record."""

    def read(database: Database, request: Request) -> dict[str, Any]:
        user = user_of(request)
        permissions.require(back.owner, user, "read")  # before the id: as GET /{id} answers
        record_id = record_id_of(request)
        params = request.query_params.multi_items()
        limits = request.app.state.settings.lists
        return list_related(database, back, user, record_id, params, limits)

    async def related(request: Request) -> Response:
        page = await run_in_threadpool(read, request.app.state.db, request)
        return JSONResponse(page)

    return related


def _duplicate_pairs(database: Database, resource: Resource, request: Request) -> dict[str, Any]:
    user = user_of(request)
    permissions.require(resource, user, "read")
    raw = request.query_params.get("limit", str(duplicates.PAIRS))
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= duplicates.PAIRS:
        raise bad_query("limit", f"Must be a whole number from 1 to {duplicates.PAIRS}.")
    with database.session() as session:
        return {"pairs": duplicates.readable_pairs(session, resource, user, int(raw))}


def _merge(database: Database, resource: Resource, request: Request, body: bytes) -> dict[str, Any]:
    user = signed_in(user_of(request))
    permissions.require(resource, user, "update")
    permissions.require(resource, user, "delete")
    kept_id = record_id_of(request)
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise ApiError(422, "validation_error", "The request body must be a JSON object.")
    other: Any = payload.get("other")
    take = payload.get("take")
    problems = {}
    if isinstance(other, bool) or not isinstance(other, int) or not 0 < other <= validation.MAX_ID:
        problems["other"] = "The id of the record to merge into this one."
    if take is not None and (
        not isinstance(take, list) or not all(isinstance(n, str) for n in take)
    ):
        problems["take"] = "A list of field names."
    unknown = sorted(set(payload) - {"other", "take"})
    for name in unknown:
        problems[name] = "Unknown key: give other and take."
    if problems:
        raise ApiError(422, "validation_error", "The merge request is invalid.", problems)
    return merging.merge_record(database, resource, user, _ip(request), kept_id, other, take)


def duplicate_routes(resource: Resource) -> list[BaseRoute]:
    """``GET /<path>/duplicates`` (the pairs of likely duplicates) and ``POST
    /<path>/{id}/merge`` (fold ``other`` into the record) of an entity with duplicate rules."""
    if not resource.duplicates:
        return []

    async def listing(request: Request) -> Response:
        found = await run_in_threadpool(_duplicate_pairs, request.app.state.db, resource, request)
        return JSONResponse(found)

    async def merge(request: Request) -> Response:
        body = await request.body()
        found = await run_in_threadpool(_merge, request.app.state.db, resource, request, body)
        return JSONResponse(found)

    found: list[BaseRoute] = []
    if "read" in resource.actions:
        name = f"{resource.path}_duplicates"
        found.append(Route(f"/{resource.path}/duplicates", listing, methods=["GET"], name=name))
    if "update" in resource.actions and "delete" in resource.actions:
        path = f"/{resource.path}/" + "{id}/merge"
        found.append(Route(path, merge, methods=["POST"], name=f"{resource.path}_merge"))
    return found


def routes(resource: Resource) -> list[BaseRoute]:
    """The routes of ``resource`` below ``/api``, for the actions its API enables."""
    collection, item = endpoints(resource)
    many = [m for a, m in (("list", "GET"), ("create", "POST")) if a in resource.actions]
    one = [
        m
        for a, m in (("read", "GET"), ("update", "PATCH"), ("delete", "DELETE"))
        if a in resource.actions
    ]
    found: list[BaseRoute] = []
    if resource.name == "User" and "create" in resource.actions:
        from crmgen_runtime import invites  # it writes through this module's writes

        found.extend(invites.routes(resource))  # POST /users/invite, /users/{id}/invite
    found.extend(duplicate_routes(resource))  # before /{id}: "duplicates" is no id
    if many:
        name = f"{resource.path}_collection"
        found.append(Route(f"/{resource.path}", collection, methods=many, name=name))
    if one:
        name = f"{resource.path}_item"
        found.append(Route(f"/{resource.path}/" + "{id}", item, methods=one, name=name))
    if "read" in resource.actions:
        for back in backs.backs(resource).values():
            if "list" in back.source.actions:
                path = f"/{resource.path}/" + "{id}/" + back.name
                name = f"{resource.path}_{back.name}"
                found.append(Route(path, related_endpoint(back), methods=["GET"], name=name))
    return found
