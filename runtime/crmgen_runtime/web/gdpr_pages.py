"""GDPR requests in the web UI: "Export personal data" and "Erase personal data" on the detail
page of an entity with ``personal_data``, for the roles that may (``gdpr.may_handle``).

Export is a link to the API's ``GET /api/<path>/{id}/personal-data`` (the session's cookie signs
it in; the browser downloads the zip). ``GET /<path>/{id}/erase`` shows the erasure form: what
will happen, the reason (required) and a confirmation box; ``POST`` (with the form's CSRF token)
runs the same ``gdpr.erase_one`` as ``POST /api/<path>/{id}/erase`` and returns to the detail
page with a notice (``?gdpr=erased``, or ``?gdpr=nothing`` when nothing was left to erase).
Both answer 404 for a record the user may not read and 403 for a role that may not erase.
Importing this module adds the buttons to every detail page (``records.PANELS``).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import gdpr
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import Resource
from crmgen_runtime.web import records
from crmgen_runtime.web.site import csrf_ok, fetch_record, read_form, redirect, site_of


def buttons(
    viewer: records.Viewer, resource: Resource, path: str, record: dict[str, Any]
) -> dict[str, Any] | None:
    """The detail page's GDPR buttons, for a user who may export and erase this record."""
    if not gdpr.may_handle(resource, viewer.user):
        return None
    return {
        "template": "_gdpr_buttons.html",
        "place": "actions",
        "export_url": f"/api/{resource.path}/{record['id']}/personal-data",
        "erase_url": f"/{path}/{record['id']}/erase",
    }


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The erasure page of the entity at ``path`` (one with personal data)."""
    personal = resource.personal
    if personal is None:
        return []

    async def page(request: Request) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "read")
        if stop is not None:
            return stop
        record_id = request.path_params["id"]
        database = request.app.state.db
        record = await run_in_threadpool(fetch_record, database, resource, user, record_id, "read")
        if record is None:
            return site.error_page(request, 404, "not_found", user)
        if not gdpr.may_handle(resource, user):
            return site.error_page(request, 403, "forbidden", user)
        locale = site.locale_of(request)
        t = site.translator(locale)
        errors: dict[str, str] = {}
        reason = ""
        if request.method == "POST":
            form = await read_form(request)
            if not csrf_ok(request, form):
                return site.error_page(request, 403, "csrf", user)
            reason = str(form.get("reason", "")).strip()
            if not reason:
                errors["reason"] = t("gdpr_reason_required")
            elif len(reason) > gdpr.REASON_MAX:
                errors["reason"] = t("gdpr_reason_too_long")
            if form.get("confirm") != "yes":
                errors["confirm"] = t("gdpr_confirm_required")
            if not errors:
                ip = request.client.host if request.client else None
                try:
                    done = await run_in_threadpool(
                        gdpr.erase_one, database, resource, record_id, user, reason, ip
                    )
                except ApiError as exc:
                    return site.error_page(request, exc.status, exc.code, user)
                outcome = "nothing" if done["already"] else "erased"
                return redirect(request, f"/{path}/{record_id}?gdpr={outcome}")
        display = site.entities[path]["display"]
        title = site.cell({}, record.get(display), locale) or f"#{record_id}"
        fields = site.entities[path]["fields"]
        erased = [
            site.pick(fields[name]["label"], locale) if name in fields else name
            for name in personal.fields
        ]
        context = site.entity_context(
            path,
            locale,
            record_id=record_id,
            title_text=title,
            erased_fields=erased,
            reason=reason,
            errors=errors,
            reason_max=gdpr.REASON_MAX,
        )
        status = 422 if errors else 200
        return site.render(request, "gdpr_erase.html", context, user=user, status=status)

    return [Route(f"/{path}/{{id:int}}/erase", page, methods=["GET", "POST"])]


def routes() -> list[BaseRoute]:
    return []


records.PANELS.append(buttons)
