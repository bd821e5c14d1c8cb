"""API keys in the web UI, for a user who manages users: ``/api-keys`` lists the keys (their
first characters, role, status, expiry and last use) with a form that makes one, the new key
shown once on the page that answers the form (never stored, never cached), and a "Revoke"
button on each live key.

Every page goes through ``crmgen_runtime.api_keys``, the functions of ``/api/api_keys``, so the
same rules hold (only a superuser gives or revokes a superuser role's key) and the same audit
entries are written. Anyone else gets the 403 page; the Users list links here
(``keys_url``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import api_keys
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser, current_user
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.people import is_users, manages, role_label
from crmgen_runtime.web.records import moment
from crmgen_runtime.web.site import (
    Site,
    client_ip,
    login_redirect,
    redirect,
    signed_in_form,
    site_of,
)

PATH = "/api-keys"
NOTICES = {"revoked": "api_keys_revoked"}


def keys_url(site: Site, resource: Resource, user: CurrentUser) -> str | None:
    """The "API keys" button's page on the Users list (None for anyone else)."""
    keys = site.catalog.config.api_keys
    return PATH if keys and is_users(resource) and manages(site, user) else None


def _grantable(site: Site, user: CurrentUser, locale: str) -> list[dict[str, str]]:
    """The roles ``user`` may give a key, with their labels."""
    catalog = site.catalog
    return [
        {"name": name, "label": role_label(site, name, locale)}
        for name in sorted(catalog.config.roles)
        if catalog.is_superuser(user) or name not in catalog.superuser_roles
    ]


def _shown(site: Site, user: CurrentUser, key: dict[str, Any], locale: str) -> dict[str, Any]:
    def when(value: str | None) -> str:
        at = moment(value)
        return site.formats.format_moment(at, locale) if at else ""

    revocable = key["status"] == "active" and (
        site.catalog.is_superuser(user) or key["role"] not in site.catalog.superuser_roles
    )
    return {
        **key,
        "role_label": role_label(site, key["role"], locale),
        "created": when(key["created_at"]),
        "expires": when(key["expires_at"]),
        "last_used": when(key["last_used_at"]),
        "revocable": revocable,
    }


def _expiry(raw: str) -> str | None:
    """The form's expiry date (``YYYY-MM-DD``, the key ends at its start, UTC) as the API takes
    it; empty: never. A date that does not parse is passed on for the API to refuse."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw).isoformat() + "T00:00:00+00:00"
    except ValueError:
        return raw


async def _page(
    request: Request,
    user: CurrentUser,
    *,
    status: int = 200,
    made: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Response:
    site = site_of(request)
    locale = site.locale_of(request)
    t = site.translator(locale)
    keys = await run_in_threadpool(api_keys.listed, request.app.state.db, site.catalog)
    notice_key = NOTICES.get(request.query_params.get("done", ""))
    context = {
        "keys": [_shown(site, user, key, locale) for key in keys],
        "roles": _grantable(site, user, locale),
        "made": made,
        "values": values or {},
        "errors": errors or {},
        "problem": problem,
        "notice": t(notice_key) if notice_key and made is None else None,
        "today": dt.date.today().isoformat(),
    }
    response = site.render(request, "api_keys.html", context, user=user, status=status)
    if made is not None:  # the key itself is on this page: no cache keeps it
        response.headers["Cache-Control"] = "no-store"
    return response


async def list_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    site = site_of(request)
    if not manages(site, user):
        return site.error_page(request, 403, "forbidden", user)
    return await _page(request, user)


async def create_form(request: Request) -> Response:
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    site = site_of(request)
    if not manages(site, user):
        return site.error_page(request, 403, "forbidden", user)
    body = {
        "name": form.get("name", ""),
        "role": form.get("role", ""),
        "expires_at": _expiry(form.get("expires_at", "")),
    }
    try:
        made = await run_in_threadpool(
            api_keys.create, request.app.state.db, site.catalog, user, body, client_ip(request)
        )
    except ApiError as exc:
        t = site.translator(site.locale_of(request))
        errors = {name: t(f"api_keys_bad_{name}") for name in exc.fields if name in body}
        problem = None if errors else exc.message
        return await _page(
            request, user, status=exc.status, values=form, errors=errors, problem=problem
        )
    return await _page(request, user, status=201, made=made)


async def revoke_form(request: Request) -> Response:
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    user, _form = posted
    site = site_of(request)
    if not manages(site, user):
        return site.error_page(request, 403, "forbidden", user)
    try:
        await run_in_threadpool(
            api_keys.revoke,
            request.app.state.db,
            site.catalog,
            user,
            int(request.path_params["id"]),
            client_ip(request),
        )
    except ApiError as exc:
        return site.error_page(
            request, exc.status, "forbidden" if exc.status == 403 else "not_found", user
        )
    return redirect(request, f"{PATH}?done=revoked")


def routes() -> list[BaseRoute]:
    return [
        Route(PATH, list_page, methods=["GET"], name="ui_api_keys"),
        Route(PATH, create_form, methods=["POST"], name="ui_api_keys_create"),
        Route(
            f"{PATH}/{{id:int}}/revoke", revoke_form, methods=["POST"], name="ui_api_keys_revoke"
        ),
    ]


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    return []
