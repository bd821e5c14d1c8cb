"""Notifications in the web UI: ``/notifications`` (one's own, newest first; ``?unread=1``),
the forms that mark one or all read (opening one marks it read and goes to its record), and
``/notifications/preferences`` (per kind: in the app, e-mail digest, or off). The same
functions as the API (``crmgen_runtime.notifications``); the header's bell is ``_bell.html``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import notifications
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import current_user
from crmgen_runtime.resources import Resource
from crmgen_runtime.tables import NotificationTable
from crmgen_runtime.web.records import moment
from crmgen_runtime.web.site import (
    csrf_ok,
    login_redirect,
    read_form,
    redirect,
    signed_in_form,
    site_of,
)

PAGE = 50  # notifications on one page


def _shown(request: Request, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The notifications of a page as the template shows them, in the user's words."""
    site = site_of(request)
    locale = site.locale_of(request)
    t = site.translator(locale)
    catalog = site.catalog
    shown = []
    for item in data["items"]:
        resource = catalog.by_name.get(item["entity"] or "")
        label = (
            site.pick(site.entities[resource.path]["label"], locale)
            if resource is not None and resource.path in site.entities
            else ""
        )
        head = t(f"notification_{item['kind']}").format(
            actor=item["actor"] or t("notification_someone")
        )
        text = item["message"]
        if item["kind"] == "assignment" and label:
            text = f"{label} «{text}»"
        at = moment(item["created_at"])
        shown.append(
            {
                **item,
                "head": head,
                "text": text,
                "when": site.formats.format_moment(at, locale) if at else "",
            }
        )
    return shown


async def list_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    site = site_of(request)
    unread = request.query_params.get("unread", "") in ("1", "true")
    try:
        offset = max(0, int(request.query_params.get("offset", "0") or 0))
    except ValueError:
        offset = 0
    data = await run_in_threadpool(
        lambda: notifications.page(
            request.app.state.db, site.catalog, user.id, unread=unread, limit=PAGE, offset=offset
        )
    )
    context = {
        "items": _shown(request, data),
        "unread_only": unread,
        "unread_total": data["unread"],
        "next_url": f"/notifications?{'unread=1&' if unread else ''}offset={data['next_offset']}"
        if data["next_offset"] is not None
        else None,
    }
    return site.render(request, "notifications.html", context, user=user)


async def mark(request: Request) -> Response:
    """``POST /notifications/{id}/read``, ``/{id}/open`` (then to its record) and
    ``/notifications/read-all``."""
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    site = site_of(request)
    ident = request.path_params.get("id")
    if request.path_params.get("doing", "read") not in ("read", "open"):
        return site.error_page(request, 404, "not_found", user)
    database = request.app.state.db
    try:
        await run_in_threadpool(notifications.mark_read, database, site.catalog, user.id, ident)
    except ApiError:
        return site.error_page(request, 404, "not_found", user)
    if ident is not None and request.path_params.get("doing") == "open":
        item = await run_in_threadpool(_one, database, site, user.id, ident)
        if item is not None and item["url"]:
            return redirect(request, item["url"])
    back = form.get("next", "")
    return redirect(request, back if back.startswith("/notifications") else "/notifications")


def _one(database: Any, site: Any, user_id: int, ident: int) -> dict[str, Any] | None:
    model: Any = site.catalog.table(NotificationTable)
    with database.session() as session:
        row = session.get(model, ident)
        if row is None or row.user_id != user_id:
            return None
        return notifications.describe(site.catalog, row, {})


async def preferences_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    site = site_of(request)
    database = request.app.state.db
    notice = None
    if request.method == "POST":
        form = await read_form(request)
        if not csrf_ok(request, form):
            return site.error_page(request, 403, "csrf", user)
        chosen = {
            kind: form[kind]
            for kind in notifications.KINDS
            if form.get(kind) in notifications.CHANNELS
        }
        await run_in_threadpool(
            notifications.set_preferences, database, site.catalog, user.id, chosen
        )
        return redirect(request, "/notifications/preferences?saved=1")
    if request.query_params.get("saved"):
        notice = site.translator(site.locale_of(request))("notification_preferences_saved")
    current = await run_in_threadpool(notifications.preferences, database, site.catalog, user.id)
    context = {
        "kinds": notifications.KINDS,
        "channels": notifications.CHANNELS,
        "current": current,
        "notice": notice,
    }
    return site.render(request, "notification_preferences.html", context, user=user)


def routes() -> list[BaseRoute]:
    return [
        Route("/notifications", list_page, methods=["GET"]),
        Route("/notifications/read-all", mark, methods=["POST"]),
        Route("/notifications/preferences", preferences_page, methods=["GET", "POST"]),
        Route("/notifications/{id:int}/{doing}", mark, methods=["POST"]),
    ]


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    return []
