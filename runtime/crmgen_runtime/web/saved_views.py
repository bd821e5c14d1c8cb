"""Saved views on the list page (``crmgen_runtime.views`` keeps them): a "Views" menu of the
user's own views and those shared with their roles, a "Save view" form (a name, the roles to
share it with) that saves the page's query, a column picker, and deleting one's own view.

A view's link is ``/<path>/?view=<id>``: the page answers with the view's whole query in the
URL (``?view=<id>&stage__in=won&sort=-amount&columns=name,amount``), so the address shows and
shares what the page shows, and every link of the page keeps it. Opening a view re-checks it
for the reader (``views.applied``): what they may not read is left out. The app's web module
lists this one only when the spec keeps ``ui.saved_views`` on.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import views
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.site import CSRF_FIELD, Site, csrf_ok, read_pairs, redirect, site_of

# Page parameters a saved view does not keep.
PAGING = frozenset({"cursor", "offset", "limit", "count", "view"})


def enabled(site: Site) -> bool:
    """Whether the app's spec keeps saved views on."""
    return bool(site.spec.get("lists", {}).get("saved_views"))


async def opened(request: Request, site: Site, user: CurrentUser, raw_id: str) -> Response:
    """``?view=<id>`` alone: to the view's whole query, or a 404 page."""
    found = None
    if raw_id.isascii() and raw_id.isdigit() and 0 < int(raw_id) <= views.MAX_ID:
        database = request.app.state.db
        found = await run_in_threadpool(views.find, database, site.catalog, user, int(raw_id))
    if found is None:
        return site.error_page(request, 404, "views_not_found", user)
    return redirect(request, found[0]["url"])


def context(
    site: Site,
    database: Any,
    user: CurrentUser,
    path: str,
    query: Any,
    readable: frozenset[str],
    locale: str,
) -> dict[str, Any]:
    """What the list page shows of saved views: the menu, the view shown, the save form and
    the column picker."""
    entity = site.entities[path]
    shown = views.visible(database, site.catalog, user, path)
    current = next((v for v in shown if str(v["id"]) == query.view), None)
    pairs = [(k, v) for k, v in query.pairs(paged=False) if k not in PAGING]
    kept = [(k, v) for k, v in pairs if k != "columns"]
    shown_now = [c for c in (query.columns or entity["columns"]) if c in entity["fields"]]
    picked = set(shown_now)
    # the columns shown, in their order, then the other fields as the form orders them
    order = list(dict.fromkeys([*shown_now, *entity["form"], *entity["fields"]]))
    return {
        "menu": [{**v, "current": current is not None and v["id"] == current["id"]} for v in shown],
        "current": current,
        "query": urlencode(pairs),
        "roles": [
            {"name": name, "label": site.pick(label, locale)}
            for name, label in sorted(site.spec.get("roles", {}).items())
        ],
        "columns": [
            {"name": name, "label": site.pick(meta["label"], locale), "checked": name in picked}
            for name in order
            if name in readable and (meta := entity["fields"][name])
        ],
        "keep": kept,  # the query the column picker sends along
        "picked": ",".join(query.columns),
    }


def body_of(raw: str) -> dict[str, Any]:
    """The view (``views.create``'s body, without entity and name) of a list page's query."""
    q, sort, columns = "", "", []
    filters: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=False, max_num_fields=200):
        if key == "q":
            q = value
        elif key == "sort":
            sort = value
        elif key == "columns":
            columns = [c for c in value.split(",") if c]
        elif key in PAGING:
            continue
        elif key.endswith("__in") and key in filters:
            filters[key] += "," + value
        else:
            filters[key] = value
    return {"q": q, "sort": sort, "filters": filters, "columns": columns}


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """``POST /<path>/views`` (save the page's query as a view) and
    ``POST /<path>/views/{id}/delete``."""
    base = f"/{path}/"

    async def save(request: Request) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "list")
        if stop is not None:
            return stop
        try:
            pairs = await read_pairs(request)
            form = dict(pairs)
            if not csrf_ok(request, {CSRF_FIELD: form.get(CSRF_FIELD, "")}):
                return site.error_page(request, 403, "csrf", user)
            body = {
                **body_of(form.get("query", "")),
                "entity": path,
                "name": form.get("name", ""),
                "roles": [value for key, value in pairs if key == "role"],
            }
            made = await run_in_threadpool(
                views.create, request.app.state.db, site.catalog, user, body
            )
        except ApiError as exc:
            return site.error_page(request, exc.status, "views_not_saved", user, detail=exc.message)
        return redirect(request, made["url"])

    async def delete(request: Request) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "list")
        if stop is not None:
            return stop
        form = await read_pairs(request)
        if not csrf_ok(request, {CSRF_FIELD: dict(form).get(CSRF_FIELD, "")}):
            return site.error_page(request, 403, "csrf", user)
        view_id = request.path_params["view"]
        try:
            await run_in_threadpool(views.delete, request.app.state.db, site.catalog, user, view_id)
        except ApiError as exc:
            key = "views_not_found" if exc.status == 404 else "forbidden"
            return site.error_page(request, exc.status, key, user)
        return redirect(request, base)

    return [
        Route(f"{base}views", save, methods=["POST"]),
        Route(base + "views/{view:int}/delete", delete, methods=["POST"]),
    ]


def routes() -> list[BaseRoute]:
    return []
