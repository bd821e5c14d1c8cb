"""The web UI: server-rendered pages over the same functions as the REST API.

One module per part of the UI, each the runtime's and each giving its routes: ``auth_pages``
(sign in, password reset, locale, home), ``account`` (one's own password and e-mail), ``people``
(the users admin: invite, resend, deactivate, activate), ``api_key_pages`` (API keys),
``lists``
and ``forms`` (an entity's list, export, bulk delete, create and edit pages), ``records``
(detail pages, actions, delete), ``boards`` (kanban, calendar), ``imports`` (CSV and XLSX
files), ``dashboards`` (KPIs, charts, reports), ``print_formats`` (PDF and XLSX documents),
``search`` (quick search) and ``error_pages`` (errors for browsers, the favicon). What they
share is ``SITE`` (``core``): this app's ``crmgen_runtime.web.site.Site``.
"""

from __future__ import annotations

from crmgen_runtime import assets
from crmgen_runtime.web import (
    account,
    api_key_pages,
    auth_pages,
    boards,
    comment_pages,
    dashboards,
    duplicate_pages,
    error_pages,
    forms,
    gdpr_pages,
    imports,
    lists,
    notification_pages,
    people,
    print_formats,
    public_forms,
    records,
    saved_views,
    search,
)
from starlette.routing import BaseRoute, Mount

from reference_crm.web.core import SITE

# Each module gives ``routes()`` (its site-wide pages) and ``entity_routes(path, resource)``
# (its pages of one entity); record ids are ``{id:int}``, so fixed paths never clash with them.
MODULES = (
    public_forms,  # /f/<name>: the spec's forms, served without sign-in
    auth_pages,
    account,
    people,
    api_key_pages,  # /api-keys: API keys, for user managers
    duplicate_pages,  # /<path>/duplicates and /<path>/{id}/merge
    lists,
    forms,
    records,
    boards,
    dashboards,
    imports,
    print_formats,
    saved_views,
    search,
    notification_pages,
    comment_pages,
    gdpr_pages,  # /<path>/{id}/erase; the export and erase buttons of detail pages
    error_pages,
)


def routes() -> list[BaseRoute]:
    """The UI's routes (after ``/api`` in the app's list)."""
    result: list[BaseRoute] = [
        Mount("/static", assets.static_files(SITE.root), name="static")
    ]
    for module in MODULES:
        result.extend(module.routes())
    for path, resource in SITE.pages.items():
        for module in MODULES:
            result.extend(module.entity_routes(path, resource))
    return result
