"""Saved views of lists: a user's filters, sort and columns of one entity's list under a name,
kept in ``crm_saved_views`` (``tables.SavedViewTable``) and served at ``/api/views``.

``GET /api/views`` (``?entity=<path>``) lists the views the caller sees: their own, and those
shared with one of their roles, of the entities they may list. ``POST /api/views`` saves one
(``{"entity", "name", "q", "sort", "filters", "columns", "roles"}``), ``GET``, ``PATCH`` and
``DELETE /api/views/{id}`` read, change and delete one; only its owner changes or deletes it.

A view is checked when saved: its filters and sort must be ones the list API takes for that
entity over the fields the saver may read, its columns fields the saver may read, its roles
roles of the app (422 naming what is wrong). It is checked again whenever it is read
(``applied``): a filter, sort key or column over a field the reader may not read is dropped,
never shown. A view is only a query: the reader's record rules still decide which records a
list shows, so sharing a view never widens what anyone sees. Someone else's view that is not
shared with the caller is 404, as is one of an entity the caller may not list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import permissions
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.principal import CurrentUser, user_of
from crmgen_runtime.queries import LIST_PARAMETERS, parse_sort
from crmgen_runtime.reads import plan_list
from crmgen_runtime.resources import Catalog, Resource
from crmgen_runtime.responses import JSONResponse, parse_json
from crmgen_runtime.tables import SavedViewTable, utcnow

MAX_NAME = 100  # characters of a view's name
MAX_Q = 200  # characters of its search
MAX_FILTERS = 50  # filters of one view
MAX_VALUE = 1000  # characters of one filter's value
MAX_COLUMNS = 100
MAX_VIEWS = 200  # views one user keeps of one entity
KEYS = frozenset({"entity", "name", "q", "sort", "filters", "columns", "roles"})
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Applied:
    """A view as it applies to one reader: what they may read of it."""

    q: str
    sort: str
    filters: tuple[tuple[str, str], ...]
    columns: tuple[str, ...]

    def params(self) -> list[tuple[str, str]]:
        """The list API's query of the view."""
        found = [("q", self.q)] if self.q else []
        if self.sort:
            found.append(("sort", self.sort))
        return [*found, *self.filters]


def _model(catalog: Catalog) -> Any:
    return catalog.table(SavedViewTable)


