"""The web UI: server-rendered pages over the same functions as the REST API.

One module per part of the UI, each giving its routes: ``auth_pages`` (sign in, password
reset, locale, home), ``account`` (one's own password and e-mail), ``error_pages`` (errors for
browsers, the favicon), ``lists``, ``forms`` and ``records`` (an entity's pages), ``boards``
(kanban, calendar), ``dashboards`` (KPIs, charts, reports), ``imports``, ``documents`` (PDF
and XLSX print formats) and ``search`` (quick search); ``core`` holds what they share.
"""

from __future__ import annotations

from crmgen_runtime import assets
from starlette.routing import BaseRoute, Mount

from reference_crm.web import (
    account,
    auth_pages,
    boards,
    dashboards,
    documents,
    error_pages,
    forms,
    imports,
    lists,
    records,
    search,
)
from reference_crm.web.core import PAGES, ROOT

# Each module gives ``routes()`` (its site-wide pages) and ``entity_routes(path, resource)``
# (its pages of one entity); record ids are ``{id:int}``, so fixed paths never clash with them.
MODULES = (
    auth_pages,
    account,
    lists,
    forms,
    records,
    boards,
    dashboards,
    imports,
    documents,
    search,
    error_pages,
)


def routes() -> list[BaseRoute]:
    """The UI's routes (after ``/api`` in the app's list)."""
    result: list[BaseRoute] = [
        Mount("/static", assets.static_files(ROOT), name="static")
    ]
    for module in MODULES:
        result.extend(module.routes())
    for path, resource in PAGES.items():
        for module in MODULES:
            result.extend(module.entity_routes(path, resource))
    return result
