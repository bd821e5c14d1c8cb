"""The users admin pages: inviting people, resending an invitation, deactivating and activating
an account, and the roles on the User form, for a user who manages users.

Every page goes through the functions the API uses, so every rule and the audit log hold: an
invitation is ``invites.invite`` (``POST /api/users/invite``), a resend ``invites.resend``,
deactivating and activating ``crud.update_record`` with ``active`` (``PATCH /api/users/{id}``:
user management, only a superuser touches a superuser, nobody deactivates themselves) and
the roles on the create and edit forms go in the form's payload as ``roles``. A user who does
not manage users sees none of the controls, and these routes answer 403 (404 for a user out of
their reach); a refused change is an error page naming the rule, never a 500.

``detail_panel`` adds the account's status and buttons to a User's detail page
(``records.PANELS``); ``roles_field`` and ``roles_payload`` add the roles to the User
form (``forms``); ``invite_url`` gives the list page its "Invite" button.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import accounts, auth_routes, crud, invites
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.site import (
    Site,
    allowed,
    client_ip,
    csrf_ok,
    fetch_record,
    read_pairs,
    redirect,
    site_of,
)

if TYPE_CHECKING:  # records shows this module's panel: no import at run time
    from crmgen_runtime.web.records import Viewer

ROLE_FIELD = "role"  # the name of the roles' checkboxes in a form
# The API's refusals the pages say in the user's language (else its English message).
KNOWN_REFUSALS = {
    "Only a superuser may change a superuser's account.": "people_superuser_only",
    accounts.OWN: "people_not_own",
    accounts.SUPERUSER_GRANTS: "people_superuser_grants",
    accounts.SUPERUSER_ROLE_CHANGE: "people_superuser_grants",
    invites.HAS_PASSWORD: "people_has_password",
    invites.DEACTIVATED: "people_deactivated_cannot_invite",
}
NOTICES = {"invited": "people_invited", "sent": "people_invite_sent"}
NOTICES |= {"deactivated": "people_now_deactivated", "activated": "people_now_active"}


def is_users(resource: Resource) -> bool:
    return resource.name == accounts.USER


def manages(site: Site, user: CurrentUser | None) -> bool:
    return user is not None and site.catalog.manages_users(user)


def role_label(site: Site, name: str, locale: str) -> str:
    return site.pick(site.spec["roles"].get(name), locale) or name


def said(site: Site, locale: str, exc: ApiError) -> str:
    """A refusal of the API in the user's language where the pages know it."""
    messages = [exc.message, *exc.fields.values()]
    for message in messages:
        key = KNOWN_REFUSALS.get(message)
        if key is not None:
            return site.translator(locale)(key)
    return "; ".join(m for m in messages if m) or exc.message


# --- the list, the detail page and the form ------------------------------------------------


def invite_url(site: Site, path: str, resource: Resource, user: CurrentUser) -> str | None:
    """The "Invite" button's page on the Users list (None for anyone else)."""
    if is_users(resource) and allowed(resource, user, "create") and manages(site, user):
        return f"/{path}/invite"
    return None


def detail_panel(
    viewer: Viewer, resource: Resource, path: str, record: dict[str, Any]
) -> dict[str, Any] | None:
    """The account's status and its buttons on a User's detail page (``records.PANELS``), for a
    user manager who may change this account (a superuser's only for a superuser; never one's
    own)."""
    site, user, locale = viewer.site, viewer.user, viewer.locale
    if not is_users(resource) or not manages(site, user):
        return None
    t = site.translator(locale)
    invited, active = record.get(accounts.INVITED_FIELD), record.get("active")
    status = t("people_status_invited") if invited else None
    if active is False:
        status = t("people_status_deactivated")
    held = set(record.get(accounts.ROLES_FIELD) or ())
    may_change = (
        record["id"] != user.id
        and allowed(resource, user, "update")
        and (site.catalog.is_superuser(user) or not held & site.catalog.superuser_roles)
    )
    base = f"/{path}/{record['id']}"
    buttons = []
    if may_change:
        if invited:
            buttons.append({"url": f"{base}/invite", "label": t("people_resend"), "kind": ""})
        if active is True:
            buttons.append(
                {"url": f"{base}/deactivate", "label": t("people_deactivate"), "kind": "danger"}
            )
        elif active is False:
            buttons.append({"url": f"{base}/activate", "label": t("people_activate"), "kind": ""})
    if status is None and not buttons:
        return None
    return {
        "template": "people_panel.html",
        "place": "status",
        "status": status,
        "buttons": buttons,
    }


def roles_field(
    site: Site,
    resource: Resource,
    user: CurrentUser,
    values: dict[str, Any],
    record_id: int | None,
    locale: str,
) -> dict[str, Any] | None:
    """The roles on the User form: checkboxes of the roles ``user`` may grant for a user
    manager (not on their own account), else the account's roles as text (on an edit form)."""
    if not is_users(resource):
        return None
    chosen = set(values.get(accounts.ROLES_FIELD) or ())
    grantable = accounts.grantable(site.catalog, user)
    editable = bool(grantable) and record_id != user.id
    if not editable and record_id is None:
        return None
    names = grantable if editable else sorted(chosen)
    return {
        "editable": editable,
        "name": ROLE_FIELD,
        "choices": [
            {"name": n, "label": role_label(site, n, locale), "checked": n in chosen} for n in names
        ],
    }


def chosen_roles(pairs: list[tuple[str, str]]) -> list[str]:
    """The roles ticked on a form."""
    return sorted({value for key, value in pairs if key == ROLE_FIELD})