def _invalid(name: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", f"{name}: {message}", {name: message})


def _text(body: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or "\x00" in value:
        raise _invalid(key, "Must be text.")
    value = value.strip()
    if required and not value:
        raise _invalid(key, "Must not be empty.")
    if len(value) > limit:
        raise _invalid(key, f"Must be at most {limit} characters.")
    return value


def _names(body: dict[str, Any], key: str, limit: int) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(key, "Must be a list of names.")
    if len(value) > limit:
        raise _invalid(key, f"At most {limit}.")
    return list(dict.fromkeys(value))


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and "\x00" not in value and len(value) <= MAX_VALUE:
        return value
    return None


def _filters(body: dict[str, Any]) -> list[tuple[str, str]]:
    """``filters`` of ``body``: an object of list-API filters (``{"stage__in": "won,lost"}``;
    a list of values is joined with commas)."""
    given = body.get("filters") or {}
    if not isinstance(given, dict):
        raise _invalid("filters", 'Must be an object of list filters: {"stage": "won"}.')
    if len(given) > MAX_FILTERS:
        raise _invalid("filters", f"At most {MAX_FILTERS}.")
    pairs: list[tuple[str, str]] = []
    for key, value in given.items():
        if key in LIST_PARAMETERS:
            raise _invalid("filters", f"{key!r} is not a filter; give it beside the filters.")
        values = value if isinstance(value, list) else [value]
        texts = [_scalar(v) for v in values]
        if not values or any(t is None for t in texts):
            raise _invalid("filters", f"{key}: must be text, a number, true or false.")
        pairs.append((key, ",".join(t for t in texts if t is not None)))
    return pairs


def _readable_columns(resource: Resource, names: frozenset[str]) -> set[str]:
    return {name for name in resource.fields if name in names}


def _known_keys(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - KEYS)
    if unknown:
        raise _invalid(unknown[0], "Unknown key: " + ", ".join(sorted(KEYS)) + " are known.")


def check(resource: Resource, user: CurrentUser, body: dict[str, Any]) -> dict[str, Any]:
    """The stored form of the view ``body`` of ``resource`` saved by ``user``; 422 naming what
    the list API refuses or what ``user`` may not read."""
    _known_keys(body)
    q, sort = _text(body, "q", MAX_Q), _text(body, "sort", MAX_Q)
    filters = _filters(body)
    for key, _ in filters:
        info = resource.fields.get(key.partition("__")[0])
        if info is not None and info.encrypted and not key.endswith("__isnull"):
            raise _invalid(
                "filters",
                f"{info.name} is stored encrypted: a view does not keep its values "
                f"(filter it with {info.name}__isnull, or search it each time).",
            )
    readable = permissions.readable(resource, user)
    columns = _names(body, "columns", MAX_COLUMNS)
    allowed = _readable_columns(resource, readable)
    for name in columns:
        if name not in allowed:
            raise _invalid("columns", f"{name!r} is no field of {resource.name} you may read.")
    roles = _names(body, "roles", 50)
    known = resource.catalog.config.roles
    for role in roles:
        if role not in known:
            raise _invalid("roles", f"No role {role!r}: one of {', '.join(sorted(known))}.")
    query = Applied(q, sort, tuple(filters), tuple(columns))
    try:
        plan_list(resource, user, query.params())
    except ApiError as exc:
        if exc.status != 400:
            raise
        raise ApiError(422, "validation_error", exc.message, exc.fields) from None
    return {
        "query": {"q": q, "sort": sort, "filters": [list(p) for p in filters]},
        "columns": columns,
        "roles": roles,
    }


def applied(resource: Resource, reader: CurrentUser, row: Any) -> Applied:
    """The view ``row`` as it applies to ``reader``: each filter, sort key and column the
    reader's list may not take (a field they may not read) left out."""
    query: dict[str, Any] = row.query if isinstance(row.query, dict) else {}
    readable = permissions.readable(resource, reader)
    filters = []
    for pair in query.get("filters") or []:
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            continue
        try:
            plan_list(resource, reader, [(pair[0], pair[1])])
        except ApiError:
            continue
        filters.append((pair[0], pair[1]))
    keys = []
    for key in str(query.get("sort") or "").split(","):
        try:
            if key.strip() and parse_sort(resource, readable, key.strip()):
                keys.append(key.strip())
        except ApiError:
            continue
    allowed = _readable_columns(resource, readable)
    columns = tuple(c for c in (row.columns or []) if isinstance(c, str) and c in allowed)
    q = str(query.get("q") or "")
    return Applied(q, ",".join(keys), tuple(filters), columns)


def page_pairs(view: Applied) -> list[tuple[str, str]]:
    """The web list page's query of ``view`` (one pair per value of an ``__in`` filter, as
    the page's checkboxes send them)."""
    pairs = [("q", view.q)] if view.q else []
    if view.sort:
        pairs.append(("sort", view.sort))
    for key, value in view.filters:
        if key.endswith("__in"):
            pairs.extend((key, part) for part in value.split(",") if part)
        else:
            pairs.append((key, value))
    if view.columns:
        pairs.append(("columns", ",".join(view.columns)))
    return pairs


def _shown(resource: Resource, user: CurrentUser, row: Any) -> dict[str, Any]:
    view = applied(resource, user, row)
    web = [*page_pairs(view), ("view", str(row.id))]
    api = urlencode(view.params())
    return {
        "id": row.id,
        "entity": row.entity,
        "name": row.name,
        "q": view.q,
        "sort": view.sort,
        "filters": dict(view.filters),
        "columns": list(view.columns),
        "roles": list(row.roles or []),
        "owner_id": row.user_id,
        "mine": row.user_id == user.id,
        "url": f"/{row.entity}/?{urlencode(web)}",
        "api_url": f"/api/{row.entity}" + (f"?{api}" if api else ""),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _signed_in(user: CurrentUser | None) -> CurrentUser:
    if user is None:
        raise ApiError(401, "not_authenticated", "Sign in first.")
    return user


def _lists(catalog: Catalog, user: CurrentUser, path: str) -> Resource | None:
    """The resource at ``path`` when ``user`` may list it, else None."""
    resource = catalog.resources.get(path)
    if resource is None or "list" not in resource.actions:
        return None
    try:
        permissions.require(resource, user, "list")
    except ApiError:
        return None
    return resource


def _sees(row: Any, user: CurrentUser) -> bool:
    return bool(row.user_id == user.id or set(row.roles or []) & user.roles)


def visible(
    database: Database, catalog: Catalog, user: CurrentUser, entity: str | None = None
) -> list[dict[str, Any]]:
    """The views ``user`` sees (of ``entity``, an API path, when given): their own, then the
    ones shared with them, each by name."""
    model = _model(catalog)
    shared = [sa.cast(model.roles, sa.Text).like(f'%"{role}"%') for role in sorted(user.roles)]
    stmt = sa.select(model).where(sa.or_(model.user_id == user.id, *shared))
    if entity is not None:
        stmt = stmt.where(model.entity == entity)
    with database.session() as session:
        rows = session.scalars(stmt.order_by(model.name, model.id)).all()
        found = []
        for row in rows:
            resource = _lists(catalog, user, row.entity)
            if resource is not None and _sees(row, user):
                found.append(_shown(resource, user, row))
    return sorted(found, key=lambda v: (not v["mine"], v["name"].casefold(), v["id"]))


def _view_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("view")
    return int(raw)


def _find(session: Any, catalog: Catalog, user: CurrentUser, view_id: int) -> tuple[Any, Resource]:
    row = session.get(_model(catalog), view_id)
    resource = None if row is None else _lists(catalog, user, row.entity)
    if row is None or resource is None or not _sees(row, user):
        raise not_found("view")
    return row, resource


def read(database: Database, catalog: Catalog, user: CurrentUser, view_id: int) -> dict[str, Any]:
    with database.session() as session:
        row, resource = _find(session, catalog, user, view_id)
        return _shown(resource, user, row)


def find(
    database: Database, catalog: Catalog, user: CurrentUser, view_id: int
) -> tuple[dict[str, Any], Applied] | None:
    """The view ``view_id`` as ``user`` sees it and as it applies to them, or None."""
    with database.session() as session:
        try:
            row, resource = _find(session, catalog, user, view_id)
        except ApiError:
            return None
        return _shown(resource, user, row), applied(resource, user, row)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(422, "validation_error", "Send a JSON object.")
    return body


def _taken(session: Any, model: Any, user: CurrentUser, entity: str, name: str, own: int) -> None:
    clash = session.scalar(
        sa.select(model.id).where(
            model.user_id == user.id, model.entity == entity, model.name == name, model.id != own
        )
    )
    if clash is not None:
        raise ApiError(
            409,
            "conflict",
            f"name: you have a view named {name!r} already.",
            {"name": "You have a view of this name already."},
        )


def create(database: Database, catalog: Catalog, user: CurrentUser, body: Any) -> dict[str, Any]:
    """Save the view ``body`` (with its ``entity``) as ``user``'s."""
    body = _object(body)
    entity = body.get("entity")
    if not isinstance(entity, str) or not entity:
        raise _invalid("entity", "Name the list: its API path, such as 'contacts'.")
    resource = _lists(catalog, user, entity)
    if resource is None:
        raise _invalid("entity", f"No list {entity!r} you may read.")
    name = _text(body, "name", MAX_NAME, required=True)
    stored = check(resource, user, {k: v for k, v in body.items() if k != "entity"})
    model = _model(catalog)
    with database.session() as session:
        _taken(session, model, user, entity, name, 0)
        mine = session.scalar(
            sa.select(sa.func.count()).where(model.user_id == user.id, model.entity == entity)
        )
        if (mine or 0) >= MAX_VIEWS:
            raise ApiError(
                422, "validation_error", f"You keep {MAX_VIEWS} views of this list already."
            )
        row = model(user_id=user.id, entity=entity, name=name, **stored)
        session.add(row)
        session.flush()
        session.refresh(row)
        return _shown(resource, user, row)


def update(
    database: Database, catalog: Catalog, user: CurrentUser, view_id: int, body: Any
) -> dict[str, Any]:
    """Change the owner's view ``view_id`` (what ``body`` gives; the rest stays)."""
    body = _object(body)
    if "entity" in body and body["entity"] is not None:
        raise _invalid("entity", "A view stays with its list; save a new one instead.")
    with database.session() as session:
        row, resource = _find(session, catalog, user, view_id)
        if row.user_id != user.id:
            raise ApiError(403, "forbidden", "Only the view's owner may change it.")
        query = dict(row.query or {})
        merged = {
            "q": body.get("q", query.get("q", "")),
            "sort": body.get("sort", query.get("sort", "")),
            "filters": body.get("filters", dict(map(tuple, query.get("filters") or []))),
            "columns": body.get("columns", list(row.columns or [])),
            "roles": body.get("roles", list(row.roles or [])),
        }
        _known_keys(body)
        stored = check(resource, user, merged)
        if "name" in body:
            row.name = _text(body, "name", MAX_NAME, required=True)
            _taken(session, _model(catalog), user, row.entity, row.name, row.id)
        row.query, row.columns, row.roles = stored["query"], stored["columns"], stored["roles"]
        row.updated_at = utcnow()
        session.flush()
        return _shown(resource, user, row)


def delete(database: Database, catalog: Catalog, user: CurrentUser, view_id: int) -> None:
    """Delete the owner's view ``view_id``."""
    with database.session() as session:
        row, _ = _find(session, catalog, user, view_id)
        if row.user_id != user.id:
            raise ApiError(403, "forbidden", "Only the view's owner may delete it.")
        session.delete(row)


def routes(catalog: Catalog) -> list[BaseRoute]:
    """``/views`` and ``/views/{id}`` below ``/api``."""

    async def collection(request: Request) -> Response:
        database: Database = request.app.state.db
        if request.method == "POST":
            body = parse_json(await request.body())
            made = await run_in_threadpool(
                lambda: create(database, catalog, _signed_in(user_of(request)), body)
            )
            location = f"/api/views/{made['id']}"
            return JSONResponse(made, status_code=201, headers={"Location": location})
        entity = request.query_params.get("entity") or None
        items = await run_in_threadpool(
            lambda: visible(database, catalog, _signed_in(user_of(request)), entity)
        )
        return JSONResponse({"items": items})

    async def item(request: Request) -> Response:
        database: Database = request.app.state.db
        view_id = _view_id(request.path_params["id"])
        if request.method == "GET":
            found = await run_in_threadpool(
                lambda: read(database, catalog, _signed_in(user_of(request)), view_id)
            )
            return JSONResponse(found)
        if request.method == "PATCH":
            body = parse_json(await request.body())
            changed = await run_in_threadpool(
                lambda: update(database, catalog, _signed_in(user_of(request)), view_id, body)
            )
            return JSONResponse(changed)
        await run_in_threadpool(
            lambda: delete(database, catalog, _signed_in(user_of(request)), view_id)
        )
        return Response(status_code=204)

    return [
        Route("/views", collection, methods=["GET", "POST"], name="views_collection"),
        Route("/views/{id}", item, methods=["GET", "PATCH", "DELETE"], name="views_item"),
    ]


def roles_of(catalog: Catalog) -> Iterable[str]:
    """The roles a view may be shared with."""
    return sorted(catalog.config.roles)
