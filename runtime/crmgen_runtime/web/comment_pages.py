"""Comments in the web UI: a section of the detail page (``records.PANELS``) with the
record's comments and a compose box whose ``@`` offers the users who may read the record
(``comments.js`` asks ``GET /api/<path>/{id}/comments/mentions?q=``), the comments on the
timeline (``records.TIMELINE_SOURCES``), and the forms that post, edit and delete them (the
same functions as the API: ``crmgen_runtime.comments``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import comments
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import Resource
from crmgen_runtime.web import records
from crmgen_runtime.web.records import Viewer, moment
from crmgen_runtime.web.site import client_ip, csrf_ok, read_form, redirect, site_of

DEFAULT_EDIT_MINUTES = 15.0


def _window(viewer: Viewer) -> dt.timedelta:
    """How long an author may edit a comment (``COMMENT_EDIT_MINUTES`` of the environment)."""
    try:
        minutes = viewer.site.catalog.config.settings.load().comment_edit_minutes
    except ValueError:
        minutes = DEFAULT_EDIT_MINUTES
    return dt.timedelta(minutes=minutes)


def _shown(viewer: Viewer, resource: Resource, record_id: int) -> list[dict[str, Any]]:
    """The record's comments as the viewer may see them, each with its time in their zone."""
    data = comments.listing(
        viewer.database, resource, viewer.user, record_id, window=_window(viewer), check=False
    )
    formats = viewer.site.formats
    for item in data["items"]:
        for key in ("created_at", "deleted_at"):
            at = moment(item[key])
            item[f"{key}_text"] = formats.format_moment(at, viewer.locale) if at else ""
    return list(data["items"])


def panel(
    viewer: Viewer, resource: Resource, path: str, record: dict[str, Any]
) -> dict[str, Any] | None:
    """The comments section of a record of an entity with comments."""
    if not resource.comments:
        return None
    return {
        "template": "_comments.html",
        "place": "section",
        "items": _shown(viewer, resource, record["id"]),
        "action": f"/{path}/{record['id']}/comments",
        "mentions": f"/api/{resource.path}/{record['id']}/comments/mentions",
    }


def timeline(viewer: Viewer, resource: Resource, path: str, record_id: int) -> list[dict[str, Any]]:
    """The record's comments on its timeline (every reader of the record sees them)."""
    if not resource.comments:
        return []
    t = viewer.site.translator(viewer.locale)
    entries: list[dict[str, Any]] = []
    for item in _shown(viewer, resource, record_id)[-records.TIMELINE_ROWS :]:
        deleted = item["deleted"]
        text = (
            t("comment_deleted").format(who=item["deleted_by"] or "", when=item["deleted_at_text"])
            if deleted
            else item["body"]
        )
        entries.append(
            {
                "at": moment(item["created_at"]),
                "source": "comment",
                "title": item["author"] or t("system"),
                "url": f"/{path}/{record_id}#comment-{item['id']}",
                "badge": t("comment"),
                "text": text,
                "who": "",
                "changes": [],
            }
        )
    return entries


records.PANELS.append(panel)
records.TIMELINE_SOURCES.append(timeline)


def routes() -> list[BaseRoute]:
    return []


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The forms of the comments section: post, edit, delete."""
    if not resource.comments:
        return []

    async def post(request: Request) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "read")
        if stop is not None:
            return stop
        form = await read_form(request)
        if not csrf_ok(request, form):
            return site.error_page(request, 403, "csrf", user)
        database = request.app.state.db
        record_id = request.path_params["id"]
        cid = request.path_params.get("cid")
        doing = request.path_params.get("doing", "")
        ip = client_ip(request)
        try:
            if cid is None:
                await run_in_threadpool(
                    comments.create,
                    database,
                    resource,
                    user,
                    record_id,
                    {"body": form.get("body", "")},
                    ip,
                )
            elif doing == "delete":
                await run_in_threadpool(
                    comments.delete, database, resource, user, record_id, cid, ip
                )
            elif doing == "edit":
                window = comments.edit_window(request)
                body = {"body": form.get("body", "")}
                await run_in_threadpool(
                    comments.edit, database, resource, user, record_id, cid, body, ip, window
                )
            else:
                return site.error_page(request, 404, "not_found", user)
        except ApiError as exc:
            if exc.status == 404:
                return site.error_page(request, 404, "not_found", user)
            if exc.status == 422:
                return redirect(request, f"/{path}/{record_id}#comments")
            return site.error_page(request, exc.status, "error", user, detail=exc.message)
        return redirect(request, f"/{path}/{record_id}#comments")

    base = f"/{path}/{{id:int}}/comments"
    return [
        Route(base, post, methods=["POST"]),
        Route(f"{base}/{{cid:int}}/{{doing}}", post, methods=["POST"]),
    ]