def roles_payload(
    site: Site,
    resource: Resource,
    user: CurrentUser,
    pairs: list[tuple[str, str]],
    record_id: int | None,
) -> list[str] | None:
    """The roles a User form sends as the payload's ``roles`` (None: the form shows this user
    no roles to choose). A role the user may not grant is never shown: the rules of
    ``accounts`` refuse it when it is sent anyway."""
    if not is_users(resource):
        return None
    if not accounts.grantable(site.catalog, user) or record_id == user.id:
        return None
    return chosen_roles(pairs)


# --- pages -----------------------------------------------------------------------------------


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The invite form and the account buttons of the User entity (nothing for others)."""
    if not is_users(resource):
        return []

    async def refused(request: Request, user: CurrentUser, exc: ApiError) -> Response:
        site = site_of(request)
        if exc.status == 404:
            return site.error_page(request, 404, "not_found", user)
        key = "forbidden" if exc.status == 403 else "error"
        detail = said(site, site.locale_of(request), exc)
        return site.error_page(request, exc.status, key, user, detail=detail)

    async def manager(request: Request, action: str) -> tuple[Any, Response | None]:
        site = site_of(request)
        user, stop = await site.guard(request, resource, action)
        if stop is None and not manages(site, user):
            stop = site.error_page(request, 403, "forbidden", user)
        return user, stop

    def form_context(
        site: Site, user: CurrentUser, locale: str, values: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        return site.entity_context(
            path,
            locale,
            values=values,
            roles=[
                {"name": name, "label": role_label(site, name, locale)}
                for name in accounts.grantable(site.catalog, user)
            ],
            **extra,
        )

    async def invite_page(request: Request) -> Response:
        site = site_of(request)
        user, stop = await manager(request, "create")
        if stop is not None:
            return stop
        locale = site.locale_of(request)
        if request.method == "GET":
            context = form_context(site, user, locale, {"roles": []}, errors={})
            return site.render(request, "people_invite.html", context, user=user)
        pairs = await read_pairs(request)
        form = dict(pairs)
        if not csrf_ok(request, form):
            return site.error_page(request, 403, "csrf", user)
        values = {
            "email": form.get("email", "").strip(),
            "name": form.get("name", "").strip(),
            "roles": chosen_roles(pairs),
        }
        payload: dict[str, Any] = {"email": values["email"], "roles": values["roles"]}
        if values["name"]:
            payload["name"] = values["name"]
        try:
            record = await run_in_threadpool(
                invites.invite,
                request.app.state.db,
                resource,
                user,
                payload,
                client_ip(request),
                base_url=auth_routes.public_url(request),
                lifetime=invites.lifetime_of(request),
                t=invites.words_of(request),
            )
        except ApiError as exc:
            if exc.status == 403:
                return await refused(request, user, exc)
            t = site.translator(locale)
            errors = site.field_errors(exc.fields, locale)
            message = t("fix_errors") if errors else said(site, locale, exc)
            context = form_context(site, user, locale, values, errors=errors, message=message)
            return site.render(request, "people_invite.html", context, user=user, status=exc.status)
        return redirect(request, f"/{path}/{record['id']}?people=invited")

    async def resend_page(request: Request) -> Response:
        site = site_of(request)
        user, stop = await manager(request, "update")
        if stop is not None:
            return stop
        form = dict(await read_pairs(request))
        if not csrf_ok(request, form):
            return site.error_page(request, 403, "csrf", user)
        record_id = request.path_params["id"]
        try:
            await run_in_threadpool(
                invites.resend,
                request.app.state.db,
                resource,
                user,
                record_id,
                base_url=auth_routes.public_url(request),
                lifetime=invites.lifetime_of(request),
                t=invites.words_of(request),
            )
        except ApiError as exc:
            return await refused(request, user, exc)
        return redirect(request, f"/{path}/{record_id}?people=sent")

    async def set_active(request: Request, active: bool) -> Response:
        site = site_of(request)
        user, stop = await manager(request, "update")
        if stop is not None:
            return stop
        form = dict(await read_pairs(request))
        if not csrf_ok(request, form):
            return site.error_page(request, 403, "csrf", user)
        record_id = request.path_params["id"]
        database = request.app.state.db
        try:
            record = await run_in_threadpool(
                fetch_record, database, resource, user, record_id, "update"
            )
            if record is None:
                return site.error_page(request, 404, "not_found", user)
            await run_in_threadpool(
                crud.update_record,
                database,
                resource,
                user,
                record_id,
                {"active": active},
                client_ip(request),
            )
        except ApiError as exc:
            return await refused(request, user, exc)
        done = "activated" if active else "deactivated"
        return redirect(request, f"/{path}/{record_id}?people={done}")

    async def deactivate_page(request: Request) -> Response:
        return await set_active(request, False)

    async def activate_page(request: Request) -> Response:
        return await set_active(request, True)

    return [
        Route(f"/{path}/invite", invite_page, methods=["GET", "POST"]),
        Route(f"/{path}/{{id:int}}/invite", resend_page, methods=["POST"]),
        Route(f"/{path}/{{id:int}}/deactivate", deactivate_page, methods=["POST"]),
        Route(f"/{path}/{{id:int}}/activate", activate_page, methods=["POST"]),
    ]


def notice_of(site: Site, request: Request) -> str | None:
    """The notice of a users admin page's redirect (``?people=invited``)."""
    key = NOTICES.get(request.query_params.get("people", ""))
    return None if key is None else site.translator(site.locale_of(request))(key)


def routes() -> list[BaseRoute]:
    return []
