"""E-mail from a record in the web UI: the compose page, and the e-mails on the timeline.

``GET /<path>/{id}/emails/new`` shows the compose form (``?template=NAME`` fills it from one of
the spec's templates for the entity); ``POST /<path>/{id}/emails`` (with the form's CSRF token)
sends it through the same ``RecordMail.send`` as ``POST /api/<path>/{id}/emails`` and returns to
the detail page. Both need the record's read rule (else 404) and a role that may send
(``send_email``; else 403). Importing this module adds the logged e-mails to every detail page's
timeline (``records.TIMELINE_SOURCES``, for every reader of the record) and the compose link
(``email_url``) to its buttons; an app whose spec logs no mail (``mail.of`` is None) shows
neither.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import mail
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Resource
from crmgen_runtime.web import records
from crmgen_runtime.web.records import Viewer, moment
from crmgen_runtime.web.site import Site, csrf_ok, fetch_record, read_form, redirect, site_of

TIMELINE_EMAILS = 20


def email_entries(
    viewer: Viewer, resource: Resource, path: str, record_id: int
) -> list[dict[str, Any]]:
    """The record's logged e-mails as timeline entries (every reader of the record sees them)."""
    found = mail.of(viewer.site.catalog)
    if found is None or resource.name not in found.entities:
        return []
    with viewer.database.session() as session:
        items, _ = found.entries(session, resource.name, record_id, TIMELINE_EMAILS)
    t = viewer.site.translator(viewer.locale)
    entries = []
    for item in items:
        incoming = item["direction"] == "in"
        who = item["from"] if incoming else f"→ {item['to']}"
        if not incoming and item["user_email"]:
            who = f"{item['user_email']} {who}"
        badge = t("email_in") if incoming else t("email_out")
        if not incoming and item["status"] != "sent":
            badge = f"{badge} · {t('email_status_' + item['status'])}"
        entries.append(
            {
                "at": moment(item["at"]),
                "source": "email",
                "title": item["subject"] or "—",
                "url": None,
                "badge": badge,
                "text": item["body"],
                "who": who,
                "changes": [],
            }
        )
    return entries


def compose_link(
    viewer: records.Viewer, resource: Resource, path: str, record: dict[str, Any]
) -> dict[str, Any] | None:
    """The detail page's "Write an e-mail" button, when the user may write from this record."""
    found = mail.of(viewer.site.catalog)
    if found is None or resource.name not in found.entities or not found.may_send(viewer.user):
        return None
    url = f"/{path}/{record['id']}/emails/new"
    return {"template": "_email_button.html", "place": "actions", "url": url}


records.TIMELINE_SOURCES.append(email_entries)
records.PANELS.append(compose_link)


def _compose(
    site: Site,
    database: Any,
    found: mail.RecordMail,
    resource: Resource,
    user: CurrentUser,
    record_id: int,
    name: str,
    locale: str,
) -> dict[str, str]:
    with database.session() as session:
        record = session.get(resource.model, record_id)
        template = found.template_of(resource, name) if name else None
        return found.compose(session, resource, record, user, template, locale)


def entity_routes(path: str, resource: Resource, found: mail.RecordMail) -> list[BaseRoute]:
    """The compose page of the entity at ``path`` (an entity with e-mails)."""

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
        if not found.may_send(user):
            return site.error_page(request, 403, "forbidden", user)
        locale = site.locale_of(request)
        problems: dict[str, str] = {}
        problem = None
        if request.method == "POST":
            form = await read_form(request)
            if not csrf_ok(request, form):
                return site.error_page(request, 403, "csrf", user)
            data = {
                "template": form.get("template") or None,
                "to": form.get("to", ""),
                "subject": form.get("subject", ""),
                "body": form.get("body", "").replace("\r\n", "\n"),
                "locale": locale,
            }
            try:
                await run_in_threadpool(found.send, database, resource, user, record_id, data)
            except ApiError as exc:
                if exc.status == 404:
                    return site.error_page(request, 404, "not_found", user)
                if exc.status == 403:
                    return site.error_page(request, 403, "forbidden", user, detail=exc.message)
                problems, problem = dict(exc.fields or {}), exc.message
                values = {k: str(data.get(k) or "") for k in ("template", "to", "subject", "body")}
            else:
                return redirect(request, f"/{path}/{record_id}?sent=email")
        else:
            name = request.query_params.get("template", "")
            try:
                made = await run_in_threadpool(
                    _compose, site, database, found, resource, user, record_id, name, locale
                )
            except ApiError:
                name, made = "", {"to": "", "subject": "", "body": ""}
            values = {"template": name, **made}
        display = site.entities[path]["display"]
        title = site.cell({}, record.get(display), locale) or f"#{record_id}"
        choices = [
            {"name": t.name, "label": mail.pick(t.label, locale, site.default_locale) or t.name}
            for t in found.templates_for(resource.name)
        ]
        context = site.entity_context(
            path,
            locale,
            record_id=record_id,
            title_text=title,
            templates=choices,
            values=values,
            errors=problems,
            message=problem if problem and not problems else None,
        )
        status = 422 if problems or problem else 200
        return site.render(request, "email_compose.html", context, user=user, status=status)

    return [
        Route(f"/{path}/{{id:int}}/emails/new", page, methods=["GET"]),
        Route(f"/{path}/{{id:int}}/emails", page, methods=["POST"]),
    ]


def routes(found: mail.RecordMail, site: Site) -> list[BaseRoute]:
    """The compose pages of every entity with e-mails that has pages."""
    result: list[BaseRoute] = []
    for path, resource in site.pages.items():
        if resource.name in found.entities:
            result.extend(entity_routes(path, resource, found))
    return result
